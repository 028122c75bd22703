/*
 * pool_alloc.c - benchmarks of the executive pool (kernel/ex) in the hosted
 * kernel against the C library's malloc, side by side in the same run:
 * the latency of one allocation + free pair for 16 B .. 64 KiB, and the
 * same with 64 blocks held at once (the lists under churn rather than one
 * block bouncing). The bodies are written against a small allocator table
 * (POOL_BENCH_ALLOCATOR) so more peers (jemalloc, mimalloc, tcmalloc) and
 * multi-threaded runs can reuse them.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ntddk.h>
#include <hosted.h>

#include "keelbench.h"

#define POOL_BENCH_TAG  'hcnB' /* "Bnch" */
#define POOL_BENCH_HELD 64

typedef struct _POOL_BENCH_ALLOCATOR {
    const char *Name; /* the benchmark name prefix, e.g. "ex_pool" */
    void *(*Allocate)(size_t Size);
    void (*Free)(void *Block);
} POOL_BENCH_ALLOCATOR;

static void *PoolBenchExAllocate(size_t Size)
{
    return ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, Size, POOL_BENCH_TAG);
}

static void PoolBenchExFree(void *Block)
{
    ExFreePoolWithTag(Block, POOL_BENCH_TAG);
}

static const POOL_BENCH_ALLOCATOR PoolBenchExPool = { "ex_pool", PoolBenchExAllocate,
                                                      PoolBenchExFree };
static const POOL_BENCH_ALLOCATOR PoolBenchGlibc = { "peer_glibc_malloc", malloc, free };

/* One allocation and its free per iteration; the first byte is written so
 * the block is really used. */
static void PoolBenchPair(KEEL_BENCH_STATE *State, const POOL_BENCH_ALLOCATOR *Allocator)
{
    size_t Size = (size_t)KeelBenchRange(State, 0);

    while (KeelBenchKeepRunning(State)) {
        unsigned char *Block = Allocator->Allocate(Size);
        if (Block == NULL) {
            KeelBenchSkipWithError(State, "allocation failed");
            break;
        }
        Block[0] = 1;
        KeelBenchDoNotOptimize(Block);
        Allocator->Free(Block);
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

/* POOL_BENCH_HELD blocks allocated, then all freed, per iteration. */
static void PoolBenchHeld(KEEL_BENCH_STATE *State, const POOL_BENCH_ALLOCATOR *Allocator)
{
    size_t Size = (size_t)KeelBenchRange(State, 0);
    void *Blocks[POOL_BENCH_HELD];

    while (KeelBenchKeepRunning(State)) {
        for (unsigned i = 0; i < POOL_BENCH_HELD; i++) {
            Blocks[i] = Allocator->Allocate(Size);
            if (Blocks[i] == NULL) {
                KeelBenchSkipWithError(State, "allocation failed");
                while (i-- > 0) {
                    Allocator->Free(Blocks[i]);
                }
                return;
            }
            *(volatile unsigned char *)Blocks[i] = 1;
        }
        for (unsigned i = 0; i < POOL_BENCH_HELD; i++) {
            Allocator->Free(Blocks[i]);
        }
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State) * POOL_BENCH_HELD);
}

static void PoolBenchLabel(KEEL_BENCH_STATE *State, const char *Peer)
{
    char Label[96];

    snprintf(Label, sizeof(Label), "vs %s/%lld", Peer, (long long)KeelBenchRange(State, 0));
    KeelBenchSetLabel(State, Label);
}

KEEL_BENCHMARK_RANGE(ex_pool_alloc_free, 16, 65536, 4)
{
    HalHostedInitialize();
    PoolBenchLabel(State, "peer_glibc_malloc_free");
    PoolBenchPair(State, &PoolBenchExPool);
}

KEEL_BENCHMARK_RANGE(peer_glibc_malloc_free, 16, 65536, 4)
{
    PoolBenchPair(State, &PoolBenchGlibc);
}

KEEL_BENCHMARK_RANGE(ex_pool_alloc_free_64_held, 16, 65536, 4)
{
    HalHostedInitialize();
    PoolBenchLabel(State, "peer_glibc_malloc_free_64_held");
    PoolBenchHeld(State, &PoolBenchExPool);
}

KEEL_BENCHMARK_RANGE(peer_glibc_malloc_free_64_held, 16, 65536, 4)
{
    PoolBenchHeld(State, &PoolBenchGlibc);
}

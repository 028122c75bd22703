/*
 * pool_bodies.c - the pool allocator benchmarks, one set of bodies linked
 * into every binary that compares allocators (pool_bench.h): Keel's
 * executive pool (keel_bench_ex) and the peers (keel_bench_peer_glibc,
 * _jemalloc, _mimalloc, _tcmalloc). Every binary registers the same names,
 * so `keel bench` sets each measure of Keel beside the same measure of
 * each peer:
 *
 *   pool_alloc_free/size:S        one allocation + its free per iteration
 *   pool_batch/size:S             1,000 allocations, then their 1,000 frees
 *   pool_cross_processor/size:S   allocated on processor 0, freed on 1
 *   pool_scaling/size:64/threads:T  every worker its own batches, T at once
 *   pool_overhead/size:S          bytes reserved per byte requested
 *
 * Every iteration's work is bounded (at most one round of a few thousand
 * blocks), so a run with --benchmark_min_time=0.01 takes milliseconds per
 * benchmark. Nothing here calls the C library in a timed loop: in Keel's
 * binary these loops run in kernel threads.
 */
#include <string.h>

#include "keelbench.h"
#include "pool_bench.h"

/* pool_batch and pool_scaling: blocks held at once by one thread. */
#define POOL_BATCH 1000

/* pool_cross_processor: blocks passed per round, and the ring between the
 * producer and the consumer (a power of two; a queue depth such as a
 * network stack's). */
#define POOL_CROSS_BLOCKS 1024
#define POOL_RING_SLOTS   256

/* pool_scaling: batches per worker per round. */
#define POOL_SCALING_BATCHES 8

/* pool_overhead: blocks measured (POOL_OVERHEAD_BYTES worth, at least
 * POOL_OVERHEAD_MIN_BLOCKS for sizes up to 256), blocks allocated first
 * (more than the earlier benchmarks ever hold of one size: 1,000 per
 * thread), and how many blocks the search for a growth point may take. */
#define POOL_OVERHEAD_BYTES       (1u << 20)
#define POOL_OVERHEAD_MIN_BLOCKS  10000u
#define POOL_OVERHEAD_MAX_BLOCKS  65536u
#define POOL_OVERHEAD_WARM_BLOCKS 4096u
#define POOL_OVERHEAD_CAPACITY    (6 * POOL_OVERHEAD_MAX_BLOCKS + POOL_OVERHEAD_WARM_BLOCKS)

#define POOL_CPU_RELAX() __builtin_ia32_pause()

/* Writes one byte of a fresh block: the block is really used (its page is
 * touched) and the compiler cannot drop the allocation. */
static inline void PoolBenchTouch(void *Block)
{
    *(volatile unsigned char *)Block = 1;
}

/* ManualTime measures done in rounds of ItemsPerRound items by a team: one
 * benchmark iteration is one item, so the reported time is per item. A
 * round runs whenever the previous one's items are used up. */
static void PoolBenchRunRounds(KEEL_BENCH_STATE *State, POOL_BENCH_TEAM *Team,
                               unsigned ItemsPerRound, volatile int *Failed)
{
    double SecondsPerItem = 0;
    unsigned Pending = 0;

    while (KeelBenchKeepRunning(State)) {
        if (Pending == 0) {
            uint64_t Ns = PoolBenchTeamRound(Team);
            if (__atomic_load_n(Failed, __ATOMIC_ACQUIRE)) {
                KeelBenchSkipWithError(State, "allocation failed in a worker");
                break;
            }
            SecondsPerItem = (double)Ns * 1e-9 / ItemsPerRound;
            Pending = ItemsPerRound;
        }
        KeelBenchSetIterationTime(State, SecondsPerItem);
        Pending--;
    }
}

/* ---- 1. pool_alloc_free: one pair per iteration ------------------------- */

KEEL_BENCHMARK_EX(pool_alloc_free, .ArgCount = 9,
                  .Args = { 16, 32, 64, 128, 256, 1024, 4096, 16384, 65536 },
                  .ArgNames = { "size" })
{
    size_t Size = (size_t)KeelBenchRange(State, 0);

    while (KeelBenchKeepRunning(State)) {
        void *Block = PoolBenchAllocate(Size);
        if (Block == NULL) {
            KeelBenchSkipWithError(State, "allocation failed");
            break;
        }
        PoolBenchTouch(Block);
        PoolBenchFree(Block);
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

/* ---- 2. pool_batch: 1,000 allocations, then their frees ------------------ */

static void *PoolBatchBlocks[POOL_BATCH];

KEEL_BENCHMARK_EX(pool_batch, .ArgCount = 5, .Args = { 16, 64, 256, 1024, 4096 },
                  .ArgNames = { "size" })
{
    size_t Size = (size_t)KeelBenchRange(State, 0);

    while (KeelBenchKeepRunning(State)) {
        for (unsigned i = 0; i < POOL_BATCH; i++) {
            void *Block = PoolBenchAllocate(Size);
            if (Block == NULL) {
                KeelBenchSkipWithError(State, "allocation failed");
                while (i-- > 0) {
                    PoolBenchFree(PoolBatchBlocks[i]);
                }
                return;
            }
            PoolBenchTouch(Block);
            PoolBatchBlocks[i] = Block;
        }
        for (unsigned i = 0; i < POOL_BATCH; i++) {
            PoolBenchFree(PoolBatchBlocks[i]);
        }
    }
    /* One item is one allocation and its free: items/s compare with the
     * other pool measures. */
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State) * POOL_BATCH);
}

/* ---- 3. pool_cross_processor: allocated on 0, freed on 1 ----------------- */

/* A single-producer/single-consumer ring: Head is written only by the
 * producer, Tail only by the consumer, each on its own cache line. */
typedef struct POOL_RING {
    _Alignas(64) uint64_t Head;
    _Alignas(64) uint64_t Tail;
    _Alignas(64) void *Slots[POOL_RING_SLOTS];
    size_t Size;
    int Failed;
} POOL_RING;

static POOL_RING PoolRing;

static void PoolCrossWork(void *Context, unsigned Index)
{
    POOL_RING *Ring = Context;

    if (Index == 0) {
        uint64_t Head = Ring->Head;
        for (unsigned i = 0; i < POOL_CROSS_BLOCKS; i++, Head++) {
            void *Block = PoolBenchAllocate(Ring->Size);
            if (Block == NULL) {
                __atomic_store_n(&Ring->Failed, 1, __ATOMIC_RELEASE);
            } else {
                PoolBenchTouch(Block);
            }
            while (Head - __atomic_load_n(&Ring->Tail, __ATOMIC_ACQUIRE) == POOL_RING_SLOTS) {
                POOL_CPU_RELAX();
            }
            Ring->Slots[Head % POOL_RING_SLOTS] = Block;
            __atomic_store_n(&Ring->Head, Head + 1, __ATOMIC_RELEASE);
        }
    } else if (Index == 1) {
        uint64_t Tail = Ring->Tail;
        for (unsigned i = 0; i < POOL_CROSS_BLOCKS; i++, Tail++) {
            void *Block;
            while (__atomic_load_n(&Ring->Head, __ATOMIC_ACQUIRE) == Tail) {
                POOL_CPU_RELAX();
            }
            Block = Ring->Slots[Tail % POOL_RING_SLOTS];
            __atomic_store_n(&Ring->Tail, Tail + 1, __ATOMIC_RELEASE);
            if (Block != NULL) {
                PoolBenchFree(Block);
            }
        }
    }
}

/* Reported time: per block, from the producer's or consumer's start
 * (whichever is first) until the consumer has freed the round's last
 * block. */
KEEL_BENCHMARK_EX(pool_cross_processor, .ArgCount = 4, .Args = { 16, 64, 256, 1024 },
                  .ArgNames = { "size" }, .ManualTime = 1)
{
    POOL_BENCH_TEAM *Team;

    if (KeelBenchProcessorCount() < 2) {
        KeelBenchSkipWithError(State, "needs two processors");
        return;
    }
    PoolRing.Head = PoolRing.Tail = 0;
    PoolRing.Size = (size_t)KeelBenchRange(State, 0);
    PoolRing.Failed = 0;
    Team = PoolBenchTeamStart(2, PoolCrossWork, &PoolRing);
    if (Team == NULL) {
        KeelBenchSkipWithError(State, "cannot start the producer and the consumer");
        return;
    }
    PoolBenchRunRounds(State, Team, POOL_CROSS_BLOCKS, &PoolRing.Failed);
    PoolBenchTeamStop(Team);
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

/* ---- 4. pool_scaling: T workers, each its own batches ------------------- */

typedef struct POOL_SCALING {
    size_t Size;
    int Failed;
} POOL_SCALING;

static POOL_SCALING PoolScaling;
static void *PoolScalingBlocks[POOL_BENCH_MAX_WORKERS][POOL_BATCH];

static void PoolScalingWork(void *Context, unsigned Index)
{
    POOL_SCALING *Scaling = Context;
    void **Blocks = PoolScalingBlocks[Index];

    for (unsigned Batch = 0; Batch < POOL_SCALING_BATCHES; Batch++) {
        unsigned Count = 0;
        for (; Count < POOL_BATCH; Count++) {
            void *Block = PoolBenchAllocate(Scaling->Size);
            if (Block == NULL) {
                __atomic_store_n(&Scaling->Failed, 1, __ATOMIC_RELEASE);
                break;
            }
            PoolBenchTouch(Block);
            Blocks[Count] = Block;
        }
        for (unsigned i = 0; i < Count; i++) {
            PoolBenchFree(Blocks[i]);
        }
    }
}

/* One iteration is one allocation + free by every worker: the reported
 * time is a worker's time per pair, items/s the pairs of all workers per
 * second (ideal scaling: items/s grows with threads at a flat time). */
static void PoolScalingBody(KEEL_BENCH_STATE *State)
{
    unsigned Threads = (unsigned)KeelBenchRange(State, 1);
    POOL_BENCH_TEAM *Team;

    if (Threads == 0 || Threads > POOL_BENCH_MAX_WORKERS ||
        (int)Threads > KeelBenchProcessorCount()) {
        KeelBenchSkipWithError(State, "more threads than processors");
        return;
    }
    PoolScaling.Size = (size_t)KeelBenchRange(State, 0);
    PoolScaling.Failed = 0;
    Team = PoolBenchTeamStart(Threads, PoolScalingWork, &PoolScaling);
    if (Team == NULL) {
        KeelBenchSkipWithError(State, "cannot start the workers");
        return;
    }
    PoolBenchRunRounds(State, Team, POOL_SCALING_BATCHES * POOL_BATCH, &PoolScaling.Failed);
    PoolBenchTeamStop(Team);
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State) * Threads);
}

/* threads = 1, 2 and every processor, without repeats (all may be 1 or
 * 2): the list depends on the machine, so it is built at start-up rather
 * than with KEEL_BENCHMARK_EX's constant initializers. */
static KEEL_BENCH_DEFINITION PoolScalingDefinition = {
    .Name = "pool_scaling",
    .Routine = PoolScalingBody,
    .TupleDims = 2,
    .ArgNames = { "size", "threads" },
    .ManualTime = 1,
};

__attribute__((constructor)) static void PoolScalingRegister(void)
{
    int Processors = KeelBenchProcessorCount();
    int Counts[3] = { 1, 2, Processors };

    if (Processors > POOL_BENCH_MAX_WORKERS) {
        Counts[2] = POOL_BENCH_MAX_WORKERS;
    }
    for (int i = 0; i < 3; i++) {
        int Seen = Counts[i] > Processors;
        for (int j = 0; j < PoolScalingDefinition.TupleCount; j++) {
            Seen |= PoolScalingDefinition.Tuples[j][1] == Counts[i];
        }
        if (!Seen) {
            PoolScalingDefinition.Tuples[PoolScalingDefinition.TupleCount][0] = 64;
            PoolScalingDefinition.Tuples[PoolScalingDefinition.TupleCount][1] = Counts[i];
            PoolScalingDefinition.TupleCount++;
        }
    }
    KeelBenchRegister(&PoolScalingDefinition);
}

/* ---- 5. pool_overhead: bytes reserved per byte requested ----------------- */

/*
 * The allocator's reserved bytes (PoolBenchReservedBytes) grow in steps:
 * a slab, segment, span or page at a time, when the blocks it already has
 * for the size are used up. Blocks cached by earlier benchmarks (free
 * blocks in per-thread caches, lookasides, partly used slabs) are served
 * first without any growth, and would make a plain before/after difference
 * too small. So the measure runs from one growth step to another:
 *
 *   1. allocate more blocks than the earlier benchmarks ever held of the
 *      size, then on until the reserved bytes grow, twice (A): every block
 *      the allocator had cached for the size is now in use, and the step
 *      just taken is the only one partly used. (Growth alone does not say
 *      the caches are used up: tcmalloc carves a new span for a small
 *      refill while its transfer cache still holds whole batches, and a
 *      first growth may be bookkeeping, e.g. a thread cache created.)
 *   2. allocate the K measured blocks, then on until the next growth (B);
 *   3. bytes_per_byte = (reserved at B - reserved at A) / (blocks after A
 *      up to B, inclusive, x size).
 *
 * Between two growth points the blocks fill whole steps exactly, so the
 * ratio holds headers, rounding to the size class, slab tails and the
 * allocator's per-slab metadata, with no error from the step size and no
 * credit for cached blocks. Everything is freed afterwards.
 */
static void *PoolOverheadBlocks[POOL_OVERHEAD_CAPACITY];

static int PoolOverheadAllocate(size_t Size, unsigned *Count)
{
    void *Block;

    if (*Count == POOL_OVERHEAD_CAPACITY) {
        return -1;
    }
    Block = PoolBenchAllocate(Size);
    if (Block == NULL) {
        return -1;
    }
    /* Every byte of the block, as its user would: an allocator that
     * commits or faults pages in lazily is charged for them. */
    memset(Block, 0x5A, Size);
    PoolOverheadBlocks[(*Count)++] = Block;
    return 0;
}

/* Allocates until the reserved bytes grow (at most Limit blocks); *Bytes
 * receives them. -1 on failure; 1 when the limit came first. */
static int PoolOverheadGrow(size_t Size, unsigned *Count, unsigned Limit, uint64_t *Bytes)
{
    uint64_t Before, After;

    if (PoolBenchReservedBytes(&Before) != 0) {
        return -1;
    }
    for (unsigned i = 0; i < Limit; i++) {
        if (PoolOverheadAllocate(Size, Count) != 0 || PoolBenchReservedBytes(&After) != 0) {
            return -1;
        }
        if (After > Before) {
            *Bytes = After;
            return 0;
        }
        /* A statistic may also shrink (memory returned elsewhere). */
        Before = After;
    }
    *Bytes = Before;
    return 1;
}

KEEL_BENCHMARK_EX(pool_overhead, .ArgCount = 10,
                  .Args = { 16, 32, 48, 64, 96, 128, 192, 256, 1024, 4096 }, .ArgNames = { "size" },
                  .Iterations = 1, .Repetitions = 1)
{
    size_t Size = (size_t)KeelBenchRange(State, 0);
    unsigned Blocks = POOL_OVERHEAD_BYTES / Size;
    unsigned Count = 0, First = 0;
    uint64_t ReservedA = 0, ReservedB = 0;
    const char *Error = NULL;
    int Status;

    if (Size <= 256 && Blocks < POOL_OVERHEAD_MIN_BLOCKS) {
        Blocks = POOL_OVERHEAD_MIN_BLOCKS;
    }
    if (Blocks > POOL_OVERHEAD_MAX_BLOCKS) {
        Blocks = POOL_OVERHEAD_MAX_BLOCKS;
    }
    PoolBenchSettle();
    while (KeelBenchKeepRunning(State)) {
        for (unsigned i = 0; i < POOL_OVERHEAD_WARM_BLOCKS; i++) {
            if (PoolOverheadAllocate(Size, &Count) != 0) {
                Error = "allocation failed";
                break;
            }
        }
        if (Error != NULL) {
            break;
        }
        Status = PoolOverheadGrow(Size, &Count, 2 * POOL_OVERHEAD_MAX_BLOCKS, &ReservedA);
        if (Status == 0) {
            Status = PoolOverheadGrow(Size, &Count, 2 * POOL_OVERHEAD_MAX_BLOCKS, &ReservedA);
        }
        if (Status != 0) {
            Error = Status < 0 ? "allocation or statistic failed"
                               : "reserved bytes never grew (statistic not exact?)";
            break;
        }
        First = Count;
        for (unsigned i = 0; i < Blocks - 1; i++) {
            if (PoolOverheadAllocate(Size, &Count) != 0) {
                Error = "allocation failed";
                break;
            }
        }
        if (Error != NULL) {
            break;
        }
        /* Status 1: no growth within another K blocks; the difference is
         * then taken where the allocation stopped. */
        if (PoolOverheadGrow(Size, &Count, Blocks, &ReservedB) < 0) {
            Error = "allocation or statistic failed";
            break;
        }
        if (ReservedB >= ReservedA) {
            double Requested = (double)(Count - First) * (double)Size;
            KeelBenchSetCounter(State, "bytes_per_byte",
                                (double)(ReservedB - ReservedA) / Requested, KEEL_COUNTER_DEFAULT);
            KeelBenchSetCounter(State, "blocks", (double)(Count - First), KEEL_COUNTER_DEFAULT);
        } else {
            Error = "reserved bytes shrank while blocks were held";
        }
    }
    for (unsigned i = 0; i < Count; i++) {
        PoolBenchFree(PoolOverheadBlocks[i]);
    }
    if (Error != NULL) {
        KeelBenchSkipWithError(State, Error);
    }
}

void PoolBenchStartTogether(volatile unsigned *Arrived, unsigned Count)
{
    __atomic_add_fetch(Arrived, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(Arrived, __ATOMIC_ACQUIRE) < Count) {
        POOL_CPU_RELAX();
    }
}

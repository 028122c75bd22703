/*
 * peer_glibc.c - keel_bench_peer_glibc: the pool benchmarks over the GNU C
 * library's own malloc (ptmalloc), nothing linked in front of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "pool_bench.h"
#include "pool_peer.h"

const char PoolPeerLibrary[] = "libc.so";
const char PoolPeerName[] = "glibc";

/*
 * mallinfo2: uordblks (bytes in chunks in use, over every arena) plus
 * hblkhd (bytes in chunks mmapped on their own). glibc keeps no slabs: a
 * block's whole cost is its chunk - the 8-byte size header and the
 * rounding to 16 bytes (32 at least) - which is what uordblks counts.
 * Free chunks are not held for any size (they coalesce and serve every
 * size), so they are not counted; chunks in the per-thread cache (7 per
 * size) count as in use already, and the overhead measure's growth search
 * uses them up before it starts. The top chunk's unused tail is address
 * space the next allocation of any size takes, not the blocks' cost.
 */
int PoolBenchReservedBytes(uint64_t *Bytes)
{
    struct mallinfo2 Info = mallinfo2();

    *Bytes = (uint64_t)Info.uordblks + (uint64_t)Info.hblkhd;
    return 0;
}

/* An exited thread's arena and its free chunks stay where they are; the
 * chunks of the calling thread's arena are what its allocations reuse. */
void PoolPeerSettle(void)
{
}

int PoolPeerVerify(char *Message, size_t Length)
{
    /* Calls that only the other allocators export: none may resolve. */
    static const char *const Foreign[] = { "mallctl",
                                           "je_mallctl",
                                           "mi_version",
                                           "mi_malloc",
                                           "tc_version",
                                           "tc_malloc",
                                           "MallocExtension_GetOwnership" };
    struct mallinfo2 Before, After;
    void *Block;

    for (size_t i = 0; i < sizeof(Foreign) / sizeof(Foreign[0]); i++) {
        if (dlsym(RTLD_DEFAULT, Foreign[i]) != NULL) {
            snprintf(Message, Length, "%s is present: another allocator is loaded", Foreign[i]);
            return 1;
        }
    }
    /* A block too big for the per-thread cache must show in glibc's own
     * statistics, as one chunk. */
    Before = mallinfo2();
    Block = PoolBenchAllocate(2000);
    After = mallinfo2();
    if (Block == NULL || After.uordblks < Before.uordblks + 2000 ||
        After.uordblks > Before.uordblks + 2000 + 64) {
        PoolBenchFree(Block);
        snprintf(Message, Length, "malloc(2000) did not show in mallinfo2 (%zu -> %zu)",
                 Before.uordblks, After.uordblks);
        return 1;
    }
    PoolBenchFree(Block);
    snprintf(Message, Length, "malloc is glibc's (ptmalloc), no other allocator loaded");
    return 0;
}

/*
 * peer_jemalloc.c - keel_bench_peer_jemalloc: the pool benchmarks over
 * jemalloc (Debian's libjemalloc, linked so that it provides malloc and
 * free for the whole process).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <jemalloc/jemalloc.h>

#include "pool_bench.h"
#include "pool_peer.h"

const char PoolPeerLibrary[] = "libjemalloc";
const char PoolPeerName[] = "jemalloc";

/*
 * stats.active + stats.metadata, after an "epoch" write refreshes them.
 * Small blocks live in slabs (runs of pages carved into regions of one
 * size class); stats.active counts every page of every slab in use,
 * whole, so it holds the rounding to the class, the slab's unused tail and
 * the free regions of partly used slabs, which no other size can use.
 * stats.metadata counts the allocator's own structures (extent records,
 * slab bitmaps, the radix tree). stats.resident is not used: it also
 * counts dirty pages jemalloc has freed but not yet returned, which belong
 * to no block.
 */
int PoolBenchReservedBytes(uint64_t *Bytes)
{
    uint64_t Epoch = 1;
    size_t Active, Metadata;
    size_t Size = sizeof(Epoch);

    if (mallctl("epoch", &Epoch, &Size, &Epoch, sizeof(Epoch)) != 0) {
        return -1;
    }
    Size = sizeof(Active);
    if (mallctl("stats.active", &Active, &Size, NULL, 0) != 0 ||
        mallctl("stats.metadata", &Metadata, &Size, NULL, 0) != 0) {
        return -1;
    }
    *Bytes = (uint64_t)Active + (uint64_t)Metadata;
    return 0;
}

/* The calling thread's cache (regions of every size class, left by the
 * earlier benchmarks) goes back to its slabs now: otherwise its periodic
 * garbage collection would flush them during the measure, emptying slabs
 * of other sizes and shrinking stats.active under the blocks measured.
 * An exited thread's cache was flushed when it exited. */
void PoolPeerSettle(void)
{
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
}

int PoolPeerVerify(char *Message, size_t Length)
{
    const char *Version;
    bool Stats;
    unsigned Arena;
    size_t Size = sizeof(Version);
    void *Block;

    if (mallctl("version", &Version, &Size, NULL, 0) != 0) {
        snprintf(Message, Length, "mallctl(\"version\") failed");
        return 1;
    }
    Size = sizeof(Stats);
    if (mallctl("config.stats", &Stats, &Size, NULL, 0) != 0 || !Stats) {
        snprintf(Message, Length, "jemalloc %s was built without statistics", Version);
        return 1;
    }
    /* The block malloc returns must be one of jemalloc's. */
    Block = PoolBenchAllocate(64);
    Size = sizeof(Arena);
    if (Block == NULL || mallctl("arenas.lookup", &Arena, &Size, &Block, sizeof(Block)) != 0) {
        PoolBenchFree(Block);
        snprintf(Message, Length, "a block from malloc() is not in any jemalloc arena");
        return 1;
    }
    PoolBenchFree(Block);
    snprintf(Message, Length, "malloc is jemalloc %s", Version);
    return 0;
}

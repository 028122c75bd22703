/*
 * peer_mimalloc.c - keel_bench_peer_mimalloc: the pool benchmarks over
 * mimalloc (Debian's libmimalloc, which replaces malloc and free for the
 * whole process when linked).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <mimalloc.h>

#include "pool_bench.h"
#include "pool_peer.h"

const char PoolPeerLibrary[] = "libmimalloc";
const char PoolPeerName[] = "mimalloc";

static bool PoolPeerSumArea(const mi_heap_t *Heap, const mi_heap_area_t *Area, void *Block,
                            size_t BlockSize, void *Context)
{
    (void)Heap;
    (void)BlockSize;
    if (Block == NULL) {
        *(uint64_t *)Context += Area->reserved;
    }
    return true;
}

/*
 * The bytes of every page (mimalloc's slab) of the calling thread's heap,
 * from mi_heap_visit_blocks' areas ("reserved": every block slot of the
 * page): a page holds blocks of one size class only, so it holds the
 * rounding to the class and the free slots of partly used pages. The
 * overhead measure allocates from this thread only. Not the areas'
 * "committed" (the slots set up so far): mimalloc sets a page's slots up
 * a few at a time, and may do so while another page of the class still
 * has free blocks, so it grows before the cached blocks are used up.
 * Not mi_process_info's current_commit either: mimalloc commits a whole
 * 32 MiB segment at once (address space the OS backs only where touched),
 * steps far larger than the blocks measured. Left out: the page
 * descriptors in the segment header, about 0.2% of a 64 KiB page.
 */
int PoolBenchReservedBytes(uint64_t *Bytes)
{
    uint64_t Committed = 0;

    if (!mi_heap_visit_blocks(mi_heap_get_default(), false, PoolPeerSumArea, &Committed)) {
        return -1;
    }
    *Bytes = Committed;
    return 0;
}

/* An exited thread's heap is abandoned with its pages (and the free
 * blocks in them); a thread that needs a page may reclaim such a segment,
 * whose free blocks then serve allocations with no growth in between.
 * mi_collect(true) makes the calling thread reclaim them now (and free
 * its empty pages of every size), before the growth search, which then
 * uses the reclaimed free blocks up first. */
void PoolPeerSettle(void)
{
    mi_collect(true);
}

int PoolPeerVerify(char *Message, size_t Length)
{
    int Version = mi_version();
    void *Block = PoolBenchAllocate(64);
    bool Owned = Block != NULL && mi_check_owned(Block);

    PoolBenchFree(Block);
    if (!Owned) {
        snprintf(Message, Length, "a block from malloc() is not in mimalloc's heap (mimalloc %d)",
                 Version);
        return 1;
    }
    snprintf(Message, Length, "malloc is mimalloc %d.%d.%d", Version / 100, Version / 10 % 10,
             Version % 10);
    return 0;
}

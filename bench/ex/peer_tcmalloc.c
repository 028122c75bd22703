/*
 * peer_tcmalloc.c - keel_bench_peer_tcmalloc: the pool benchmarks over
 * gperftools' tcmalloc (Debian's libtcmalloc_minimal: the allocator
 * without the heap profiler and checker hooks, as it is deployed for
 * speed), which replaces malloc and free for the whole process.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>

#include "pool_bench.h"
#include "pool_peer.h"

const char PoolPeerLibrary[] = "libtcmalloc";
const char PoolPeerName[] = "tcmalloc";

/*
 * generic.total_physical_bytes - tcmalloc.pageheap_free_bytes: the heap's
 * mapped pages plus its metadata, less the mapped pages the page heap
 * holds free for any size. What is left is every span handed to a size
 * class, whole - the rounding to the class, the span's tail, and the free
 * objects in partly used spans and in the central, transfer and thread
 * caches, which serve no other size - plus the metadata (span records,
 * page map).
 */
int PoolBenchReservedBytes(uint64_t *Bytes)
{
    size_t Physical, PageHeapFree;

    if (!MallocExtension_GetNumericProperty("generic.total_physical_bytes", &Physical) ||
        !MallocExtension_GetNumericProperty("tcmalloc.pageheap_free_bytes", &PageHeapFree)) {
        return -1;
    }
    *Bytes = (uint64_t)Physical - (uint64_t)PageHeapFree;
    return 0;
}

/* The calling thread's cache (objects of every size class, left by the
 * earlier benchmarks) goes back to the central lists now: otherwise its
 * scavenging would return them during the measure, freeing spans of
 * other sizes and shrinking the statistic under the blocks measured.
 * Exited threads' caches went back when they exited. */
void PoolPeerSettle(void)
{
    MallocExtension_MarkThreadIdle();
    /* The new cache now, not as the measure's first growth. */
    PoolBenchFree(PoolBenchAllocate(1));
}

int PoolPeerVerify(char *Message, size_t Length)
{
    int Major, Minor;
    const char *Patch;
    const char *Version = tc_version(&Major, &Minor, &Patch);
    void *Block = PoolBenchAllocate(64);
    int Owned = Block != NULL && MallocExtension_GetOwnership(Block) == MallocExtension_kOwned;

    PoolBenchFree(Block);
    if (Version == NULL || !Owned) {
        snprintf(Message, Length, "a block from malloc() is not owned by tcmalloc (%s)",
                 Version != NULL ? Version : "no version");
        return 1;
    }
    snprintf(Message, Length, "malloc is %s", Version);
    return 0;
}

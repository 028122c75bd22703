/*
 * page_alloc.c - benchmarks of the physical page allocator (kernel/mm) in
 * the hosted kernel: one page allocated and freed, the same with zeroing,
 * contiguous runs of N pages, and libc's page-aligned allocation as the
 * peer the single-page case is compared with.
 */
#include <stdlib.h>

#include <ntddk.h>
#include <hosted.h>
#include <mm.h>

#include "keelbench.h"

/* Any physical address is acceptable for the contiguous runs. */
#define MI_ANY_PFN ((PFN_NUMBER)-1)

KEEL_BENCHMARK(mm_alloc_free_page)
{
    PFN_NUMBER Pfn;

    HalHostedInitialize();
    KeelBenchSetLabel(State, "vs peer_libc_aligned_alloc_page");
    while (KeelBenchKeepRunning(State)) {
        if (!MiAllocatePhysicalPage(&Pfn, FALSE)) {
            KeelBenchSkipWithError(State, "MiAllocatePhysicalPage failed");
            break;
        }
        KeelBenchDoNotOptimize(Pfn);
        MiFreePhysicalPage(Pfn);
    }
    KeelBenchSetCounter(State, "free_pages", (double)MiFreePhysicalPageCount(),
                        KEEL_COUNTER_DEFAULT);
}

KEEL_BENCHMARK(mm_alloc_free_page_zeroed)
{
    PFN_NUMBER Pfn;

    HalHostedInitialize();
    while (KeelBenchKeepRunning(State)) {
        if (!MiAllocatePhysicalPage(&Pfn, TRUE)) {
            KeelBenchSkipWithError(State, "MiAllocatePhysicalPage failed");
            break;
        }
        KeelBenchDoNotOptimize(Pfn);
        MiFreePhysicalPage(Pfn);
    }
    KeelBenchSetBytesProcessed(State, KeelBenchIterations(State) * PAGE_SIZE);
}

/* 64 single pages held at once, then freed: the free list under churn
 * rather than one page bouncing in and out. */
KEEL_BENCHMARK(mm_alloc_free_64_pages)
{
    PFN_NUMBER Pfns[64];

    HalHostedInitialize();
    while (KeelBenchKeepRunning(State)) {
        for (ULONG i = 0; i < 64; i++) {
            if (!MiAllocatePhysicalPage(&Pfns[i], FALSE)) {
                KeelBenchSkipWithError(State, "MiAllocatePhysicalPage failed");
                while (i-- > 0) {
                    MiFreePhysicalPage(Pfns[i]);
                }
                return;
            }
        }
        for (ULONG i = 0; i < 64; i++) {
            MiFreePhysicalPage(Pfns[i]);
        }
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State) * 64);
}

/* N physically contiguous pages (N = 1, 8, 64, 512). */
KEEL_BENCHMARK_RANGE(mm_contiguous_alloc_free, 1, 512, 8)
{
    PFN_NUMBER Count = (PFN_NUMBER)KeelBenchRange(State, 0);
    PFN_NUMBER Base;

    HalHostedInitialize();
    while (KeelBenchKeepRunning(State)) {
        if (!MiAllocateContiguousPhysicalPages(Count, MI_ANY_PFN, &Base)) {
            KeelBenchSkipWithError(State, "MiAllocateContiguousPhysicalPages failed");
            break;
        }
        KeelBenchDoNotOptimize(Base);
        MiFreeContiguousPhysicalPages(Base, Count);
    }
    KeelBenchSetCounter(State, "pages", (double)(KeelBenchIterations(State) * (int64_t)Count),
                        KEEL_COUNTER_RATE);
}

/* The peer: a page-aligned page from the C library's allocator. */
KEEL_BENCHMARK(peer_libc_aligned_alloc_page)
{
    while (KeelBenchKeepRunning(State)) {
        void *Page = aligned_alloc(PAGE_SIZE, PAGE_SIZE);
        if (Page == NULL) {
            KeelBenchSkipWithError(State, "aligned_alloc failed");
            break;
        }
        KeelBenchDoNotOptimize(Page);
        free(Page);
    }
}

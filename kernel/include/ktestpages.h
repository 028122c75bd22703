/*
 * ktestpages.h - for ktest cases that need the memory manager short of
 * pages: KtDrainFreePages takes every free physical page (chained through
 * the pages themselves, so it needs no memory of its own) and
 * KtReturnPages gives them back. The zero-page thread is paused in
 * between; nothing may be reported between the two calls. With
 * TakeDeadStacks the pages of the dead stacks the memory manager keeps for
 * new threads are drained too (after the free list, so a stack the reaper
 * keeps meanwhile goes as well); without, the cached stacks are all that
 * is left.
 */
#ifndef _KTESTPAGES_
#define _KTESTPAGES_

#include <ntddk.h>
#include <arch.h>
#include <mm.h>

static inline PFN_NUMBER KtDrainFreePages(PPFN_NUMBER Count, BOOLEAN TakeDeadStacks)
{
    PFN_NUMBER Pfn, Head = 0;

    *Count = 0;
    MiPauseZeroPageThread(TRUE);
    for (;;) {
        while (MiAllocatePhysicalPage(&Pfn, FALSE)) {
            PHYSICAL_ADDRESS Pa;
            Pa.QuadPart = (LONGLONG)Pfn << PAGE_SHIFT;
            *(PPFN_NUMBER)MmGetVirtualForPhysical(Pa) = Head;
            Head = Pfn;
            (*Count)++;
        }
        if (!TakeDeadStacks || MiFlushDeadStacks() == 0) {
            return Head;
        }
    }
}

static inline VOID KtReturnPages(PFN_NUMBER Head, PFN_NUMBER Count)
{
    while (Count-- > 0) {
        PHYSICAL_ADDRESS Pa;
        PFN_NUMBER Next;
        Pa.QuadPart = (LONGLONG)Head << PAGE_SHIFT;
        Next = *(PPFN_NUMBER)MmGetVirtualForPhysical(Pa);
        MiFreePhysicalPage(Head);
        Head = Next;
    }
    MiPauseZeroPageThread(FALSE);
}

#endif /* _KTESTPAGES_ */

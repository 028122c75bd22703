/*
 * pfn_test.c - ktest cases for the physical page allocator: counts,
 * zeroing, the free and zeroed lists, lock references, exhausting and
 * refilling memory without handing out a page twice, and contiguous runs.
 */
#include <ntddk.h>
#include <ktest.h>
#include <mm.h>
#include <ke.h>
#include <ketypes.h>

static PULONG64 PageWords(PFN_NUMBER Pfn)
{
    PHYSICAL_ADDRESS Pa;
    Pa.QuadPart = (LONGLONG)Pfn << PAGE_SHIFT;
    return MmGetVirtualForPhysical(Pa);
}

KTEST(mm_pfn, counts_are_sane)
{
    KT_EXPECT_GT(MiTotalPhysicalPageCount(), 0);
    KT_EXPECT_GT(MiFreePhysicalPageCount(), 0);
    KT_EXPECT_LE(MiFreePhysicalPageCount(), MiTotalPhysicalPageCount());
    KT_EXPECT_LE(MiTotalPhysicalPageCount(), MiPfnDatabaseSize());
}

KTEST(mm_pfn, allocate_free_updates_counts)
{
    PFN_NUMBER Free = MiFreePhysicalPageCount(), Pfn;

    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, FALSE));
    KT_EXPECT_NE(Pfn, 0);
    KT_EXPECT_LT(Pfn, MiPfnDatabaseSize());
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 1);
    MiFreePhysicalPage(Pfn);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
}

KTEST(mm_pfn, zeroed_allocation)
{
    PFN_NUMBER Pfn, Again;
    PULONG64 Words;
    BOOLEAN AllZero = TRUE;

    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, FALSE));
    Words = PageWords(Pfn);
    KT_ASSERT_NOT_NULL(Words);
    memset(Words, 0xA5, PAGE_SIZE);
    MiFreePhysicalPage(Pfn);
    /* The free list is LIFO: with no zeroed page ready the dirty page comes
     * straight back (and is cleared); otherwise a zeroed page is taken. */
    BOOLEAN FromFreeList = MiZeroedPhysicalPageCount() == 0;
    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Again, TRUE));
    if (FromFreeList) {
        KT_EXPECT_EQ(Again, Pfn);
    }
    Words = PageWords(Again);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++) {
        AllZero = AllZero && Words[i] == 0;
    }
    KT_EXPECT_TRUE(AllZero);
    MiFreePhysicalPage(Again);
}

/* Takes every free page (chained through the pages themselves), checks a
 * bitmap that no page came twice, then gives them all back. */
KTEST(mm_pfn, allocate_all_free_all_no_duplicates)
{
    PFN_NUMBER Free, Pfn, Head = 0, Count = 0, Duplicates = 0;
    SIZE_T BitmapPages = BYTES_TO_PAGES((MiPfnDatabaseSize() + 7) / 8);
    PFN_NUMBER BitmapBase;
    PUCHAR Bitmap;

    /* A page the zero-page thread is zeroing counts as free but is on no
     * list: keep it out of the way. */
    MiPauseZeroPageThread(TRUE);
    Free = MiFreePhysicalPageCount();
    KT_ASSERT_TRUE(
        MiAllocateContiguousPhysicalPages(BitmapPages, MiPfnDatabaseSize(), &BitmapBase));
    Bitmap = (PUCHAR)PageWords(BitmapBase);
    memset(Bitmap, 0, BitmapPages * PAGE_SIZE);
    for (PFN_NUMBER i = 0; i < BitmapPages; i++) {
        Bitmap[(BitmapBase + i) / 8] |= (UCHAR)(1u << ((BitmapBase + i) % 8));
    }

    while (MiAllocatePhysicalPage(&Pfn, FALSE)) {
        if (Bitmap[Pfn / 8] & (1u << (Pfn % 8))) {
            Duplicates++;
        }
        Bitmap[Pfn / 8] |= (UCHAR)(1u << (Pfn % 8));
        PageWords(Pfn)[0] = Head;
        Head = Pfn;
        Count++;
    }
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), 0);
    KT_EXPECT_EQ(Count, Free - BitmapPages);
    KT_EXPECT_EQ(Duplicates, 0);
    KT_EXPECT_FALSE(MiAllocatePhysicalPage(&Pfn, FALSE));
    KT_EXPECT_FALSE(MiAllocateContiguousPhysicalPages(1, MiPfnDatabaseSize(), &Pfn));

    while (Count-- > 0) {
        PFN_NUMBER Next = PageWords(Head)[0];
        MiFreePhysicalPage(Head);
        Head = Next;
    }
    MiFreeContiguousPhysicalPages(BitmapBase, BitmapPages);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    MiPauseZeroPageThread(FALSE);
}

KTEST(mm_pfn, contiguous_run)
{
    PFN_NUMBER Free = MiFreePhysicalPageCount(), Base, Single;

    KT_ASSERT_TRUE(MiAllocateContiguousPhysicalPages(16, MiPfnDatabaseSize(), &Base));
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 16);
    KT_EXPECT_NE(Base, 0);
    /* No single-page allocation may land inside the run. */
    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Single, FALSE));
    KT_EXPECT_TRUE(Single < Base || Single >= Base + 16);
    MiFreePhysicalPage(Single);
    MiFreeContiguousPhysicalPages(Base, 16);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
}

KTEST(mm_pfn, contiguous_respects_highest_pfn)
{
    PFN_NUMBER Base;

    KT_ASSERT_TRUE(MiAllocateContiguousPhysicalPages(4, 0x1000, &Base));
    KT_EXPECT_LE(Base + 3, 0x1000);
    MiFreeContiguousPhysicalPages(Base, 4);
    KT_EXPECT_FALSE(MiAllocateContiguousPhysicalPages(0, 0x1000, &Base));
    KT_EXPECT_FALSE(
        MiAllocateContiguousPhysicalPages(MiFreePhysicalPageCount() + 1, ~(PFN_NUMBER)0, &Base));
}

KTEST(mm_pfn, physical_map_round_trip)
{
    PFN_NUMBER Pfn;
    PHYSICAL_ADDRESS Pa;
    PVOID Va;

    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, TRUE));
    Pa.QuadPart = (LONGLONG)(Pfn << PAGE_SHIFT) + 0x123;
    Va = MmGetVirtualForPhysical(Pa);
    KT_ASSERT_NOT_NULL(Va);
    KT_EXPECT_EQ(MmGetPhysicalAddress(Va).QuadPart, Pa.QuadPart);
    MiFreePhysicalPage(Pfn);
}

static BOOLEAN PageIsZero(PFN_NUMBER Pfn)
{
    PULONG64 Words = PageWords(Pfn);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++) {
        if (Words[i] != 0) {
            return FALSE;
        }
    }
    return TRUE;
}

KTEST(mm_pfn, zeroed_list)
{
    PFN_NUMBER Free, Pfns[8], Pfn;
    PFN_NUMBER Zeroed;

    /* The zero-page thread would race the counts below. */
    MiPauseZeroPageThread(TRUE);
    Free = MiFreePhysicalPageCount();
    /* Dirty pages go back to the free list... */
    for (ULONG i = 0; i < RTL_NUMBER_OF(Pfns); i++) {
        KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfns[i], FALSE));
        memset(PageWords(Pfns[i]), 0x5A, PAGE_SIZE);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Pfns); i++) {
        MiFreePhysicalPage(Pfns[i]);
    }
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    /* ...the zeroing routine moves them (most recently freed first) to the
     * zeroed list without changing the free total. */
    Zeroed = MiZeroedPhysicalPageCount();
    KT_EXPECT_EQ(MiZeroFreePages(RTL_NUMBER_OF(Pfns)), RTL_NUMBER_OF(Pfns));
    KT_EXPECT_EQ(MiZeroedPhysicalPageCount(), Zeroed + RTL_NUMBER_OF(Pfns));
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Pfns); i++) {
        KT_EXPECT_TRUE(PageIsZero(Pfns[i]));
    }
    /* A caller that needs zeroes takes a zeroed page, and it is zero. */
    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, TRUE));
    KT_EXPECT_EQ(MiZeroedPhysicalPageCount(), Zeroed + RTL_NUMBER_OF(Pfns) - 1);
    KT_EXPECT_TRUE(PageIsZero(Pfn));
    memset(PageWords(Pfn), 0x77, PAGE_SIZE);
    MiFreePhysicalPage(Pfn);
    /* One that does not leaves the zeroed pages alone while the free
     * list has pages: it gets the dirty page just freed. */
    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, FALSE));
    KT_EXPECT_EQ(MiZeroedPhysicalPageCount(), Zeroed + RTL_NUMBER_OF(Pfns) - 1);
    KT_EXPECT_EQ(PageWords(Pfn)[0], 0x7777777777777777ull);
    MiFreePhysicalPage(Pfn);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    MiPauseZeroPageThread(FALSE);
}

KTEST(mm_pfn, zeroing_stops_when_free_list_is_empty)
{
    PFN_NUMBER Free, Zeroed, Done;

    MiPauseZeroPageThread(TRUE);
    Free = MiFreePhysicalPageCount();
    Zeroed = MiZeroedPhysicalPageCount();
    Done = MiZeroFreePages(~(PFN_NUMBER)0);

    /* Everything free is now zeroed. */
    KT_EXPECT_EQ(MiZeroedPhysicalPageCount(), Zeroed + Done);
    KT_EXPECT_EQ(MiZeroedPhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiZeroFreePages(16), 0);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    MiPauseZeroPageThread(FALSE);
}

/* The zero-page thread: priority 0, and it empties the free list into the
 * zeroed list on its own once pages are freed. */
KTEST(mm_pfn, zero_page_thread_zeroes_freed_pages)
{
    PKTHREAD Thread = MiQueryZeroPageThread();
    PFN_NUMBER Pfns[8];
    ULONG64 Deadline;

    if (Thread == NULL) {
        KT_SKIP("no zero-page thread (not started in this configuration)");
    }
    KT_EXPECT_EQ(Thread->Priority, 0);
    KT_EXPECT_EQ(Thread->BasePriority, 0);
    /* Earlier tests' threads' stacks are freed first: a few pages freed
     * after the thread has emptied the list stay there (below the wake
     * threshold) and would be counted here. */
    KiSettleTerminatedThreads();
    for (ULONG i = 0; i < RTL_NUMBER_OF(Pfns); i++) {
        KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfns[i], FALSE));
        memset(PageWords(Pfns[i]), 0xC3, PAGE_SIZE);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Pfns); i++) {
        MiFreePhysicalPage(Pfns[i]);
    }
    /* Block (so even one processor goes idle) until it is done. */
    Deadline = KeQueryInterruptTime() + 5000ull * 10000;
    while (MiFreeListPageCount() != 0 && KeQueryInterruptTime() < Deadline) {
        LARGE_INTEGER Interval = { .QuadPart = -10000 };
        KeDelayExecutionThread(KernelMode, FALSE, &Interval);
    }
    KT_EXPECT_EQ(MiFreeListPageCount(), 0);
}

/* Regression: every page freed woke the zero-page thread (a thread wake-up
 * and an IPI per free: the page allocator benchmark went from 24 ns to
 * over 150 ns per alloc+free with a second processor online). Frees that
 * leave fewer than 8 pages on the free list must not wake it, as in NT. */
KTEST(mm_pfn, a_single_free_does_not_wake_the_zero_page_thread)
{
    PFN_NUMBER Pfn;
    ULONG Wakes;
    ULONG64 Deadline;

    if (MiQueryZeroPageThread() == NULL) {
        KT_SKIP("no zero-page thread (not started in this configuration)");
    }
    /* Earlier tests' threads' stacks are freed first (their pages would
     * wake it), then it drains the free list and goes back to waiting. */
    KiSettleTerminatedThreads();
    Deadline = KeQueryInterruptTime() + 5000ull * 10000;
    while (MiFreeListPageCount() != 0 && KeQueryInterruptTime() < Deadline) {
        LARGE_INTEGER Interval = { .QuadPart = -10000 };
        KeDelayExecutionThread(KernelMode, FALSE, &Interval);
    }
    Wakes = MiQueryZeroPageWakes();
    for (ULONG i = 0; i < 200; i++) {
        KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, FALSE));
        MiFreePhysicalPage(Pfn);
        if ((i & 15) == 0) {
            /* Give the thread every chance to be waiting again. */
            LARGE_INTEGER Interval = { .QuadPart = -1000 };
            KeDelayExecutionThread(KernelMode, FALSE, &Interval);
        }
    }
    KT_EXPECT_EQ(MiQueryZeroPageWakes(), Wakes);
}

/* Regression: the free total (free + zeroed + being zeroed) was summed
 * without the PFN lock, so a reader racing the zero-page thread on another
 * processor saw it one page off. */
KTEST(mm_pfn, free_total_is_stable_while_pages_are_zeroed)
{
    static PFN_NUMBER Pfns[512];
    PFN_NUMBER Free;
    ULONG Allocated = 0, Reads = 0, Wrong = 0;
    ULONG64 Deadline;

    if (MiQueryZeroPageThread() == NULL) {
        KT_SKIP("no zero-page thread (not started in this configuration)");
    }
    if (KeQueryActiveProcessorCount(NULL) < 2) {
        KT_SKIP("needs the zero-page thread running beside this one");
    }
    MiPauseZeroPageThread(TRUE);
    while (Allocated < RTL_NUMBER_OF(Pfns) && MiAllocatePhysicalPage(&Pfns[Allocated], FALSE)) {
        Allocated++;
    }
    for (ULONG i = 0; i < Allocated; i++) {
        MiFreePhysicalPage(Pfns[i]);
    }
    /* Nothing else allocates now: every read must see the same total. */
    Free = MiFreePhysicalPageCount();
    MiPauseZeroPageThread(FALSE);
    MiSignalZeroPageThread();
    Deadline = KeQueryInterruptTime() + 5000ull * 10000;
    while (MiFreeListPageCount() != 0 && KeQueryInterruptTime() < Deadline) {
        Wrong += MiFreePhysicalPageCount() != Free;
        Reads++;
    }
    KT_EXPECT_EQ(Allocated, RTL_NUMBER_OF(Pfns));
    KT_EXPECT_GT(Reads, 0);
    KT_EXPECT_EQ(Wrong, 0);
}

KTEST(mm_pfn, lock_reference_defers_free)
{
    PFN_NUMBER Free = MiFreePhysicalPageCount(), Pfn;

    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, TRUE));
    KT_EXPECT_TRUE(MiIsPhysicalPageOwned(Pfn));
    KT_EXPECT_TRUE(MiReferencePhysicalPage(Pfn));
    KT_EXPECT_TRUE(MiReferencePhysicalPage(Pfn));
    KT_EXPECT_EQ(MiPhysicalPageLockCount(Pfn), 2);
    /* The owner frees it while it is locked: it stays out of the lists. */
    MiFreePhysicalPage(Pfn);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 1);
    KT_EXPECT_FALSE(MiReferencePhysicalPage(Pfn));
    MiDereferencePhysicalPage(Pfn);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 1);
    MiDereferencePhysicalPage(Pfn);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_FALSE(MiIsPhysicalPageOwned(Pfn));
    /* Pages outside the database cannot be referenced. */
    KT_EXPECT_FALSE(MiReferencePhysicalPage(MiPfnDatabaseSize() + 10));
}

KTEST(mm_pfn, contiguous_limits_and_boundary)
{
    PFN_NUMBER Free = MiFreePhysicalPageCount(), Base;

    /* 8 pages between pages 0x800 and 0xFFF, not crossing a 16-page line. */
    KT_ASSERT_TRUE(MiAllocateContiguousPhysicalPagesEx(8, 0x800, 0xFFF, 16, &Base));
    KT_EXPECT_GE(Base, 0x800);
    KT_EXPECT_LE(Base + 7, 0xFFF);
    KT_EXPECT_EQ(Base / 16, (Base + 7) / 16);
    MiFreeContiguousPhysicalPages(Base, 8);
    /* A run longer than the boundary can never fit. */
    KT_EXPECT_FALSE(MiAllocateContiguousPhysicalPagesEx(17, 0, ~(PFN_NUMBER)0, 16, &Base));
    /* An empty window fails. */
    KT_EXPECT_FALSE(MiAllocateContiguousPhysicalPagesEx(4, 0x900, 0x901, 0, &Base));
    /* Zeroed pages are used too. */
    MiZeroFreePages(64);
    KT_ASSERT_TRUE(MiAllocateContiguousPhysicalPagesEx(32, 0, ~(PFN_NUMBER)0, 0, &Base));
    MiFreeContiguousPhysicalPages(Base, 32);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
}

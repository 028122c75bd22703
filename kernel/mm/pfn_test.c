/*
 * pfn_test.c - ktest cases for the physical page allocator: counts,
 * zeroing, exhausting and refilling memory without handing out a page
 * twice, and contiguous runs.
 */
#include <ntddk.h>
#include <ktest.h>
#include <mm.h>

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
    /* The free list is LIFO: the dirty page comes straight back. */
    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Again, TRUE));
    KT_EXPECT_EQ(Again, Pfn);
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
    PFN_NUMBER Free = MiFreePhysicalPageCount(), Pfn, Head = 0, Count = 0, Duplicates = 0;
    SIZE_T BitmapPages = BYTES_TO_PAGES((MiPfnDatabaseSize() + 7) / 8);
    PFN_NUMBER BitmapBase;
    PUCHAR Bitmap;

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

/*
 * kpages_test.c - ktest cases for kernel pages: backing, zeroing, the
 * guard page, protections, translation and I/O space mappings.
 */
#include <ntddk.h>
#include <arch.h>
#include <ktest.h>
#include <ktestthreads.h>
#include <mm.h>

KTEST(mm_kpages, allocate_write_free)
{
    PFN_NUMBER Free;
    SIZE_T Used;
    PUCHAR Pages;
    BOOLEAN Zero = TRUE;

    /* Counts move only with this test's pages once dead threads' stacks
     * are reaped and the page tables for the range exist (a warm-up
     * round: page-table pages are never freed, and first fit hands the
     * same range out again). */
    if (KtCanRunThreads()) {
        KiSettleTerminatedThreads();
    }
    Pages = MiAllocateKernelPages(3);
    KT_ASSERT_NOT_NULL(Pages);
    MiFreeKernelPages(Pages, 3);
    Free = MiFreePhysicalPageCount();
    Used = MiKernelPagesInUse();
    Pages = MiAllocateKernelPages(3);

    KT_ASSERT_NOT_NULL(Pages);
    KT_EXPECT_EQ((ULONG_PTR)Pages & (PAGE_SIZE - 1), 0);
    for (SIZE_T i = 0; i < 3 * PAGE_SIZE; i++) {
        Zero = Zero && Pages[i] == 0;
    }
    KT_EXPECT_TRUE(Zero);
    memset(Pages, 0x5A, 3 * PAGE_SIZE);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 3);
    /* Three pages plus the guard page of VA. */
    KT_EXPECT_EQ(MiKernelPagesInUse(), Used + 4);
    KT_EXPECT_TRUE(MiArchIsAddressReadable((ULONG_PTR)Pages + 2 * PAGE_SIZE));
    KT_EXPECT_FALSE(MiArchIsAddressReadable((ULONG_PTR)Pages + 3 * PAGE_SIZE));
    MiFreeKernelPages(Pages, 3);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiKernelPagesInUse(), Used);
    KT_EXPECT_FALSE(MiArchIsAddressReadable((ULONG_PTR)Pages));
}

KTEST(mm_kpages, physical_alias)
{
    PULONG64 Page = MiAllocateKernelPages(1);
    PHYSICAL_ADDRESS Pa;
    PULONG64 Alias;

    KT_ASSERT_NOT_NULL(Page);
    Pa = MmGetPhysicalAddress(Page + 3);
    KT_EXPECT_EQ(Pa.QuadPart & (PAGE_SIZE - 1), 24);
    Alias = MmGetVirtualForPhysical(Pa);
    KT_ASSERT_NOT_NULL(Alias);
    Page[3] = 0x1122334455667788ull;
    KT_EXPECT_EQ(*Alias, 0x1122334455667788ull);
    MiFreeKernelPages(Page, 1);
}

KTEST(mm_kpages, protect)
{
    PUCHAR Pages = MiAllocateKernelPages(2);

    KT_ASSERT_NOT_NULL(Pages);
    KT_EXPECT_SUCCESS(MiProtectKernelPages(Pages, 2, PAGE_READONLY));
    KT_EXPECT_EQ(Pages[PAGE_SIZE], 0);
    KT_EXPECT_SUCCESS(MiProtectKernelPages(Pages, 1, PAGE_NOACCESS));
    KT_EXPECT_FALSE(MiArchIsAddressReadable((ULONG_PTR)Pages));
    KT_EXPECT_SUCCESS(MiProtectKernelPages(Pages, 2, PAGE_READWRITE));
    Pages[0] = 1;
    KT_EXPECT_EQ(Pages[0], 1);
    KT_EXPECT_STATUS(MiProtectKernelPages(Pages, 2, 0x12345), STATUS_INVALID_PARAMETER);
    KT_EXPECT_STATUS(MiProtectKernelPages(Pages + 1, 1, PAGE_READONLY), STATUS_INVALID_PARAMETER);
    /* The guard page is not mapped. */
    KT_EXPECT_NE(MiProtectKernelPages(Pages, 3, PAGE_READWRITE), STATUS_SUCCESS);
    MiFreeKernelPages(Pages, 2);
}

KTEST(mm_kpages, rejects_bad_requests)
{
    static UCHAR NotKernelPage[16];
    KT_EXPECT_NULL(MiAllocateKernelPages(0));
    KT_EXPECT_NULL(MiAllocateKernelPages(MiFreePhysicalPageCount() + 1));
    KT_EXPECT_STATUS(MiProtectKernelPages(NotKernelPage, 1, PAGE_READONLY),
                     STATUS_INVALID_PARAMETER);
    MiFreeKernelPages(NULL, 1);
}

KTEST(mm_kpages, many_allocations_distinct)
{
    PVOID Blocks[64];
    SIZE_T Used = MiKernelPagesInUse();

    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        Blocks[i] = MiAllocateKernelPages(1 + i % 3);
        KT_ASSERT_NOT_NULL(Blocks[i]);
        memset(Blocks[i], (int)i, (1 + i % 3) * PAGE_SIZE);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        KT_EXPECT_EQ(((PUCHAR)Blocks[i])[(1 + i % 3) * PAGE_SIZE - 1], (UCHAR)i);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i += 2) {
        MiFreeKernelPages(Blocks[i], 1 + i % 3);
    }
    for (ULONG i = 1; i < RTL_NUMBER_OF(Blocks); i += 2) {
        MiFreeKernelPages(Blocks[i], 1 + i % 3);
    }
    KT_EXPECT_EQ(MiKernelPagesInUse(), Used);
}

KTEST(mm_kpages, io_space_mapping)
{
    PFN_NUMBER Pfn;
    PULONG64 Ram, Device;
    PHYSICAL_ADDRESS Pa;

    /* Map a RAM page as if it were a device: both views see the same
     * bytes. */
    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, TRUE));
    Pa.QuadPart = (LONGLONG)Pfn << PAGE_SHIFT;
    Ram = MmGetVirtualForPhysical(Pa);
    Device = MiMapIoSpace(((ULONG64)Pfn << PAGE_SHIFT) + 8, 16);
    KT_ASSERT_NOT_NULL(Device);
    KT_EXPECT_EQ((ULONG_PTR)Device & (PAGE_SIZE - 1), 8);
    Ram[1] = 0xCAFEF00Dull;
    KT_EXPECT_EQ(Device[0], 0xCAFEF00Dull);
    MiUnmapIoSpace(Device, 16);
    MiFreePhysicalPage(Pfn);
}

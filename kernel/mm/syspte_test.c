/*
 * syspte_test.c - ktest cases for the system PTE allocator: reservation
 * and release counts, reuse of freed holes (fragmentation), exhaustion,
 * and the TLB shootdown hook being called on unmap.
 */
#include <ntddk.h>
#include <arch.h>
#include <ktest.h>
#include <mm.h>

KTEST(mm_syspte, reserve_release)
{
    SIZE_T Used = MiSystemPtesInUse();
    ULONG_PTR Va = MiReserveSystemPtes(5);

    KT_ASSERT_NE(Va, 0);
    KT_EXPECT_EQ(Va & (PAGE_SIZE - 1), 0);
    KT_EXPECT_TRUE(MiIsSystemPteRange(Va, 5));
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used + 5);
    /* Reserved is not mapped. */
    KT_EXPECT_FALSE(MiArchIsAddressReadable(Va));
    MiReleaseSystemPtes(Va, 5);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
    KT_EXPECT_EQ(MiReserveSystemPtes(0), 0);
    KT_EXPECT_EQ(MiReserveSystemPtes(MiSystemVaPages + 1), 0);
    KT_EXPECT_FALSE(MiIsSystemPteRange(Va + 1, 1));
    KT_EXPECT_FALSE(MiIsSystemPteRange(MiSystemVaStart - PAGE_SIZE, 1));
}

KTEST(mm_syspte, holes_are_reused)
{
    SIZE_T Used = MiSystemPtesInUse();
    ULONG_PTR Runs[32], Again, Big;

    for (ULONG i = 0; i < RTL_NUMBER_OF(Runs); i++) {
        Runs[i] = MiReserveSystemPtes(4);
        KT_ASSERT_NE(Runs[i], 0);
    }
    /* Distinct and non-overlapping. */
    for (ULONG i = 1; i < RTL_NUMBER_OF(Runs); i++) {
        KT_EXPECT_TRUE(Runs[i] >= Runs[i - 1] + 4 * PAGE_SIZE ||
                       Runs[i] + 4 * PAGE_SIZE <= Runs[0]);
    }
    /* Punch 4-page holes: every other run. */
    for (ULONG i = 0; i < RTL_NUMBER_OF(Runs); i += 2) {
        MiReleaseSystemPtes(Runs[i], 4);
    }
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used + 16 * 4);
    /* A fitting request lands in the lowest hole, not at the end. */
    Again = MiReserveSystemPtes(4);
    KT_EXPECT_EQ(Again, Runs[0]);
    /* One that fits no hole goes elsewhere, overlapping no live run. */
    Big = MiReserveSystemPtes(8);
    KT_ASSERT_NE(Big, 0);
    for (ULONG i = 1; i < RTL_NUMBER_OF(Runs); i += 2) {
        KT_EXPECT_TRUE(Big + 8 * PAGE_SIZE <= Runs[i] || Big >= Runs[i] + 4 * PAGE_SIZE);
    }
    MiReleaseSystemPtes(Big, 8);
    MiReleaseSystemPtes(Again, 4);
    for (ULONG i = 1; i < RTL_NUMBER_OF(Runs); i += 2) {
        MiReleaseSystemPtes(Runs[i], 4);
    }
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

KTEST(mm_syspte, exhaustion_fails_cleanly)
{
    SIZE_T Used = MiSystemPtesInUse();
    SIZE_T Largest = MiLargestFreeSystemPteRun();
    ULONG_PTR Va;

    KT_ASSERT_TRUE(Largest > 0);
    KT_EXPECT_EQ(MiReserveSystemPtes(Largest + 1), 0);
    /* The largest run itself fits, and then nothing of that size does. */
    Va = MiReserveSystemPtes(Largest);
    KT_ASSERT_NE(Va, 0);
    KT_EXPECT_LT(MiLargestFreeSystemPteRun(), Largest + 1);
    MiReleaseSystemPtes(Va, Largest);
    KT_EXPECT_EQ(MiLargestFreeSystemPteRun(), Largest);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

KTEST(mm_syspte, unmap_requests_tlb_flush)
{
    LONGLONG Flushes = MiTlbFlushCount;
    PVOID Page = MiAllocateKernelPages(2);

    KT_ASSERT_NOT_NULL(Page);
    MiFreeKernelPages(Page, 2);
    KT_EXPECT_GT(MiTlbFlushCount, Flushes);
}

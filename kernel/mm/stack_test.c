/*
 * stack_test.c - ktest cases for kernel stacks: size and alignment, the
 * guard page below StackLimit, zeroed contents, no leaks, and the cache of
 * dead stacks (reuse, its bound, giving it back when pages run short, a
 * double delete).
 */
#include <ntddk.h>
#include <arch.h>
#include <ktest.h>
#include <ktestpages.h>
#include <mm.h>

#define STACK_PAGES (KI_KERNEL_STACK_SIZE / PAGE_SIZE)

KTEST(mm_stack, create_delete)
{
    PFN_NUMBER Free;
    SIZE_T Used;
    ULONG_PTR Limit = 0;
    PUCHAR Base;
    BOOLEAN Zero = TRUE;

    /* Fresh pages, not a dead stack (KERNEL_STACK_SIZE is the cached size
     * on bare metal). */
    MiFlushDeadStacks();
    Free = MiFreePhysicalPageCount();
    Used = MiSystemPtesInUse();
    Base = MmCreateKernelStack(KERNEL_STACK_SIZE, &Limit);

    KT_ASSERT_NOT_NULL(Base);
    KT_EXPECT_EQ((ULONG_PTR)Base & (PAGE_SIZE - 1), 0);
    KT_EXPECT_EQ((ULONG_PTR)Base - Limit, KERNEL_STACK_SIZE);
    /* Usable from StackLimit up to (not including) StackBase. */
    KT_EXPECT_TRUE(MiArchIsAddressReadable(Limit));
    KT_EXPECT_TRUE(MiArchIsAddressReadable((ULONG_PTR)Base - 1));
    /* The guard page right below StackLimit is not mapped. */
    KT_EXPECT_FALSE(MiArchIsAddressReadable(Limit - 1));
    KT_EXPECT_FALSE(MiArchIsAddressReadable(Limit - PAGE_SIZE));
    for (PUCHAR p = (PUCHAR)Limit; p < Base; p++) {
        Zero = Zero && *p == 0;
    }
    KT_EXPECT_TRUE(Zero);
    memset((PVOID)Limit, 0xCC, KERNEL_STACK_SIZE);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - KERNEL_STACK_SIZE / PAGE_SIZE);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used + KERNEL_STACK_SIZE / PAGE_SIZE + 1);
    MmDeleteKernelStack(Base, KERNEL_STACK_SIZE);
    MiFlushDeadStacks();
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
    KT_EXPECT_FALSE(MiArchIsAddressReadable(Limit));
}

KTEST(mm_stack, odd_sizes_round_up)
{
    ULONG_PTR Limit = 0;
    PVOID Base = MmCreateKernelStack(0x2001, &Limit);

    KT_ASSERT_NOT_NULL(Base);
    KT_EXPECT_EQ((ULONG_PTR)Base - Limit, 0x3000);
    KT_EXPECT_FALSE(MiArchIsAddressReadable(Limit - 1));
    MmDeleteKernelStack(Base, 0x2001);

    /* 0 means the default size. */
    Base = MmCreateKernelStack(0, &Limit);
    KT_ASSERT_NOT_NULL(Base);
    KT_EXPECT_EQ((ULONG_PTR)Base - Limit, KERNEL_STACK_SIZE);
    MmDeleteKernelStack(Base, 0);

    KT_EXPECT_NULL(MmCreateKernelStack(KERNEL_STACK_SIZE, NULL));
}

static BOOLEAN CreateManyStacks(PVOID *Bases, PULONG_PTR Limits, ULONG Count)
{
    BOOLEAN Ok = TRUE;

    for (ULONG i = 0; i < Count; i++) {
        Bases[i] = MmCreateKernelStack(KERNEL_STACK_SIZE, &Limits[i]);
        if (Bases[i] == NULL) {
            return FALSE;
        }
        /* Each stack's guard keeps it apart from whatever lies below. */
        Ok = Ok && !MiArchIsAddressReadable(Limits[i] - 1);
        *(PULONG64)Limits[i] = i;
        *((PULONG64)Bases[i] - 1) = ~(ULONG64)i;
    }
    for (ULONG i = 0; i < Count; i++) {
        Ok = Ok && *(PULONG64)Limits[i] == i && *((PULONG64)Bases[i] - 1) == ~(ULONG64)i;
    }
    for (ULONG i = 0; i < Count; i += 2) {
        MmDeleteKernelStack(Bases[i], KERNEL_STACK_SIZE);
    }
    for (ULONG i = 1; i < Count; i += 2) {
        MmDeleteKernelStack(Bases[i], KERNEL_STACK_SIZE);
    }
    return Ok;
}

/* Page-table pages are created on first use of a VA region and kept, so
 * round 0 warms the region up and round 1 checks the counts. */
KTEST(mm_stack, many_stacks_no_leak)
{
    PFN_NUMBER Free = 0;
    SIZE_T Used = 0;
    PVOID Bases[64];
    ULONG_PTR Limits[64];

    for (ULONG Round = 0; Round < 2; Round++) {
        MiFlushDeadStacks();
        Free = MiFreePhysicalPageCount();
        Used = MiSystemPtesInUse();
        KT_ASSERT_TRUE(CreateManyStacks(Bases, Limits, RTL_NUMBER_OF(Bases)));
    }
    MiFlushDeadStacks();
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

/* A deleted stack of the kernel threads' size stays mapped, guard and
 * all, and is what the next creation of that size gets. */
KTEST(mm_stack, dead_stack_is_reused)
{
    PFN_NUMBER Free;
    SIZE_T Used;
    ULONG_PTR Limit = 0, Again = 0;
    PUCHAR Base, Reused;

    MiFlushDeadStacks();
    Free = MiFreePhysicalPageCount();
    Used = MiSystemPtesInUse();
    Base = MmCreateKernelStack(KI_KERNEL_STACK_SIZE, &Limit);
    KT_ASSERT_NOT_NULL(Base);
    *((PULONG64)Base - 1) = 0x5354414B;
    MmDeleteKernelStack(Base, KI_KERNEL_STACK_SIZE);

    KT_EXPECT_EQ(MiDeadStackCacheCount(), 1);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - STACK_PAGES);
    KT_EXPECT_TRUE(MiArchIsAddressReadable(Limit));
    KT_EXPECT_FALSE(MiArchIsAddressReadable(Limit - 1));

    Reused = MmCreateKernelStack(KI_KERNEL_STACK_SIZE, &Again);
    KT_EXPECT_EQ((ULONG_PTR)Reused, (ULONG_PTR)Base);
    KT_EXPECT_EQ(Again, Limit);
    KT_EXPECT_EQ(MiDeadStackCacheCount(), 0);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - STACK_PAGES);
    /* Usable to the top, as a fresh one. */
    *((PULONG64)Reused - 1) = 0;
    MmDeleteKernelStack(Reused, KI_KERNEL_STACK_SIZE);

    KT_EXPECT_EQ(MiFlushDeadStacks(), STACK_PAGES);
    KT_EXPECT_EQ(MiDeadStackCacheCount(), 0);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
    KT_EXPECT_FALSE(MiArchIsAddressReadable(Limit));
}

/* Stacks of another size are never kept. */
KTEST(mm_stack, other_sizes_are_not_kept)
{
    PFN_NUMBER Free;
    ULONG_PTR Limit = 0;
    PVOID Base;

    MiFlushDeadStacks();
    Free = MiFreePhysicalPageCount();
    Base = MmCreateKernelStack(KI_KERNEL_STACK_SIZE + PAGE_SIZE, &Limit);
    KT_ASSERT_NOT_NULL(Base);
    MmDeleteKernelStack(Base, KI_KERNEL_STACK_SIZE + PAGE_SIZE);
    KT_EXPECT_EQ(MiDeadStackCacheCount(), 0);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
}

/* However many threads die at once, the cache keeps a bounded number of
 * stacks and frees the rest. */
KTEST(mm_stack, dead_stack_cache_is_bounded)
{
    PVOID Bases[24];
    ULONG_PTR Limits[24];
    PFN_NUMBER Free;
    SIZE_T Used;
    ULONG Kept;

    MiFlushDeadStacks();
    Free = MiFreePhysicalPageCount();
    Used = MiSystemPtesInUse();
    for (ULONG i = 0; i < RTL_NUMBER_OF(Bases); i++) {
        Bases[i] = MmCreateKernelStack(KI_KERNEL_STACK_SIZE, &Limits[i]);
        KT_ASSERT_NOT_NULL(Bases[i]);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Bases); i++) {
        MmDeleteKernelStack(Bases[i], KI_KERNEL_STACK_SIZE);
    }
    Kept = MiDeadStackCacheCount();
    KT_EXPECT_GT(Kept, 0);
    KT_EXPECT_LE(Kept, 16);
    KT_EXPECT_LE((PFN_NUMBER)Kept * STACK_PAGES, MiTotalPhysicalPageCount() / 64);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - (PFN_NUMBER)Kept * STACK_PAGES);
    KT_EXPECT_EQ(MiFlushDeadStacks(), (SIZE_T)Kept * STACK_PAGES);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

/* With no free page left but a dead stack's, an allocation of fresh pages
 * (the pool's, a stack of another size) gets them: the cache is given back
 * first. */
KTEST(mm_stack, shortage_frees_dead_stacks)
{
    PFN_NUMBER Head, Count, FreeDrained;
    ULONG_PTR Limit = 0;
    PVOID Base, Pages;

    MiFlushDeadStacks();
    Base = MmCreateKernelStack(KI_KERNEL_STACK_SIZE, &Limit);
    KT_ASSERT_NOT_NULL(Base);
    MmDeleteKernelStack(Base, KI_KERNEL_STACK_SIZE);
    KT_ASSERT_EQ(MiDeadStackCacheCount(), 1);

    /* Every free page is taken; the dead stack's are all that is left. */
    Head = KtDrainFreePages(&Count, FALSE);
    FreeDrained = MiFreePhysicalPageCount();
    Pages = MiAllocateKernelPages(2);
    KtReturnPages(Head, Count);

    KT_EXPECT_EQ(FreeDrained, 0);
    KT_EXPECT_NOT_NULL(Pages);
    KT_EXPECT_EQ(MiDeadStackCacheCount(), 0);
    MiFreeKernelPages(Pages, 2);
}

/* The stop screen of a stack deleted twice while the first delete keeps
 * it: the second would hand one stack to two threads. */
KTEST_BUGCHECK_P1(mm_stack_misuse, double_delete_dead_stack, MEMORY_MANAGEMENT, 0x41795)
{
    ULONG_PTR Limit = 0;
    PVOID Base;

    MiFlushDeadStacks();
    Base = MmCreateKernelStack(KI_KERNEL_STACK_SIZE, &Limit);
    KT_ASSERT_NOT_NULL(Base);
    MmDeleteKernelStack(Base, KI_KERNEL_STACK_SIZE);
    KT_ASSERT_EQ(MiDeadStackCacheCount(), 1);
    MmDeleteKernelStack(Base, KI_KERNEL_STACK_SIZE);
}

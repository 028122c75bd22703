/*
 * stack_test.c - ktest cases for kernel stacks: size and alignment, the
 * guard page below StackLimit, zeroed contents, and no leaks.
 */
#include <ntddk.h>
#include <arch.h>
#include <ktest.h>
#include <mm.h>

KTEST(mm_stack, create_delete)
{
    PFN_NUMBER Free = MiFreePhysicalPageCount();
    SIZE_T Used = MiSystemPtesInUse();
    ULONG_PTR Limit = 0;
    PUCHAR Base = MmCreateKernelStack(KERNEL_STACK_SIZE, &Limit);
    BOOLEAN Zero = TRUE;

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
        Free = MiFreePhysicalPageCount();
        Used = MiSystemPtesInUse();
        KT_ASSERT_TRUE(CreateManyStacks(Bases, Limits, RTL_NUMBER_OF(Bases)));
    }
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

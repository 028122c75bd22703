/*
 * kmem_test.c - ktest cases for the phase-0 kernel allocator.
 */
#include <ntddk.h>
#include <ex.h>
#include <ktest.h>
#include <ktestthreads.h>
#include <mm.h>

KTEST(ex_kmem, small_blocks_aligned_and_zeroed)
{
    static const SIZE_T Sizes[] = { 1, 15, 16, 17, 100, 1000, 2032 };

    for (ULONG i = 0; i < RTL_NUMBER_OF(Sizes); i++) {
        PUCHAR Block = ExpAllocateKernelMemory(Sizes[i]);
        BOOLEAN Zero = TRUE;
        KT_ASSERT_NOT_NULL(Block);
        KT_EXPECT_EQ((ULONG_PTR)Block & 15, 0);
        for (SIZE_T j = 0; j < Sizes[i]; j++) {
            Zero = Zero && Block[j] == 0;
        }
        KT_EXPECT_TRUE(Zero);
        memset(Block, 0xEE, Sizes[i]);
        ExpFreeKernelMemory(Block);
    }
}

KTEST(ex_kmem, large_block)
{
    PFN_NUMBER Free;
    PUCHAR Block;

    /* Idle threads free dead threads' stacks at any time: let them finish
     * first, so the page count moves only with this block. */
    if (KtCanRunThreads()) {
        KiSettleTerminatedThreads();
    }
    Free = MiFreePhysicalPageCount();
    Block = ExpAllocateKernelMemory(3 * PAGE_SIZE);

    KT_ASSERT_NOT_NULL(Block);
    KT_EXPECT_EQ((ULONG_PTR)Block & 15, 0);
    Block[0] = 1;
    Block[3 * PAGE_SIZE - 1] = 2;
    ExpFreeKernelMemory(Block);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
}

KTEST(ex_kmem, blocks_do_not_overlap)
{
    PUCHAR Blocks[200];

    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        SIZE_T Size = 8 + (i * 37) % 600;
        Blocks[i] = ExpAllocateKernelMemory(Size);
        KT_ASSERT_NOT_NULL(Blocks[i]);
        memset(Blocks[i], (int)i, Size);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        SIZE_T Size = 8 + (i * 37) % 600;
        KT_EXPECT_EQ(Blocks[i][0], (UCHAR)i);
        KT_EXPECT_EQ(Blocks[i][Size - 1], (UCHAR)i);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        ExpFreeKernelMemory(Blocks[i]);
    }
}

KTEST(ex_kmem, reuse_after_free)
{
    PVOID A = ExpAllocateKernelMemory(64);
    PVOID B;

    KT_ASSERT_NOT_NULL(A);
    ExpFreeKernelMemory(A);
    B = ExpAllocateKernelMemory(64);
    KT_EXPECT_EQ((ULONG_PTR)B, (ULONG_PTR)A);
    ExpFreeKernelMemory(B);
    ExpFreeKernelMemory(NULL);
}

KTEST(ex_kmem, impossible_request_fails)
{
    KT_EXPECT_NULL(ExpAllocateKernelMemory((SIZE_T)1 << 50));
    KT_EXPECT_NULL(ExpAllocateKernelMemory(~(SIZE_T)0));
}

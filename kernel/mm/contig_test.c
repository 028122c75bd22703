/*
 * contig_test.c - ktest cases for contiguous memory: physical contiguity,
 * the lowest/highest/boundary limits, caching variants, impossible
 * requests, and pages and PTEs back at baseline after the frees.
 */
#include <ntddk.h>
#include <arch.h>
#include <ktest.h>
#include <mm.h>

static BOOLEAN IsContiguous(PUCHAR Base, SIZE_T Bytes)
{
    LONGLONG First = MmGetPhysicalAddress(Base).QuadPart;
    for (SIZE_T Offset = PAGE_SIZE; Offset < Bytes; Offset += PAGE_SIZE) {
        if (MmGetPhysicalAddress(Base + Offset).QuadPart != First + (LONGLONG)Offset) {
            return FALSE;
        }
    }
    return TRUE;
}

static PHYSICAL_ADDRESS Pa(ULONG64 Value)
{
    PHYSICAL_ADDRESS Result;
    Result.QuadPart = (LONGLONG)Value;
    return Result;
}

KTEST(mm_contig, below_highest_address)
{
    SIZE_T Bytes = 3 * PAGE_SIZE + 1;
    PFN_NUMBER Free;
    SIZE_T Used;
    PUCHAR Block;

    /* Warm up the record allocator so the counts below are exact. */
    MmFreeContiguousMemory(MmAllocateContiguousMemory(PAGE_SIZE, Pa(~0ull)));
    Free = MiFreePhysicalPageCount();
    Used = MiSystemPtesInUse();
    Block = MmAllocateContiguousMemory(Bytes, Pa(16ull << 20));
    KT_ASSERT_NOT_NULL(Block);
    KT_EXPECT_EQ((ULONG_PTR)Block & (PAGE_SIZE - 1), 0);
    KT_EXPECT_TRUE(IsContiguous(Block, 4 * PAGE_SIZE));
    KT_EXPECT_LT(MmGetPhysicalAddress(Block + Bytes - 1).QuadPart, 16ll << 20);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 4);
    memset(Block, 0x3C, Bytes);
    KT_EXPECT_EQ(Block[Bytes - 1], 0x3C);
    MmFreeContiguousMemory(Block);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

KTEST(mm_contig, window_and_boundary)
{
    PUCHAR Block = MmAllocateContiguousMemorySpecifyCache(4 * PAGE_SIZE, Pa(8ull << 20),
                                                          Pa(12ull << 20), Pa(0x10000), MmCached);
    LONGLONG First, Last;

    KT_ASSERT_NOT_NULL(Block);
    First = MmGetPhysicalAddress(Block).QuadPart;
    Last = MmGetPhysicalAddress(Block + 4 * PAGE_SIZE - 1).QuadPart;
    KT_EXPECT_TRUE(IsContiguous(Block, 4 * PAGE_SIZE));
    KT_EXPECT_GE(First, 8ll << 20);
    KT_EXPECT_LE(Last, 12ll << 20);
    KT_EXPECT_EQ(First / 0x10000, Last / 0x10000);
    MmFreeContiguousMemorySpecifyCache(Block, 4 * PAGE_SIZE, MmCached);
}

KTEST(mm_contig, cache_types_and_node_memory)
{
    PULONG64 NonCached =
        MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(~0ull), Pa(0), MmNonCached);
    PULONG64 Node = MmAllocateContiguousNodeMemory(2 * PAGE_SIZE, Pa(0), Pa(~0ull), Pa(0),
                                                   PAGE_READWRITE | PAGE_NOCACHE, MM_ANY_NODE_OK);

    KT_ASSERT_NOT_NULL(NonCached);
    KT_ASSERT_NOT_NULL(Node);
    NonCached[0] = 1;
    Node[PAGE_SIZE / 8] = 2;
    KT_EXPECT_EQ(NonCached[0] + Node[PAGE_SIZE / 8], 3);
    KT_EXPECT_TRUE(IsContiguous((PUCHAR)Node, 2 * PAGE_SIZE));
    KT_EXPECT_NULL(MmAllocateContiguousNodeMemory(PAGE_SIZE, Pa(0), Pa(~0ull), Pa(0),
                                                  PAGE_EXECUTE_READWRITE, 0));
    MmFreeContiguousMemory(Node);
    MmFreeContiguousMemory(NonCached);
}

KTEST(mm_contig, impossible_requests)
{
    PFN_NUMBER Free;

    /* A failed request gives the dead stacks back (stack.c) and retries:
     * none are kept, so the count holds. */
    MiFlushDeadStacks();
    Free = MiFreePhysicalPageCount();

    KT_EXPECT_NULL(MmAllocateContiguousMemory(0, Pa(~0ull)));
    /* Below page 1 nothing is ever handed out. */
    KT_EXPECT_NULL(MmAllocateContiguousMemory(PAGE_SIZE, Pa(PAGE_SIZE - 1)));
    KT_EXPECT_NULL(MmAllocateContiguousMemory((SIZE_T)(Free + 1) * PAGE_SIZE, Pa(~0ull)));
    KT_EXPECT_NULL(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(1ull << 24), Pa(1ull << 23),
                                                          Pa(0), MmCached));
    /* A boundary smaller than the block cannot be met. */
    KT_EXPECT_NULL(MmAllocateContiguousMemorySpecifyCache(2 * PAGE_SIZE, Pa(0), Pa(~0ull),
                                                          Pa(PAGE_SIZE), MmCached));
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    MmFreeContiguousMemory(NULL);
}

/*
 * poolstress_test.c - a pool storm that the per-processor fast path must
 * survive: unpinned system threads (preempted and migrated at any moment
 * outside the pool's DISPATCH_LEVEL sections), every small size class,
 * cache-aligned and large blocks, half the calls made at DISPATCH_LEVEL,
 * blocks handed through shared slots so most are freed on another
 * processor. Every block carries a pattern checked before its free; at the
 * end the tag's counters and the free page count are back at the baseline
 * (less the small-block segments the pool keeps for good).
 */
#include "poolp.h"
#include <ketypes.h>
#include <ktest.h>

#define STRESS_TAG     'srtS' /* "Strs" */
#define STRESS_SLOTS   128
#define STRESS_THREADS 8
#define STRESS_ROUNDS  3000

typedef struct _ST_BLOCK {
    ULONG64 Size;
    ULONG64 Seed;
    UCHAR Data[];
} ST_BLOCK, *PST_BLOCK;

static struct {
    PST_BLOCK volatile Slots[STRESS_SLOTS];
    volatile LONG Failures;
    volatile LONG Corrupted;
    volatile LONG Allocations;
} StStorm;

static VOID StSleepMs(LONG Ms)
{
    LARGE_INTEGER Interval = { .QuadPart = -(LONGLONG)Ms * 10000 };
    KeDelayExecutionThread(KernelMode, FALSE, &Interval);
}

static UCHAR StFill(ULONG64 Seed, SIZE_T i)
{
    return (UCHAR)(Seed + i * 7);
}

static VOID StRetire(PST_BLOCK Block)
{
    if (Block == NULL) {
        return;
    }
    for (SIZE_T i = 0; i < Block->Size - sizeof(ST_BLOCK); i++) {
        if (Block->Data[i] != StFill(Block->Seed, i)) {
            __atomic_fetch_add(&StStorm.Corrupted, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    ExFreePoolWithTag(Block, STRESS_TAG);
}

static VOID NTAPI StWorker(PVOID Context)
{
    ULONG Seed = 0x2545F491u * ((ULONG)(ULONG_PTR)Context + 1);

    for (ULONG Round = 0; Round < STRESS_ROUNDS; Round++) {
        KIRQL OldIrql = PASSIVE_LEVEL;
        BOOLEAN Raised;
        POOL_FLAGS Flags;
        PST_BLOCK Block;
        SIZE_T Size;

        Seed = Seed * 1103515245u + 12345u;
        Raised = (Seed & 0x100000) != 0;
        /* Mostly small blocks of every class, some cache aligned, a few
         * whole pages. */
        Size =
            sizeof(ST_BLOCK) + ((Seed >> 8) % 32 == 0 ? (Seed >> 13) % 9000 : (Seed >> 13) % 2040);
        Flags = POOL_FLAG_UNINITIALIZED |
                ((!Raised && (Seed & 0x200000)) ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED) |
                ((Seed & 0x400000) ? POOL_FLAG_CACHE_ALIGNED : 0);
        if (Raised) {
            OldIrql = KeRaiseIrqlToDpcLevel();
        }
        Block = ExAllocatePool2(Flags, Size, STRESS_TAG);
        if (Block != NULL) {
            Block->Size = Size;
            Block->Seed = Seed >> 5;
            for (SIZE_T i = 0; i < Size - sizeof(ST_BLOCK); i++) {
                Block->Data[i] = StFill(Block->Seed, i);
            }
            __atomic_fetch_add(&StStorm.Allocations, 1, __ATOMIC_RELAXED);
            /* Whatever was in the slot is now ours to check and free. */
            Block = __atomic_exchange_n(&StStorm.Slots[(Seed >> 24) % STRESS_SLOTS], Block,
                                        __ATOMIC_ACQ_REL);
        } else {
            __atomic_fetch_add(&StStorm.Failures, 1, __ATOMIC_RELAXED);
        }
        if (Raised) {
            /* Paged blocks may not be freed at DISPATCH_LEVEL: lower first. */
            KeLowerIrql(OldIrql);
        }
        StRetire(Block);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(ex_pool_stress, unpinned_storm_back_to_baseline)
{
    PKTHREAD Threads[STRESS_THREADS];
    SYSTEM_POOLTAG Before, After;
    PFN_NUMBER FreeBefore, FreeAfter;
    SIZE_T SegmentsBefore, SegmentsAfter;
    LONG StacksBefore;
    ULONG Count = 0;

    if (KeGetCurrentThread() == NULL || KeGetCurrentThread()->IdleThread) {
        KT_SKIP("needs a schedulable thread");
    }
    if (!ExpQueryPoolTag(STRESS_TAG, &Before)) {
        memset(&Before, 0, sizeof(Before));
    }
    memset(&StStorm, 0, sizeof(StStorm));
    KiReapTerminatedThreads();
    StacksBefore = KiQueryKernelStackCount();
    /* Freed big-page runs stay mapped in the pool's cache, dead stacks in
     * the memory manager's: both counts are taken with them empty. */
    ExpFlushBigPageCache();
    MiFlushDeadStacks();
    FreeBefore = MiFreePhysicalPageCount();
    SegmentsBefore = ExpPoolPagesInUse();

    for (ULONG i = 0; i < STRESS_THREADS; i++) {
        if (NT_SUCCESS(KiCreateThread(StWorker, (PVOID)(ULONG_PTR)i, KI_DEFAULT_PRIORITY,
                                      &Threads[Count]))) {
            KiStartThread(Threads[Count++]);
        }
    }
    for (ULONG i = 0; i < Count; i++) {
        KT_EXPECT_SUCCESS(KeWaitForSingleObject(Threads[i], Executive, KernelMode, FALSE, NULL));
        KiDereferenceThread(Threads[i]);
    }
    for (ULONG Slot = 0; Slot < STRESS_SLOTS; Slot++) {
        StRetire(StStorm.Slots[Slot]);
        StStorm.Slots[Slot] = NULL;
    }
    /* A joined thread may still be switching away on another processor:
     * wait until the reaper has freed our workers' stacks. */
    for (ULONG Try = 0; Try < 1000 && KiQueryKernelStackCount() > StacksBefore; Try++) {
        StSleepMs(1);
        KiReapTerminatedThreads();
    }
    KT_ASSERT_EQ(Count, (ULONG)STRESS_THREADS);
    KT_EXPECT_EQ(StStorm.Failures, 0);
    KT_EXPECT_EQ(StStorm.Corrupted, 0);
    KT_EXPECT_EQ(StStorm.Allocations, (LONG)(STRESS_THREADS * STRESS_ROUNDS));

    KT_ASSERT_TRUE(ExpQueryPoolTag(STRESS_TAG, &After));
    KT_EXPECT_EQ((After.PagedAllocs + After.NonPagedAllocs) -
                     (Before.PagedAllocs + Before.NonPagedAllocs),
                 (ULONG)(STRESS_THREADS * STRESS_ROUNDS));
    KT_EXPECT_EQ(After.PagedAllocs - Before.PagedAllocs, After.PagedFrees - Before.PagedFrees);
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs,
                 After.NonPagedFrees - Before.NonPagedFrees);
    KT_EXPECT_EQ(After.PagedUsed, Before.PagedUsed);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);

    /* Every large block went back to the memory manager; only segments the
     * pool grew (kept for good), a processor's tag counter array made on
     * its first pool use (13 pages each) and page-table pages for new
     * kernel VA may remain. */
    ExpFlushBigPageCache();
    MiFlushDeadStacks();
    FreeAfter = MiFreePhysicalPageCount();
    SegmentsAfter = ExpPoolPagesInUse();
    KT_EXPECT_GE(FreeAfter + (SegmentsAfter - SegmentsBefore) + 16 +
                     16 * (PFN_NUMBER)KeQueryActiveProcessorCount(NULL),
                 FreeBefore);
}

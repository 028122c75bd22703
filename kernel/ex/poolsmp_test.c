/*
 * poolsmp_test.c - ktest cases for the pool under concurrency: system
 * threads, one pinned to each processor (at least two, so one processor
 * still interleaves them), allocate blocks, fill them with a pattern and
 * swap them through a shared array, so most blocks are freed by another
 * thread on another processor than the one that allocated them (the
 * per-processor lookasides, the shared lists and the SLISTs all race).
 * Every block is verified before it is freed, and the tag's counters must
 * be back at their baseline afterwards. Every thread has terminated when
 * a case returns. Skipped where the caller cannot start threads.
 */
#include "poolp.h"
#include <ketypes.h>
#include <ktest.h>

#define SMP_TAG     'pmSP' /* "PSmp" */
#define SMP_SLOTS   64
#define SMP_THREADS 8
#define SMP_ROUNDS  2500

typedef struct _PS_BLOCK {
    ULONG64 Size;
    ULONG64 Seed;
    UCHAR Data[];
} PS_BLOCK, *PPS_BLOCK;

typedef struct _PS_STORM {
    PPS_BLOCK volatile Slots[SMP_SLOTS];
    volatile LONG Failures;
    volatile LONG Allocations;
    ULONG Processors;
} PS_STORM;

static PS_STORM PsStorm;

/* Starts Threads system threads running Routine(index) and waits until
 * every one of them has terminated (so none outlives the test). */
static BOOLEAN PsRunThreads(PKSTART_ROUTINE Routine, ULONG Threads)
{
    PKTHREAD Started[SMP_THREADS];
    ULONG Count = 0;

    for (ULONG i = 0; i < Threads; i++) {
        if (!NT_SUCCESS(KiCreateThread(Routine, (PVOID)(ULONG_PTR)i, KI_DEFAULT_PRIORITY,
                                       &Started[Count]))) {
            break;
        }
        KiStartThread(Started[Count++]);
    }
    for (ULONG i = 0; i < Count; i++) {
        KeWaitForSingleObject(Started[i], Executive, KernelMode, FALSE, NULL);
        KiDereferenceThread(Started[i]);
    }
    KiReapTerminatedThreads();
    return Count == Threads;
}

static BOOLEAN PsCheckBlock(PPS_BLOCK Block)
{
    UCHAR Fill = (UCHAR)Block->Seed;

    for (SIZE_T i = 0; i < Block->Size - sizeof(PS_BLOCK); i++) {
        if (Block->Data[i] != Fill) {
            return FALSE;
        }
    }
    return TRUE;
}

static VOID PsRetire(PPS_BLOCK Block)
{
    if (Block == NULL) {
        return;
    }
    if (!PsCheckBlock(Block)) {
        __atomic_fetch_add(&PsStorm.Failures, 1, __ATOMIC_RELAXED);
    }
    ExFreePoolWithTag(Block, SMP_TAG);
}

static VOID NTAPI PsWorker(PVOID Context)
{
    ULONG Index = (ULONG)(ULONG_PTR)Context;
    ULONG Seed = 0x9E3779B9u * (Index + 1);

    KeSetSystemAffinityThreadEx((KAFFINITY)1 << (Index % PsStorm.Processors));
    for (ULONG Round = 0; Round < SMP_ROUNDS; Round++) {
        SIZE_T Size;
        PPS_BLOCK Block;

        Seed = Seed * 1103515245u + 12345u;
        Size =
            sizeof(PS_BLOCK) + ((Seed >> 8) % 16 == 0 ? (Seed >> 12) % 6000 : (Seed >> 12) % 400);
        Block = ExAllocatePool2((Seed & 0x10000) ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED, Size,
                                SMP_TAG);
        if (Block == NULL) {
            __atomic_fetch_add(&PsStorm.Failures, 1, __ATOMIC_RELAXED);
            continue;
        }
        __atomic_fetch_add(&PsStorm.Allocations, 1, __ATOMIC_RELAXED);
        Block->Size = Size;
        Block->Seed = Seed >> 3;
        memset(Block->Data, (UCHAR)Block->Seed, Size - sizeof(PS_BLOCK));
        /* Swap it into a shared slot; whatever was there is now ours. */
        PsRetire(
            __atomic_exchange_n(&PsStorm.Slots[(Seed >> 20) % SMP_SLOTS], Block, __ATOMIC_ACQ_REL));
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(ex_pool_smp, storm_across_processors)
{
    PKTHREAD Self = KeGetCurrentThread();
    SYSTEM_POOLTAG Before, After;
    ULONG Threads;

    if (Self == NULL || Self->IdleThread) {
        KT_SKIP("needs a schedulable thread");
    }
    if (!ExpQueryPoolTag(SMP_TAG, &Before)) {
        memset(&Before, 0, sizeof(Before));
    }
    memset(&PsStorm, 0, sizeof(PsStorm));
    PsStorm.Processors = KeQueryActiveProcessorCount(NULL);
    if (PsStorm.Processors == 0) {
        PsStorm.Processors = 1;
    }
    Threads = PsStorm.Processors < 2 ? 2 : PsStorm.Processors;
    if (Threads > SMP_THREADS) {
        Threads = SMP_THREADS;
    }
    KT_ASSERT_TRUE(PsRunThreads(PsWorker, Threads));
    for (ULONG Slot = 0; Slot < SMP_SLOTS; Slot++) {
        PsRetire(PsStorm.Slots[Slot]);
        PsStorm.Slots[Slot] = NULL;
    }
    KT_EXPECT_EQ(PsStorm.Failures, 0);
    KT_EXPECT_EQ(PsStorm.Allocations, (LONG)(Threads * SMP_ROUNDS));
    KT_ASSERT_TRUE(ExpQueryPoolTag(SMP_TAG, &After));
    KT_EXPECT_EQ((After.PagedAllocs + After.NonPagedAllocs) -
                     (Before.PagedAllocs + Before.NonPagedAllocs),
                 Threads * SMP_ROUNDS);
    KT_EXPECT_EQ(After.PagedAllocs - Before.PagedAllocs, After.PagedFrees - Before.PagedFrees);
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs,
                 After.NonPagedFrees - Before.NonPagedFrees);
    KT_EXPECT_EQ(After.PagedUsed, Before.PagedUsed);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
}

/* The SLIST alone, hammered by every thread on one shared list: pushes and
 * pops must neither lose nor duplicate an entry. */
#define SL_ENTRIES 512
#define SL_ROUNDS  20000

static SLIST_HEADER SlHead;
static SLIST_ENTRY SlEntries[SL_ENTRIES];

static VOID NTAPI SlWorker(PVOID Context)
{
    ULONG Index = (ULONG)(ULONG_PTR)Context;
    PSLIST_ENTRY Held[8];
    ULONG Count = 0;

    KeSetSystemAffinityThreadEx((KAFFINITY)1 << (Index % PsStorm.Processors));
    for (ULONG Round = 0; Round < SL_ROUNDS; Round++) {
        if (Count < RTL_NUMBER_OF(Held) && (Round % 3 != 0 || Count == 0)) {
            PSLIST_ENTRY Entry = InterlockedPopEntrySList(&SlHead);
            if (Entry != NULL) {
                Held[Count++] = Entry;
            }
        } else {
            InterlockedPushEntrySList(&SlHead, Held[--Count]);
        }
    }
    while (Count > 0) {
        InterlockedPushEntrySList(&SlHead, Held[--Count]);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(ex_pool_smp, slist_concurrent_push_pop)
{
    PKTHREAD Self = KeGetCurrentThread();
    static UCHAR Seen[SL_ENTRIES];
    ULONG Threads, Count = 0;
    PSLIST_ENTRY Entry;

    if (Self == NULL || Self->IdleThread) {
        KT_SKIP("needs a schedulable thread");
    }
    PsStorm.Processors = KeQueryActiveProcessorCount(NULL);
    if (PsStorm.Processors == 0) {
        PsStorm.Processors = 1;
    }
    Threads = PsStorm.Processors < 2 ? 2 : PsStorm.Processors;
    if (Threads > SMP_THREADS) {
        Threads = SMP_THREADS;
    }
    InitializeSListHead(&SlHead);
    for (ULONG i = 0; i < SL_ENTRIES; i++) {
        InterlockedPushEntrySList(&SlHead, &SlEntries[i]);
    }
    KT_ASSERT_TRUE(PsRunThreads(SlWorker, Threads));
    KT_EXPECT_EQ(ExQueryDepthSList(&SlHead), SL_ENTRIES);
    memset(Seen, 0, sizeof(Seen));
    while ((Entry = InterlockedPopEntrySList(&SlHead)) != NULL) {
        ULONG Index = (ULONG)(Entry - SlEntries);
        KT_ASSERT_TRUE(Index < SL_ENTRIES);
        KT_EXPECT_EQ(Seen[Index], 0);
        Seen[Index] = 1;
        Count++;
    }
    KT_EXPECT_EQ(Count, SL_ENTRIES);
}

/* The depot gives a processor its own batches back before anyone else's:
 * processor 0 frees blocks A (more than its lookaside keeps, so most go to
 * the depot), then processor 1 frees blocks B (the depot's newest
 * batches); processor 0 then allocates as many blocks as A and must get
 * none of B (with one shared chain it would take B's batches, each block
 * last written on processor 1). A paged class few others use (1152 bytes)
 * keeps other pool users out of the way. */
#define DP_TAG        'tpDP' /* "PDpt" */
#define DP_SIZE       1100
#define DP_BATCHES    8
#define DP_MAX_BLOCKS 160

typedef enum _DP_STEP { DpAllocateA, DpAllocateB, DpFreeA, DpFreeB, DpAllocateAgain } DP_STEP;

static struct {
    DP_STEP Step;
    ULONG Count;
    volatile LONG Misplaced;
    volatile LONG Failures;
    PVOID A[DP_MAX_BLOCKS];
    PVOID B[DP_MAX_BLOCKS];
    PVOID Again[DP_MAX_BLOCKS];
} DpTest;

static VOID DpAllocate(PVOID *Blocks)
{
    for (ULONG i = 0; i < DpTest.Count; i++) {
        Blocks[i] = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_UNINITIALIZED, DP_SIZE, DP_TAG);
        if (Blocks[i] == NULL) {
            __atomic_fetch_add(&DpTest.Failures, 1, __ATOMIC_RELAXED);
        }
    }
}

static VOID DpFree(PVOID *Blocks)
{
    for (ULONG i = 0; i < DpTest.Count; i++) {
        if (Blocks[i] != NULL) {
            ExFreePoolWithTag(Blocks[i], DP_TAG);
            Blocks[i] = NULL;
        }
    }
}

static VOID NTAPI DpWorker(PVOID Context)
{
    ULONG Processor = (DpTest.Step == DpAllocateB || DpTest.Step == DpFreeB) ? 1 : 0;

    UNREFERENCED_PARAMETER(Context);
    KeSetSystemAffinityThreadEx((KAFFINITY)1 << Processor);
    if (KeGetCurrentProcessorNumber() != Processor) {
        /* The step still runs, so every block is freed; the check is
         * skipped. */
        __atomic_fetch_add(&DpTest.Misplaced, 1, __ATOMIC_RELAXED);
    }
    if (DpTest.Step == DpAllocateA) {
        DpAllocate(DpTest.A);
    } else if (DpTest.Step == DpAllocateB) {
        DpAllocate(DpTest.B);
    } else if (DpTest.Step == DpFreeA) {
        /* Keep the addresses: Again is compared with them. */
        for (ULONG i = 0; i < DpTest.Count; i++) {
            if (DpTest.A[i] != NULL) {
                ExFreePoolWithTag(DpTest.A[i], DP_TAG);
            }
        }
    } else if (DpTest.Step == DpFreeB) {
        for (ULONG i = 0; i < DpTest.Count; i++) {
            if (DpTest.B[i] != NULL) {
                ExFreePoolWithTag(DpTest.B[i], DP_TAG);
            }
        }
    } else {
        DpAllocate(DpTest.Again);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(ex_pool_smp, depot_returns_own_batches)
{
    PKTHREAD Self = KeGetCurrentThread();
    ULONG Class = ExpSizeClass[(DP_SIZE + 15) >> 4];
    ULONG FromB = 0;

    if (Self == NULL || Self->IdleThread) {
        KT_SKIP("needs a schedulable thread");
    }
    if (KeQueryActiveProcessorCount(NULL) < 2) {
        KT_SKIP("needs two processors");
    }
    memset(&DpTest, 0, sizeof(DpTest));
    DpTest.Count = DP_BATCHES * ExpClassInfo[Class].Batch;
    KT_ASSERT_TRUE(DpTest.Count <= DP_MAX_BLOCKS);
    for (DP_STEP Step = DpAllocateA; Step <= DpAllocateAgain; Step++) {
        DpTest.Step = Step;
        KT_ASSERT_TRUE(PsRunThreads(DpWorker, 1));
    }
    if (DpTest.Misplaced != 0) {
        DpFree(DpTest.Again);
        KT_SKIP("a thread did not run on its processor");
    }
    KT_EXPECT_EQ(DpTest.Failures, 0);
    for (ULONG i = 0; i < DpTest.Count; i++) {
        for (ULONG j = 0; j < DpTest.Count; j++) {
            if (DpTest.Again[i] != NULL && DpTest.Again[i] == DpTest.B[j]) {
                FromB++;
                break;
            }
        }
    }
    DpFree(DpTest.Again);
    KT_EXPECT_EQ(FromB, 0);
}

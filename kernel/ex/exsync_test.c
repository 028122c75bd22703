/*
 * exsync_test.c - ktest cases for push locks (shared/exclusive, contention,
 * a writer among readers), rundown protection (acquire fails once the wait
 * starts; the wait returns at the last release) and the system worker
 * threads (items run on workers at the queue's priority, all complete;
 * queueing an item twice is WORKER_INVALID).
 */
#include <ktestthreads.h>
#include "exsyncp.h"

/* ---- push locks ---- */

KTEST(ex_pushlock, shared_and_exclusive)
{
    EX_PUSH_LOCK Lock;

    KT_EXPECT_EQ(sizeof(EX_PUSH_LOCK), 8);
    ExInitializePushLock(&Lock);
    KeEnterCriticalRegion();
    ExAcquirePushLockSharedEx(&Lock, 0);
    ExAcquirePushLockSharedEx(&Lock, 0);
    KT_EXPECT_EQ(Lock.Value, 0x20);
    ExReleasePushLockSharedEx(&Lock, 0);
    ExReleasePushLockSharedEx(&Lock, 0);
    KT_EXPECT_EQ(Lock.Value, 0);
    ExAcquirePushLockExclusiveEx(&Lock, 0);
    KT_EXPECT_EQ(Lock.Value, 1);
    ExReleasePushLockExclusiveEx(&Lock, 0);
    KT_EXPECT_EQ(Lock.Value, 0);
    KeLeaveCriticalRegion();
}

#define KT_PL_THREADS    4
#define KT_PL_ITERATIONS 3000

typedef struct _KT_PL_SHARED {
    EX_PUSH_LOCK Lock;
    volatile ULONG64 Counter;
    volatile LONG Writers;
    volatile LONG Readers;
    volatile LONG Violations;
} KT_PL_SHARED;

static VOID NTAPI KtPushLockWorker(PVOID Context)
{
    KT_PL_SHARED *S = Context;

    for (ULONG i = 0; i < KT_PL_ITERATIONS; i++) {
        KeEnterCriticalRegion();
        if (i % 3 != 0) {
            ExAcquirePushLockExclusiveEx(&S->Lock, 0);
            if (__atomic_add_fetch(&S->Writers, 1, __ATOMIC_SEQ_CST) != 1 || S->Readers != 0) {
                __atomic_add_fetch(&S->Violations, 1, __ATOMIC_RELAXED);
            }
            ULONG64 Value = S->Counter;
            if ((i & 31) == 0) {
                KiArchSpinWait();
            }
            S->Counter = Value + 1;
            __atomic_sub_fetch(&S->Writers, 1, __ATOMIC_SEQ_CST);
            ExReleasePushLockExclusiveEx(&S->Lock, 0);
        } else {
            ExAcquirePushLockSharedEx(&S->Lock, 0);
            __atomic_add_fetch(&S->Readers, 1, __ATOMIC_SEQ_CST);
            if (S->Writers != 0) {
                __atomic_add_fetch(&S->Violations, 1, __ATOMIC_RELAXED);
            }
            __atomic_sub_fetch(&S->Readers, 1, __ATOMIC_SEQ_CST);
            ExReleasePushLockSharedEx(&S->Lock, 0);
        }
        KeLeaveCriticalRegion();
    }
}

KTEST(ex_pushlock, mutual_exclusion_4_threads)
{
    static KT_PL_SHARED S;
    PKTHREAD Threads[KT_PL_THREADS];
    ULONG Writes = 0;

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&S, sizeof(S));
    ExInitializePushLock(&S.Lock);
    for (ULONG i = 0; i < KT_PL_THREADS; i++) {
        Threads[i] = KtStartThread(KtPushLockWorker, &S, 8, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    for (ULONG i = 0; i < KT_PL_THREADS; i++) {
        KtJoin(Threads[i]);
    }
    for (ULONG i = 0; i < KT_PL_ITERATIONS; i++) {
        Writes += (i % 3 != 0);
    }
    KT_EXPECT_EQ(S.Counter, (ULONG64)Writes * KT_PL_THREADS);
    KT_EXPECT_EQ(S.Violations, 0);
    KT_EXPECT_EQ(S.Lock.Value, 0);
}

typedef struct _KT_PL_WAIT {
    EX_PUSH_LOCK Lock;
    volatile BOOLEAN Acquired;
    BOOLEAN Exclusive;
} KT_PL_WAIT;

static VOID NTAPI KtPushLockAcquirer(PVOID Context)
{
    KT_PL_WAIT *W = Context;

    KeEnterCriticalRegion();
    if (W->Exclusive) {
        ExAcquirePushLockExclusiveEx(&W->Lock, 0);
        W->Acquired = TRUE;
        ExReleasePushLockExclusiveEx(&W->Lock, 0);
    } else {
        ExAcquirePushLockSharedEx(&W->Lock, 0);
        W->Acquired = TRUE;
        ExReleasePushLockSharedEx(&W->Lock, 0);
    }
    KeLeaveCriticalRegion();
}

KTEST(ex_pushlock, waiting_writer_blocks_new_readers)
{
    static KT_PL_WAIT Writer, Reader;
    PKTHREAD W, R;

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&Writer, sizeof(Writer));
    ExInitializePushLock(&Writer.Lock);
    Writer.Exclusive = TRUE;
    KeEnterCriticalRegion();
    ExAcquirePushLockSharedEx(&Writer.Lock, 0);
    W = KtStartThread(KtPushLockAcquirer, &Writer, 8, 0);
    KT_ASSERT_NOT_NULL(W);
    for (ULONG i = 0; i < 1000 && (Writer.Lock.Value & 0x4) == 0; i++) {
        KtSleepMs(1);
    }
    KT_EXPECT_EQ(Writer.Lock.Value & 0x6, 0x6); /* waiting, exclusive waiting */
    KT_EXPECT_FALSE(Writer.Acquired);

    /* A new reader queues behind the waiting writer (same lock). */
    RtlZeroMemory(&Reader, sizeof(Reader));
    R = KtStartThread(KtPushLockAcquirer, &Writer, 8, 0);
    KT_ASSERT_NOT_NULL(R);
    KtSleepMs(10);
    ExReleasePushLockSharedEx(&Writer.Lock, 0);
    KeLeaveCriticalRegion();
    KtJoin(W);
    KtJoin(R);
    KT_EXPECT_TRUE(Writer.Acquired);
    KT_EXPECT_EQ(Writer.Lock.Value, 0);
}

/* ---- rundown protection ---- */

typedef struct _KT_RUNDOWN {
    EX_RUNDOWN_REF Ref;
    volatile BOOLEAN WaitReturned;
} KT_RUNDOWN;

static VOID NTAPI KtRundownWaiter(PVOID Context)
{
    KT_RUNDOWN *R = Context;

    ExWaitForRundownProtectionRelease(&R->Ref);
    R->WaitReturned = TRUE;
}

KTEST(ex_rundown, wait_for_last_release)
{
    static KT_RUNDOWN R;
    PKTHREAD Waiter;

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&R, sizeof(R));
    ExInitializeRundownProtection(&R.Ref);
    KT_EXPECT_TRUE(ExAcquireRundownProtection(&R.Ref));
    KT_EXPECT_TRUE(ExAcquireRundownProtectionEx(&R.Ref, 3));
    ExReleaseRundownProtectionEx(&R.Ref, 2);
    KT_EXPECT_EQ(R.Ref.Count, 2 * 2);

    Waiter = KtStartThread(KtRundownWaiter, &R, 8, 0);
    KT_ASSERT_NOT_NULL(Waiter);
    for (ULONG i = 0; i < 1000 && (R.Ref.Count & 1) == 0; i++) {
        KtSleepMs(1);
    }
    KT_EXPECT_EQ(R.Ref.Count & 1, 1);
    KT_EXPECT_FALSE(ExAcquireRundownProtection(&R.Ref)); /* the wait has started */
    ExReleaseRundownProtection(&R.Ref);
    KtSleepMs(10);
    KT_EXPECT_FALSE(R.WaitReturned);
    ExReleaseRundownProtection(&R.Ref); /* the last one */
    KtJoin(Waiter);
    KT_EXPECT_TRUE(R.WaitReturned);
    KT_EXPECT_EQ(R.Ref.Count, 1);
    KT_EXPECT_FALSE(ExAcquireRundownProtection(&R.Ref));

    ExReInitializeRundownProtection(&R.Ref);
    KT_EXPECT_TRUE(ExAcquireRundownProtection(&R.Ref));
    ExReleaseRundownProtection(&R.Ref);
    ExWaitForRundownProtectionRelease(&R.Ref); /* no references: at once */
    KT_EXPECT_EQ(R.Ref.Count, 1);
    ExReInitializeRundownProtection(&R.Ref);
    ExRundownCompleted(&R.Ref);
    KT_EXPECT_FALSE(ExAcquireRundownProtection(&R.Ref));
}

/* ---- worker threads ---- */

#define KT_WORK_ITEMS 64

typedef struct _KT_WORK {
    WORK_QUEUE_ITEM Item;
    WORK_QUEUE_TYPE Type;
    volatile KPRIORITY Priority;
    volatile KIRQL Irql;
    volatile PKTHREAD Thread;
    volatile LONG *Done;
    PKEVENT AllDone;
    LONG Total;
} KT_WORK;

static VOID NTAPI KtWorkRoutine(PVOID Parameter)
{
    KT_WORK *Work = Parameter;

    Work->Priority = KeQueryPriorityThread(KeGetCurrentThread());
    Work->Irql = KeGetCurrentIrql();
    Work->Thread = KeGetCurrentThread();
    if (__atomic_add_fetch(Work->Done, 1, __ATOMIC_SEQ_CST) == Work->Total) {
        KeSetEvent(Work->AllDone, 0, FALSE);
    }
}

KTEST(ex_worker, items_run_at_queue_priority)
{
    static KT_WORK Work[KT_WORK_ITEMS];
    static volatile LONG Done;
    static KEVENT AllDone;
    static const WORK_QUEUE_TYPE Types[] = { CriticalWorkQueue, DelayedWorkQueue,
                                             HyperCriticalWorkQueue };
    static const KPRIORITY Priorities[] = { 13, 12, 15 };
    LARGE_INTEGER Timeout = { .QuadPart = -10LL * 1000 * 10000 };
    ULONG64 RunBefore;

    KT_REQUIRE_THREADS();
    KT_ASSERT_SUCCESS(ExpInitializeWorkerThreads());
    RunBefore = ExpQueryWorkItemsRun();
    Done = 0;
    KeInitializeEvent(&AllDone, NotificationEvent, FALSE);
    for (ULONG i = 0; i < KT_WORK_ITEMS; i++) {
        Work[i].Type = Types[i % 3];
        Work[i].Done = &Done;
        Work[i].AllDone = &AllDone;
        Work[i].Total = KT_WORK_ITEMS;
        Work[i].Thread = NULL;
        ExInitializeWorkItem(&Work[i].Item, KtWorkRoutine, &Work[i]);
    }
    for (ULONG i = 0; i < KT_WORK_ITEMS; i++) {
        if (i % 2 == 0) {
            ExQueueWorkItem(&Work[i].Item, Work[i].Type);
        } else {
            KIRQL Old;
            KeRaiseIrql(DISPATCH_LEVEL, &Old); /* allowed at DISPATCH_LEVEL */
            ExQueueWorkItem(&Work[i].Item, Work[i].Type);
            KeLowerIrql(Old);
        }
    }
    KT_ASSERT_EQ(KeWaitForSingleObject(&AllDone, Executive, KernelMode, FALSE, &Timeout),
                 STATUS_SUCCESS);
    KT_EXPECT_EQ(Done, KT_WORK_ITEMS);
    for (ULONG i = 0; i < KT_WORK_ITEMS; i++) {
        KT_EXPECT_EQ(Work[i].Irql, PASSIVE_LEVEL);
        /* Priority: the queue's (a wake boost never goes past 15). */
        KT_EXPECT_GE(Work[i].Priority, Priorities[i % 3]);
        KT_EXPECT_NE(Work[i].Thread, KeGetCurrentThread());
        KT_EXPECT_NULL(Work[i].Item.List.Flink); /* reusable */
    }
    KT_EXPECT_GE(ExpQueryWorkItemsRun() - RunBefore, KT_WORK_ITEMS);
    KT_EXPECT_GT(ExpQueryWorkerThreadCount(), 0);
    KT_EXPECT_LE(ExpQueryWorkerThreadCount(), 8);
}

static VOID NTAPI KtNoWork(PVOID Parameter)
{
    (VOID) Parameter;
}

KTEST_BUGCHECK(ex_worker_misuse, queued_twice, WORKER_INVALID)
{
    static WORK_QUEUE_ITEM Item;
    KIRQL Old;

    ExInitializeWorkItem(&Item, KtNoWork, NULL);
    /* Queue twice before any worker can take it. */
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    ExQueueWorkItem(&Item, DelayedWorkQueue);
    ExQueueWorkItem(&Item, DelayedWorkQueue);
    KeLowerIrql(Old);
}

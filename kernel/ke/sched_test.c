/*
 * sched_test.c - ktest cases for the scheduler: priority order,
 * preemption, round robin inside a level, boosts and their decay (and none
 * for real-time threads), priority changes, yield, hard affinity. Threads
 * that must compete are pinned to the test thread's processor.
 */
#include <ktestthreads.h>

#include "kisched.h"

typedef struct _KT_ORDER {
    volatile LONG Count;
    KPRIORITY Order[8];
} KT_ORDER;

static KT_ORDER KtOrder;

static VOID NTAPI KtRecordPriority(PVOID Context)
{
    KtSpinMs(1);
    KtOrder.Order[__atomic_fetch_add(&KtOrder.Count, 1, __ATOMIC_RELAXED)] =
        (KPRIORITY)(ULONG_PTR)Context;
}

KTEST(ke_sched, priority_order)
{
    static const KPRIORITY Priorities[5] = { 3, 9, 14, 20, 27 };
    PKTHREAD Threads[5], Self;
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    Self = KeGetCurrentThread();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    KtOrder.Count = 0;
    Old = KeSetPriorityThread(Self, HIGH_PRIORITY);
    for (ULONG i = 0; i < 5; i++) {
        Threads[i] = KtStartThread(KtRecordPriority, (PVOID)(ULONG_PTR)Priorities[i], Priorities[i],
                                   KtThisProcessor());
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    KT_EXPECT_EQ(KtOrder.Count, 0);
    KeSetPriorityThread(Self, 1);
    for (ULONG i = 0; i < 5; i++) {
        KT_EXPECT_EQ(KtJoin(Threads[i]), STATUS_SUCCESS);
    }
    KeSetPriorityThread(Self, Old);
    KeRevertToUserAffinityThreadEx(0);
    KT_ASSERT_EQ(KtOrder.Count, 5);
    for (ULONG i = 0; i < 5; i++) {
        KT_EXPECT_EQ(KtOrder.Order[i], Priorities[4 - i]);
    }
}

static volatile LONG KtPreempted;

static VOID NTAPI KtSetFlag(PVOID Context)
{
    __atomic_store_n((volatile LONG *)Context, 1, __ATOMIC_RELEASE);
}

KTEST(ke_sched, higher_priority_preempts_at_once)
{
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    KtPreempted = 0;
    Thread = KtStartThread(KtSetFlag, (PVOID)&KtPreempted,
                           KeQueryPriorityThread(KeGetCurrentThread()) + 4, KtThisProcessor());
    KT_ASSERT_NOT_NULL(Thread);
    /* It ran before KiStartThread returned to us. */
    KT_EXPECT_EQ(KtPreempted, 1);
    KtJoin(Thread);

    /* A lower one does not run until we block. */
    KtPreempted = 0;
    Thread = KtStartThread(KtSetFlag, (PVOID)&KtPreempted, 2, KtThisProcessor());
    KT_ASSERT_NOT_NULL(Thread);
    KtSpinMs(5);
    KT_EXPECT_EQ(KtPreempted, 0);
    KtJoin(Thread);
    KT_EXPECT_EQ(KtPreempted, 1);
    KeRevertToUserAffinityThreadEx(0);
}

typedef struct _KT_ROUND_ROBIN {
    ULONG64 Deadline;
    volatile ULONG64 FirstRun[2];
    volatile ULONG64 Finished[2];
    volatile LONG Switches;
    volatile LONG Last;
} KT_ROUND_ROBIN;

static KT_ROUND_ROBIN KtRoundRobin;

static VOID NTAPI KtRoundRobinThread(PVOID Context)
{
    LONG Me = (LONG)(ULONG_PTR)Context;

    KtRoundRobin.FirstRun[Me] = KeQueryInterruptTime();
    /* Until the two have taken turns a few times (quantum ends), with a
     * deadline in case the scheduler never switches. */
    while (KtRoundRobin.Switches < 8 && KeQueryInterruptTime() < KtRoundRobin.Deadline) {
        if (__atomic_exchange_n(&KtRoundRobin.Last, Me, __ATOMIC_RELAXED) != Me) {
            __atomic_add_fetch(&KtRoundRobin.Switches, 1, __ATOMIC_RELAXED);
        }
    }
    KtRoundRobin.Finished[Me] = KeQueryInterruptTime();
}

KTEST(ke_sched, round_robin_within_a_level)
{
    PKTHREAD A, B;
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Old = KeSetPriorityThread(KeGetCurrentThread(), 12);
    memset((PVOID)&KtRoundRobin, 0, sizeof(KtRoundRobin));
    KtRoundRobin.Last = -1;
    KtRoundRobin.Deadline = KeQueryInterruptTime() + 3000ull * 10000; /* 3 s */
    A = KtStartThread(KtRoundRobinThread, (PVOID)0, 7, KtThisProcessor());
    B = KtStartThread(KtRoundRobinThread, (PVOID)1, 7, KtThisProcessor());
    KT_ASSERT_NOT_NULL(A);
    KT_ASSERT_NOT_NULL(B);
    KtJoin(A);
    KtJoin(B);
    KeSetPriorityThread(KeGetCurrentThread(), Old);
    KeRevertToUserAffinityThreadEx(0);
    /* Both ran before either finished, and they alternated several times. */
    KT_EXPECT_LT(KtRoundRobin.FirstRun[1], KtRoundRobin.Finished[0]);
    KT_EXPECT_LT(KtRoundRobin.FirstRun[0], KtRoundRobin.Finished[1]);
    KT_EXPECT_GE(KtRoundRobin.Switches, 8);
}

typedef struct _KT_BOOST {
    KEVENT Event;
    volatile KPRIORITY Seen[64];
    volatile LONG Count;
} KT_BOOST;

static KT_BOOST KtBoost;

static VOID NTAPI KtBoostThread(PVOID Context)
{
    PKTHREAD Self = KeGetCurrentThread();
    KPRIORITY Last = -1;
    ULONG64 End;

    (VOID) Context;
    KeWaitForSingleObject(&KtBoost.Event, Executive, KernelMode, FALSE, NULL);
    /* Run until the boost is gone (one level per quantum end), noting every
     * priority seen, then one more quantum to see it stay at the base. */
    End = KeQueryInterruptTime() + 3000ull * 10000; /* 3 s, in case it never decays */
    while (KeQueryInterruptTime() < End && KtBoost.Count < 64 && KeQueryPriorityThread(Self) > 8) {
        KPRIORITY Now = KeQueryPriorityThread(Self);
        if (Now != Last) {
            KtBoost.Seen[KtBoost.Count++] = Now;
            Last = Now;
        }
    }
    End = KeQueryInterruptTime() + 2ull * KI_QUANTUM_TICKS * 10000;
    while (KeQueryInterruptTime() < End && KtBoost.Count < 64) {
        KPRIORITY Now = KeQueryPriorityThread(Self);
        if (Now != Last) {
            KtBoost.Seen[KtBoost.Count++] = Now;
            Last = Now;
        }
    }
}

KTEST(ke_sched, boost_on_wake_decays_to_base)
{
    PKTHREAD Thread;
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Old = KeSetPriorityThread(KeGetCurrentThread(), 14);
    KeInitializeEvent(&KtBoost.Event, SynchronizationEvent, FALSE);
    KtBoost.Count = 0;
    Thread = KtStartThread(KtBoostThread, NULL, 8, KtThisProcessor());
    KT_ASSERT_NOT_NULL(Thread);
    KtSleepMs(2); /* it is waiting now */
    KeSetEvent(&KtBoost.Event, 4, FALSE);
    /* Boosted to base + increment, not yet run (we are above it). */
    KT_EXPECT_EQ(KeQueryPriorityThread(Thread), 12);
    KtJoin(Thread);
    KeSetPriorityThread(KeGetCurrentThread(), Old);
    KeRevertToUserAffinityThreadEx(0);
    KT_ASSERT_TRUE(KtBoost.Count >= 2);
    KT_EXPECT_EQ(KtBoost.Seen[0], 12);
    for (LONG i = 1; i < KtBoost.Count; i++) {
        KT_EXPECT_EQ(KtBoost.Seen[i], KtBoost.Seen[i - 1] - 1); /* one level per quantum */
    }
    KT_EXPECT_EQ(KtBoost.Seen[KtBoost.Count - 1], 8); /* never below the base */
}

static VOID NTAPI KtWaitEvent(PVOID Context)
{
    KeWaitForSingleObject(Context, Executive, KernelMode, FALSE, NULL);
}

KTEST(ke_sched, no_boost_for_real_time)
{
    KEVENT Event;
    PKTHREAD Thread;
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Old = KeSetPriorityThread(KeGetCurrentThread(), 30);
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    Thread = KtStartThread(KtWaitEvent, &Event, 18, KtThisProcessor());
    KT_ASSERT_NOT_NULL(Thread);
    KtSleepMs(2);
    KeSetEvent(&Event, 8, FALSE);
    KT_EXPECT_EQ(KeQueryPriorityThread(Thread), 18);
    KtJoin(Thread);
    KeSetPriorityThread(KeGetCurrentThread(), Old);
    KeRevertToUserAffinityThreadEx(0);
}

KTEST(ke_sched, set_priority_and_base)
{
    PKTHREAD Self;
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    Self = KeGetCurrentThread();
    Old = KeSetPriorityThread(Self, 10);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 10);
    KT_EXPECT_EQ(KeSetPriorityThread(Self, 11), 10);
    KT_EXPECT_EQ(KeSetBasePriorityThread(Self, 2), (LONG)Self->BasePriority - 10);
    KT_EXPECT_EQ(Self->BasePriority, KI_DEFAULT_PRIORITY + 2);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), KI_DEFAULT_PRIORITY + 2);
    /* The base stays within the variable range. */
    KeSetBasePriorityThread(Self, 40);
    KT_EXPECT_EQ(Self->BasePriority, 15);
    KeSetBasePriorityThread(Self, 0);
    KeSetPriorityThread(Self, Old);
}

static volatile LONG KtYieldTurns[2];
static volatile LONG KtYieldLast = -1;
static volatile LONG KtYieldAlternations;

static VOID NTAPI KtYieldThread(PVOID Context)
{
    LONG Me = (LONG)(ULONG_PTR)Context;

    for (ULONG i = 0; i < 20; i++) {
        if (__atomic_exchange_n(&KtYieldLast, Me, __ATOMIC_RELAXED) != Me) {
            KtYieldAlternations++;
        }
        KtYieldTurns[Me]++;
        ZwYieldExecution();
    }
}

KTEST(ke_sched, yield_alternates_equal_threads)
{
    PKTHREAD A, B;
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Old = KeSetPriorityThread(KeGetCurrentThread(), 12);
    KtYieldAlternations = 0;
    KtYieldLast = -1;
    A = KtStartThread(KtYieldThread, (PVOID)0, 6, KtThisProcessor());
    B = KtStartThread(KtYieldThread, (PVOID)1, 6, KtThisProcessor());
    KT_ASSERT_NOT_NULL(A);
    KT_ASSERT_NOT_NULL(B);
    KtJoin(A);
    KtJoin(B);
    KeSetPriorityThread(KeGetCurrentThread(), Old);
    KeRevertToUserAffinityThreadEx(0);
    /* Nearly every yield hands over to the other thread. */
    KT_EXPECT_GE(KtYieldAlternations, 30);
    /* Nothing else at its level: yield says so. */
    KT_EXPECT_EQ(ZwYieldExecution(), STATUS_NO_YIELD_PERFORMED);
}

KTEST(ke_sched, hard_affinity_moves_the_thread)
{
    KAFFINITY Active = KeQueryActiveProcessors();

    KT_REQUIRE_THREADS();
    for (ULONG n = 0; n < MAXIMUM_PROCESSORS; n++) {
        if (Active & ((KAFFINITY)1 << n)) {
            KeSetSystemAffinityThreadEx((KAFFINITY)1 << n);
            KT_EXPECT_EQ(KeGetCurrentProcessorNumber(), n);
            KtSpinMs(2); /* across clock ticks: it stays there */
            KT_EXPECT_EQ(KeGetCurrentProcessorNumber(), n);
        }
    }
    KeRevertToUserAffinityThreadEx(0);
    KT_EXPECT_FALSE(KeGetCurrentThread()->SystemAffinityActive);
}

/* A processor whose own queues are empty takes a thread that waits in
 * another processor's queue (and may run here); once that queue is empty
 * again, it finds nothing there. The thread is a record that is only ever
 * queued, under the dispatcher lock, so no processor can run it. */
KTEST(ke_sched, selection_takes_a_thread_from_another_processors_queue)
{
    static KTHREAD Record;
    PKPRCB Current, Other = NULL;
    PKTHREAD Chosen, Again;
    ULONG OtherSummary;
    KIRQL OldIrql;

    if (KeNumberProcessors < 2) {
        KT_SKIP("one processor");
    }
    OldIrql = KiAcquireDispatcherLock();
    Current = KeGetCurrentPrcb();
    for (ULONG Number = 0; Number < MAXIMUM_PROCESSORS && Other == NULL; Number++) {
        PKPRCB Prcb = KiProcessorBlock[Number];
        if (Prcb != NULL && Prcb != Current && Prcb->ReadySummary == 0) {
            Other = Prcb;
        }
    }
    if (Other == NULL || Current->ReadySummary != 0) {
        KiReleaseDispatcherLock(OldIrql);
        KT_SKIP("no pair of processors with empty ready queues");
    }
    RtlZeroMemory(&Record, sizeof(Record));
    Record.Priority = Record.BasePriority = Record.NormalPriority = 9;
    Record.Affinity = Record.UserAffinity =
        ((KAFFINITY)1 << Current->Number) | ((KAFFINITY)1 << Other->Number);
    KiBenchQueueReadyThread(Other, &Record);
    /* Chosen, it goes back to the head of the chooser's own queue. */
    Chosen = KiBenchSelectNextThread(Current);
    OtherSummary = Other->ReadySummary;
    KiBenchRemoveReadyThread(&Record);
    Again = KiBenchSelectNextThread(Current);
    KiReleaseDispatcherLock(OldIrql);

    KT_EXPECT_EQ((ULONG_PTR)Chosen, (ULONG_PTR)&Record);
    KT_EXPECT_EQ(OtherSummary, 0);
    KT_EXPECT_EQ(Record.Processor, Current->Number);
    KT_EXPECT_NULL(Again);
}

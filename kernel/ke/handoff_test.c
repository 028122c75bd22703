/*
 * handoff_test.c - ktest cases for the hand-off between threads: KeSetEvent
 * finding a waiter (a synchronization event gives its signal straight to
 * its first WaitAny waiter, event.c) and the wait that follows
 * (KeWaitForSingleObject enters at the dispatcher lock's level, wait.c).
 * Edge cases: lower, equal (boosted or not) and higher-priority waiters on
 * the setter's processor, a WaitAll waiter first in line, partners on
 * another processor, the Wait=TRUE contract (lock and DISPATCH_LEVEL held
 * into the next wait, which restores the caller's IRQL), kernel APCs
 * interrupting the waits, and a timeout racing the set.
 */
#include <ktestthreads.h>

/* The partner waits for Ping once, notes how it woke and answers Pong. */
typedef struct _KT_HANDOFF {
    KEVENT Ping;
    KEVENT Pong;
    volatile LONG Ran;
    volatile KPRIORITY Priority; /* when it woke */
    NTSTATUS Status;
} KT_HANDOFF;

static VOID NTAPI KtHandoffPartner(PVOID Context)
{
    KT_HANDOFF *Handoff = Context;

    Handoff->Status = KeWaitForSingleObject(&Handoff->Ping, Executive, KernelMode, FALSE, NULL);
    Handoff->Priority = KeQueryPriorityThread(KeGetCurrentThread());
    __atomic_store_n(&Handoff->Ran, 1, __ATOMIC_RELEASE);
    KeSetEvent(&Handoff->Pong, IO_NO_INCREMENT, FALSE);
}

/* Another active processor than the caller's, or 0. */
static KAFFINITY KtOtherProcessor(VOID)
{
    KAFFINITY Other = KeQueryActiveProcessors() & ~KtThisProcessor();
    return Other & ~(Other - 1);
}

KTEST(ke_handoff, waiter_priority_decides_who_runs_first)
{
    static const struct {
        LONG Delta;          /* waiter's base priority - ours */
        KPRIORITY Increment; /* KeSetEvent's boost */
        BOOLEAN AtOnce;      /* it runs before KeSetEvent returns */
        LONG WokeDelta;      /* its priority when it woke - ours */
    } Cases[] = {
        { -1, IO_NO_INCREMENT, FALSE, -1 }, /* lower: after we block */
        { 0, IO_NO_INCREMENT, FALSE, 0 },   /* equal: no preemption */
        { 0, 1, TRUE, 1 },                  /* boosted above us */
        { -2, 1, FALSE, -1 },               /* boosted, still below */
        { -1, 2, TRUE, 1 },                 /* boosted past us */
        { 2, IO_NO_INCREMENT, TRUE, 2 },    /* higher: at once */
    };
    static KT_HANDOFF Handoff;
    PKTHREAD Self = KeGetCurrentThread();
    KPRIORITY Old, Base = 8;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Old = KeSetPriorityThread(Self, Base);
    for (ULONG i = 0; i < sizeof(Cases) / sizeof(Cases[0]); i++) {
        PKTHREAD Thread;
        LONG Previous;

        KeInitializeEvent(&Handoff.Ping, SynchronizationEvent, FALSE);
        KeInitializeEvent(&Handoff.Pong, SynchronizationEvent, FALSE);
        Handoff.Ran = 0;
        Handoff.Priority = 0;
        Handoff.Status = -1;
        Thread =
            KtStartThread(KtHandoffPartner, &Handoff, Base + Cases[i].Delta, KtThisProcessor());
        KT_ASSERT_NOT_NULL(Thread);
        KT_ASSERT_TRUE(KtWaitUntilWaiting(Thread));

        Previous = KeSetEvent(&Handoff.Ping, Cases[i].Increment, FALSE);
        KT_EXPECT_EQ(Previous, 0);
        KT_EXPECT_EQ(__atomic_load_n(&Handoff.Ran, __ATOMIC_ACQUIRE), Cases[i].AtOnce ? 1 : 0);
        /* Either way the waiter took the signal: the event stayed clear. */
        KT_EXPECT_EQ(KeReadStateEvent(&Handoff.Ping), 0);
        if (!Cases[i].AtOnce) {
            KT_EXPECT_EQ(Thread->State, Ready);
        }
        KT_EXPECT_EQ(KeWaitForSingleObject(&Handoff.Pong, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
        KT_EXPECT_EQ(Handoff.Ran, 1);
        KT_EXPECT_EQ(Handoff.Status, STATUS_SUCCESS);
        KT_EXPECT_EQ(Handoff.Priority, Base + Cases[i].WokeDelta);
        KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
    }
    KeSetPriorityThread(Self, Old);
    KeRevertToUserAffinityThreadEx(0);
}

typedef struct _KT_MULTI_WAITER {
    PVOID Objects[2];
    ULONG Count;
    WAIT_TYPE Type;
    volatile NTSTATUS Status;
} KT_MULTI_WAITER;

static VOID NTAPI KtMultiWaiter(PVOID Context)
{
    KT_MULTI_WAITER *Waiter = Context;
    NTSTATUS Status = KeWaitForMultipleObjects(Waiter->Count, Waiter->Objects, Waiter->Type,
                                               Executive, KernelMode, FALSE, NULL, NULL);
    __atomic_store_n(&Waiter->Status, Status, __ATOMIC_RELEASE);
}

/* The direct hand-off takes only a WaitAny waiter at the head; a WaitAll
 * waiter there must not block the ones behind it, nor lose its turn once
 * all its objects are signaled. */
KTEST(ke_handoff, wait_all_waiter_first_in_line)
{
    static KT_MULTI_WAITER All, Any;
    KEVENT Sync, Gate;
    PKTHREAD AllThread, AnyThread;

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Sync, SynchronizationEvent, FALSE);
    KeInitializeEvent(&Gate, NotificationEvent, FALSE);
    All = (KT_MULTI_WAITER){ { &Sync, &Gate }, 2, WaitAll, STATUS_PENDING };
    Any = (KT_MULTI_WAITER){ { &Sync, NULL }, 1, WaitAny, STATUS_PENDING };
    AllThread = KtStartThread(KtMultiWaiter, &All, 9, 0);
    KT_ASSERT_NOT_NULL(AllThread);
    KT_ASSERT_TRUE(KtWaitUntilWaiting(AllThread));
    AnyThread = KtStartThread(KtMultiWaiter, &Any, 9, 0);
    KT_ASSERT_NOT_NULL(AnyThread);
    KT_ASSERT_TRUE(KtWaitUntilWaiting(AnyThread));

    KT_EXPECT_EQ(KeSetEvent(&Sync, IO_NO_INCREMENT, FALSE), 0);
    KT_EXPECT_EQ(KtJoin(AnyThread), STATUS_SUCCESS);
    KT_EXPECT_EQ(Any.Status, STATUS_WAIT_0);
    KT_EXPECT_EQ(KeReadStateEvent(&Sync), 0);
    KT_EXPECT_EQ(All.Status, STATUS_PENDING);
    KT_EXPECT_EQ(AllThread->State, Waiting);

    /* Half of its objects: still waiting. */
    KeSetEvent(&Gate, IO_NO_INCREMENT, FALSE);
    KtSleepMs(2);
    KT_EXPECT_EQ(All.Status, STATUS_PENDING);
    KT_EXPECT_EQ(AllThread->State, Waiting);

    KT_EXPECT_EQ(KeSetEvent(&Sync, IO_NO_INCREMENT, FALSE), 0);
    KT_EXPECT_EQ(KtJoin(AllThread), STATUS_SUCCESS);
    KT_EXPECT_EQ(All.Status, STATUS_WAIT_0);
    KT_EXPECT_EQ(KeReadStateEvent(&Sync), 0); /* consumed */
    KT_EXPECT_EQ(KeReadStateEvent(&Gate), 1); /* a notification stays */
}

/* Ping-pong partner: Rounds turns, answering with Wait = WaitNext. */
typedef struct _KT_RALLY {
    KEVENT Ping;
    KEVENT Pong;
    LONG Rounds;
    BOOLEAN WaitNext;
    volatile LONG Turn; /* 1: the partner's */
    volatile LONG Errors;
} KT_RALLY;

static VOID NTAPI KtRallyPartner(PVOID Context)
{
    KT_RALLY *Rally = Context;

    for (LONG i = 0; i < Rally->Rounds; i++) {
        if (KeWaitForSingleObject(&Rally->Ping, Executive, KernelMode, FALSE, NULL) !=
                STATUS_SUCCESS ||
            Rally->Turn != 1 || KeGetCurrentIrql() != PASSIVE_LEVEL) {
            Rally->Errors++;
        }
        Rally->Turn = 0;
        KeSetEvent(&Rally->Pong, IO_NO_INCREMENT, Rally->WaitNext);
        if (Rally->WaitNext && KeGetCurrentIrql() != DISPATCH_LEVEL) {
            Rally->Errors++;
        }
        if (i + 1 == Rally->Rounds && Rally->WaitNext) {
            /* The contract: a wait follows. Pong may be taken already; a
             * zero-timeout wait on Ping is a wait too. */
            LARGE_INTEGER Zero = { .QuadPart = 0 };
            KeWaitForSingleObject(&Rally->Ping, Executive, KernelMode, FALSE, &Zero);
        }
    }
}

static VOID KtRally(PKTEST_CONTEXT KtContext, KAFFINITY PartnerAffinity, BOOLEAN WaitNext)
{
    static KT_RALLY Rally;
    PKTHREAD Thread;
    LONG Errors = 0;

    KeInitializeEvent(&Rally.Ping, SynchronizationEvent, FALSE);
    KeInitializeEvent(&Rally.Pong, SynchronizationEvent, FALSE);
    Rally.Rounds = 2000;
    Rally.WaitNext = WaitNext;
    Rally.Turn = 0;
    Rally.Errors = 0;
    Thread = KtStartThread(KtRallyPartner, &Rally, KeQueryPriorityThread(KeGetCurrentThread()),
                           PartnerAffinity);
    KT_ASSERT_NOT_NULL(Thread);
    for (LONG i = 0; i < Rally.Rounds; i++) {
        Rally.Turn = 1;
        KeSetEvent(&Rally.Ping, IO_NO_INCREMENT, WaitNext);
        if (WaitNext && KeGetCurrentIrql() != DISPATCH_LEVEL) {
            Errors++;
        }
        if (KeWaitForSingleObject(&Rally.Pong, Executive, KernelMode, FALSE, NULL) !=
                STATUS_SUCCESS ||
            Rally.Turn != 0 || KeGetCurrentIrql() != PASSIVE_LEVEL) {
            Errors++;
        }
    }
    KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
    KT_EXPECT_EQ(Errors, 0);
    KT_EXPECT_EQ(Rally.Errors, 0);
    KT_EXPECT_EQ(KeReadStateEvent(&Rally.Ping), 0);
    KT_EXPECT_EQ(KeReadStateEvent(&Rally.Pong), 0);
}

KTEST(ke_handoff, rally_on_one_processor)
{
    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    KtRally(KtContext, KtThisProcessor(), FALSE);
    KtRally(KtContext, KtThisProcessor(), TRUE);
    KeRevertToUserAffinityThreadEx(0);
}

KTEST(ke_handoff, rally_across_processors)
{
    KT_REQUIRE_THREADS();
    if (KeQueryActiveProcessorCount(NULL) < 2) {
        KT_SKIP("needs two processors");
    }
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    KtRally(KtContext, KtOtherProcessor(), FALSE);
    KtRally(KtContext, KtOtherProcessor(), TRUE);
    KeRevertToUserAffinityThreadEx(0);
}

/* KeSetEvent and friends with Wait = TRUE return at DISPATCH_LEVEL with
 * the dispatcher lock held; the wait that follows uses it and returns at
 * the IRQL the caller had before the set, whether it blocks or not. */
KTEST(ke_handoff, wait_next_restores_the_callers_irql)
{
    static const KIRQL Levels[] = { PASSIVE_LEVEL, APC_LEVEL };
    KEVENT Signaled, Other;
    KSEMAPHORE Semaphore;
    KMUTEX Mutex;

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Signaled, NotificationEvent, TRUE);
    KeInitializeEvent(&Other, SynchronizationEvent, FALSE);
    KeInitializeSemaphore(&Semaphore, 0, 10);
    KeInitializeMutex(&Mutex, 0);
    for (ULONG i = 0; i < sizeof(Levels) / sizeof(Levels[0]); i++) {
        KIRQL Old = PASSIVE_LEVEL;

        if (Levels[i] != PASSIVE_LEVEL) {
            KeRaiseIrql(Levels[i], &Old);
        }
        KT_EXPECT_EQ(KeSetEvent(&Other, IO_NO_INCREMENT, TRUE), 0);
        KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
        KT_EXPECT_EQ(KeWaitForSingleObject(&Signaled, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
        KT_EXPECT_EQ(KeGetCurrentIrql(), Levels[i]);
        /* The set happened: a zero-timeout wait takes it. */
        {
            LARGE_INTEGER Zero = { .QuadPart = 0 };
            KT_EXPECT_EQ(KeWaitForSingleObject(&Other, Executive, KernelMode, FALSE, &Zero),
                         STATUS_SUCCESS);
        }

        KT_EXPECT_EQ(KeReleaseSemaphore(&Semaphore, IO_NO_INCREMENT, 1, TRUE), 0);
        KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
        KT_EXPECT_EQ(KeWaitForSingleObject(&Semaphore, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
        KT_EXPECT_EQ(KeGetCurrentIrql(), Levels[i]);
        KT_EXPECT_EQ(KeReadStateSemaphore(&Semaphore), 0);

        KT_EXPECT_EQ(KeWaitForSingleObject(&Mutex, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
        KeReleaseMutex(&Mutex, TRUE);
        KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
        KT_EXPECT_EQ(KeWaitForSingleObject(&Signaled, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
        KT_EXPECT_EQ(KeGetCurrentIrql(), Levels[i]);
        KT_EXPECT_EQ(KeReadStateMutex(&Mutex), 1);

        if (Levels[i] != PASSIVE_LEVEL) {
            KeLowerIrql(Old);
        }
    }
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* A zero-timeout wait at DISPATCH_LEVEL enters without raising and keeps
 * the level. */
KTEST(ke_handoff, zero_timeout_wait_at_dispatch_level)
{
    LARGE_INTEGER Zero = { .QuadPart = 0 };
    KEVENT Event;
    KIRQL Old;

    KeInitializeEvent(&Event, SynchronizationEvent, TRUE);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Zero),
                 STATUS_SUCCESS);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Zero),
                 STATUS_TIMEOUT);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Old);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
}

/* ---- Kernel APCs against the hand-off ---- */

typedef struct _KT_APC_RALLY {
    KEVENT Work;
    KEVENT Done;
    LONG Rounds;
    volatile LONG ApcRuns;
    volatile LONG Errors;
} KT_APC_RALLY;

static KT_APC_RALLY KtApcRally;

static VOID NTAPI KtCountApc(PKAPC Apc, PKNORMAL_ROUTINE *NormalRoutine, PVOID *NormalContext,
                             PVOID *SystemArgument1, PVOID *SystemArgument2)
{
    (VOID) Apc;
    (VOID) NormalRoutine;
    (VOID) NormalContext;
    (VOID) SystemArgument1;
    (VOID) SystemArgument2;
    if (KeGetCurrentIrql() != APC_LEVEL) {
        KtApcRally.Errors++;
    }
    __atomic_add_fetch(&KtApcRally.ApcRuns, 1, __ATOMIC_RELEASE);
}

/* Waits non-alertably for Work, Rounds times: the APCs interrupt the
 * waits (which go on), the sets satisfy them. */
static VOID NTAPI KtApcRallyWorker(PVOID Context)
{
    (VOID) Context;
    for (LONG i = 0; i < KtApcRally.Rounds; i++) {
        if (KeWaitForSingleObject(&KtApcRally.Work, Executive, KernelMode, FALSE, NULL) !=
            STATUS_SUCCESS) {
            KtApcRally.Errors++;
        }
        KeSetEvent(&KtApcRally.Done, IO_NO_INCREMENT, FALSE);
    }
}

static VOID KtApcRallyWith(PKTEST_CONTEXT KtContext, KAFFINITY Affinity)
{
    static KAPC Apcs[2];
    PKTHREAD Thread;
    LONG Queued = 0;

    KeInitializeEvent(&KtApcRally.Work, SynchronizationEvent, FALSE);
    KeInitializeEvent(&KtApcRally.Done, SynchronizationEvent, FALSE);
    KtApcRally.Rounds = 300;
    KtApcRally.ApcRuns = 0;
    KtApcRally.Errors = 0;
    Thread = KtStartThread(KtApcRallyWorker, NULL, KeQueryPriorityThread(KeGetCurrentThread()),
                           Affinity);
    KT_ASSERT_NOT_NULL(Thread);
    for (LONG i = 0; i < KtApcRally.Rounds; i++) {
        PKAPC Apc = &Apcs[i & 1];
        /* One APC in flight per KAPC: wait until the previous use ran. */
        while (__atomic_load_n(&KtApcRally.ApcRuns, __ATOMIC_ACQUIRE) < Queued - 1) {
            KtSleepMs(1);
        }
        KeInitializeApc(Apc, Thread, OriginalApcEnvironment, KtCountApc, NULL, NULL, KernelMode,
                        NULL);
        if (KeInsertQueueApc(Apc, NULL, NULL, 0)) {
            Queued++;
        }
        KeSetEvent(&KtApcRally.Work, IO_NO_INCREMENT, FALSE);
        KT_EXPECT_EQ(KeWaitForSingleObject(&KtApcRally.Done, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
    }
    KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
    KT_EXPECT_EQ(KtApcRally.Errors, 0);
    /* Every APC ran (the last ones maybe during the thread's run-down,
     * which delivers queued kernel APCs). */
    KT_EXPECT_EQ(KtApcRally.ApcRuns, Queued);
    KT_EXPECT_EQ(Queued, KtApcRally.Rounds);
    KT_EXPECT_EQ(KeReadStateEvent(&KtApcRally.Work), 0);
}

KTEST(ke_handoff, kernel_apcs_interleaved_with_hand_offs)
{
    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    KtApcRallyWith(KtContext, KtThisProcessor());
    if (KeQueryActiveProcessorCount(NULL) >= 2) {
        KtApcRallyWith(KtContext, KtOtherProcessor());
    }
    KeRevertToUserAffinityThreadEx(0);
}

/* ---- A timeout racing the set ---- */

typedef struct _KT_RACE {
    KEVENT Event;
    KEVENT Started;
    volatile NTSTATUS Status;
} KT_RACE;

static VOID NTAPI KtRaceWaiter(PVOID Context)
{
    KT_RACE *Race = Context;
    LARGE_INTEGER Timeout = { .QuadPart = -10000 }; /* 1 ms */

    KeSetEvent(&Race->Started, IO_NO_INCREMENT, FALSE);
    Race->Status = KeWaitForSingleObject(&Race->Event, Executive, KernelMode, FALSE, &Timeout);
}

/* Either the waiter took the signal (and the event is clear) or it timed
 * out first (and the set, finding no waiter, left the event signaled):
 * never both, never neither. */
KTEST(ke_handoff, timeout_racing_the_set)
{
    static KT_RACE Race;
    KAFFINITY Affinity;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Affinity = KeQueryActiveProcessorCount(NULL) >= 2 ? KtOtherProcessor() : KtThisProcessor();
    for (ULONG i = 0; i < 60; i++) {
        PKTHREAD Thread;
        LONG Previous;

        KeInitializeEvent(&Race.Event, SynchronizationEvent, FALSE);
        KeInitializeEvent(&Race.Started, NotificationEvent, FALSE);
        Race.Status = STATUS_PENDING;
        Thread = KtStartThread(KtRaceWaiter, &Race, 9, Affinity);
        KT_ASSERT_NOT_NULL(Thread);
        KeWaitForSingleObject(&Race.Started, Executive, KernelMode, FALSE, NULL);
        /* Around the deadline: a little before, at, a little after. */
        KtSpinMs(i % 3);
        Previous = KeSetEvent(&Race.Event, IO_NO_INCREMENT, FALSE);
        KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
        KT_EXPECT_EQ(Previous, 0);
        if (Race.Status == STATUS_SUCCESS) {
            KT_EXPECT_EQ(KeReadStateEvent(&Race.Event), 0);
        } else {
            KT_EXPECT_EQ(Race.Status, STATUS_TIMEOUT);
            KT_EXPECT_EQ(KeReadStateEvent(&Race.Event), 1);
        }
    }
    KeRevertToUserAffinityThreadEx(0);
}

/*
 * dispatcher_test.c - ktest cases for dispatcher objects and waits:
 * events (notification, synchronization, pulse), semaphores, mutants
 * (recursion, ownership, abandonment), thread objects signaled at exit,
 * and every wait outcome (index, WaitAll, timeouts relative / absolute /
 * zero, alerts, STATUS_ABANDONED_WAIT_n, 64 objects).
 */
#include <ktestthreads.h>

static volatile LONG KtWoken;

typedef struct _KT_WAITER {
    PVOID Object;
    NTSTATUS Status;
    BOOLEAN Alertable;
} KT_WAITER;

static VOID NTAPI KtWaiterThread(PVOID Context)
{
    KT_WAITER *Waiter = Context;

    Waiter->Status =
        KeWaitForSingleObject(Waiter->Object, Executive, KernelMode, Waiter->Alertable, NULL);
    __atomic_add_fetch(&KtWoken, 1, __ATOMIC_RELAXED);
}

/* Polls (sleeping) until *Counter reaches Value, for up to 2 s: how long
 * a woken thread takes to run depends on the host. */
static VOID KtWaitForCount(volatile LONG *Counter, LONG Value)
{
    ULONG64 End = KeQueryInterruptTime() + 2000ull * 10000;

    while (*Counter < Value && KeQueryInterruptTime() < End) {
        KtSleepMs(1);
    }
}

KTEST(ke_dispatcher, object_layouts)
{
    KT_EXPECT_EQ(sizeof(DISPATCHER_HEADER), 0x18);
    KT_EXPECT_EQ(sizeof(KEVENT), 0x18);
    KT_EXPECT_EQ(sizeof(KSEMAPHORE), 0x20);
    KT_EXPECT_EQ(sizeof(KMUTANT), 0x38);
    KT_EXPECT_EQ(sizeof(KTIMER), 0x40);
    KT_EXPECT_EQ(sizeof(KDPC), 0x40);
    KT_EXPECT_EQ(sizeof(KWAIT_BLOCK), 0x30);
    KT_EXPECT_EQ(sizeof(KLOCK_QUEUE_HANDLE), 0x18);
}

KTEST(ke_dispatcher, event_state_routines)
{
    KEVENT Event;

    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
    KT_EXPECT_EQ(KeSetEvent(&Event, IO_NO_INCREMENT, FALSE), 0);
    KT_EXPECT_EQ(KeSetEvent(&Event, IO_NO_INCREMENT, FALSE), 1);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 1);
    KT_EXPECT_EQ(KeResetEvent(&Event), 1);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
    KeSetEvent(&Event, IO_NO_INCREMENT, FALSE);
    KeClearEvent(&Event);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
    /* A pulse with nobody waiting leaves it clear. */
    KT_EXPECT_EQ(KePulseEvent(&Event, IO_NO_INCREMENT, FALSE), 0);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
}

KTEST(ke_dispatcher, zero_timeout_polls)
{
    KEVENT Event;
    LARGE_INTEGER Zero = { .QuadPart = 0 };

    KeInitializeEvent(&Event, SynchronizationEvent, FALSE);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Zero),
                 STATUS_TIMEOUT);
    KeSetEvent(&Event, IO_NO_INCREMENT, FALSE);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Zero),
                 STATUS_SUCCESS);
    /* A synchronization event resets when a wait takes it. */
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
    /* A zero-timeout wait is allowed at DISPATCH_LEVEL. */
    {
        KIRQL Old;
        KeRaiseIrql(DISPATCH_LEVEL, &Old);
        KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Zero),
                     STATUS_TIMEOUT);
        KeLowerIrql(Old);
    }
}

KTEST(ke_dispatcher, notification_event_wakes_all)
{
    KEVENT Event;
    KT_WAITER Waiters[3];
    PKTHREAD Threads[3];

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    KtWoken = 0;
    for (ULONG i = 0; i < 3; i++) {
        Waiters[i] = (KT_WAITER){ &Event, -1, FALSE };
        Threads[i] = KtStartThread(KtWaiterThread, &Waiters[i], 9, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    KtSleepMs(5);
    KT_EXPECT_EQ(KtWoken, 0);
    KeSetEvent(&Event, IO_NO_INCREMENT, FALSE);
    for (ULONG i = 0; i < 3; i++) {
        KtJoin(Threads[i]);
        KT_EXPECT_EQ(Waiters[i].Status, STATUS_SUCCESS);
    }
    KT_EXPECT_EQ(KtWoken, 3);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 1);
}

KTEST(ke_dispatcher, synchronization_event_wakes_one)
{
    KEVENT Event;
    KT_WAITER Waiters[3];
    PKTHREAD Threads[3];

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Event, SynchronizationEvent, FALSE);
    KtWoken = 0;
    for (ULONG i = 0; i < 3; i++) {
        Waiters[i] = (KT_WAITER){ &Event, -1, FALSE };
        Threads[i] = KtStartThread(KtWaiterThread, &Waiters[i], 9, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    KtSleepMs(5);
    for (LONG n = 1; n <= 3; n++) {
        KeSetEvent(&Event, IO_NO_INCREMENT, FALSE);
        KtWaitForCount(&KtWoken, n);
        KtSleepMs(5); /* and no second one follows */
        KT_EXPECT_EQ(KtWoken, n);
        KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
    }
    for (ULONG i = 0; i < 3; i++) {
        KtJoin(Threads[i]);
    }
}

KTEST(ke_dispatcher, pulse_wakes_waiters_and_clears)
{
    KEVENT Event;
    KT_WAITER Waiter = { NULL, -1, FALSE };
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    Waiter.Object = &Event;
    KtWoken = 0;
    Thread = KtStartThread(KtWaiterThread, &Waiter, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KtSleepMs(5);
    KePulseEvent(&Event, IO_NO_INCREMENT, FALSE);
    KT_EXPECT_EQ(KeReadStateEvent(&Event), 0);
    KtJoin(Thread);
    KT_EXPECT_EQ(KtWoken, 1);
}

KTEST(ke_dispatcher, relative_and_absolute_timeouts)
{
    KEVENT Event;
    LARGE_INTEGER Timeout, Now;
    ULONG64 Start;

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    Start = KeQueryInterruptTime();
    Timeout.QuadPart = -5 * 10000; /* 5 ms */
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout),
                 STATUS_TIMEOUT);
    KT_EXPECT_GE(KeQueryInterruptTime() - Start, 5 * 10000);

    KeQuerySystemTime(&Now);
    Start = KeQueryInterruptTime();
    Timeout.QuadPart = Now.QuadPart + 4 * 10000; /* absolute: now + 4 ms */
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout),
                 STATUS_TIMEOUT);
    KT_EXPECT_GE(KeQueryInterruptTime() - Start, 3 * 10000);
    /* An absolute time in the past times out at once. */
    Timeout.QuadPart = Now.QuadPart - 10000;
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout),
                 STATUS_TIMEOUT);

    Start = KeQueryInterruptTime();
    KtSleepMs(3);
    KT_EXPECT_GE(KeQueryInterruptTime() - Start, 3 * 10000);
}

/* A timeout that falls due while the wait is being committed (after the
 * wait checked the time, before its timer is queued) must still end the
 * wait. The waiter sweeps its timeout up from 100 ns until a wait really
 * blocks, round after round, so that some deadlines land inside that
 * window; 64 wait blocks to link widen it. Object 0 is a rescue event: a
 * wait that lost its timeout is stuck until the test signals it. */
#define KT_RACE_MS 300

static KEVENT KtRaceEvents[MAXIMUM_WAIT_OBJECTS];
static PVOID KtRaceObjects[MAXIMUM_WAIT_OBJECTS];
static KWAIT_BLOCK KtRaceBlocks[MAXIMUM_WAIT_OBJECTS];
static volatile LONG KtRaceWaits;
static volatile LONG KtRaceLost;
static volatile LONG KtRaceBadStatus;

static VOID NTAPI KtRaceTimeoutWaiter(PVOID Context)
{
    ULONG64 End = KeQueryInterruptTime() + KT_RACE_MS * 10000ull;
    LONGLONG Ticks = 1;

    UNREFERENCED_PARAMETER(Context);
    while (KeQueryInterruptTime() < End) {
        LARGE_INTEGER Timeout = { .QuadPart = -Ticks };
        ULONG64 Start = KeQueryInterruptTime();
        NTSTATUS Status =
            KeWaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, KtRaceObjects, WaitAny, Executive,
                                     KernelMode, FALSE, &Timeout, KtRaceBlocks);

        if (Status == STATUS_WAIT_0) {
            __atomic_add_fetch(&KtRaceLost, 1, __ATOMIC_RELAXED);
        } else if (Status != STATUS_TIMEOUT) {
            __atomic_add_fetch(&KtRaceBadStatus, 1, __ATOMIC_RELAXED);
        }
        __atomic_add_fetch(&KtRaceWaits, 1, __ATOMIC_RELEASE);
        /* Blocked (it took more than 100 us): start the sweep again. */
        Ticks = KeQueryInterruptTime() - Start > 1000 ? 1 : Ticks + 1;
    }
}

KTEST(ke_dispatcher, timeout_due_while_committing_wait)
{
    PKTHREAD Thread;
    LONG Seen = -1;
    ULONG Still = 0;

    KT_REQUIRE_THREADS();
    KtRaceWaits = KtRaceLost = KtRaceBadStatus = 0;
    KeInitializeEvent(&KtRaceEvents[0], SynchronizationEvent, FALSE);
    for (ULONG i = 0; i < MAXIMUM_WAIT_OBJECTS; i++) {
        if (i != 0) {
            KeInitializeEvent(&KtRaceEvents[i], NotificationEvent, FALSE);
        }
        KtRaceObjects[i] = &KtRaceEvents[i];
    }
    Thread = KtStartThread(KtRaceTimeoutWaiter, NULL, KI_DEFAULT_PRIORITY, 0);
    KT_ASSERT_NOT_NULL(Thread);
    for (;;) {
        LARGE_INTEGER Poll = { .QuadPart = -100 * 10000 };
        LONG Waits;

        if (KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, &Poll) == STATUS_SUCCESS) {
            break;
        }
        Waits = __atomic_load_n(&KtRaceWaits, __ATOMIC_ACQUIRE);
        if (Waits != Seen) {
            Seen = Waits;
            Still = 0;
        } else if (++Still == 10) {
            /* No wait ended for a second: one lost its timeout. */
            KeSetEvent(&KtRaceEvents[0], IO_NO_INCREMENT, FALSE);
            Still = 0;
        }
    }
    KtJoin(Thread);
    KT_EXPECT_GT(KtRaceWaits, 0);
    KT_EXPECT_EQ(KtRaceLost, 0);
    KT_EXPECT_EQ(KtRaceBadStatus, 0);
}

static VOID NTAPI KtSetEventLater(PVOID Context)
{
    KtSleepMs(3);
    KeSetEvent(Context, IO_NO_INCREMENT, FALSE);
}

KTEST(ke_dispatcher, wait_any_and_wait_all)
{
    KEVENT Events[3];
    PVOID Objects[3] = { &Events[0], &Events[1], &Events[2] };
    LARGE_INTEGER Zero = { .QuadPart = 0 };
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    for (ULONG i = 0; i < 3; i++) {
        KeInitializeEvent(&Events[i], NotificationEvent, FALSE);
    }
    KeSetEvent(&Events[2], IO_NO_INCREMENT, FALSE);
    KT_EXPECT_EQ(
        KeWaitForMultipleObjects(3, Objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
        STATUS_WAIT_0 + 2);
    KT_EXPECT_EQ(
        KeWaitForMultipleObjects(3, Objects, WaitAll, Executive, KernelMode, FALSE, &Zero, NULL),
        STATUS_TIMEOUT);
    KeSetEvent(&Events[0], IO_NO_INCREMENT, FALSE);
    /* The last one arrives while we wait for all. */
    Thread = KtStartThread(KtSetEventLater, &Events[1], 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KT_EXPECT_EQ(
        KeWaitForMultipleObjects(3, Objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL),
        STATUS_SUCCESS);
    KtJoin(Thread);

    /* WaitAny blocked, satisfied by a later signal of object 1. */
    KeResetEvent(&Events[0]);
    KeResetEvent(&Events[1]);
    KeResetEvent(&Events[2]);
    Thread = KtStartThread(KtSetEventLater, &Events[1], 9, 0);
    KT_EXPECT_EQ(
        KeWaitForMultipleObjects(3, Objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
        STATUS_WAIT_0 + 1);
    KtJoin(Thread);
}

KTEST(ke_dispatcher, sixty_four_objects)
{
    static KEVENT Events[MAXIMUM_WAIT_OBJECTS];
    static PVOID Objects[MAXIMUM_WAIT_OBJECTS];
    static KWAIT_BLOCK Blocks[MAXIMUM_WAIT_OBJECTS];
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    for (ULONG i = 0; i < MAXIMUM_WAIT_OBJECTS; i++) {
        KeInitializeEvent(&Events[i], NotificationEvent, FALSE);
        Objects[i] = &Events[i];
    }
    Thread = KtStartThread(KtSetEventLater, &Events[63], 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KT_EXPECT_EQ(KeWaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, Objects, WaitAny, Executive,
                                          KernelMode, FALSE, NULL, Blocks),
                 STATUS_WAIT_63);
    KtJoin(Thread);
    for (ULONG i = 0; i < MAXIMUM_WAIT_OBJECTS; i++) {
        KeSetEvent(&Events[i], IO_NO_INCREMENT, FALSE);
    }
    KT_EXPECT_EQ(KeWaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, Objects, WaitAll, Executive,
                                          KernelMode, FALSE, NULL, Blocks),
                 STATUS_SUCCESS);
}

KTEST(ke_dispatcher, alertable_waits)
{
    KEVENT Event;
    KT_WAITER Waiter;
    PKTHREAD Thread;
    LARGE_INTEGER Timeout = { .QuadPart = -3 * 10000 };

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    /* An alert ends an alertable wait. */
    Waiter = (KT_WAITER){ &Event, -1, TRUE };
    Thread = KtStartThread(KtWaiterThread, &Waiter, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KtSleepMs(5);
    KT_EXPECT_FALSE(KeAlertThread(Thread, KernelMode));
    KtJoin(Thread);
    KT_EXPECT_EQ(Waiter.Status, STATUS_ALERTED);

    /* A pending alert ends the next alertable wait at once, and only
     * alertable waits see it. */
    KT_EXPECT_FALSE(KeAlertThread(KeGetCurrentThread(), KernelMode));
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout),
                 STATUS_TIMEOUT);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Event, Executive, KernelMode, TRUE, &Timeout),
                 STATUS_ALERTED);
    KT_EXPECT_FALSE(KeTestAlertThread(KernelMode));
    KT_EXPECT_EQ(KeDelayExecutionThread(KernelMode, TRUE, &Timeout), STATUS_SUCCESS);
}

KTEST(ke_dispatcher, semaphore_counts)
{
    KSEMAPHORE Semaphore;
    LARGE_INTEGER Zero = { .QuadPart = 0 };
    KT_WAITER Waiters[2];
    PKTHREAD Threads[2];

    KeInitializeSemaphore(&Semaphore, 2, 3);
    KT_EXPECT_EQ(KeReadStateSemaphore(&Semaphore), 2);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Semaphore, Executive, KernelMode, FALSE, &Zero),
                 STATUS_SUCCESS);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Semaphore, Executive, KernelMode, FALSE, &Zero),
                 STATUS_SUCCESS);
    KT_EXPECT_EQ(KeWaitForSingleObject(&Semaphore, Executive, KernelMode, FALSE, &Zero),
                 STATUS_TIMEOUT);
    KT_EXPECT_EQ(KeReleaseSemaphore(&Semaphore, IO_NO_INCREMENT, 3, FALSE), 0);
    KT_EXPECT_EQ(KeReadStateSemaphore(&Semaphore), 3);
    for (ULONG i = 0; i < 3; i++) {
        KeWaitForSingleObject(&Semaphore, Executive, KernelMode, FALSE, &Zero);
    }
    if (!KtCanRunThreads()) {
        return;
    }
    /* A release of 2 wakes two waiters. */
    KtWoken = 0;
    for (ULONG i = 0; i < 2; i++) {
        Waiters[i] = (KT_WAITER){ &Semaphore, -1, FALSE };
        Threads[i] = KtStartThread(KtWaiterThread, &Waiters[i], 9, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    KtSleepMs(5);
    KT_EXPECT_EQ(KtWoken, 0);
    KeReleaseSemaphore(&Semaphore, SEMAPHORE_INCREMENT, 2, FALSE);
    for (ULONG i = 0; i < 2; i++) {
        KtJoin(Threads[i]);
        KT_EXPECT_EQ(Waiters[i].Status, STATUS_SUCCESS);
    }
    KT_EXPECT_EQ(KeReadStateSemaphore(&Semaphore), 0);
}

KTEST(ke_dispatcher, mutex_recursion_and_ownership)
{
    KMUTEX Mutex;
    PKTHREAD Self;

    KT_REQUIRE_THREADS();
    Self = KeGetCurrentThread();
    KeInitializeMutex(&Mutex, 0);
    KT_EXPECT_EQ(KeReadStateMutex(&Mutex), 1);
    for (ULONG i = 0; i < 3; i++) {
        KT_EXPECT_EQ(KeWaitForSingleObject(&Mutex, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
    }
    KT_EXPECT_EQ(KeReadStateMutex(&Mutex), -2);
    KT_EXPECT_EQ(Mutex.OwnerThread, Self);
    KT_EXPECT_TRUE(KeAreApcsDisabled()); /* a kernel mutex disables APCs */
    KT_EXPECT_EQ(KeReleaseMutex(&Mutex, FALSE), -2);
    KT_EXPECT_EQ(KeReleaseMutex(&Mutex, FALSE), -1);
    KT_EXPECT_EQ(Mutex.OwnerThread, Self);
    KT_EXPECT_EQ(KeReleaseMutex(&Mutex, FALSE), 0);
    KT_EXPECT_NULL(Mutex.OwnerThread);
    KT_EXPECT_EQ(KeReadStateMutex(&Mutex), 1);
    KT_EXPECT_FALSE(KeAreApcsDisabled());
}

static VOID NTAPI KtAcquireAndExit(PVOID Context)
{
    KeWaitForSingleObject(Context, Executive, KernelMode, FALSE, NULL);
    /* Ends while owning it. */
}

KTEST(ke_dispatcher, mutant_abandoned_by_exiting_owner)
{
    KMUTANT Mutant;
    KEVENT Event;
    PVOID Objects[2] = { &Event, &Mutant };
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    KeInitializeMutant(&Mutant, FALSE);
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    Thread = KtStartThread(KtAcquireAndExit, &Mutant, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
    KT_EXPECT_TRUE(Mutant.Abandoned);
    KT_EXPECT_EQ(
        KeWaitForMultipleObjects(2, Objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
        STATUS_ABANDONED_WAIT_0 + 1);
    KT_EXPECT_FALSE(Mutant.Abandoned);
    KT_EXPECT_EQ(Mutant.OwnerThread, KeGetCurrentThread());
    KeReleaseMutant(&Mutant, IO_NO_INCREMENT, FALSE, FALSE);

    /* Abandoned while a waiter blocks: the waiter gets it, abandoned. */
    KeInitializeMutant(&Mutant, TRUE);
    {
        KT_WAITER Waiter = { &Mutant, -1, FALSE };
        Thread = KtStartThread(KtWaiterThread, &Waiter, 9, 0);
        KT_ASSERT_NOT_NULL(Thread);
        KtSleepMs(3);
        KeReleaseMutant(&Mutant, IO_NO_INCREMENT, TRUE, FALSE);
        KtJoin(Thread);
        KT_EXPECT_EQ(Waiter.Status, STATUS_ABANDONED_WAIT_0);
    }
}

static VOID NTAPI KtWaitEvent2(PVOID Context)
{
    KeWaitForSingleObject(Context, Executive, KernelMode, FALSE, NULL);
}

KTEST(ke_dispatcher, thread_object_signaled_at_exit)
{
    KEVENT Event;
    PKTHREAD Thread;
    LARGE_INTEGER Zero = { .QuadPart = 0 };

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    Thread = KtStartThread(KtWaitEvent2, &Event, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KT_EXPECT_EQ(KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, &Zero),
                 STATUS_TIMEOUT);
    KeSetEvent(&Event, IO_NO_INCREMENT, FALSE);
    KT_EXPECT_EQ(KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    KT_EXPECT_EQ(Thread->State, Terminated);
    /* It stays signaled. */
    KT_EXPECT_EQ(KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, &Zero),
                 STATUS_SUCCESS);
    KiDereferenceThread(Thread);
}

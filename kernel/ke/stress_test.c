/*
 * stress_test.c - wait/wake storms across processors: a token passed
 * round a ring of threads through synchronization events, producers and
 * consumers through one semaphore, and a notification event opening a
 * gate for many waiters at once, round after round. Every count is
 * checked exactly (no lost or doubled wake), every thread terminates, and
 * the thread count is back at its baseline. Sized to run in a second or
 * two with four processors.
 */
#include <ntddk.h>
#include <ketypes.h>
#include <ktest.h>

#include <ktestthreads.h>

#define RING_THREADS 8
#define RING_LAPS    400

static KEVENT RingEvents[RING_THREADS];
static volatile LONG RingCount;
static volatile LONG RingErrors;

static VOID NTAPI RingWorker(PVOID Context)
{
    ULONG Index = (ULONG)(ULONG_PTR)Context;

    for (ULONG Lap = 0; Lap < RING_LAPS; Lap++) {
        if (KeWaitForSingleObject(&RingEvents[Index], Executive, KernelMode, FALSE, NULL) !=
            STATUS_SUCCESS) {
            __atomic_fetch_add(&RingErrors, 1, __ATOMIC_RELAXED);
        }
        /* Only the token holder runs here: a plain increment would do,
         * the atomic one also catches two holders at once. */
        if ((ULONG)__atomic_add_fetch(&RingCount, 1, __ATOMIC_ACQ_REL) % RING_THREADS !=
            (Index + 1) % RING_THREADS) {
            __atomic_fetch_add(&RingErrors, 1, __ATOMIC_RELAXED);
        }
        KeSetEvent(&RingEvents[(Index + 1) % RING_THREADS], IO_NO_INCREMENT, FALSE);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(ke_stress, token_ring_of_synchronization_events)
{
    PKTHREAD Threads[RING_THREADS];
    LONG ThreadsBefore;

    KT_REQUIRE_THREADS();
    KiReapTerminatedThreads();
    ThreadsBefore = KiQueryThreadCount();
    RingCount = 0;
    RingErrors = 0;
    for (ULONG i = 0; i < RING_THREADS; i++) {
        KeInitializeEvent(&RingEvents[i], SynchronizationEvent, FALSE);
    }
    for (ULONG i = 0; i < RING_THREADS; i++) {
        Threads[i] =
            KtStartThread(RingWorker, (PVOID)(ULONG_PTR)i, KI_DEFAULT_PRIORITY + (i % 3), 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    KeSetEvent(&RingEvents[0], IO_NO_INCREMENT, FALSE);
    for (ULONG i = 0; i < RING_THREADS; i++) {
        KT_EXPECT_SUCCESS(KtJoin(Threads[i]));
    }
    KiReapTerminatedThreads();
    KT_EXPECT_EQ(RingErrors, 0);
    KT_EXPECT_EQ(RingCount, RING_THREADS * RING_LAPS);
    /* The last worker passed the token to thread 0, which has exited. */
    KT_EXPECT_EQ(KeReadStateEvent(&RingEvents[0]), 1);
    /* None of ours is left. A joined thread may still be switching away on another processor
     * before the reaper can take it. */
    for (ULONG Try = 0; Try < 1000 && KiQueryThreadCount() > ThreadsBefore; Try++) {
        KtSleepMs(1);
        KiReapTerminatedThreads();
    }
    /* (Fewer is fine: an earlier test's thread may have been reaped.) */
    KT_EXPECT_LE(KiQueryThreadCount(), ThreadsBefore);
}

#define SEM_PRODUCERS 4
#define SEM_CONSUMERS 4
#define SEM_ITEMS     2000 /* per producer */

static KSEMAPHORE SemItems;
static volatile LONG SemProduced;
static volatile LONG SemConsumed;
static volatile LONG SemErrors;

static VOID NTAPI SemProducer(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (ULONG i = 0; i < SEM_ITEMS; i++) {
        __atomic_fetch_add(&SemProduced, 1, __ATOMIC_RELEASE);
        KeReleaseSemaphore(&SemItems, IO_NO_INCREMENT, 1, FALSE);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID NTAPI SemConsumer(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (ULONG i = 0; i < SEM_ITEMS * SEM_PRODUCERS / SEM_CONSUMERS; i++) {
        if (KeWaitForSingleObject(&SemItems, Executive, KernelMode, FALSE, NULL) !=
            STATUS_SUCCESS) {
            __atomic_fetch_add(&SemErrors, 1, __ATOMIC_RELAXED);
        }
        /* Never more items taken than were produced. */
        if (__atomic_add_fetch(&SemConsumed, 1, __ATOMIC_ACQ_REL) >
            __atomic_load_n(&SemProduced, __ATOMIC_ACQUIRE)) {
            __atomic_fetch_add(&SemErrors, 1, __ATOMIC_RELAXED);
        }
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(ke_stress, semaphore_producers_and_consumers)
{
    PKTHREAD Threads[SEM_PRODUCERS + SEM_CONSUMERS];
    LARGE_INTEGER Zero = { .QuadPart = 0 };

    KT_REQUIRE_THREADS();
    KeInitializeSemaphore(&SemItems, 0, 0x7FFFFFFF);
    SemProduced = SemConsumed = SemErrors = 0;
    for (ULONG i = 0; i < SEM_PRODUCERS + SEM_CONSUMERS; i++) {
        Threads[i] = KtStartThread(i < SEM_CONSUMERS ? SemConsumer : SemProducer, NULL,
                                   KI_DEFAULT_PRIORITY + (i % 2), 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    for (ULONG i = 0; i < SEM_PRODUCERS + SEM_CONSUMERS; i++) {
        KT_EXPECT_SUCCESS(KtJoin(Threads[i]));
    }
    KiReapTerminatedThreads();
    KT_EXPECT_EQ(SemErrors, 0);
    KT_EXPECT_EQ(SemProduced, SEM_PRODUCERS * SEM_ITEMS);
    KT_EXPECT_EQ(SemConsumed, SEM_PRODUCERS * SEM_ITEMS);
    KT_EXPECT_EQ(KeReadStateSemaphore(&SemItems), 0);
    KT_EXPECT_EQ(KeWaitForSingleObject(&SemItems, Executive, KernelMode, FALSE, &Zero),
                 STATUS_TIMEOUT);
}

#define GATE_WAITERS 12
#define GATE_ROUNDS  60

static KEVENT GateOpen;
static KSEMAPHORE GateArrivals;
static volatile LONG GatePassed;
static volatile LONG GateArrived;

static VOID NTAPI GateWaiter(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (ULONG Round = 0; Round < GATE_ROUNDS; Round++) {
        PVOID Objects[2] = { &GateOpen, &GateArrivals };

        /* Arrive, then wait for the gate to open (WaitAll on the gate and
         * this round's arrival ticket mixes both wait kinds). */
        __atomic_fetch_add(&GateArrived, 1, __ATOMIC_ACQ_REL);
        KeWaitForMultipleObjects(2, Objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL);
        __atomic_fetch_add(&GatePassed, 1, __ATOMIC_RELAXED);
        /* Wait for the gate to close before arriving again, so nobody
         * takes a second ticket of the same round. */
        while (KeReadStateEvent(&GateOpen) != 0) {
            KtSleepMs(1);
        }
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(ke_stress, notification_gate_many_waiters)
{
    PKTHREAD Threads[GATE_WAITERS];

    KT_REQUIRE_THREADS();
    KeInitializeEvent(&GateOpen, NotificationEvent, FALSE);
    KeInitializeSemaphore(&GateArrivals, 0, 0x7FFFFFFF);
    GatePassed = GateArrived = 0;
    for (ULONG i = 0; i < GATE_WAITERS; i++) {
        Threads[i] = KtStartThread(GateWaiter, NULL, KI_DEFAULT_PRIORITY, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    for (ULONG Round = 0; Round < GATE_ROUNDS; Round++) {
        while (__atomic_load_n(&GateArrived, __ATOMIC_ACQUIRE) <
               (LONG)((Round + 1) * GATE_WAITERS)) {
            KtSleepMs(1);
        }
        /* Everyone is at (or on the way to) the gate: hand out exactly one
         * ticket each, open, wait until all passed, close. */
        KeReleaseSemaphore(&GateArrivals, IO_NO_INCREMENT, GATE_WAITERS, FALSE);
        KeSetEvent(&GateOpen, IO_NO_INCREMENT, FALSE);
        while (__atomic_load_n(&GatePassed, __ATOMIC_ACQUIRE) <
               (LONG)((Round + 1) * GATE_WAITERS)) {
            KtSleepMs(1);
        }
        KeResetEvent(&GateOpen);
    }
    for (ULONG i = 0; i < GATE_WAITERS; i++) {
        KT_EXPECT_SUCCESS(KtJoin(Threads[i]));
    }
    KiReapTerminatedThreads();
    KT_EXPECT_EQ(GatePassed, GATE_WAITERS * GATE_ROUNDS);
    KT_EXPECT_EQ(KeReadStateSemaphore(&GateArrivals), 0);
}

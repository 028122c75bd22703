/*
 * apc_test.c - ktest cases for kernel APCs: special APCs at APC_LEVEL as
 * soon as the IRQL drops, normal APCs held off by critical regions and
 * delivered on leave, guarded regions holding off both, APCs interrupting
 * a non-alertable wait that then continues with its deadline, APCs to a
 * thread running on another processor, removal, run-down at thread exit
 * and the prepared user-APC path (STATUS_USER_APC).
 */
#include <ktestthreads.h>

typedef struct _KT_APC_RECORD {
    volatile LONG KernelRuns;
    volatile LONG NormalRuns;
    volatile LONG Rundowns;
    KIRQL KernelIrql;
    KIRQL NormalIrql;
    PKTHREAD KernelThread;
    ULONG KernelProcessor;
    PVOID Argument1;
    PVOID NormalContext;
} KT_APC_RECORD;

static KT_APC_RECORD KtApc;

static VOID NTAPI KtKernelRoutine(PKAPC Apc, PKNORMAL_ROUTINE *NormalRoutine, PVOID *NormalContext,
                                  PVOID *SystemArgument1, PVOID *SystemArgument2)
{
    (VOID) Apc;
    (VOID) NormalRoutine;
    (VOID) NormalContext;
    (VOID) SystemArgument2;
    KtApc.KernelIrql = KeGetCurrentIrql();
    KtApc.KernelThread = KeGetCurrentThread();
    KtApc.KernelProcessor = KeGetCurrentProcessorNumber();
    KtApc.Argument1 = *SystemArgument1;
    __atomic_add_fetch(&KtApc.KernelRuns, 1, __ATOMIC_RELEASE);
}

static VOID NTAPI KtNormalRoutine(PVOID NormalContext, PVOID SystemArgument1, PVOID SystemArgument2)
{
    (VOID) SystemArgument1;
    (VOID) SystemArgument2;
    KtApc.NormalIrql = KeGetCurrentIrql();
    KtApc.NormalContext = NormalContext;
    __atomic_add_fetch(&KtApc.NormalRuns, 1, __ATOMIC_RELEASE);
}

static VOID NTAPI KtRundownRoutine(PKAPC Apc)
{
    (VOID) Apc;
    __atomic_add_fetch(&KtApc.Rundowns, 1, __ATOMIC_RELEASE);
}

static VOID KtResetApcRecord(VOID)
{
    memset(&KtApc, 0, sizeof(KtApc));
    KtApc.KernelIrql = 0xFF;
    KtApc.NormalIrql = 0xFF;
}

KTEST(ke_apc, layout)
{
    KT_EXPECT_EQ(sizeof(KAPC), 0x58);
    KT_EXPECT_EQ(offsetof(KAPC, SystemArgument2), 0x48);
    KT_EXPECT_EQ(sizeof(KAPC_STATE), 0x30);
}

KTEST(ke_apc, special_runs_at_apc_level_when_irql_drops)
{
    KAPC Apc;
    KIRQL OldIrql;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KeInitializeApc(&Apc, KeGetCurrentThread(), OriginalApcEnvironment, KtKernelRoutine, NULL, NULL,
                    KernelMode, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KT_EXPECT_TRUE(KeInsertQueueApc(&Apc, (PVOID)0x1234, NULL, 0));
    KT_EXPECT_FALSE(KeInsertQueueApc(&Apc, NULL, NULL, 0)); /* already queued */
    KeLowerIrql(APC_LEVEL);
    KT_EXPECT_EQ(KtApc.KernelRuns, 0);
    KeLowerIrql(OldIrql);
    KT_EXPECT_EQ(KtApc.KernelRuns, 1);
    KT_EXPECT_EQ(KtApc.KernelIrql, APC_LEVEL);
    KT_EXPECT_EQ(KtApc.KernelThread, KeGetCurrentThread());
    KT_EXPECT_EQ(KtApc.Argument1, (PVOID)0x1234);
    KT_EXPECT_FALSE(Apc.Inserted);
}

KTEST(ke_apc, normal_deferred_by_critical_region)
{
    KAPC Normal, Special;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KeInitializeApc(&Normal, KeGetCurrentThread(), OriginalApcEnvironment, KtKernelRoutine, NULL,
                    KtNormalRoutine, KernelMode, (PVOID)0x77);
    KeInitializeApc(&Special, KeGetCurrentThread(), OriginalApcEnvironment, KtKernelRoutine, NULL,
                    NULL, KernelMode, NULL);
    KeEnterCriticalRegion();
    KT_EXPECT_TRUE(KeAreApcsDisabled());
    KT_EXPECT_FALSE(KeAreAllApcsDisabled());
    KT_EXPECT_TRUE(KeInsertQueueApc(&Normal, NULL, NULL, 0));
    KtSleepMs(2);
    KT_EXPECT_EQ(KtApc.KernelRuns, 0);
    KT_EXPECT_EQ(KtApc.NormalRuns, 0);
    /* A special APC is not held off by a critical region. */
    KT_EXPECT_TRUE(KeInsertQueueApc(&Special, NULL, NULL, 0));
    KT_EXPECT_EQ(KtApc.KernelRuns, 1);
    KT_EXPECT_EQ(KtApc.NormalRuns, 0);
    KeLeaveCriticalRegion();
    KT_EXPECT_FALSE(KeAreApcsDisabled());
    KT_EXPECT_EQ(KtApc.KernelRuns, 2);
    KT_EXPECT_EQ(KtApc.NormalRuns, 1);
    KT_EXPECT_EQ(KtApc.KernelIrql, APC_LEVEL);
    KT_EXPECT_EQ(KtApc.NormalIrql, PASSIVE_LEVEL);
    KT_EXPECT_EQ(KtApc.NormalContext, (PVOID)0x77);
}

KTEST(ke_apc, guarded_region_blocks_special)
{
    KAPC Apc;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KeInitializeApc(&Apc, KeGetCurrentThread(), OriginalApcEnvironment, KtKernelRoutine, NULL, NULL,
                    KernelMode, NULL);
    KeEnterGuardedRegion();
    KT_EXPECT_TRUE(KeAreAllApcsDisabled());
    KT_EXPECT_TRUE(KeInsertQueueApc(&Apc, NULL, NULL, 0));
    KtSleepMs(2);
    KT_EXPECT_EQ(KtApc.KernelRuns, 0);
    KeLeaveGuardedRegion();
    KT_EXPECT_FALSE(KeAreAllApcsDisabled());
    KT_EXPECT_EQ(KtApc.KernelRuns, 1);
}

KTEST(ke_apc, remove_queued)
{
    KAPC Apc;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KeInitializeApc(&Apc, KeGetCurrentThread(), OriginalApcEnvironment, KtKernelRoutine, NULL,
                    KtNormalRoutine, KernelMode, NULL);
    KeEnterCriticalRegion();
    KT_EXPECT_TRUE(KeInsertQueueApc(&Apc, NULL, NULL, 0));
    KT_EXPECT_TRUE(KeRemoveQueueApc(&Apc));
    KT_EXPECT_FALSE(KeRemoveQueueApc(&Apc));
    KeLeaveCriticalRegion();
    KT_EXPECT_EQ(KtApc.KernelRuns, 0);
    KT_EXPECT_EQ(KtApc.NormalRuns, 0);
}

/* ---- APCs to other threads ---- */

typedef struct _KT_WAITER {
    KEVENT Event;
    KEVENT Started;
    LONGLONG TimeoutMs; /* 0 = none */
    BOOLEAN Alertable;
    KPROCESSOR_MODE Mode;
    NTSTATUS Status;
    ULONG64 Elapsed; /* ms */
} KT_WAITER;

static VOID NTAPI KtWaiterThread(PVOID Context)
{
    KT_WAITER *Waiter = Context;
    LARGE_INTEGER Timeout = { .QuadPart = -Waiter->TimeoutMs * 10000 };
    ULONG64 Start = KtNowMs();

    KeSetEvent(&Waiter->Started, 0, FALSE);
    Waiter->Status =
        KeWaitForSingleObject(&Waiter->Event, Executive, Waiter->Mode, Waiter->Alertable,
                              Waiter->TimeoutMs != 0 ? &Timeout : NULL);
    Waiter->Elapsed = KtNowMs() - Start;
}

static VOID KtStartWaiter(KT_WAITER *Waiter, LONGLONG TimeoutMs, BOOLEAN Alertable,
                          KPROCESSOR_MODE Mode)
{
    KeInitializeEvent(&Waiter->Event, NotificationEvent, FALSE);
    KeInitializeEvent(&Waiter->Started, NotificationEvent, FALSE);
    Waiter->TimeoutMs = TimeoutMs;
    Waiter->Alertable = Alertable;
    Waiter->Mode = Mode;
    Waiter->Status = STATUS_PENDING;
}

KTEST(ke_apc, interrupts_non_alertable_wait_which_continues)
{
    static KT_WAITER Waiter;
    KAPC Special, Normal;
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KtStartWaiter(&Waiter, 0, FALSE, KernelMode);
    Thread = KtStartThread(KtWaiterThread, &Waiter, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KeWaitForSingleObject(&Waiter.Started, Executive, KernelMode, FALSE, NULL);
    KT_ASSERT_TRUE(KtWaitUntilWaiting(Thread));

    KeInitializeApc(&Special, Thread, OriginalApcEnvironment, KtKernelRoutine, NULL, NULL,
                    KernelMode, NULL);
    KeInitializeApc(&Normal, Thread, OriginalApcEnvironment, KtKernelRoutine, NULL, KtNormalRoutine,
                    KernelMode, (PVOID)0x55);
    KT_EXPECT_TRUE(KeInsertQueueApc(&Special, NULL, NULL, 0));
    KT_EXPECT_TRUE(KeInsertQueueApc(&Normal, NULL, NULL, 0));
    {
        ULONG64 End = KtNowMs() + 2000;
        while (KtApc.NormalRuns == 0 && KtNowMs() < End) {
            KtSleepMs(1);
        }
    }
    KT_EXPECT_EQ(KtApc.KernelRuns, 2);
    KT_EXPECT_EQ(KtApc.NormalRuns, 1);
    KT_EXPECT_EQ(KtApc.KernelThread, Thread);
    KT_EXPECT_EQ(KtApc.NormalIrql, PASSIVE_LEVEL);
    /* The wait went on: still not satisfied. */
    KT_EXPECT_TRUE(KtWaitUntilWaiting(Thread));
    KT_EXPECT_EQ(Waiter.Status, STATUS_PENDING);
    KeSetEvent(&Waiter.Event, 0, FALSE);
    KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
    KT_EXPECT_EQ(Waiter.Status, STATUS_SUCCESS);
}

KTEST(ke_apc, restarted_wait_keeps_its_deadline)
{
    /* Long enough that a loaded host cannot let it expire before the three
     * APCs are in (150 ms did, under a load of 6 on 2 processors), with the
     * APCs far enough apart that a late wake-up (56 ms seen with four
     * hosted processors on two) is not taken for a restarted wait. */
    enum { Timeout = 1000, ApcGapMs = 100 };
    static KT_WAITER Waiter;
    KAPC Apc[3];
    PKTHREAD Thread;
    ULONG64 Started, LastApc;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KtStartWaiter(&Waiter, Timeout, FALSE, KernelMode);
    Thread = KtStartThread(KtWaiterThread, &Waiter, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KeWaitForSingleObject(&Waiter.Started, Executive, KernelMode, FALSE, NULL);
    Started = KtNowMs();
    for (ULONG i = 0; i < 3; i++) {
        KT_ASSERT_TRUE(KtWaitUntilWaiting(Thread));
        KtSleepMs(ApcGapMs);
        KeInitializeApc(&Apc[i], Thread, OriginalApcEnvironment, KtKernelRoutine, NULL, NULL,
                        KernelMode, NULL);
        KT_EXPECT_TRUE(KeInsertQueueApc(&Apc[i], NULL, NULL, 0));
    }
    LastApc = KtNowMs() - Started;
    KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
    KT_EXPECT_EQ(KtApc.KernelRuns, 3);
    KT_EXPECT_EQ(Waiter.Status, STATUS_TIMEOUT);
    /* One deadline, not restarted from each APC: a restarted wait would
     * end at least Timeout after the last APC (>= 300 ms in). */
    KT_EXPECT_GE(Waiter.Elapsed, Timeout - 10);
    KT_EXPECT_LT(Waiter.Elapsed, Timeout + LastApc * 3 / 4);
}

typedef struct _KT_SPINNER {
    volatile LONG Stop;
    volatile LONG Running;
    ULONG Processor;
} KT_SPINNER;

static VOID NTAPI KtSpinnerThread(PVOID Context)
{
    KT_SPINNER *Spinner = Context;
    ULONG64 End = KtNowMs() + 3000;

    Spinner->Processor = KeGetCurrentProcessorNumber();
    __atomic_store_n(&Spinner->Running, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&Spinner->Stop, __ATOMIC_ACQUIRE) && KtNowMs() < End) {
        KiArchSpinWait();
    }
}

KTEST(ke_apc, to_thread_running_on_another_processor)
{
    static KT_SPINNER Spinner;
    KAFFINITY Other;
    PKTHREAD Thread;
    KAPC Apc;

    KT_REQUIRE_THREADS();
    if (KeQueryActiveProcessorCount(NULL) < 2) {
        KT_SKIP("needs two processors");
    }
    KtResetApcRecord();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Other = KeQueryActiveProcessors() & ~KtThisProcessor();
    Other &= ~(Other - 1);
    memset(&Spinner, 0, sizeof(Spinner));
    Thread = KtStartThread(KtSpinnerThread, &Spinner, 9, Other);
    KT_ASSERT_NOT_NULL(Thread);
    while (!__atomic_load_n(&Spinner.Running, __ATOMIC_ACQUIRE)) {
        KtSleepMs(1);
    }
    KeInitializeApc(&Apc, Thread, OriginalApcEnvironment, KtKernelRoutine, NULL, KtNormalRoutine,
                    KernelMode, NULL);
    KT_EXPECT_TRUE(KeInsertQueueApc(&Apc, NULL, NULL, 0));
    {
        ULONG64 End = KtNowMs() + 2000;
        while (KtApc.NormalRuns == 0 && KtNowMs() < End) {
            KtSleepMs(1);
        }
    }
    /* Delivered while it spins, by an IPI, in its context. */
    KT_EXPECT_EQ(KtApc.NormalRuns, 1);
    KT_EXPECT_EQ(KtApc.KernelThread, Thread);
    KT_EXPECT_EQ((KAFFINITY)1 << KtApc.KernelProcessor, Other);
    __atomic_store_n(&Spinner.Stop, 1, __ATOMIC_RELEASE);
    KtJoin(Thread);
    KeRevertToUserAffinityThreadEx(0);
}

static KAPC KtExitApc;

static VOID NTAPI KtExitInCriticalRegion(PVOID Context)
{
    KEVENT *Queued = Context;
    KeEnterCriticalRegion();
    KeWaitForSingleObject(Queued, Executive, KernelMode, FALSE, NULL);
    /* Ends without leaving: the queued normal APC cannot run. */
}

KTEST(ke_apc, rundown_at_thread_exit)
{
    static KEVENT Queued;
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KeInitializeEvent(&Queued, NotificationEvent, FALSE);
    Thread = KtStartThread(KtExitInCriticalRegion, &Queued, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KT_ASSERT_TRUE(KtWaitUntilWaiting(Thread));
    KeInitializeApc(&KtExitApc, Thread, OriginalApcEnvironment, KtKernelRoutine, KtRundownRoutine,
                    KtNormalRoutine, KernelMode, NULL);
    KT_EXPECT_TRUE(KeInsertQueueApc(&KtExitApc, NULL, NULL, 0));
    KeSetEvent(&Queued, 0, FALSE);
    KtJoin(Thread);
    KT_EXPECT_EQ(KtApc.KernelRuns, 0);
    KT_EXPECT_EQ(KtApc.Rundowns, 1);
    KT_EXPECT_FALSE(KtExitApc.Inserted);
}

KTEST(ke_apc, user_apc_ends_alertable_user_wait)
{
    static KT_WAITER Waiter;
    static KAPC Apc;
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    KtResetApcRecord();
    KtStartWaiter(&Waiter, 0, TRUE, UserMode);
    Thread = KtStartThread(KtWaiterThread, &Waiter, 9, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KT_ASSERT_TRUE(KtWaitUntilWaiting(Thread));
    KeInitializeApc(&Apc, Thread, OriginalApcEnvironment, KtKernelRoutine, KtRundownRoutine,
                    KtNormalRoutine, UserMode, NULL);
    KT_EXPECT_TRUE(KeInsertQueueApc(&Apc, NULL, NULL, 0));
    KtJoin(Thread);
    KT_EXPECT_EQ(Waiter.Status, STATUS_USER_APC);
    /* No user mode yet: it was never run, and ran down at exit. */
    KT_EXPECT_EQ(KtApc.KernelRuns, 0);
    KT_EXPECT_EQ(KtApc.NormalRuns, 0);
    KT_EXPECT_EQ(KtApc.Rundowns, 1);
}

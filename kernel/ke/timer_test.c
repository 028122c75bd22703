/*
 * timer_test.c - ktest cases for timers (one-shot, periodic, with a DPC,
 * cancel, synchronization timers) and DPCs (delivery when IRQL drops,
 * importance order, double insertion, removal, targeted DPCs).
 */
#include <ktestthreads.h>

static volatile ULONG KtDpcProcessor;

static VOID NTAPI KtCountDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    (VOID) Dpc;
    (VOID) Argument1;
    (VOID) Argument2;
    KtDpcProcessor = KeGetCurrentProcessorNumber();
    if (KeGetCurrentIrql() == DISPATCH_LEVEL) {
        __atomic_add_fetch((volatile LONG *)Context, 1, __ATOMIC_RELAXED);
    }
}

KTEST(ke_timer, one_shot_signals_once)
{
    KTIMER Timer;
    LARGE_INTEGER Due = { .QuadPart = -3 * 10000 };
    ULONG64 Start;

    KT_REQUIRE_THREADS();
    KeInitializeTimer(&Timer);
    KT_EXPECT_FALSE(KeReadStateTimer(&Timer));
    Start = KeQueryInterruptTime();
    KT_EXPECT_FALSE(KeSetTimer(&Timer, Due, NULL));
    KT_EXPECT_EQ(KeWaitForSingleObject(&Timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    KT_EXPECT_GE(KeQueryInterruptTime() - Start, 3 * 10000);
    KT_EXPECT_TRUE(KeReadStateTimer(&Timer));
    /* A notification timer stays signaled; it is no longer queued. */
    KT_EXPECT_EQ(KeWaitForSingleObject(&Timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    KT_EXPECT_FALSE(KeCancelTimer(&Timer));
}

/* The wait that a synchronization timer satisfies resets it (a one-shot
 * timer, so no later expiration can set it again before the read). */
KTEST(ke_timer, sync_timer_reset_by_wait)
{
    KTIMER Timer;
    LARGE_INTEGER Due = { .QuadPart = -2 * 10000 };

    KT_REQUIRE_THREADS();
    KeInitializeTimerEx(&Timer, SynchronizationTimer);
    KT_EXPECT_FALSE(KeSetTimer(&Timer, Due, NULL));
    KT_EXPECT_EQ(KeWaitForSingleObject(&Timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    KT_EXPECT_FALSE(KeReadStateTimer(&Timer));
}

KTEST(ke_timer, cancel_before_expiry)
{
    KTIMER Timer;
    LARGE_INTEGER Due = { .QuadPart = -20 * 10000 };

    KeInitializeTimer(&Timer);
    KeSetTimer(&Timer, Due, NULL);
    /* Setting again reports that it was queued. */
    KT_EXPECT_TRUE(KeSetTimer(&Timer, Due, NULL));
    KT_EXPECT_TRUE(KeCancelTimer(&Timer));
    KT_EXPECT_FALSE(KeCancelTimer(&Timer));
    KT_EXPECT_FALSE(KeReadStateTimer(&Timer));
}

KTEST(ke_timer, periodic_with_dpc)
{
    KTIMER Timer;
    KDPC Dpc;
    LARGE_INTEGER Due = { .QuadPart = -2 * 10000 };
    volatile LONG Count = 0;
    ULONG64 End;

    KT_REQUIRE_THREADS();
    KeInitializeTimerEx(&Timer, SynchronizationTimer);
    KeInitializeDpc(&Dpc, KtCountDpc, (PVOID)&Count);
    KeSetTimerEx(&Timer, Due, 2, &Dpc);
    /* A synchronization timer is taken by each wait: three expirations.
     * (Its state between them is not checked here: with a 2 ms period the
     * next expiration may already have come; sync_timer_reset_by_wait.) */
    for (ULONG i = 0; i < 3; i++) {
        KT_EXPECT_EQ(KeWaitForSingleObject(&Timer, Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
    }
    End = KeQueryInterruptTime() + 50 * 10000;
    while (Count < 4 && KeQueryInterruptTime() < End) {
        KtSleepMs(1);
    }
    KT_EXPECT_TRUE(KeCancelTimer(&Timer));
    KT_EXPECT_GE(Count, 4);
    KeFlushQueuedDpcs();
}

KTEST(ke_timer, already_due_expires_at_once)
{
    KTIMER Timer;
    KDPC Dpc;
    LARGE_INTEGER Past;
    volatile LONG Count = 0;

    KeInitializeTimer(&Timer);
    KeInitializeDpc(&Dpc, KtCountDpc, (PVOID)&Count);
    KeQuerySystemTime(&Past);
    Past.QuadPart -= 10000;
    KeSetTimer(&Timer, Past, &Dpc);
    KT_EXPECT_TRUE(KeReadStateTimer(&Timer));
    KT_EXPECT_EQ(Count, 1);
}

KTEST(ke_dpc, runs_when_irql_drops)
{
    KDPC Dpc;
    volatile LONG Count = 0;
    KIRQL Old;

    KeInitializeDpc(&Dpc, KtCountDpc, (PVOID)&Count);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KT_EXPECT_TRUE(KeInsertQueueDpc(&Dpc, NULL, NULL));
    KT_EXPECT_FALSE(KeInsertQueueDpc(&Dpc, NULL, NULL)); /* already queued */
    KT_EXPECT_EQ(Count, 0);
    KeLowerIrql(Old);
    KT_EXPECT_EQ(Count, 1);
    /* At PASSIVE_LEVEL it runs at once. */
    KT_EXPECT_TRUE(KeInsertQueueDpc(&Dpc, NULL, NULL));
    KT_EXPECT_EQ(Count, 2);
}

KTEST(ke_dpc, remove_from_queue)
{
    KDPC Dpc;
    volatile LONG Count = 0;
    KIRQL Old;

    KeInitializeDpc(&Dpc, KtCountDpc, (PVOID)&Count);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KeInsertQueueDpc(&Dpc, NULL, NULL);
    KT_EXPECT_TRUE(KeRemoveQueueDpc(&Dpc));
    KT_EXPECT_FALSE(KeRemoveQueueDpc(&Dpc));
    KeLowerIrql(Old);
    KT_EXPECT_EQ(Count, 0);
}

static CHAR KtDpcOrder[8];
static volatile LONG KtDpcOrderCount;

static VOID NTAPI KtOrderDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    (VOID) Dpc;
    (VOID) Argument1;
    (VOID) Argument2;
    KtDpcOrder[KtDpcOrderCount++] = (CHAR)(ULONG_PTR)Context;
}

KTEST(ke_dpc, importance_orders_the_queue)
{
    KDPC Low, Medium1, Medium2, High;
    KIRQL Old;

    KeInitializeDpc(&Low, KtOrderDpc, (PVOID)'l');
    KeInitializeDpc(&Medium1, KtOrderDpc, (PVOID)'m');
    KeInitializeDpc(&Medium2, KtOrderDpc, (PVOID)'n');
    KeInitializeDpc(&High, KtOrderDpc, (PVOID)'h');
    KeSetImportanceDpc(&Low, LowImportance);
    KeSetImportanceDpc(&High, HighImportance);
    KtDpcOrderCount = 0;
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KeInsertQueueDpc(&Low, NULL, NULL);
    KeInsertQueueDpc(&Medium1, NULL, NULL);
    KeInsertQueueDpc(&High, NULL, NULL);
    KeInsertQueueDpc(&Medium2, NULL, NULL);
    KeLowerIrql(Old);
    KT_ASSERT_EQ(KtDpcOrderCount, 4);
    KT_EXPECT_EQ(KtDpcOrder[0], 'h');
    KT_EXPECT_EQ(KtDpcOrder[1], 'l');
    KT_EXPECT_EQ(KtDpcOrder[2], 'm');
    KT_EXPECT_EQ(KtDpcOrder[3], 'n');
}

KTEST(ke_dpc, targeted_runs_on_its_processor)
{
    KAFFINITY Active = KeQueryActiveProcessors();
    KDPC Dpc;
    volatile LONG Count = 0;

    KT_REQUIRE_THREADS();
    for (ULONG n = 0; n < MAXIMUM_PROCESSORS; n++) {
        ULONG64 End;
        if (!(Active & ((KAFFINITY)1 << n))) {
            continue;
        }
        KeInitializeDpc(&Dpc, KtCountDpc, (PVOID)&Count);
        KeSetTargetProcessorDpc(&Dpc, (CCHAR)n);
        Count = 0;
        KtDpcProcessor = ~0u;
        KT_EXPECT_TRUE(KeInsertQueueDpc(&Dpc, NULL, NULL));
        End = KeQueryInterruptTime() + 100 * 10000;
        while (Count == 0 && KeQueryInterruptTime() < End) {
            KtSleepMs(1);
        }
        KT_EXPECT_EQ(Count, 1);
        KT_EXPECT_EQ(KtDpcProcessor, n);
    }
    KeFlushQueuedDpcs();
}

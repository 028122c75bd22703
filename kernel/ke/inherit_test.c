/*
 * inherit_test.c - ktest cases for priority inheritance: the classic
 * inversion (low-priority owner, high-priority waiter, medium-priority CPU
 * hog, all on one processor) starves the high thread without inheritance
 * and not with it (KMUTANT by itself, an ownerless lock through
 * KiBoostOwnerPriority); later higher waiters raise the boost, a waiter
 * that gives up lowers it, the release removes it; the executive routines'
 * rules (only rises, capped at 31, removed to the normal priority).
 */
#include <ktestthreads.h>

#define KT_LOW     4
#define KT_MEDIUM  8
#define KT_HIGH    12
#define KT_HOG_MS  200
#define KT_WORK_MS 20

typedef enum _KT_LOCK_KIND { KtMutant, KtEventNoInheritance, KtEventWithBoost } KT_LOCK_KIND;

typedef struct _KT_INVERSION {
    KT_LOCK_KIND Kind;
    KMUTANT Mutant;
    KEVENT Lock; /* synchronization event as an ownerless lock */
    KEVENT Owned;
    PKTHREAD Owner;
    volatile LONG Sequence;
    LONG LowDone, HighDone, MediumDone;
    KPRIORITY LowPeak;  /* highest priority Low saw while owning */
    KPRIORITY LowAfter; /* Low's priority after releasing */
} KT_INVERSION;

static KT_INVERSION KtInv;

static LONG KtNext(VOID)
{
    return __atomic_add_fetch(&KtInv.Sequence, 1, __ATOMIC_RELAXED);
}

static VOID NTAPI KtLowThread(PVOID Context)
{
    PKTHREAD Self = KeGetCurrentThread();
    ULONG64 End;

    (VOID) Context;
    if (KtInv.Kind == KtMutant) {
        KeWaitForSingleObject(&KtInv.Mutant, Executive, KernelMode, FALSE, NULL);
    } else {
        KeWaitForSingleObject(&KtInv.Lock, Executive, KernelMode, FALSE, NULL);
    }
    KtInv.Owner = Self;
    KeSetEvent(&KtInv.Owned, 0, FALSE);
    /* The work done while owning, measured in CPU it actually gets. */
    End = KeQueryInterruptTime() + KT_WORK_MS * 10000ull;
    while (KeQueryInterruptTime() < End) {
        KPRIORITY Now = KeQueryPriorityThread(Self);
        if (Now > KtInv.LowPeak) {
            KtInv.LowPeak = Now;
        }
        KiArchSpinWait();
    }
    KtInv.LowDone = KtNext();
    if (KtInv.Kind == KtMutant) {
        KeReleaseMutant(&KtInv.Mutant, 0, FALSE, FALSE);
    } else {
        /* Release first, then drop the boost: the waiter is ready before
         * the owner falls below the hog. */
        KeSetEvent(&KtInv.Lock, 0, FALSE);
        if (KtInv.Kind == KtEventWithBoost) {
            KiRemoveOwnerBoost(Self);
        }
    }
    KtInv.LowAfter = KeQueryPriorityThread(Self);
}

static VOID NTAPI KtMediumThread(PVOID Context)
{
    (VOID) Context;
    KtSpinMs(KT_HOG_MS);
    KtInv.MediumDone = KtNext();
}

static VOID NTAPI KtHighThread(PVOID Context)
{
    (VOID) Context;
    if (KtInv.Kind == KtMutant) {
        KeWaitForSingleObject(&KtInv.Mutant, Executive, KernelMode, FALSE, NULL);
        KtInv.HighDone = KtNext();
        KeReleaseMutant(&KtInv.Mutant, 0, FALSE, FALSE);
    } else {
        if (KtInv.Kind == KtEventWithBoost) {
            /* What an executive lock does before it blocks. */
            KiBoostOwnerPriority(KtInv.Owner, KeQueryPriorityThread(KeGetCurrentThread()));
        }
        KeWaitForSingleObject(&KtInv.Lock, Executive, KernelMode, FALSE, NULL);
        KtInv.HighDone = KtNext();
        KeSetEvent(&KtInv.Lock, 0, FALSE);
    }
}

/* Runs the scenario on this processor: the test thread (priority 30)
 * starts Low and lets it take the lock, readies Medium and High, then
 * blocks until all three end. */
static VOID KtRunInversion(KT_LOCK_KIND Kind)
{
    PKTHREAD Self = KeGetCurrentThread(), Low, Medium, High;
    KAFFINITY Here;
    KPRIORITY Old;

    memset(&KtInv, 0, sizeof(KtInv));
    KtInv.Kind = Kind;
    KeInitializeMutant(&KtInv.Mutant, FALSE);
    KeInitializeEvent(&KtInv.Lock, SynchronizationEvent, TRUE);
    KeInitializeEvent(&KtInv.Owned, NotificationEvent, FALSE);
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Here = KtThisProcessor();
    Old = KeSetPriorityThread(Self, 30);

    Low = KtStartThread(KtLowThread, NULL, KT_LOW, Here);
    KeWaitForSingleObject(&KtInv.Owned, Executive, KernelMode, FALSE, NULL);
    Medium = KtStartThread(KtMediumThread, NULL, KT_MEDIUM, Here);
    High = KtStartThread(KtHighThread, NULL, KT_HIGH, Here);
    if (Low != NULL) {
        KtJoin(Low);
    }
    if (Medium != NULL) {
        KtJoin(Medium);
    }
    if (High != NULL) {
        KtJoin(High);
    }
    KeSetPriorityThread(Self, Old);
    KeRevertToUserAffinityThreadEx(0);
}

KTEST(ke_inherit, inversion_without_inheritance_starves_high)
{
    KT_REQUIRE_THREADS();
    KtRunInversion(KtEventNoInheritance);
    /* The hog ran first; the owner and then the high thread waited. */
    KT_EXPECT_EQ(KtInv.MediumDone, 1);
    KT_EXPECT_EQ(KtInv.LowDone, 2);
    KT_EXPECT_EQ(KtInv.HighDone, 3);
    KT_EXPECT_EQ(KtInv.LowPeak, KT_LOW);
}

KTEST(ke_inherit, mutant_owner_inherits_waiter_priority)
{
    KT_REQUIRE_THREADS();
    KtRunInversion(KtMutant);
    KT_EXPECT_EQ(KtInv.LowDone, 1);
    KT_EXPECT_EQ(KtInv.HighDone, 2);
    KT_EXPECT_EQ(KtInv.MediumDone, 3);
    KT_EXPECT_EQ(KtInv.LowPeak, KT_HIGH);
    KT_EXPECT_EQ(KtInv.LowAfter, KT_LOW); /* removed on release */
}

KTEST(ke_inherit, executive_boost_resolves_inversion)
{
    KT_REQUIRE_THREADS();
    KtRunInversion(KtEventWithBoost);
    KT_EXPECT_EQ(KtInv.LowDone, 1);
    KT_EXPECT_EQ(KtInv.HighDone, 2);
    KT_EXPECT_EQ(KtInv.MediumDone, 3);
    KT_EXPECT_EQ(KtInv.LowPeak, KT_HIGH);
    KT_EXPECT_EQ(KtInv.LowAfter, KT_LOW);
}

typedef struct _KT_MUTANT_WAITER {
    PKMUTANT Mutant;
    LONGLONG TimeoutMs;
    NTSTATUS Status;
} KT_MUTANT_WAITER;

static VOID NTAPI KtMutantWaiter(PVOID Context)
{
    KT_MUTANT_WAITER *Waiter = Context;
    LARGE_INTEGER Timeout = { .QuadPart = -Waiter->TimeoutMs * 10000 };

    Waiter->Status = KeWaitForSingleObject(Waiter->Mutant, Executive, KernelMode, FALSE,
                                           Waiter->TimeoutMs != 0 ? &Timeout : NULL);
    if (Waiter->Status == STATUS_SUCCESS) {
        KeReleaseMutant(Waiter->Mutant, 0, FALSE, FALSE);
    }
}

KTEST(ke_inherit, later_waiters_raise_and_leaving_lowers)
{
    static KMUTANT Mutant;
    static KT_MUTANT_WAITER W1, W2;
    PKTHREAD Self = KeGetCurrentThread(), T1, T2;
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    KeSetSystemAffinityThreadEx(KtThisProcessor());
    Old = KeSetPriorityThread(Self, 4);
    KeInitializeMutant(&Mutant, TRUE);

    /* Each waiter preempts us (higher, same processor) and blocks. */
    W1 = (KT_MUTANT_WAITER){ .Mutant = &Mutant, .TimeoutMs = 0 };
    T1 = KtStartThread(KtMutantWaiter, &W1, 6, KtThisProcessor());
    KT_ASSERT_NOT_NULL(T1);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 6);
    W2 = (KT_MUTANT_WAITER){ .Mutant = &Mutant, .TimeoutMs = 40 };
    T2 = KtStartThread(KtMutantWaiter, &W2, 10, KtThisProcessor());
    KT_ASSERT_NOT_NULL(T2);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 10);

    /* W2 gives up: back to the highest remaining waiter. */
    KtJoin(T2);
    KT_EXPECT_EQ(W2.Status, STATUS_TIMEOUT);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 6);

    KeReleaseMutant(&Mutant, 0, FALSE, FALSE);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 4);
    KtJoin(T1);
    KT_EXPECT_EQ(W1.Status, STATUS_SUCCESS);
    KeSetPriorityThread(Self, Old);
    KeRevertToUserAffinityThreadEx(0);
}

KTEST(ke_inherit, executive_boost_rules)
{
    PKTHREAD Self = KeGetCurrentThread();
    KPRIORITY Old;

    KT_REQUIRE_THREADS();
    Old = KeSetPriorityThread(Self, 7);
    KiBoostOwnerPriority(Self, 11);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 11);
    KiBoostOwnerPriority(Self, 9); /* only rises */
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 11);
    KiBoostOwnerPriority(Self, 20); /* into the real-time range */
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 20);
    KiBoostOwnerPriority(Self, 40); /* capped */
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), HIGH_PRIORITY);
    KiRemoveOwnerBoost(Self);
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 7);
    KiRemoveOwnerBoost(Self); /* idempotent */
    KT_EXPECT_EQ(KeQueryPriorityThread(Self), 7);
    KeSetPriorityThread(Self, Old);
}

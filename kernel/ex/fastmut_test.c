/*
 * fastmut_test.c - ktest cases for FAST_MUTEX and KGUARDED_MUTEX: IRQL and
 * APC-disable effects, try-acquire, mutual exclusion under contention from
 * 4 threads, ownership boost of a low-priority owner, and the misuse stop
 * codes (above APC_LEVEL, recursion, release by a non-owner).
 */
#include <ktestthreads.h>
#include "exsyncp.h"

KTEST(ex_fastmutex, layout_and_irql)
{
    FAST_MUTEX Mutex;

    KT_EXPECT_EQ(sizeof(FAST_MUTEX), 0x38);
    KT_EXPECT_EQ(sizeof(KGUARDED_MUTEX), 0x38);
    ExInitializeFastMutex(&Mutex);
    KT_EXPECT_EQ(Mutex.Count, 1);
    ExAcquireFastMutex(&Mutex);
    KT_EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KT_EXPECT_EQ(Mutex.Owner, (PVOID)KeGetCurrentThread());
    KT_EXPECT_EQ(Mutex.Count, 0);
    KT_EXPECT_FALSE(ExTryToAcquireFastMutex(&Mutex));
    KT_EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    ExReleaseFastMutex(&Mutex);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KT_EXPECT_EQ(Mutex.Count, 1);
    KT_EXPECT_NULL(Mutex.Owner);

    KT_EXPECT_TRUE(ExTryToAcquireFastMutex(&Mutex));
    KT_EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    ExReleaseFastMutex(&Mutex);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);

    KeEnterCriticalRegion();
    ExAcquireFastMutexUnsafe(&Mutex);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KT_EXPECT_EQ(Mutex.Count, 0);
    ExReleaseFastMutexUnsafe(&Mutex);
    KeLeaveCriticalRegion();
    KT_EXPECT_EQ(Mutex.Count, 1);
}

KTEST(ex_guardedmutex, guarded_region)
{
    KGUARDED_MUTEX Mutex;
    PKTHREAD Thread = KeGetCurrentThread();
    LONG Special = Thread->SpecialApcDisable;

    KeInitializeGuardedMutex(&Mutex);
    KeAcquireGuardedMutex(&Mutex);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KT_EXPECT_EQ(Thread->SpecialApcDisable, Special - 1);
    KT_EXPECT_TRUE(KeAreAllApcsDisabled());
    KT_EXPECT_EQ(Mutex.Owner, Thread);
    KT_EXPECT_FALSE(KeTryToAcquireGuardedMutex(&Mutex));
    KT_EXPECT_EQ(Thread->SpecialApcDisable, Special - 1);
    KeReleaseGuardedMutex(&Mutex);
    KT_EXPECT_EQ(Thread->SpecialApcDisable, Special);
    KT_EXPECT_TRUE(KeTryToAcquireGuardedMutex(&Mutex));
    KeReleaseGuardedMutex(&Mutex);

    KeEnterGuardedRegion();
    KeAcquireGuardedMutexUnsafe(&Mutex);
    KT_EXPECT_EQ(Thread->SpecialApcDisable, Special - 1);
    KeReleaseGuardedMutexUnsafe(&Mutex);
    KeLeaveGuardedRegion();
    KT_EXPECT_EQ(Thread->SpecialApcDisable, Special);
}

/* ---- contention: a non-atomic counter under each mutex kind ---- */

#define KT_FM_THREADS    4
#define KT_FM_ITERATIONS 3000

typedef struct _KT_FM_SHARED {
    FAST_MUTEX Fast;
    KGUARDED_MUTEX Guarded;
    volatile ULONG64 FastCounter;
    volatile ULONG64 GuardedCounter;
    volatile LONG Inside;
    volatile LONG Overlaps;
} KT_FM_SHARED;

static VOID NTAPI KtFastMutexWorker(PVOID Context)
{
    KT_FM_SHARED *Shared = Context;

    for (ULONG i = 0; i < KT_FM_ITERATIONS; i++) {
        ExAcquireFastMutex(&Shared->Fast);
        if (__atomic_add_fetch(&Shared->Inside, 1, __ATOMIC_SEQ_CST) != 1) {
            __atomic_add_fetch(&Shared->Overlaps, 1, __ATOMIC_RELAXED);
        }
        ULONG64 Value = Shared->FastCounter;
        if ((i & 63) == 0) {
            KiArchSpinWait(); /* widen the window */
        }
        Shared->FastCounter = Value + 1;
        __atomic_sub_fetch(&Shared->Inside, 1, __ATOMIC_SEQ_CST);
        ExReleaseFastMutex(&Shared->Fast);

        KeAcquireGuardedMutex(&Shared->Guarded);
        Value = Shared->GuardedCounter;
        Shared->GuardedCounter = Value + 1;
        KeReleaseGuardedMutex(&Shared->Guarded);
    }
}

KTEST(ex_fastmutex, mutual_exclusion_4_threads)
{
    static KT_FM_SHARED Shared;
    PKTHREAD Threads[KT_FM_THREADS];

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&Shared, sizeof(Shared));
    ExInitializeFastMutex(&Shared.Fast);
    KeInitializeGuardedMutex(&Shared.Guarded);
    for (ULONG i = 0; i < KT_FM_THREADS; i++) {
        Threads[i] = KtStartThread(KtFastMutexWorker, &Shared, 8, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    for (ULONG i = 0; i < KT_FM_THREADS; i++) {
        KtJoin(Threads[i]);
    }
    KT_EXPECT_EQ(Shared.FastCounter, (ULONG64)KT_FM_THREADS * KT_FM_ITERATIONS);
    KT_EXPECT_EQ(Shared.GuardedCounter, (ULONG64)KT_FM_THREADS * KT_FM_ITERATIONS);
    KT_EXPECT_EQ(Shared.Overlaps, 0);
    KT_EXPECT_EQ(Shared.Fast.Count, 1);
    KT_EXPECT_EQ(Shared.Guarded.Count, 1);
}

/* ---- ownership boost: a priority-4 owner, a priority-14 waiter ---- */

typedef struct _KT_FM_BOOST {
    FAST_MUTEX Mutex;
    KEVENT Owned;
    KEVENT Release;
    KEVENT Acquired;
    volatile KPRIORITY OwnerPriorityWhileWaited;
    volatile KPRIORITY OwnerPriorityAfter;
} KT_FM_BOOST;

static VOID NTAPI KtBoostOwner(PVOID Context)
{
    KT_FM_BOOST *Boost = Context;

    ExAcquireFastMutex(&Boost->Mutex);
    KeSetEvent(&Boost->Owned, 0, FALSE);
    KeWaitForSingleObject(&Boost->Release, Executive, KernelMode, FALSE, NULL);
    Boost->OwnerPriorityWhileWaited = KeQueryPriorityThread(KeGetCurrentThread());
    ExReleaseFastMutex(&Boost->Mutex);
    Boost->OwnerPriorityAfter = KeQueryPriorityThread(KeGetCurrentThread());
}

static VOID NTAPI KtBoostWaiter(PVOID Context)
{
    KT_FM_BOOST *Boost = Context;

    ExAcquireFastMutex(&Boost->Mutex);
    KeSetEvent(&Boost->Acquired, 0, FALSE);
    ExReleaseFastMutex(&Boost->Mutex);
}

KTEST(ex_fastmutex, owner_boosted_to_waiter)
{
    static KT_FM_BOOST Boost;
    PKTHREAD Owner, Waiter;

    KT_REQUIRE_THREADS();
    ExInitializeFastMutex(&Boost.Mutex);
    KeInitializeEvent(&Boost.Owned, NotificationEvent, FALSE);
    KeInitializeEvent(&Boost.Release, NotificationEvent, FALSE);
    KeInitializeEvent(&Boost.Acquired, NotificationEvent, FALSE);
    Owner = KtStartThread(KtBoostOwner, &Boost, 4, 0);
    KT_ASSERT_NOT_NULL(Owner);
    KeWaitForSingleObject(&Boost.Owned, Executive, KernelMode, FALSE, NULL);
    Waiter = KtStartThread(KtBoostWaiter, &Boost, 14, 0);
    KT_ASSERT_NOT_NULL(Waiter);
    /* Wait until the waiter is blocked on the mutex. */
    for (ULONG i = 0; i < 1000 && Boost.Mutex.Count == 0; i++) {
        KtSleepMs(1);
    }
    KT_EXPECT_LT(Boost.Mutex.Count, 0);
    KtSleepMs(5);
    KT_EXPECT_GE(KeQueryPriorityThread(Owner), 14);
    KeSetEvent(&Boost.Release, 0, FALSE);
    KT_EXPECT_STATUS(KtJoin(Owner), STATUS_SUCCESS);
    KtJoin(Waiter);
    KT_EXPECT_GE(Boost.OwnerPriorityWhileWaited, 14);
    KT_EXPECT_LT(Boost.OwnerPriorityAfter, 14);
    KT_EXPECT_EQ(KeReadStateEvent(&Boost.Acquired), 1);
    KT_EXPECT_EQ(Boost.Mutex.Count, 1);
}

/* ---- misuse ---- */

KTEST_BUGCHECK(ex_fastmutex_misuse, acquire_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static FAST_MUTEX Mutex;
    KIRQL Old;

    ExInitializeFastMutex(&Mutex);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    ExAcquireFastMutex(&Mutex);
}

KTEST_BUGCHECK(ex_fastmutex_misuse, recursive_acquire, MUTEX_ALREADY_OWNED)
{
    static FAST_MUTEX Mutex;

    ExInitializeFastMutex(&Mutex);
    ExAcquireFastMutex(&Mutex);
    ExAcquireFastMutex(&Mutex);
}

KTEST_BUGCHECK(ex_fastmutex_misuse, release_not_owned, THREAD_NOT_MUTEX_OWNER)
{
    static FAST_MUTEX Mutex;

    ExInitializeFastMutex(&Mutex);
    ExReleaseFastMutex(&Mutex);
}

KTEST_BUGCHECK(ex_fastmutex_misuse, guarded_recursive_acquire, MUTEX_ALREADY_OWNED)
{
    static KGUARDED_MUTEX Mutex;

    KeInitializeGuardedMutex(&Mutex);
    KeAcquireGuardedMutex(&Mutex);
    KeAcquireGuardedMutex(&Mutex);
}

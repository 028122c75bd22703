/*
 * spinlock_test.c - ktest cases for spin locks: IRQL on acquire and
 * release, the DPC-level forms, try-acquire, in-stack queued locks, and
 * mutual exclusion under contention from threads on every processor.
 */
#include <ktestthreads.h>

KTEST(ke_spinlock, raises_and_restores_irql)
{
    KSPIN_LOCK Lock;
    KIRQL Old;

    KeInitializeSpinLock(&Lock);
    KeAcquireSpinLock(&Lock, &Old);
    KT_EXPECT_EQ(Old, PASSIVE_LEVEL);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KT_EXPECT_FALSE(KeTestSpinLock(&Lock));
    KeReleaseSpinLock(&Lock, Old);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KT_EXPECT_TRUE(KeTestSpinLock(&Lock));
}

KTEST(ke_spinlock, dpc_level_forms)
{
    KSPIN_LOCK Lock;
    KIRQL Old;

    KeInitializeSpinLock(&Lock);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KeAcquireSpinLockAtDpcLevel(&Lock);
    KT_EXPECT_FALSE(KeTryToAcquireSpinLockAtDpcLevel(&Lock));
    KeReleaseSpinLockFromDpcLevel(&Lock);
    KT_EXPECT_TRUE(KeTryToAcquireSpinLockAtDpcLevel(&Lock));
    KeReleaseSpinLockFromDpcLevel(&Lock);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Old);
}

KTEST(ke_spinlock, queued_lock)
{
    KSPIN_LOCK Lock;
    KLOCK_QUEUE_HANDLE Handle;

    KeInitializeSpinLock(&Lock);
    KeAcquireInStackQueuedSpinLock(&Lock, &Handle);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KT_EXPECT_EQ(Lock, (KSPIN_LOCK)&Handle.LockQueue);
    KeReleaseInStackQueuedSpinLock(&Handle);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KT_EXPECT_EQ(Lock, 0);
}

#define KT_LOCK_THREADS    4
#define KT_LOCK_ITERATIONS 20000

typedef struct _KT_CONTENTION {
    KSPIN_LOCK Lock;
    KSPIN_LOCK QueuedLock;
    volatile ULONG64 Counter;
    volatile ULONG64 QueuedCounter;
    volatile LONG Inside;
    volatile LONG Violations;
} KT_CONTENTION;

static KT_CONTENTION KtContention;

static VOID NTAPI KtContend(PVOID Context)
{
    (VOID) Context;
    for (ULONG i = 0; i < KT_LOCK_ITERATIONS; i++) {
        KIRQL Old;
        KLOCK_QUEUE_HANDLE Handle;

        KeAcquireSpinLock(&KtContention.Lock, &Old);
        if (__atomic_add_fetch(&KtContention.Inside, 1, __ATOMIC_RELAXED) != 1) {
            KtContention.Violations++;
        }
        KtContention.Counter = KtContention.Counter + 1; /* not atomic on purpose */
        __atomic_sub_fetch(&KtContention.Inside, 1, __ATOMIC_RELAXED);
        KeReleaseSpinLock(&KtContention.Lock, Old);

        KeAcquireInStackQueuedSpinLock(&KtContention.QueuedLock, &Handle);
        KtContention.QueuedCounter = KtContention.QueuedCounter + 1;
        KeReleaseInStackQueuedSpinLock(&Handle);
    }
}

KTEST(ke_spinlock, mutual_exclusion_across_processors)
{
    PKTHREAD Threads[KT_LOCK_THREADS];

    KT_REQUIRE_THREADS();
    memset((PVOID)&KtContention, 0, sizeof(KtContention));
    for (ULONG i = 0; i < KT_LOCK_THREADS; i++) {
        Threads[i] = KtStartThread(KtContend, NULL, 8, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    for (ULONG i = 0; i < KT_LOCK_THREADS; i++) {
        KtJoin(Threads[i]);
    }
    KT_EXPECT_EQ(KtContention.Counter, (ULONG64)KT_LOCK_THREADS * KT_LOCK_ITERATIONS);
    KT_EXPECT_EQ(KtContention.QueuedCounter, (ULONG64)KT_LOCK_THREADS * KT_LOCK_ITERATIONS);
    KT_EXPECT_EQ(KtContention.Violations, 0);
}

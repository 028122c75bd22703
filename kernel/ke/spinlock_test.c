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

/* Fairness: an in-stack queued spin lock is granted in the order the
 * waiters queued. The holder lets one waiter at a time queue (each waiter
 * publishes its handle; the lock word is the queue's tail, so the holder
 * sees when that waiter is in the queue), then releases and checks the
 * order of the grants. Waiters spin at DISPATCH_LEVEL, so each needs a
 * processor of its own. */
#define KT_FAIR_WAITERS 3

typedef struct _KT_FAIRNESS {
    KSPIN_LOCK Lock;
    volatile LONG Turn; /* the waiter allowed to queue next */
    PKLOCK_QUEUE_HANDLE volatile Handles[KT_FAIR_WAITERS];
    volatile LONG Grants;
    volatile LONG Order[KT_FAIR_WAITERS];
} KT_FAIRNESS;

static KT_FAIRNESS KtFairness;

static VOID NTAPI KtFairWaiter(PVOID Context)
{
    LONG Index = (LONG)(ULONG_PTR)Context;
    KLOCK_QUEUE_HANDLE Handle;

    while (__atomic_load_n(&KtFairness.Turn, __ATOMIC_ACQUIRE) != Index) {
        KiArchSpinWait();
    }
    KtFairness.Handles[Index] = &Handle;
    KeAcquireInStackQueuedSpinLock(&KtFairness.Lock, &Handle);
    KtFairness.Order[KtFairness.Grants++] = Index;
    KeReleaseInStackQueuedSpinLock(&Handle);
}

KTEST(ke_spinlock, queued_lock_grants_in_fifo_order)
{
    PKTHREAD Threads[KT_FAIR_WAITERS];
    KLOCK_QUEUE_HANDLE Holder;
    ULONG Self = KeGetCurrentProcessorNumber();
    ULONG Started = 0, Processor = 0;

    KT_REQUIRE_THREADS();
    if (KeQueryActiveProcessorCount(NULL) < KT_FAIR_WAITERS + 1) {
        KT_SKIP("needs a processor for the holder and one for each waiter");
    }
    memset((PVOID)&KtFairness, 0, sizeof(KtFairness));
    KtFairness.Turn = -1;
    KeSetSystemAffinityThreadEx((KAFFINITY)1 << Self);
    for (ULONG i = 0; i < KT_FAIR_WAITERS; i++, Processor++) {
        if (Processor == Self) {
            Processor++;
        }
        Threads[i] = KtStartThread(KtFairWaiter, (PVOID)(ULONG_PTR)i, 8, (KAFFINITY)1 << Processor);
        KT_ASSERT_NOT_NULL(Threads[i]);
        Started++;
    }
    KeAcquireInStackQueuedSpinLock(&KtFairness.Lock, &Holder);
    for (LONG i = 0; i < KT_FAIR_WAITERS; i++) {
        ULONG64 Deadline = KeQueryInterruptTime() + 5000ull * 10000;

        __atomic_store_n(&KtFairness.Turn, i, __ATOMIC_RELEASE);
        /* Queued once the tail is its handle's queue entry. */
        while (
            (KtFairness.Handles[i] == NULL || __atomic_load_n(&KtFairness.Lock, __ATOMIC_ACQUIRE) !=
                                                  (KSPIN_LOCK)&KtFairness.Handles[i]->LockQueue) &&
            KeQueryInterruptTime() < Deadline) {
            KiArchSpinWait();
        }
    }
    KT_EXPECT_EQ(KtFairness.Grants, 0);
    KeReleaseInStackQueuedSpinLock(&Holder);
    for (ULONG i = 0; i < Started; i++) {
        KtJoin(Threads[i]);
    }
    KeRevertToUserAffinityThreadEx(0);
    KT_EXPECT_EQ(KtFairness.Grants, KT_FAIR_WAITERS);
    for (LONG i = 0; i < KT_FAIR_WAITERS; i++) {
        KT_EXPECT_EQ(KtFairness.Order[i], i);
    }
}

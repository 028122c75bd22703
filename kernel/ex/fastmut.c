/*
 * fastmut.c - FAST_MUTEX and KGUARDED_MUTEX (one implementation: the two
 * share their first fields), and the ownership-boost seam every executive
 * lock uses.
 *
 * Count is 1 when free, 0 when owned, 1 - 1 - n when owned with n threads
 * waiting (or about to wait). Acquire decrements: a result of 0 means the
 * caller owns it; anything lower makes it a waiter on the synchronization
 * event. Release increments: a result other than 1 means waiters are
 * counted, so one of them is handed the mutex by setting the event (the
 * event stays signaled if that waiter has not blocked yet). Owner is set
 * by the new owner and cleared before the releasing increment, so a waiter
 * that reads a non-NULL Owner under the boost lock knows that owner has
 * not released yet and will take the boost lock before it is gone.
 */
#include "exsyncp.h"

/* How often a waiter re-applies its boost: the owner may have changed
 * (the mutex was handed to another waiter of lower priority). */
#define EXP_BOOST_REFRESH_100NS (-10LL * 10000) /* 10 ms */

static KSPIN_LOCK ExpBoostLock;

KIRQL ExpAcquireBoostLock(VOID)
{
    KIRQL OldIrql;
    KeAcquireSpinLock(&ExpBoostLock, &OldIrql);
    return OldIrql;
}

VOID ExpReleaseBoostLock(KIRQL OldIrql)
{
    KeReleaseSpinLock(&ExpBoostLock, OldIrql);
}

VOID ExpBoostOwner(PKTHREAD Owner, KPRIORITY Priority)
{
    KiBoostOwnerPriority(Owner, Priority);
}

VOID ExpRemoveOwnerBoost(PKTHREAD Thread)
{
    KiRemoveOwnerBoost(Thread);
}

VOID ExpEnterGuardedRegion(VOID)
{
    KeEnterGuardedRegion();
}

VOID ExpLeaveGuardedRegion(VOID)
{
    KeLeaveGuardedRegion();
}

/* The fields FAST_MUTEX and KGUARDED_MUTEX share. */
typedef struct _EXP_MUTEX {
    volatile LONG Count;
    PKTHREAD Owner;
    ULONG Contention;
    KEVENT Event;
} EXP_MUTEX, *PEXP_MUTEX;

_Static_assert(__builtin_offsetof(FAST_MUTEX, Event) == __builtin_offsetof(EXP_MUTEX, Event),
               "FAST_MUTEX prefix");
_Static_assert(__builtin_offsetof(KGUARDED_MUTEX, Gate) == __builtin_offsetof(EXP_MUTEX, Event),
               "KGUARDED_MUTEX prefix");
_Static_assert(sizeof(KGATE) == sizeof(KEVENT), "a gate is waited on as an event");

static VOID ExpInitializeMutex(PEXP_MUTEX Mutex)
{
    Mutex->Count = FM_LOCK_BIT;
    Mutex->Owner = NULL;
    Mutex->Contention = 0;
    KeInitializeEvent(&Mutex->Event, SynchronizationEvent, FALSE);
}

static PKTHREAD ExpReadOwner(PEXP_MUTEX Mutex)
{
    return __atomic_load_n(&Mutex->Owner, __ATOMIC_SEQ_CST);
}

/* Acquire-time checks shared by every acquire path: IRQL and recursion. */
static VOID ExpCheckAcquire(PEXP_MUTEX Mutex, PKTHREAD Thread, KIRQL MaximumIrql)
{
    KIRQL Irql = KeGetCurrentIrql();

    if (Irql > MaximumIrql) {
        /* What a retail NT shows when the wait this may need happens above
         * APC_LEVEL (the verifier's 0xC4/0x20005 names the same rule). */
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)Mutex, Irql, 0,
                     (ULONG_PTR)__builtin_return_address(0));
    }
    if (Thread != NULL && ExpReadOwner(Mutex) == Thread) {
        /* Fast and guarded mutexes are not recursive: NT would deadlock. */
        KeBugCheckEx(MUTEX_ALREADY_OWNED, (ULONG_PTR)Mutex, (ULONG_PTR)Thread, 0, 0);
    }
}

/* The contended path: the caller's decrement counted it as a waiter. */
static VOID ExpWaitForMutex(PEXP_MUTEX Mutex, PKTHREAD Thread)
{
    LARGE_INTEGER Timeout = { .QuadPart = EXP_BOOST_REFRESH_100NS };

    __atomic_add_fetch(&Mutex->Contention, 1, __ATOMIC_RELAXED);
    for (;;) {
        KIRQL OldIrql = ExpAcquireBoostLock();
        PKTHREAD Owner = ExpReadOwner(Mutex);
        if (Owner != NULL && Owner != Thread) {
            ExpBoostOwner(Owner, KeQueryPriorityThread(Thread));
        }
        ExpReleaseBoostLock(OldIrql);

        if (KeWaitForSingleObject(&Mutex->Event, WrExecutive, KernelMode, FALSE, &Timeout) ==
            STATUS_SUCCESS) {
            return;
        }
    }
}

static VOID ExpAcquireMutex(PEXP_MUTEX Mutex)
{
    PKTHREAD Thread = KeGetCurrentThread();

    if (__atomic_sub_fetch(&Mutex->Count, 1, __ATOMIC_SEQ_CST) != 0) {
        ExpWaitForMutex(Mutex, Thread);
    }
    __atomic_store_n(&Mutex->Owner, Thread, __ATOMIC_SEQ_CST);
}

static BOOLEAN ExpTryToAcquireMutex(PEXP_MUTEX Mutex)
{
    LONG Expected = FM_LOCK_BIT;

    if (!__atomic_compare_exchange_n(&Mutex->Count, &Expected, 0, FALSE, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED)) {
        return FALSE;
    }
    __atomic_store_n(&Mutex->Owner, KeGetCurrentThread(), __ATOMIC_SEQ_CST);
    return TRUE;
}

static VOID ExpReleaseMutex(PEXP_MUTEX Mutex)
{
    PKTHREAD Thread = KeGetCurrentThread();
    PKTHREAD Owner = ExpReadOwner(Mutex);

    if (Owner != Thread) {
        /* NT has no retail check; the stop code of a kernel mutex released
         * by a thread that does not own it fits (P1 mutex, P2 owner, P3
         * caller). */
        KeBugCheckEx(THREAD_NOT_MUTEX_OWNER, (ULONG_PTR)Mutex, (ULONG_PTR)Owner, (ULONG_PTR)Thread,
                     0);
    }
    __atomic_store_n(&Mutex->Owner, NULL, __ATOMIC_SEQ_CST);
    if (__atomic_add_fetch(&Mutex->Count, 1, __ATOMIC_SEQ_CST) != FM_LOCK_BIT) {
        /* Waiters: one of them may have boosted us. Hand the mutex over
         * first, so the waiter is ready before this thread drops below a
         * thread of middle priority (dropping first reopens the inversion
         * on one processor); then drop the boost under the boost lock, so
         * no waiter is halfway through boosting us. */
        KIRQL OldIrql;

        KeSetEvent(&Mutex->Event, EVENT_INCREMENT, FALSE);
        OldIrql = ExpAcquireBoostLock();
        ExpRemoveOwnerBoost(Thread);
        ExpReleaseBoostLock(OldIrql);
    }
}

/* ---- FAST_MUTEX ---- */

VOID FASTCALL ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    PEXP_MUTEX Mutex = (PEXP_MUTEX)FastMutex;
    KIRQL OldIrql;

    ExpCheckAcquire(Mutex, KeGetCurrentThread(), APC_LEVEL);
    OldIrql = KfRaiseIrql(APC_LEVEL);
    ExpAcquireMutex(Mutex);
    FastMutex->OldIrql = OldIrql;
}

BOOLEAN FASTCALL ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    PEXP_MUTEX Mutex = (PEXP_MUTEX)FastMutex;
    KIRQL OldIrql;

    ExpCheckAcquire(Mutex, NULL, APC_LEVEL);
    OldIrql = KfRaiseIrql(APC_LEVEL);
    if (!ExpTryToAcquireMutex(Mutex)) {
        KeLowerIrql(OldIrql);
        return FALSE;
    }
    FastMutex->OldIrql = OldIrql;
    return TRUE;
}

VOID FASTCALL ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL OldIrql = (KIRQL)FastMutex->OldIrql;

    ExpReleaseMutex((PEXP_MUTEX)FastMutex);
    KeLowerIrql(OldIrql);
}

/* The caller is already at APC_LEVEL or in a critical region. */
VOID FASTCALL ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    PEXP_MUTEX Mutex = (PEXP_MUTEX)FastMutex;

    ExpCheckAcquire(Mutex, KeGetCurrentThread(), APC_LEVEL);
    ExpAcquireMutex(Mutex);
}

VOID FASTCALL ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    ExpReleaseMutex((PEXP_MUTEX)FastMutex);
}

/* ---- KGUARDED_MUTEX: the same lock inside a guarded region ---- */

VOID NTAPI KeInitializeGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    ExpInitializeMutex((PEXP_MUTEX)Mutex);
    Mutex->CombinedApcDisable = 0;
}

VOID FASTCALL KeAcquireGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    ExpCheckAcquire((PEXP_MUTEX)Mutex, KeGetCurrentThread(), APC_LEVEL);
    ExpEnterGuardedRegion();
    ExpAcquireMutex((PEXP_MUTEX)Mutex);
}

BOOLEAN FASTCALL KeTryToAcquireGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    ExpCheckAcquire((PEXP_MUTEX)Mutex, NULL, APC_LEVEL);
    ExpEnterGuardedRegion();
    if (!ExpTryToAcquireMutex((PEXP_MUTEX)Mutex)) {
        ExpLeaveGuardedRegion();
        return FALSE;
    }
    return TRUE;
}

VOID FASTCALL KeReleaseGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    ExpReleaseMutex((PEXP_MUTEX)Mutex);
    ExpLeaveGuardedRegion();
}

/* The caller is already in a guarded region or at APC_LEVEL. */
VOID FASTCALL KeAcquireGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex)
{
    ExpCheckAcquire((PEXP_MUTEX)Mutex, KeGetCurrentThread(), APC_LEVEL);
    ExpAcquireMutex((PEXP_MUTEX)Mutex);
}

VOID FASTCALL KeReleaseGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex)
{
    ExpReleaseMutex((PEXP_MUTEX)Mutex);
}

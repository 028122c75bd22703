/*
 * spinlock.c - executive spin locks (KSPIN_LOCK, the x64 WDK routines) and
 * in-stack queued spin locks (an MCS queue: each waiter spins on its own
 * KLOCK_QUEUE_HANDLE, so the lock is handed over in FIFO order), with NT's
 * IRQL rules: KeAcquireSpinLock above DISPATCH_LEVEL is
 * IRQL_NOT_LESS_OR_EQUAL, the AtDpcLevel forms below DISPATCH_LEVEL are
 * IRQL_NOT_GREATER_OR_EQUAL, taking a lock this processor already holds is
 * SPIN_LOCK_ALREADY_OWNED and releasing one it does not hold is
 * SPIN_LOCK_NOT_OWNED. Also the dispatcher lock (kisched.h).
 *
 * A held ordinary lock contains its owner's PRCB address | 1 (processors
 * cannot switch threads while holding one, so the PRCB names the owner).
 * A queued lock contains the address of the last waiter's queue entry.
 */
#include "kisched.h"

KSPIN_LOCK KiDispatcherLock;

#define KI_LOCK_QUEUE_WAIT 1 /* in KSPIN_LOCK_QUEUE.Lock: still waiting */

static DECLSPEC_NORETURN VOID KiSpinLockIrqlError(ULONG Code, PKSPIN_LOCK SpinLock)
{
    KIRQL Irql = KiReadIrql();
    KiWriteIrql(HIGH_LEVEL);
    KeBugCheckEx(Code, (ULONG_PTR)SpinLock, Irql, 0, (ULONG_PTR)__builtin_return_address(0));
}

VOID KiAcquireSpinLockRaw(PKSPIN_LOCK SpinLock)
{
    KiAcquireSpinLockContended(SpinLock, KiLockOwnerTag());
}

VOID KiReleaseSpinLockRaw(PKSPIN_LOCK SpinLock)
{
    ULONG_PTR Tag = KiLockOwnerTag();

    if (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) != Tag) {
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)SpinLock, *SpinLock, Tag, 0);
    }
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KIRQL OldIrql = KiReadIrql();

    if (OldIrql > DISPATCH_LEVEL) {
        KiSpinLockIrqlError(IRQL_NOT_LESS_OR_EQUAL, SpinLock);
    }
    KiWriteIrql(DISPATCH_LEVEL);
    KiAcquireSpinLockRaw(SpinLock);
    return OldIrql;
}

VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    KiReleaseSpinLockRaw(SpinLock);
    KeLowerIrql(NewIrql);
}

VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    if (KiReadIrql() < DISPATCH_LEVEL) {
        KiSpinLockIrqlError(IRQL_NOT_GREATER_OR_EQUAL, SpinLock);
    }
    KiAcquireSpinLockRaw(SpinLock);
}

VOID NTAPI KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    if (KiReadIrql() < DISPATCH_LEVEL) {
        KiSpinLockIrqlError(IRQL_NOT_GREATER_OR_EQUAL, SpinLock);
    }
    KiReleaseSpinLockRaw(SpinLock);
}

BOOLEAN NTAPI KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    ULONG_PTR Expected = 0;

    if (KiReadIrql() < DISPATCH_LEVEL) {
        KiSpinLockIrqlError(IRQL_NOT_GREATER_OR_EQUAL, SpinLock);
    }
    return __atomic_compare_exchange_n(SpinLock, &Expected, KiLockOwnerTag(), FALSE,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

BOOLEAN NTAPI KeTestSpinLock(PKSPIN_LOCK SpinLock)
{
    if (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) != 0) {
        KiArchSpinWait();
        return FALSE;
    }
    return TRUE;
}

/* ---- In-stack queued spin locks ---- */

VOID NTAPI KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                                    PKLOCK_QUEUE_HANDLE LockHandle)
{
    PKSPIN_LOCK_QUEUE Entry = &LockHandle->LockQueue;
    PKSPIN_LOCK_QUEUE Previous;

    if (KiReadIrql() < DISPATCH_LEVEL) {
        KiSpinLockIrqlError(IRQL_NOT_GREATER_OR_EQUAL, SpinLock);
    }
    Entry->Next = NULL;
    Entry->Lock = SpinLock;
    Previous = (PKSPIN_LOCK_QUEUE)__atomic_exchange_n(SpinLock, (ULONG_PTR)Entry, __ATOMIC_ACQ_REL);
    if (Previous == NULL) {
        return;
    }
    /* Mark ourselves waiting before the predecessor can see us. */
    Entry->Lock = (PKSPIN_LOCK)((ULONG_PTR)SpinLock | KI_LOCK_QUEUE_WAIT);
    __atomic_store_n(&Previous->Next, Entry, __ATOMIC_RELEASE);
    while ((ULONG_PTR)__atomic_load_n(&Entry->Lock, __ATOMIC_ACQUIRE) & KI_LOCK_QUEUE_WAIT) {
        KiArchSpinWait();
    }
}

VOID NTAPI KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle)
{
    PKSPIN_LOCK_QUEUE Entry = &LockHandle->LockQueue;
    PKSPIN_LOCK SpinLock = (PKSPIN_LOCK)((ULONG_PTR)Entry->Lock & ~(ULONG_PTR)KI_LOCK_QUEUE_WAIT);
    PKSPIN_LOCK_QUEUE Next = __atomic_load_n(&Entry->Next, __ATOMIC_ACQUIRE);

    if (Next == NULL) {
        ULONG_PTR Expected = (ULONG_PTR)Entry;
        if (__atomic_compare_exchange_n(SpinLock, &Expected, 0, FALSE, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED)) {
            return;
        }
        if (Expected == 0) {
            KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)SpinLock, (ULONG_PTR)Entry, 0, 0);
        }
        /* A successor swapped itself in but has not linked yet. */
        while ((Next = __atomic_load_n(&Entry->Next, __ATOMIC_ACQUIRE)) == NULL) {
            KiArchSpinWait();
        }
    }
    __atomic_store_n(&Next->Lock, SpinLock, __ATOMIC_RELEASE);
}

VOID NTAPI KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle)
{
    KIRQL OldIrql = KiReadIrql();

    if (OldIrql > DISPATCH_LEVEL) {
        KiSpinLockIrqlError(IRQL_NOT_LESS_OR_EQUAL, SpinLock);
    }
    KiWriteIrql(DISPATCH_LEVEL);
    LockHandle->OldIrql = OldIrql;
    KeAcquireInStackQueuedSpinLockAtDpcLevel(SpinLock, LockHandle);
}

VOID NTAPI KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle)
{
    KeReleaseInStackQueuedSpinLockFromDpcLevel(LockHandle);
    KeLowerIrql(LockHandle->OldIrql);
}

/* ---- The dispatcher lock (the inline routines are in kisched.h) ---- */

VOID KiAcquireSpinLockContended(PKSPIN_LOCK SpinLock, ULONG_PTR Tag)
{
    for (;;) {
        ULONG_PTR Expected = 0;
        if (__atomic_compare_exchange_n(SpinLock, &Expected, Tag, FALSE, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            return;
        }
        if (Expected == Tag) {
            KeBugCheckEx(SPIN_LOCK_ALREADY_OWNED, (ULONG_PTR)SpinLock, Tag, 0, 0);
        }
        while (__atomic_load_n(SpinLock, __ATOMIC_RELAXED) != 0) {
            KiArchSpinWait();
        }
    }
}

DECLSPEC_NORETURN VOID KiDispatcherLockIrqlError(ULONG Code)
{
    KIRQL Irql = KiReadIrql();
    KiWriteIrql(HIGH_LEVEL);
    KeBugCheckEx(Code, (ULONG_PTR)&KiDispatcherLock, Irql, 0,
                 (ULONG_PTR)__builtin_return_address(0));
}

DECLSPEC_NORETURN VOID KiDispatcherLockNotOwned(ULONG_PTR Tag)
{
    KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)&KiDispatcherLock, KiDispatcherLock, Tag, 0);
}

BOOLEAN KiDispatcherLockHeld(VOID)
{
    return __atomic_load_n(&KiDispatcherLock, __ATOMIC_RELAXED) == KiLockOwnerTag();
}

/*
 * semaphore.c - KSEMAPHORE: a count between 0 and Limit; each satisfied
 * wait takes one, KeReleaseSemaphore adds Adjustment and wakes as many
 * waiters as it can. Exceeding the limit raises
 * STATUS_SEMAPHORE_LIMIT_EXCEEDED (an unhandled exception until SEH).
 */
#include "kisched.h"

VOID NTAPI KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit)
{
    KiInitializeDispatcherHeader(&Semaphore->Header, SemaphoreObject,
                                 sizeof(KSEMAPHORE) / sizeof(LONG), Count);
    Semaphore->Limit = Limit;
}

LONG NTAPI KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment,
                              BOOLEAN Wait)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    LONG Previous = Semaphore->Header.SignalState;
    LONG New = Previous + Adjustment;

    if (Adjustment <= 0 || New > Semaphore->Limit || New < Previous) {
        KiReleaseDispatcherLock(OldIrql);
        KiRaiseStatus(STATUS_SEMAPHORE_LIMIT_EXCEEDED);
    }
    Semaphore->Header.SignalState = New;
    if (Previous == 0 && !IsListEmpty(&Semaphore->Header.WaitListHead)) {
        KiWaitTest(Semaphore, Increment);
    }
    KiExitDispatcher(OldIrql, Wait);
    return Previous;
}

LONG NTAPI KeReadStateSemaphore(PRKSEMAPHORE Semaphore)
{
    return __atomic_load_n(&Semaphore->Header.SignalState, __ATOMIC_RELAXED);
}

/*
 * mutant.c - KMUTANT / KMUTEX: ownership by a thread, recursive
 * acquisition (SignalState 1 = free, 0 = owned once, -n = owned n+1
 * times), release by the owner only (KeReleaseMutex from another thread is
 * THREAD_NOT_MUTEX_OWNER; KeReleaseMutant raises STATUS_MUTANT_NOT_OWNED),
 * and abandonment: a thread that ends while owning mutants frees them
 * marked abandoned and the next owner's wait returns
 * STATUS_ABANDONED_WAIT_n. Kernel mutexes also disable normal kernel APCs
 * while owned.
 */
#include "kisched.h"

VOID NTAPI KeInitializeMutant(PRKMUTANT Mutant, BOOLEAN InitialOwner)
{
    KiInitializeDispatcherHeader(&Mutant->Header, MutantObject, sizeof(KMUTANT) / sizeof(LONG), 1);
    Mutant->OwnerThread = NULL;
    Mutant->Abandoned = FALSE;
    Mutant->ApcDisable = 0;
    if (InitialOwner) {
        PKTHREAD Thread = KiCurrentThread();
        KIRQL OldIrql = KiAcquireDispatcherLock();
        Mutant->Header.SignalState = 0;
        Mutant->OwnerThread = Thread;
        InsertHeadList(&Thread->MutantListHead, &Mutant->MutantListEntry);
        KiReleaseDispatcherLock(OldIrql);
    }
}

VOID NTAPI KeInitializeMutex(PRKMUTEX Mutex, ULONG Level)
{
    (VOID) Level;
    KiInitializeDispatcherHeader(&Mutex->Header, MutantObject, sizeof(KMUTEX) / sizeof(LONG), 1);
    Mutex->OwnerThread = NULL;
    Mutex->Abandoned = FALSE;
    Mutex->ApcDisable = 1;
}

/* Frees Mutant (owned by Owner): unlinks it and wakes a waiter. The
 * priority Owner inherited from the mutant's waiters goes; the new owner
 * inherits from the waiters left (inherit.c). */
static VOID KiFreeMutant(PKMUTANT Mutant, PKTHREAD Owner, KPRIORITY Increment)
{
    PKTHREAD NewOwner;

    RemoveEntryList(&Mutant->MutantListEntry);
    Owner->KernelApcDisable += Mutant->ApcDisable;
    Mutant->OwnerThread = NULL;
    Mutant->Header.SignalState = 1;
    if (!IsListEmpty(&Mutant->Header.WaitListHead)) {
        KiWaitTest(Mutant, Increment);
    }
    if (Owner->Priority > Owner->NormalPriority) {
        KiRecomputeThreadPriority(Owner);
    }
    NewOwner = Mutant->OwnerThread;
    if (NewOwner != NULL && NewOwner != Owner && !IsListEmpty(&Mutant->Header.WaitListHead)) {
        KiRecomputeThreadPriority(NewOwner);
    }
}

static LONG KiReleaseMutant(PRKMUTANT Mutant, KPRIORITY Increment, BOOLEAN Abandoned, BOOLEAN Wait,
                            BOOLEAN IsMutex)
{
    PKTHREAD Thread = KiCurrentThread();
    KIRQL OldIrql = KiAcquireDispatcherLock();
    LONG Previous = Mutant->Header.SignalState;

    if (Abandoned) {
        if (Mutant->OwnerThread != NULL) {
            Mutant->Abandoned = TRUE;
            KiFreeMutant(Mutant, Mutant->OwnerThread, Increment);
        }
    } else {
        if (Mutant->OwnerThread != Thread) {
            PKTHREAD Owner = Mutant->OwnerThread;
            BOOLEAN WasAbandoned = Mutant->Abandoned;
            KiReleaseDispatcherLock(OldIrql);
            if (IsMutex) {
                KeBugCheckEx(THREAD_NOT_MUTEX_OWNER, (ULONG_PTR)Mutant, (ULONG_PTR)Owner,
                             (ULONG_PTR)Thread, 0);
            }
            KiRaiseStatus(WasAbandoned ? STATUS_ABANDONED : STATUS_MUTANT_NOT_OWNED);
        }
        if (Previous == 0) {
            KiFreeMutant(Mutant, Thread, Increment);
        } else {
            Mutant->Header.SignalState = Previous + 1;
        }
    }
    KiExitDispatcher(OldIrql, Wait);
    return Previous;
}

LONG NTAPI KeReleaseMutant(PRKMUTANT Mutant, KPRIORITY Increment, BOOLEAN Abandoned, BOOLEAN Wait)
{
    return KiReleaseMutant(Mutant, Increment, Abandoned, Wait, FALSE);
}

LONG NTAPI KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait)
{
    return KiReleaseMutant(Mutex, MUTANT_INCREMENT, FALSE, Wait, TRUE);
}

LONG NTAPI KeReadStateMutant(PRKMUTANT Mutant)
{
    return __atomic_load_n(&Mutant->Header.SignalState, __ATOMIC_RELAXED);
}

LONG NTAPI KeReadStateMutex(PRKMUTEX Mutex)
{
    return KeReadStateMutant(Mutex);
}

VOID KiAbandonOwnedMutants(PKTHREAD Thread)
{
    while (!IsListEmpty(&Thread->MutantListHead)) {
        PKMUTANT Mutant = CONTAINING_RECORD(Thread->MutantListHead.Flink, KMUTANT, MutantListEntry);
        Mutant->Abandoned = TRUE;
        KiFreeMutant(Mutant, Thread, 0);
    }
}

/*
 * inherit.c - priority inheritance: the owner of a lock runs at least at
 * the priority of the highest thread waiting for it, until it releases.
 * For KMUTANTs the dispatcher does it by itself (a waiter blocking on an
 * owned mutant lifts the owner, following chains of owners that are
 * themselves blocked on mutants; a release recomputes); executive locks
 * (fast mutexes, ERESOURCEs) call KiBoostOwnerPriority when they block and
 * KiRemoveOwnerBoost when the owner releases.
 *
 * A thread's priority is always KiComputeThreadPriority of it: the highest
 * of its NormalPriority (base + wake boost still to decay, or what
 * KeSetPriorityThread set), its OwnerBoostPriority and the priority of
 * every waiter of every mutant it owns. Everything here runs
 * under the dispatcher lock (docs/scheduler.md, "Priority inheritance").
 */
#include "kisched.h"

/* Chains longer than this (A waits for B's mutant, B for C's...) are not
 * followed further; NT bounds its walk too. */
#define KI_MAXIMUM_INHERITANCE_DEPTH 16

static LONG KiHighestMutantWaiter(PKTHREAD Thread)
{
    LONG Highest = 0;

    for (PLIST_ENTRY Entry = Thread->MutantListHead.Flink; Entry != &Thread->MutantListHead;
         Entry = Entry->Flink) {
        PKMUTANT Mutant = CONTAINING_RECORD(Entry, KMUTANT, MutantListEntry);
        PLIST_ENTRY Head = &Mutant->Header.WaitListHead;
        for (PLIST_ENTRY Wait = Head->Flink; Wait != Head; Wait = Wait->Flink) {
            PKWAIT_BLOCK Block = CONTAINING_RECORD(Wait, KWAIT_BLOCK, WaitListEntry);
            if (Block->Thread != NULL && Block->Thread->Priority > Highest) {
                Highest = Block->Thread->Priority;
            }
        }
    }
    return Highest;
}

SCHAR KiComputeThreadPriority(PKTHREAD Thread)
{
    LONG Priority = Thread->NormalPriority;
    LONG Waiter;

    if (Thread->IdleThread) {
        return Thread->Priority;
    }
    if (Thread->OwnerBoostPriority > Priority) {
        Priority = Thread->OwnerBoostPriority;
    }
    Waiter = KiHighestMutantWaiter(Thread);
    if (Waiter > Priority) {
        Priority = Waiter;
    }
    return (SCHAR)(Priority > HIGH_PRIORITY ? HIGH_PRIORITY : Priority);
}

VOID KiRecomputeThreadPriority(PKTHREAD Thread)
{
    /* KiSetPriorityThread does nothing when the priority is unchanged. */
    KiSetPriorityThread(Thread, KiComputeThreadPriority(Thread));
}

/* Raises Owner to Priority and, when Owner is itself blocked on owned
 * mutants, their owners in turn. */
static VOID KiRaiseOwnerChain(PKTHREAD Owner, LONG Priority)
{
    for (ULONG Depth = 0; Owner != NULL && Depth < KI_MAXIMUM_INHERITANCE_DEPTH; Depth++) {
        PKTHREAD Next = NULL;

        if (Owner->IdleThread || Owner->State == Terminated || Owner->Priority >= Priority) {
            return;
        }
        KiSetPriorityThread(Owner, (SCHAR)Priority);
        if (Owner->State != Waiting) {
            return;
        }
        for (ULONG i = 0; i < Owner->WaitBlockCount; i++) {
            PKWAIT_BLOCK Block = &Owner->WaitBlockList[i];
            PDISPATCHER_HEADER Header = Block->Object;
            if (Block->BlockState != 0 && Header->Type == MutantObject) {
                PKTHREAD Holder = ((PKMUTANT)Header)->OwnerThread;
                if (Holder != NULL && Holder != Owner) {
                    if (Next != NULL && Next != Holder) {
                        KiRaiseOwnerChain(Holder, Priority); /* WaitAll on several */
                    } else {
                        Next = Holder;
                    }
                }
            }
        }
        Owner = Next;
    }
}

VOID KiBoostMutantOwners(PKTHREAD Waiter)
{
    for (ULONG i = 0; i < Waiter->WaitBlockCount; i++) {
        PDISPATCHER_HEADER Header = Waiter->WaitBlockList[i].Object;
        if (Header->Type == MutantObject) {
            PKTHREAD Owner = ((PKMUTANT)Header)->OwnerThread;
            if (Owner != NULL && Owner != Waiter) {
                KiRaiseOwnerChain(Owner, Waiter->Priority);
            }
        }
    }
}

VOID KiBoostOwnerPriority(PKTHREAD Owner, KPRIORITY Priority)
{
    KIRQL OldIrql;

    if (Owner == NULL || Priority <= LOW_PRIORITY) {
        return;
    }
    if (Priority > HIGH_PRIORITY) {
        Priority = HIGH_PRIORITY;
    }
    OldIrql = KiAcquireDispatcherLock();
    if (Owner->State != Terminated && !Owner->IdleThread) {
        if (Priority > Owner->OwnerBoostPriority) {
            Owner->OwnerBoostPriority = (SCHAR)Priority;
        }
        KiRaiseOwnerChain(Owner, Priority);
    }
    KiReleaseDispatcherLock(OldIrql);
}

VOID KiRemoveOwnerBoost(PKTHREAD Thread)
{
    KIRQL OldIrql;

    if (Thread == NULL || Thread->IdleThread) {
        return;
    }
    OldIrql = KiAcquireDispatcherLock();
    if (Thread->OwnerBoostPriority != 0) {
        Thread->OwnerBoostPriority = 0;
        if (Thread->State != Terminated) {
            KiRecomputeThreadPriority(Thread);
        }
    }
    KiReleaseDispatcherLock(OldIrql);
}

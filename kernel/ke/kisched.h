/*
 * kisched.h - private interface between the files of the dispatcher and
 * scheduler (kernel/ke): the dispatcher lock, ready queues, the wait
 * machinery and the timer list. See docs/scheduler.md for the locking
 * design and the invariants.
 */
#ifndef _KISCHED_
#define _KISCHED_

#include <ntddk.h>
#include <arch.h>
#include <ke.h>

/* ---- The dispatcher lock (spinlock.c) ---- */

/* One spin lock, taken at DISPATCH_LEVEL, guards every dispatcher object
 * (signal state, wait lists), every thread's scheduling state, all ready
 * queues, NextThread/CurrentThread of every PRCB, the timer list and the
 * reaper list. It is handed across a context switch: the thread that
 * switches away holds it, the thread that resumes releases it. */
extern KSPIN_LOCK KiDispatcherLock;
BOOLEAN KiDispatcherLockHeld(VOID);
/* The raw spin loop shared by every lock (no IRQL change). */
VOID KiAcquireSpinLockRaw(PKSPIN_LOCK SpinLock);
VOID KiReleaseSpinLockRaw(PKSPIN_LOCK SpinLock);

/* The out-of-line halves of the inline dispatcher lock routines below:
 * the spin when the lock is busy (SPIN_LOCK_ALREADY_OWNED when this
 * processor holds it), the stop screens. */
VOID KiAcquireSpinLockContended(PKSPIN_LOCK SpinLock, ULONG_PTR Tag);
DECLSPEC_NORETURN VOID KiDispatcherLockIrqlError(ULONG Code);
DECLSPEC_NORETURN VOID KiDispatcherLockNotOwned(ULONG_PTR Tag);

/* Every wait, signal and switch takes the dispatcher lock, so its routines
 * are inline: one locked instruction, one store and the IRQL moves of
 * arch.h, with NT's checks (IRQL_NOT_LESS_OR_EQUAL above DISPATCH_LEVEL,
 * IRQL_NOT_GREATER_OR_EQUAL for the AtDpcLevel forms below it,
 * SPIN_LOCK_NOT_OWNED for a release by another processor) kept. A held
 * lock contains its owner's PRCB address | 1. */
FORCEINLINE ULONG_PTR KiLockOwnerTag(VOID)
{
    return (ULONG_PTR)KeGetCurrentPrcb() | 1;
}

/* At DISPATCH_LEVEL or above (the thread cannot move meanwhile). */
FORCEINLINE VOID KiAcquireDispatcherLockRaw(VOID)
{
    ULONG_PTR Tag = KiLockOwnerTag();
    ULONG_PTR Expected = 0;

    if (__builtin_expect(!__atomic_compare_exchange_n(&KiDispatcherLock, &Expected, Tag, FALSE,
                                                      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED),
                         0)) {
        KiAcquireSpinLockContended(&KiDispatcherLock, Tag);
    }
}

FORCEINLINE VOID KiReleaseDispatcherLockRaw(VOID)
{
    ULONG_PTR Tag = KiLockOwnerTag();

    if (__builtin_expect(__atomic_load_n(&KiDispatcherLock, __ATOMIC_RELAXED) != Tag, 0)) {
        KiDispatcherLockNotOwned(Tag);
    }
    __atomic_store_n(&KiDispatcherLock, 0, __ATOMIC_RELEASE);
}

FORCEINLINE KIRQL KiAcquireDispatcherLock(VOID)
{
    KIRQL OldIrql = KiReadIrqlInline();

    if (__builtin_expect(OldIrql > DISPATCH_LEVEL, 0)) {
        KiDispatcherLockIrqlError(IRQL_NOT_LESS_OR_EQUAL);
    }
    if (OldIrql < DISPATCH_LEVEL) {
        KiRaiseToDispatchInline();
    }
    KiAcquireDispatcherLockRaw();
    return OldIrql;
}

/* Back to OldIrql from DISPATCH_LEVEL (the lock's level) without the
 * checked KeLowerIrql when that is the plain case. */
FORCEINLINE VOID KiLowerFromDispatcherLock(KIRQL OldIrql)
{
    KIRQL Irql = KiReadIrqlInline();

    if (__builtin_expect(OldIrql < DISPATCH_LEVEL && Irql == DISPATCH_LEVEL, 1)) {
        KiLowerFromDispatchInline(OldIrql);
    } else if (OldIrql != DISPATCH_LEVEL || Irql != DISPATCH_LEVEL) {
        /* Anything else (a caller that raised further meanwhile, or an
         * OldIrql above the current level: its stop screen). */
        KeLowerIrql(OldIrql);
    }
}

FORCEINLINE VOID KiReleaseDispatcherLock(KIRQL OldIrql)
{
    KiReleaseDispatcherLockRaw();
    KiLowerFromDispatcherLock(OldIrql);
}

FORCEINLINE VOID KiAcquireDispatcherLockAtDpcLevel(VOID)
{
    if (__builtin_expect(KiReadIrqlInline() < DISPATCH_LEVEL, 0)) {
        KiDispatcherLockIrqlError(IRQL_NOT_GREATER_OR_EQUAL);
    }
    KiAcquireDispatcherLockRaw();
}

FORCEINLINE VOID KiReleaseDispatcherLockFromDpcLevel(VOID)
{
    if (__builtin_expect(KiReadIrqlInline() < DISPATCH_LEVEL, 0)) {
        KiDispatcherLockIrqlError(IRQL_NOT_GREATER_OR_EQUAL);
    }
    KiReleaseDispatcherLockRaw();
}

/* Processors whose current thread is their idle thread and who have no
 * NextThread (dispatcher lock). */
extern volatile KAFFINITY KiIdleSummary;
/* Threads in all ready queues (dispatcher lock; read racily as a hint). */
extern volatile LONG KiReadyCount;

/* ---- Scheduling (sched.c); dispatcher lock held ---- */

/* Makes Thread (not running) ready: hands it to an idle processor, preempts
 * a lower-priority thread (locally or by IPI) or queues it. */
VOID KiReadyThread(PKTHREAD Thread);
/* Switches the current thread (whose State the caller already set:
 * Waiting, Terminated, Ready) to the best next thread of this processor.
 * Returns in the caller's thread, later, with the dispatcher lock released
 * and IRQL still DISPATCH_LEVEL; the result is Thread->WaitStatus. */
NTSTATUS KiSwapThread(PKTHREAD Thread, PKPRCB Prcb);
/* Changes a thread's current priority, requeueing or preempting. */
VOID KiSetPriorityThread(PKTHREAD Thread, SCHAR Priority);
/* Moves the current thread to a processor of its (new) affinity when it
 * is not on one. */
VOID KiCheckAffinityCurrentThread(PKTHREAD Thread, PKPRCB Prcb);
/* Releases the dispatcher lock taken across a switch (thread.c startup). */
VOID KiCompleteSwitch(VOID);

/* Benchmark seam (bench/ke): one selection of the next thread on Prcb's
 * queues (KiSwapThread's, no NextThread) with the chosen thread put back
 * at the head, so the queues are unchanged; queueing and removing thread
 * records that never run. Dispatcher lock held; Prcb's processor must not
 * schedule meanwhile. */
PKTHREAD KiBenchSelectNextThread(PKPRCB Prcb);
VOID KiBenchQueueReadyThread(PKPRCB Prcb, PKTHREAD Thread);
VOID KiBenchRemoveReadyThread(PKTHREAD Thread);

/* ---- Waits (wait.c); dispatcher lock held ---- */

/* Wakes the waiters Object can satisfy now. */
VOID KiWaitTest(PVOID Object, KPRIORITY Increment);
/* Ends Thread's wait with Status, boosting it by Increment. */
VOID KiUnwaitThread(PKTHREAD Thread, NTSTATUS Status, KPRIORITY Increment);
/* Common body of every wait: Count objects (0 for a plain delay). */
NTSTATUS KiWaitForObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON WaitReason,
                          KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                          PKWAIT_BLOCK WaitBlockArray);
/* Leaves the dispatcher lock held at DISPATCH_LEVEL for the caller's next
 * wait (the Wait argument of KeSetEvent and friends). */
FORCEINLINE VOID KiHoldForWaitNext(KIRQL OldIrql)
{
    PKTHREAD Thread = KeGetCurrentPrcb()->CurrentThread;

    Thread->WaitNext = TRUE;
    Thread->WaitIrql = OldIrql;
}

FORCEINLINE VOID KiExitDispatcher(KIRQL OldIrql, BOOLEAN Wait)
{
    if (Wait) {
        KiHoldForWaitNext(OldIrql);
    } else {
        KiReleaseDispatcherLock(OldIrql);
    }
}

/* ---- Mutants (mutant.c); dispatcher lock held ---- */
VOID KiAbandonOwnedMutants(PKTHREAD Thread);

/* ---- Priority inheritance (inherit.c); dispatcher lock held ---- */

/* The priority Thread should run at: max(NormalPriority (base + wake
 * boost to decay), OwnerBoostPriority, highest waiter of a mutant it
 * owns). */
SCHAR KiComputeThreadPriority(PKTHREAD Thread);
/* Sets Thread's priority to KiComputeThreadPriority (requeue / preempt). */
VOID KiRecomputeThreadPriority(PKTHREAD Thread);
/* Waiter is about to block: lifts the owners of the mutants it waits for
 * (and their owners, along chains of blocked owners) to its priority. */
VOID KiBoostMutantOwners(PKTHREAD Waiter);

/* ---- APCs (apc.c); dispatcher lock held ---- */

/* A kernel APC may be deliverable to the current thread now that a region
 * ended: delivers it (PASSIVE_LEVEL) or requests the APC interrupt. */
VOID KiCheckForKernelApcDelivery(VOID);
/* Under the dispatcher lock: the current thread has a kernel APC it may
 * run now. The wait path delivers it before blocking: an APC queued while
 * the thread was between delivery and blocking would otherwise wait for
 * the next wake, its interrupt taken by whatever ran next. */
BOOLEAN KiKernelApcDeliverable(PKTHREAD Thread);
/* The terminating current thread's queues: no more insertions; pending
 * kernel APCs delivered, the rest run down (PASSIVE_LEVEL, no lock). */
VOID KiRundownApcQueues(PKTHREAD Thread);
/* Initial APC state of a new thread. */
VOID KiInitializeThreadApcState(PKTHREAD Thread);

/* ---- Timers (timer.c); dispatcher lock held ---- */

/* Interrupt time of the earliest timer (MAXULONG64 when none); read by the
 * clock interrupt without the lock. */
extern volatile ULONG64 KiNextTimerDueTime;
/* Converts a KeSetTimer / wait DueTime to absolute interrupt time. */
ULONG64 KiDueTimeToInterruptTime(LONGLONG DueTime);
/* Inserts Timer to expire at DueTime (interrupt time); FALSE when that is
 * already past (the caller signals it). */
BOOLEAN KiInsertTimer(PKTIMER Timer, ULONG64 DueTime);
VOID KiRemoveTimer(PKTIMER Timer);
/* Expires due timers (DISPATCH_LEVEL, lock not held). */
VOID KiTimerExpiration(VOID);

/* ---- DPCs (dpc.c) ---- */
VOID KiRetireDpcList(PKPRCB Prcb);

/* ---- Threads (thread.c) ---- */
/* Terminated threads whose stacks the reaper frees. */
extern LIST_ENTRY KiReaperListHead;
/* Threads taken off the reaper list whose stack is still being freed. */
extern volatile LONG KiReapsInProgress;
VOID KiInitializeDispatcherHeader(PDISPATCHER_HEADER Header, UCHAR Type, UCHAR Size,
                                  LONG SignalState);
/* An exception that would be raised (no SEH yet): the unhandled-exception
 * stop code with the status. */
DECLSPEC_NORETURN VOID KiRaiseStatus(NTSTATUS Status);

/* The running thread, read with interrupts off so that the thread cannot
 * be switched between finding its PRCB and reading it. */
FORCEINLINE PKTHREAD KiCurrentThread(VOID)
{
    BOOLEAN Enabled = KiDisableInterrupts();
    PKTHREAD Thread = KeGetCurrentPrcb()->CurrentThread;
    KiRestoreInterrupts(Enabled);
    return Thread;
}

FORCEINLINE KAFFINITY KiProcessorSet(VOID)
{
    KAFFINITY Active = __atomic_load_n(&KeActiveProcessors, __ATOMIC_ACQUIRE);
    return Active != 0 ? Active : (KAFFINITY)1 << KeGetCurrentPrcb()->Number;
}

#endif /* _KISCHED_ */

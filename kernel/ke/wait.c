/*
 * wait.c - waiting on dispatcher objects: KeWaitForSingleObject,
 * KeWaitForMultipleObjects (WaitAny / WaitAll, relative and absolute
 * timeouts, zero timeout, alertable waits) and KeDelayExecutionThread, and
 * the other half, KiWaitTest / KiUnwaitThread, which signaling routines
 * call to satisfy and wake waiters. A waiter is satisfied by the thread
 * that signals (under the dispatcher lock), so a woken thread never has to
 * re-check: its WaitStatus is final (the index of the object, + 0x80 when
 * it got an abandoned mutant, STATUS_TIMEOUT or STATUS_ALERTED).
 *
 * Wait blocks: a thread uses its THREAD_WAIT_OBJECTS built-in blocks or
 * the caller's array, plus its own block number THREAD_WAIT_OBJECTS for
 * the timeout (queued on the thread's own timer, key STATUS_TIMEOUT).
 * BlockState is 1 while the block is linked into an object's wait list.
 *
 * KeWaitForSingleObject without a timeout, the waiting half of every
 * hand-off between threads, has a straight-line path for its common case
 * (KiWaitForSingleObjectNoTimeout) in front of the general one.
 */
#include "kisched.h"

#define KI_TIMEOUT_BLOCK THREAD_WAIT_OBJECTS

static BOOLEAN KiIsObjectSignaled(PDISPATCHER_HEADER Header, PKTHREAD Thread)
{
    if (Header->Type == MutantObject) {
        return Header->SignalState > 0 || ((PKMUTANT)Header)->OwnerThread == Thread;
    }
    return Header->SignalState > 0;
}

/* Consumes the signal Thread's wait takes from Header. Returns
 * STATUS_ABANDONED when Thread got an abandoned mutant, else 0. */
static NTSTATUS KiSatisfyObject(PDISPATCHER_HEADER Header, PKTHREAD Thread)
{
    switch (Header->Type) {
    case EventSynchronizationObject:
    case TimerSynchronizationObject:
        Header->SignalState = 0;
        break;
    case SemaphoreObject:
        Header->SignalState--;
        break;
    case MutantObject: {
        PKMUTANT Mutant = (PKMUTANT)Header;
        if (Header->SignalState == (LONG)0x80000000) {
            KiRaiseStatus(STATUS_MUTANT_LIMIT_EXCEEDED);
        }
        Header->SignalState--;
        if (Header->SignalState == 0 && Thread != NULL) {
            Mutant->OwnerThread = Thread;
            Thread->KernelApcDisable -= Mutant->ApcDisable;
            InsertHeadList(&Thread->MutantListHead, &Mutant->MutantListEntry);
            if (Mutant->Abandoned) {
                Mutant->Abandoned = FALSE;
                return STATUS_ABANDONED;
            }
        }
        break;
    }
    default:
        /* Notification events and timers, threads, processes: a signal
         * that stays. */
        break;
    }
    return 0;
}

VOID KiUnwaitThread(PKTHREAD Thread, NTSTATUS Status, KPRIORITY Increment)
{
    PKWAIT_BLOCK Timeout = &Thread->WaitBlock[KI_TIMEOUT_BLOCK];
    PKWAIT_BLOCK Blocks = Thread->WaitBlockList;
    ULONG Count = Thread->WaitBlockCount;
    BOOLEAN Mutants = FALSE;

    for (ULONG i = 0; i < Count; i++) {
        PKWAIT_BLOCK Block = &Blocks[i];
        if (Block->BlockState != 0) {
            RemoveEntryList(&Block->WaitListEntry);
            Block->BlockState = 0;
        }
        Mutants |= ((PDISPATCHER_HEADER)Block->Object)->Type == MutantObject;
    }
    if (Timeout->BlockState != 0) {
        RemoveEntryList(&Timeout->WaitListEntry);
        Timeout->BlockState = 0;
        KiRemoveTimer(&Thread->Timer);
    }
    /* Owners of mutants it stops waiting for (timeout, alert, APC, the
     * other object of a WaitAny) may have inherited its priority; they
     * are recomputed once all its blocks are unlinked. */
    for (ULONG i = 0; Mutants && i < Count; i++) {
        PDISPATCHER_HEADER Header = Blocks[i].Object;
        if (Header->Type == MutantObject) {
            PKTHREAD Owner = ((PKMUTANT)Header)->OwnerThread;
            if (Owner != NULL && Owner != Thread && Owner->Priority > Owner->NormalPriority) {
                KiRecomputeThreadPriority(Owner);
            }
        }
    }
    Thread->WaitBlockCount = 0;
    Thread->WaitStatus = Status;

    /* The boost of the signaler (variable priorities only, never above
     * 15), worn off one level per quantum end. */
    if (Increment > 0 && Thread->NormalPriority < LOW_REALTIME_PRIORITY) {
        LONG Boosted = Thread->BasePriority + Increment;
        if (Boosted > LOW_REALTIME_PRIORITY - 1) {
            Boosted = LOW_REALTIME_PRIORITY - 1;
        }
        if (Boosted > Thread->NormalPriority) {
            Thread->PriorityDecrement = (SCHAR)(Boosted - Thread->BasePriority);
            Thread->NormalPriority = (SCHAR)Boosted;
            /* An inherited priority (inherit.c) may already be higher. */
            if (Boosted > Thread->Priority) {
                Thread->Priority = (SCHAR)Boosted;
            }
        }
        Thread->Quantum = KI_QUANTUM_TICKS;
    }
    KiReadyThread(Thread);
}

/* A WaitAll waiter: satisfied only when every object is. */
static BOOLEAN KiTrySatisfyWaitAll(PKTHREAD Thread, KPRIORITY Increment)
{
    NTSTATUS Status = STATUS_WAIT_0;

    for (ULONG i = 0; i < Thread->WaitBlockCount; i++) {
        if (!KiIsObjectSignaled(Thread->WaitBlockList[i].Object, Thread)) {
            return FALSE;
        }
    }
    for (ULONG i = 0; i < Thread->WaitBlockCount; i++) {
        if (KiSatisfyObject(Thread->WaitBlockList[i].Object, Thread) != 0 &&
            Status == STATUS_WAIT_0) {
            Status = STATUS_ABANDONED_WAIT_0 + (NTSTATUS)i;
        }
    }
    KiUnwaitThread(Thread, Status, Increment);
    return TRUE;
}

VOID KiWaitTest(PVOID Object, KPRIORITY Increment)
{
    PDISPATCHER_HEADER Header = Object;
    PLIST_ENTRY Entry = Header->WaitListHead.Flink;

    while (Entry != &Header->WaitListHead) {
        PKWAIT_BLOCK Block = CONTAINING_RECORD(Entry, KWAIT_BLOCK, WaitListEntry);
        PKTHREAD Thread = Block->Thread;

        if (!KiIsObjectSignaled(Header, Thread)) {
            return;
        }
        if (Block->WaitType == WaitAny) {
            NTSTATUS Status = Block->WaitKey;
            Status |= KiSatisfyObject(Header, Thread);
            KiUnwaitThread(Thread, Status, Increment);
        } else if (!KiTrySatisfyWaitAll(Thread, Increment)) {
            Entry = Entry->Flink;
            continue;
        }
        /* Blocks were unlinked: start over. */
        Entry = Header->WaitListHead.Flink;
    }
}

/* A wait at a level that forbids it: above DISPATCH_LEVEL, or at it with
 * a timeout other than zero. */
static DECLSPEC_NORETURN __attribute__((noinline)) VOID KiWaitIrqlError(PVOID Object, KIRQL Irql,
                                                                        PVOID Caller)
{
    KiWriteIrql(HIGH_LEVEL);
    KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)Object, Irql, 0, (ULONG_PTR)Caller);
}

/* The entry of every wait: the lock's level first, from where the thread
 * cannot move, so the PRCB names it without disabling interrupts; then the
 * dispatcher lock, taken here or left held by KeSetEvent(..., TRUE) and
 * friends (WaitNext: the IRQL rules apply to the level the caller had
 * before that call). *OldIrql is the level the wait returns to. FALSE,
 * with the IRQL back and no lock, for a caller that is no schedulable
 * thread and must poll (KiPollWait). Object and Caller name the stop
 * screen of a wait at a level that forbids it. */
FORCEINLINE BOOLEAN KiEnterWait(PVOID Object, BOOLEAN ZeroTimeout, PVOID Caller,
                                PKTHREAD *ThreadOut, PKIRQL OldIrql)
{
    KIRQL Irql = KiReadIrqlInline();
    PKTHREAD Thread;

    if (Irql < DISPATCH_LEVEL) {
        KiRaiseToDispatchInline();
    }
    Thread = KeGetCurrentPrcb()->CurrentThread;
    *ThreadOut = Thread;
    if (Thread != NULL && Thread->WaitNext) {
        Thread->WaitNext = FALSE;
        *OldIrql = Thread->WaitIrql;
        if (__builtin_expect(*OldIrql >= DISPATCH_LEVEL && !ZeroTimeout, 0)) {
            KiWaitIrqlError(Object, *OldIrql, Caller);
        }
        return TRUE;
    }
    if (__builtin_expect(Irql > DISPATCH_LEVEL || (Irql == DISPATCH_LEVEL && !ZeroTimeout), 0)) {
        KiWaitIrqlError(Object, Irql, Caller);
    }
    if (__builtin_expect(!ZeroTimeout && (Thread == NULL || Thread->IdleThread), 0)) {
        KiLowerFromDispatcherLock(Irql);
        return FALSE;
    }
    KiAcquireDispatcherLockRaw();
    *OldIrql = Irql;
    return TRUE;
}

/* Links Block (Thread's wait on Object, satisfied with status Key) into
 * Object's wait list. */
FORCEINLINE VOID KiLinkWaitBlock(PKWAIT_BLOCK Block, PVOID Object, USHORT Key, WAIT_TYPE WaitType,
                                 PKTHREAD Thread)
{
    Block->Object = Object;
    Block->WaitKey = Key;
    Block->WaitType = (UCHAR)WaitType;
    Block->Thread = Thread;
    Block->BlockState = 1;
    InsertTailList(&((PDISPATCHER_HEADER)Object)->WaitListHead, &Block->WaitListEntry);
}

/* A wait by code that is not a schedulable thread (boot code before the
 * scheduler, an idle thread): poll with zero timeouts. */
static NTSTATUS KiPollWait(ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON WaitReason,
                           PLARGE_INTEGER Timeout, PKWAIT_BLOCK WaitBlockArray)
{
    LARGE_INTEGER Zero = { .QuadPart = 0 };
    ULONG64 Due = Timeout != NULL ? KiDueTimeToInterruptTime(Timeout->QuadPart) : ~0ull;

    for (;;) {
        NTSTATUS Status = KiWaitForObjects(Count, Object, WaitType, WaitReason, KernelMode, FALSE,
                                           &Zero, WaitBlockArray);
        if (Status != STATUS_TIMEOUT || KeQueryInterruptTime() >= Due) {
            return Status;
        }
        KiArchSpinWait();
    }
}

NTSTATUS KiWaitForObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON WaitReason,
                          KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                          PKWAIT_BLOCK WaitBlockArray)
{
    BOOLEAN ZeroTimeout = Timeout != NULL && Timeout->QuadPart == 0;
    BOOLEAN HasMutant = FALSE;
    PKTHREAD Thread;
    NTSTATUS Status;
    KIRQL OldIrql;
    ULONG64 Due = 0;
    PKPRCB Prcb;

    if (Count > MAXIMUM_WAIT_OBJECTS || (WaitBlockArray == NULL && Count > THREAD_WAIT_OBJECTS)) {
        KeBugCheckEx(MAXIMUM_WAIT_OBJECTS_EXCEEDED, Count, (ULONG_PTR)WaitBlockArray, 0, 0);
    }
    if (!KiEnterWait(Count != 0 ? Object[0] : NULL, ZeroTimeout, __builtin_return_address(0),
                     &Thread, &OldIrql)) {
        return KiPollWait(Count, Object, WaitType, WaitReason, Timeout, WaitBlockArray);
    }
    /* The timeout is fixed once: a wait restarted after kernel APCs ran
     * keeps the original deadline. */
    if (Timeout != NULL && !ZeroTimeout) {
        Due = KiDueTimeToInterruptTime(Timeout->QuadPart);
    }

Restart:
    Prcb = KeGetCurrentPrcb();
    if (WaitBlockArray == NULL && Thread != NULL) {
        WaitBlockArray = Thread->WaitBlock;
    }

    if (WaitType == WaitAny) {
        for (ULONG i = 0; i < Count; i++) {
            if (KiIsObjectSignaled(Object[i], Thread)) {
                Status = (NTSTATUS)i | KiSatisfyObject(Object[i], Thread);
                goto Done;
            }
        }
    } else if (Count != 0) {
        BOOLEAN All = TRUE;
        for (ULONG i = 0; i < Count && All; i++) {
            All = KiIsObjectSignaled(Object[i], Thread);
        }
        if (All) {
            Status = STATUS_WAIT_0;
            for (ULONG i = 0; i < Count; i++) {
                if (KiSatisfyObject(Object[i], Thread) != 0 && Status == STATUS_WAIT_0) {
                    Status = STATUS_ABANDONED_WAIT_0 + (NTSTATUS)i;
                }
            }
            goto Done;
        }
    }
    if (Alertable && Thread != NULL && Thread->Alerted[WaitMode != KernelMode]) {
        Thread->Alerted[WaitMode != KernelMode] = FALSE;
        Status = STATUS_ALERTED;
        goto Done;
    }
    if (Alertable && Thread != NULL && WaitMode != KernelMode &&
        !IsListEmpty(&Thread->ApcState.ApcListHead[UserMode])) {
        /* User APCs run on the way back to user mode (apc.c). */
        Thread->ApcState.UserApcPending = TRUE;
        Status = STATUS_USER_APC;
        goto Done;
    }
    if (Timeout != NULL) {
        if (ZeroTimeout || Due <= KeQueryInterruptTime()) {
            Status = STATUS_TIMEOUT;
            goto Done;
        }
    }
    if (Thread != NULL && OldIrql == PASSIVE_LEVEL &&
        !IsListEmpty(&Thread->ApcState.ApcListHead[KernelMode]) && KiKernelApcDeliverable(Thread)) {
        /* A kernel APC came in after the last delivery: run it first (as
         * NT does when it commits a wait), then wait again. */
        KiReleaseDispatcherLock(OldIrql);
        KiCheckForKernelApcDelivery();
        OldIrql = KiAcquireDispatcherLock();
        goto Restart;
    }

    /* Block. The timeout first: time has passed since the check above, and
     * KiInsertTimer refuses a due time that has been reached meanwhile (a
     * timer not queued would never fire and the wait would never end).
     * Then nothing is linked yet, and the wait simply times out. */
    if (Timeout != NULL) {
        if (!KiInsertTimer(&Thread->Timer, Due)) {
            Status = STATUS_TIMEOUT;
            goto Done;
        }
        Thread->Timer.Header.SignalState = 0;
        KiLinkWaitBlock(&Thread->WaitBlock[KI_TIMEOUT_BLOCK], &Thread->Timer,
                        (USHORT)STATUS_TIMEOUT, WaitAny, Thread);
    }
    /* A wait block into each object. */
    for (ULONG i = 0; i < Count; i++) {
        KiLinkWaitBlock(&WaitBlockArray[i], Object[i], (USHORT)i, WaitType, Thread);
        HasMutant |= ((PDISPATCHER_HEADER)Object[i])->Type == MutantObject;
    }
    Thread->WaitBlockList = WaitBlockArray;
    Thread->WaitBlockCount = Count;
    Thread->Alertable = Alertable;
    Thread->WaitMode = WaitMode;
    Thread->WaitReason = (UCHAR)WaitReason;
    Thread->WaitIrql = OldIrql;
    Thread->WaitStatus = STATUS_SUCCESS;
    Thread->State = Waiting;
    if (HasMutant) {
        KiBoostMutantOwners(Thread);
    }
    Status = KiSwapThread(Thread, Prcb);
    Thread->Alertable = FALSE;
    /* Kernel APCs woke it: they run as the IRQL drops, then it waits
     * again (NT: kernel APCs interrupt even non-alertable waits). */
    KiLowerFromDispatcherLock(OldIrql);
    if (Status == STATUS_KERNEL_APC) {
        HasMutant = FALSE;
        OldIrql = KiAcquireDispatcherLock();
        goto Restart;
    }
    return Status;

Done:
    KiReleaseDispatcherLock(OldIrql);
    return Status;
}

/* KeWaitForSingleObject without a timeout: the waiting half of every
 * hand-off between threads, straight through for its common case (not a
 * mutant, not alertable, no kernel APC queued). Anything else goes to
 * KiWaitForObjects, which gets the dispatcher lock this routine holds the
 * way KeSetEvent(..., TRUE) hands it over (WaitNext), so the order of the
 * checks there (signal, alert, APC delivery) is the order for every wait. */
static NTSTATUS KiWaitForSingleObjectNoTimeout(PVOID Object, KWAIT_REASON WaitReason,
                                               KPROCESSOR_MODE WaitMode, BOOLEAN Alertable)
{
    PDISPATCHER_HEADER Header = Object;
    PKTHREAD Thread;
    NTSTATUS Status;
    KIRQL OldIrql;

    if (!KiEnterWait(Object, FALSE, __builtin_return_address(0), &Thread, &OldIrql)) {
        return KiPollWait(1, &Object, WaitAny, WaitReason, NULL, NULL);
    }

    if (__builtin_expect(Header->Type == MutantObject || Alertable ||
                             (OldIrql == PASSIVE_LEVEL &&
                              !IsListEmpty(&Thread->ApcState.ApcListHead[KernelMode])),
                         0)) {
        KiHoldForWaitNext(OldIrql);
        return KiWaitForObjects(1, &Object, WaitAny, WaitReason, WaitMode, Alertable, NULL, NULL);
    }
    if (Header->SignalState > 0) {
        Status = STATUS_WAIT_0 | KiSatisfyObject(Header, Thread);
        KiReleaseDispatcherLock(OldIrql);
        return Status;
    }

    KiLinkWaitBlock(&Thread->WaitBlock[0], Object, 0, WaitAny, Thread);
    Thread->WaitBlockList = &Thread->WaitBlock[0];
    Thread->WaitBlockCount = 1;
    Thread->WaitMode = WaitMode;
    Thread->WaitReason = (UCHAR)WaitReason;
    Thread->WaitIrql = OldIrql;
    Thread->WaitStatus = STATUS_SUCCESS;
    Thread->State = Waiting;
    Status = KiSwapThread(Thread, KeGetCurrentPrcb());
    KiLowerFromDispatcherLock(OldIrql);
    if (Status == STATUS_KERNEL_APC) {
        /* Kernel APCs woke it and ran as the IRQL dropped: it waits
         * again. */
        return KiWaitForObjects(1, &Object, WaitAny, WaitReason, WaitMode, Alertable, NULL, NULL);
    }
    return Status;
}

NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason,
                                     KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                     PLARGE_INTEGER Timeout)
{
    if (Timeout == NULL) {
        return KiWaitForSingleObjectNoTimeout(Object, WaitReason, WaitMode, Alertable);
    }
    return KiWaitForObjects(1, &Object, WaitAny, WaitReason, WaitMode, Alertable, Timeout, NULL);
}

NTSTATUS NTAPI KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                        KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                        BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                                        PKWAIT_BLOCK WaitBlockArray)
{
    if (WaitType != WaitAny && WaitType != WaitAll) {
        KiRaiseStatus(STATUS_INVALID_PARAMETER);
    }
    return KiWaitForObjects(Count, Object, WaitType, WaitReason, WaitMode, Alertable, Timeout,
                            WaitBlockArray);
}

NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                      PLARGE_INTEGER Interval)
{
    NTSTATUS Status;

    if (Interval->QuadPart == 0) {
        /* NT: a zero delay gives up the rest of the quantum. */
        KiYieldThread();
        return STATUS_SUCCESS;
    }
    Status =
        KiWaitForObjects(0, NULL, WaitAny, DelayExecution, WaitMode, Alertable, Interval, NULL);
    return Status == STATUS_TIMEOUT ? STATUS_SUCCESS : Status;
}

/*
 * apc.c - asynchronous procedure calls: KAPC objects queued to a thread
 * and run in that thread's context. Kernel APCs: special ones (no
 * NormalRoutine) run at APC_LEVEL whenever the thread's IRQL drops below
 * APC_LEVEL outside a guarded region; normal ones run their KernelRoutine
 * at APC_LEVEL then their NormalRoutine at PASSIVE_LEVEL, outside critical
 * and guarded regions, one at a time. A thread blocked in a wait at
 * PASSIVE_LEVEL is woken with STATUS_KERNEL_APC to run them, then its wait
 * starts again (wait.c). User APCs are queued and end alertable user-mode
 * waits with STATUS_USER_APC; running them needs user mode (later).
 *
 * The queues and the pending flags are guarded by the dispatcher lock
 * (the insertion also looks at the target's scheduling state). The APC
 * software interrupt is per processor while APCs belong to threads, so
 * ApcState.KernelApcPending stays with the thread and the context switch
 * re-requests the interrupt where the thread next runs (sched.c).
 */
#include "kisched.h"

#ifndef IRQL_UNEXPECTED_VALUE
#define IRQL_UNEXPECTED_VALUE ((ULONG)0x000000C8L)
#endif

static BOOLEAN KiIsSpecialApc(PKAPC Apc)
{
    return Apc->NormalRoutine == NULL;
}

VOID KiInitializeThreadApcState(PKTHREAD Thread)
{
    InitializeListHead(&Thread->ApcState.ApcListHead[KernelMode]);
    InitializeListHead(&Thread->ApcState.ApcListHead[UserMode]);
    Thread->ApcState.Process = Thread->Process;
    Thread->ApcState.InProgressFlags = 0;
    Thread->ApcState.KernelApcPending = FALSE;
    Thread->ApcState.UserApcPendingAll = FALSE;
    Thread->ApcQueueable = TRUE;
}

VOID NTAPI KeInitializeApc(PRKAPC Apc, PRKTHREAD Thread, KAPC_ENVIRONMENT Environment,
                           PKKERNEL_ROUTINE KernelRoutine, PKRUNDOWN_ROUTINE RundownRoutine,
                           PKNORMAL_ROUTINE NormalRoutine, KPROCESSOR_MODE ApcMode,
                           PVOID NormalContext)
{
    memset(Apc, 0, sizeof(*Apc));
    Apc->Type = ApcObject;
    Apc->Size = sizeof(KAPC);
    Apc->Thread = Thread;
    /* No process attach yet: every environment is the original one. */
    (VOID) Environment;
    Apc->ApcStateIndex = OriginalApcEnvironment;
    Apc->KernelRoutine = KernelRoutine;
    Apc->RundownRoutine = RundownRoutine;
    Apc->NormalRoutine = NormalRoutine;
    if (NormalRoutine != NULL) {
        Apc->ApcMode = ApcMode;
        Apc->NormalContext = NormalContext;
    } else {
        Apc->ApcMode = KernelMode;
        Apc->NormalContext = NULL;
    }
    Apc->Inserted = FALSE;
}

/* Makes Thread notice its new kernel APC: wakes it from a PASSIVE_LEVEL
 * wait the APC may interrupt, or interrupts the processor it runs on. */
static VOID KiSignalKernelApc(PKTHREAD Thread, PKAPC Apc, KPRIORITY Increment)
{
    PKPRCB Current = KeGetCurrentPrcb();

    Thread->ApcState.KernelApcPending = TRUE;
    switch (Thread->State) {
    case Running:
        if (Thread->Processor == Current->Number) {
            KiRequestSoftwareInterrupt(APC_LEVEL);
        } else {
            KiIpiSend((KAFFINITY)1 << Thread->Processor, IPI_APC);
        }
        break;
    case Waiting:
        if (Thread->WaitIrql == PASSIVE_LEVEL && Thread->SpecialApcDisable == 0 &&
            (KiIsSpecialApc(Apc) ||
             (Thread->KernelApcDisable == 0 && !Thread->ApcState.KernelApcInProgress))) {
            KiUnwaitThread(Thread, STATUS_KERNEL_APC, Increment);
        }
        break;
    default:
        /* Ready, Standby, Initialized: the switch to it requests the
         * interrupt (KiCompleteSwitch). */
        break;
    }
}

BOOLEAN NTAPI KeInsertQueueApc(PRKAPC Apc, PVOID SystemArgument1, PVOID SystemArgument2,
                               KPRIORITY Increment)
{
    PKTHREAD Thread = Apc->Thread;
    PLIST_ENTRY Head;
    KIRQL OldIrql;

    OldIrql = KiAcquireDispatcherLock();
    if (Apc->Inserted || !Thread->ApcQueueable || Thread->State == Terminated) {
        KiReleaseDispatcherLock(OldIrql);
        return FALSE;
    }
    Apc->SystemArgument1 = SystemArgument1;
    Apc->SystemArgument2 = SystemArgument2;
    Apc->Inserted = TRUE;
    Head = &Thread->ApcState.ApcListHead[(UCHAR)Apc->ApcMode];
    if (Apc->ApcMode == KernelMode && KiIsSpecialApc(Apc)) {
        /* Special APCs go ahead of normal ones, in order among themselves. */
        PLIST_ENTRY Entry = Head->Flink;
        while (Entry != Head && KiIsSpecialApc(CONTAINING_RECORD(Entry, KAPC, ApcListEntry))) {
            Entry = Entry->Flink;
        }
        InsertTailList(Entry, &Apc->ApcListEntry);
    } else {
        InsertTailList(Head, &Apc->ApcListEntry);
    }

    if (Apc->ApcMode == KernelMode) {
        KiSignalKernelApc(Thread, Apc, Increment);
    } else if (Thread->State == Waiting && Thread->WaitMode == UserMode && Thread->Alertable) {
        Thread->ApcState.UserApcPending = TRUE;
        KiUnwaitThread(Thread, STATUS_USER_APC, Increment);
    }
    KiReleaseDispatcherLock(OldIrql);
    return TRUE;
}

BOOLEAN NTAPI KeRemoveQueueApc(PKAPC Apc)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    BOOLEAN Inserted = Apc->Inserted;

    if (Inserted) {
        RemoveEntryList(&Apc->ApcListEntry);
        Apc->Inserted = FALSE;
    }
    KiReleaseDispatcherLock(OldIrql);
    return Inserted;
}

BOOLEAN KiKernelApcDeliverable(PKTHREAD Thread)
{
    PLIST_ENTRY Head = &Thread->ApcState.ApcListHead[KernelMode];
    PKAPC Apc;

    if (IsListEmpty(Head) || Thread->SpecialApcDisable != 0) {
        return FALSE;
    }
    Apc = CONTAINING_RECORD(Head->Flink, KAPC, ApcListEntry);
    return KiIsSpecialApc(Apc) ||
           (Thread->KernelApcDisable == 0 && !Thread->ApcState.KernelApcInProgress);
}

/* Takes the first kernel APC the current thread may run now (NULL when
 * none); its fields are copied because its KernelRoutine may free it. */
static PKAPC KiNextDeliverableApc(PKTHREAD Thread, BOOLEAN *Normal)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    PKAPC Apc = NULL;

    Thread->ApcState.KernelApcPending = FALSE;
    if (KiKernelApcDeliverable(Thread)) {
        Apc = CONTAINING_RECORD(Thread->ApcState.ApcListHead[KernelMode].Flink, KAPC, ApcListEntry);
        *Normal = !KiIsSpecialApc(Apc);
        RemoveEntryList(&Apc->ApcListEntry);
        Apc->Inserted = FALSE;
    }
    KiReleaseDispatcherLock(OldIrql);
    return Apc;
}

VOID KiDeliverApc(VOID)
{
    PKTHREAD Thread = KiCurrentThread();
    BOOLEAN Normal;
    PKAPC Apc;

    if (Thread == NULL || Thread->IdleThread) {
        return;
    }
    while ((Apc = KiNextDeliverableApc(Thread, &Normal)) != NULL) {
        PKKERNEL_ROUTINE KernelRoutine = Apc->KernelRoutine;
        PKNORMAL_ROUTINE NormalRoutine = Apc->NormalRoutine;
        PVOID NormalContext = Apc->NormalContext;
        PVOID Argument1 = Apc->SystemArgument1;
        PVOID Argument2 = Apc->SystemArgument2;

        if (!Normal) {
            Thread->ApcState.SpecialApcInProgress = TRUE;
            KernelRoutine(Apc, &NormalRoutine, &NormalContext, &Argument1, &Argument2);
            Thread->ApcState.SpecialApcInProgress = FALSE;
            continue;
        }
        KernelRoutine(Apc, &NormalRoutine, &NormalContext, &Argument1, &Argument2);
        if (NormalRoutine != NULL) {
            /* The normal routine runs at PASSIVE_LEVEL; special APCs may
             * still interrupt it, normal ones may not. */
            Thread->ApcState.KernelApcInProgress = TRUE;
            KeLowerIrql(PASSIVE_LEVEL);
            NormalRoutine(NormalContext, Argument1, Argument2);
            (VOID) KfRaiseIrql(APC_LEVEL);
            Thread->ApcState.KernelApcInProgress = FALSE;
        }
        if (KiReadIrql() != APC_LEVEL) {
            KeBugCheckEx(IRQL_UNEXPECTED_VALUE, KiReadIrql(), APC_LEVEL, (ULONG_PTR)KernelRoutine,
                         (ULONG_PTR)NormalRoutine);
        }
    }
}

VOID KiCheckForKernelApcDelivery(VOID)
{
    PKTHREAD Thread = KiCurrentThread();

    if (KiReadIrql() == PASSIVE_LEVEL) {
        KIRQL OldIrql;
        KeRaiseIrql(APC_LEVEL, &OldIrql);
        KiDeliverApc();
        KeLowerIrql(OldIrql);
    } else {
        /* The flag follows the thread if it is switched before the IRQL
         * drops; the request covers the processor it is on now. */
        Thread->ApcState.KernelApcPending = TRUE;
        KiRequestSoftwareInterrupt(APC_LEVEL);
    }
}

static BOOLEAN KiKernelApcQueued(PKTHREAD Thread)
{
    PLIST_ENTRY Head = &Thread->ApcState.ApcListHead[KernelMode];
    return __atomic_load_n(&Head->Flink, __ATOMIC_ACQUIRE) != Head;
}

VOID KiRundownApcQueues(PKTHREAD Thread)
{
    KIRQL OldIrql;

    /* Kernel APCs already queued still run (the thread is at PASSIVE_LEVEL
     * and leaving); then the queues close. */
    if (Thread->KernelApcDisable == 0 && Thread->SpecialApcDisable == 0 &&
        KiKernelApcQueued(Thread)) {
        KiCheckForKernelApcDelivery();
    }
    OldIrql = KiAcquireDispatcherLock();
    Thread->ApcQueueable = FALSE;
    KiReleaseDispatcherLock(OldIrql);

    for (ULONG Mode = KernelMode; Mode < MaximumMode; Mode++) {
        for (;;) {
            PLIST_ENTRY Head = &Thread->ApcState.ApcListHead[Mode];
            PKAPC Apc = NULL;
            OldIrql = KiAcquireDispatcherLock();
            if (!IsListEmpty(Head)) {
                Apc = CONTAINING_RECORD(RemoveHeadList(Head), KAPC, ApcListEntry);
                Apc->Inserted = FALSE;
            }
            KiReleaseDispatcherLock(OldIrql);
            if (Apc == NULL) {
                break;
            }
            if (Apc->RundownRoutine != NULL) {
                Apc->RundownRoutine(Apc);
            }
        }
    }
}

/* ---- Critical and guarded regions ---- */

VOID NTAPI KeEnterCriticalRegion(VOID)
{
    KiCurrentThread()->KernelApcDisable--;
}

VOID NTAPI KeLeaveCriticalRegion(VOID)
{
    PKTHREAD Thread = KiCurrentThread();

    if (++Thread->KernelApcDisable == 0 && Thread->SpecialApcDisable == 0 &&
        KiKernelApcQueued(Thread)) {
        KiCheckForKernelApcDelivery();
    }
}

VOID NTAPI KeEnterGuardedRegion(VOID)
{
    KiCurrentThread()->SpecialApcDisable--;
}

VOID NTAPI KeLeaveGuardedRegion(VOID)
{
    PKTHREAD Thread = KiCurrentThread();

    if (++Thread->SpecialApcDisable == 0 && KiKernelApcQueued(Thread)) {
        KiCheckForKernelApcDelivery();
    }
}

BOOLEAN NTAPI KeAreApcsDisabled(VOID)
{
    PKTHREAD Thread = KiCurrentThread();
    return Thread->KernelApcDisable != 0 || Thread->SpecialApcDisable != 0;
}

BOOLEAN NTAPI KeAreAllApcsDisabled(VOID)
{
    return KiCurrentThread()->SpecialApcDisable != 0 || KiReadIrql() >= APC_LEVEL;
}

/*
 * thread.c - kernel threads: the system process, thread objects (created
 * with a kernel stack from MmCreateKernelStack, started, run through
 * KiThreadStartup, terminated: owned mutants abandoned, the object
 * signaled, the stack freed later by the reaper since a thread cannot free
 * the stack it runs on), reference counting, each processor's idle thread
 * (the boot processor's is the boot code itself), scheduler start-up and
 * the thread routines drivers call: priorities, affinity, alerts, critical
 * regions.
 */
#include <ex.h>
#include <mm.h>
#include "kisched.h"

LIST_ENTRY KiReaperListHead = { &KiReaperListHead, &KiReaperListHead };
volatile LONG KiReapsInProgress;

static KPROCESS KiSystemProcess;
static KTHREAD KiIdleThreadObjects[MAXIMUM_PROCESSORS];
static volatile LONG KiThreadCount;
static volatile LONG KiKernelStacks;
static volatile LONG KiNextThreadId;

#define KI_SYSTEM_PROCESS_ID ((HANDLE)4)
#define KI_ALL_PROCESSORS    ((KAFFINITY)-1)

VOID KiInitializeDispatcherHeader(PDISPATCHER_HEADER Header, UCHAR Type, UCHAR Size,
                                  LONG SignalState)
{
    Header->Lock = 0;
    Header->Type = Type;
    Header->Size = Size;
    Header->SignalState = SignalState;
    InitializeListHead(&Header->WaitListHead);
}

DECLSPEC_NORETURN VOID KiRaiseStatus(NTSTATUS Status)
{
    KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)Status,
                 (ULONG_PTR)__builtin_return_address(0), 0, 0);
}

static VOID KiInitializeThreadObject(PKTHREAD Thread, SCHAR Priority, KAFFINITY Affinity)
{
    memset(Thread, 0, sizeof(*Thread));
    KiInitializeDispatcherHeader(
        &Thread->Header, ThreadObject,
        (UCHAR)(sizeof(KTHREAD) / sizeof(LONG) > 0xFF ? 0xFF : sizeof(KTHREAD) / sizeof(LONG)), 0);
    Thread->State = Initialized;
    Thread->Priority = Priority;
    Thread->BasePriority = Priority;
    Thread->NormalPriority = Priority;
    Thread->Quantum = KI_QUANTUM_TICKS;
    Thread->Affinity = Affinity;
    Thread->UserAffinity = Affinity;
    Thread->Processor = KeGetCurrentPrcb()->Number;
    InitializeListHead(&Thread->MutantListHead);
    InitializeListHead(&Thread->ReadyListEntry);
    KeInitializeTimerEx(&Thread->Timer, NotificationTimer);
    Thread->Process = &KiSystemProcess;
    Thread->SystemThread = TRUE;
    Thread->Cid.UniqueProcess = KI_SYSTEM_PROCESS_ID;
    Thread->Cid.UniqueThread =
        (HANDLE)(ULONG_PTR)(ULONG)__atomic_add_fetch(&KiNextThreadId, 4, __ATOMIC_RELAXED);
    Thread->CreateTime = KeQueryInterruptTime();
    KiInitializeThreadApcState(Thread);
}

/* ---- Start-up ---- */

VOID KiInitializeProcessorScheduler(PKPRCB Prcb)
{
    PKTHREAD Idle = &KiIdleThreadObjects[Prcb->Number];
    KIRQL OldIrql;

    for (ULONG i = 0; i < KI_PRIORITY_LEVELS; i++) {
        InitializeListHead(&Prcb->DispatcherReadyListHead[i]);
    }
    Prcb->ReadySummary = 0;
    Prcb->DpcData.DpcList.ListHead.Next = NULL;
    Prcb->DpcData.DpcList.LastEntry = NULL;
    Prcb->DpcData.DpcLock = 0;
    Prcb->DpcData.DpcQueueDepth = 0;

    KiInitializeThreadObject(Idle, LOW_PRIORITY, (KAFFINITY)1 << Prcb->Number);
    Idle->State = Running;
    Idle->IdleThread = TRUE;
    Idle->ReferenceCount = 1;
    Idle->Processor = Prcb->Number;
    Prcb->NextThread = NULL;
    Prcb->IdleThread = Idle;
    Prcb->CurrentThread = Idle;

    OldIrql = KiAcquireDispatcherLock();
    KiIdleSummary |= (KAFFINITY)1 << Prcb->Number;
    KiReleaseDispatcherLock(OldIrql);
}

VOID KiInitializeScheduler(VOID)
{
    PKPRCB Prcb = KeGetCurrentPrcb();

    KiInitializeDispatcherHeader(&KiSystemProcess.Header, ProcessObject,
                                 sizeof(KPROCESS) / sizeof(LONG), 0);
    InitializeListHead(&KiSystemProcess.ThreadListHead);
    KiSystemProcess.Affinity = KI_ALL_PROCESSORS;
    KiSystemProcess.BasePriority = KI_DEFAULT_PRIORITY;
    if (KiProcessorBlock[Prcb->Number] == NULL) {
        KiRegisterProcessor(Prcb);
    }
    KiInitializeProcessorScheduler(Prcb);
}

PKPROCESS KiQuerySystemProcess(VOID)
{
    return &KiSystemProcess;
}

/* Where every new thread begins (KiInitializeContextThread): the switch
 * that got here holds the dispatcher lock at DISPATCH_LEVEL. */
static VOID KiThreadStartup(VOID)
{
    PKTHREAD Thread;

    KiCompleteSwitch();
    KiRestoreInterrupts(TRUE);
    Thread = KiCurrentThread();
    KeLowerIrql(PASSIVE_LEVEL);
    Thread->StartRoutine(Thread->StartContext);
    KiTerminateThread(STATUS_SUCCESS);
}

/* ---- Life cycle ---- */

NTSTATUS KiCreateThread(PKSTART_ROUTINE StartRoutine, PVOID StartContext, KPRIORITY Priority,
                        PKTHREAD *ThreadOut)
{
    PKTHREAD Thread;
    ULONG_PTR StackLimit;
    PVOID StackBase;
    KIRQL OldIrql;

    if (Priority <= LOW_PRIORITY || Priority > HIGH_PRIORITY) {
        return STATUS_INVALID_PARAMETER;
    }
    /* Creation is a good moment to return dead threads' stacks. */
    KiReapTerminatedThreads();

    Thread = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(KTHREAD), KI_THREAD_POOL_TAG);
    if (Thread == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    KiInitializeThreadObject(Thread, (SCHAR)Priority, KI_ALL_PROCESSORS);
    StackBase = MmCreateKernelStack(KI_KERNEL_STACK_SIZE, &StackLimit);
    if (StackBase == NULL) {
        ExFreePoolWithTag(Thread, KI_THREAD_POOL_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    Thread->StackBase = (ULONG_PTR)StackBase;
    Thread->StackLimit = StackLimit;
    Thread->StackSize = KI_KERNEL_STACK_SIZE;
    Thread->OwnsStack = TRUE;
    __atomic_add_fetch(&KiKernelStacks, 1, __ATOMIC_RELAXED);
    Thread->StartRoutine = StartRoutine;
    Thread->StartContext = StartContext;
    /* One reference for being alive (dropped by the reaper), one for the
     * creator. */
    Thread->ReferenceCount = 2;
    KiInitializeContextThread(Thread, KiThreadStartup);

    __atomic_add_fetch(&KiThreadCount, 1, __ATOMIC_RELAXED);
    OldIrql = KiAcquireDispatcherLock();
    InsertTailList(&KiSystemProcess.ThreadListHead, &Thread->ThreadListEntry);
    KiSystemProcess.ThreadCount++;
    KiReleaseDispatcherLock(OldIrql);
    *ThreadOut = Thread;
    return STATUS_SUCCESS;
}

VOID KiStartThread(PKTHREAD Thread)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    KiReadyThread(Thread);
    KiReleaseDispatcherLock(OldIrql);
}

VOID KiDiscardThread(PKTHREAD Thread)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();

    RemoveEntryList(&Thread->ThreadListEntry);
    KiSystemProcess.ThreadCount--;
    Thread->State = Terminated;
    KiReleaseDispatcherLock(OldIrql);
    MmDeleteKernelStack((PVOID)Thread->StackBase, Thread->StackSize);
    __atomic_sub_fetch(&KiKernelStacks, 1, __ATOMIC_RELAXED);
    Thread->OwnsStack = FALSE;
    Thread->ReferenceCount = 1;
    KiDereferenceThread(Thread);
}

VOID KiReferenceThread(PKTHREAD Thread)
{
    __atomic_add_fetch(&Thread->ReferenceCount, 1, __ATOMIC_RELAXED);
}

VOID KiDereferenceThread(PKTHREAD Thread)
{
    LONG Count = __atomic_sub_fetch(&Thread->ReferenceCount, 1, __ATOMIC_ACQ_REL);

    if (Count < 0 || Thread->IdleThread) {
        KeBugCheckEx(INVALID_DATA_ACCESS_TRAP, (ULONG_PTR)Thread, (ULONG_PTR)Count, 0, 0);
    }
    if (Count == 0) {
        ExFreePoolWithTag(Thread, KI_THREAD_POOL_TAG);
        __atomic_sub_fetch(&KiThreadCount, 1, __ATOMIC_RELAXED);
    }
}

LONG KiQueryThreadCount(VOID)
{
    return __atomic_load_n(&KiThreadCount, __ATOMIC_RELAXED);
}

LONG KiQueryKernelStackCount(VOID)
{
    return __atomic_load_n(&KiKernelStacks, __ATOMIC_RELAXED);
}

DECLSPEC_NORETURN VOID KiTerminateThread(NTSTATUS ExitStatus)
{
    PKTHREAD Thread = KiCurrentThread();
    KIRQL OldIrql;

    if (Thread == NULL || Thread->IdleThread) {
        KeBugCheckEx(INVALID_DATA_ACCESS_TRAP, (ULONG_PTR)Thread, (ULONG_PTR)ExitStatus, 1, 0);
    }
    /* Queued kernel APCs run and the rest run down while the thread can
     * still take them at PASSIVE_LEVEL. */
    KiRundownApcQueues(Thread);
    OldIrql = KiAcquireDispatcherLock();
    (VOID) OldIrql;
    Thread->ExitStatus = ExitStatus;
    KiAbandonOwnedMutants(Thread);
    Thread->Header.SignalState = 1;
    if (!IsListEmpty(&Thread->Header.WaitListHead)) {
        KiWaitTest(&Thread->Header, 0);
    }
    RemoveEntryList(&Thread->ThreadListEntry);
    Thread->Process->ThreadCount--;
    Thread->State = Terminated;
    InsertTailList(&KiReaperListHead, &Thread->ReaperListEntry);
    KiSwapThread(Thread, KeGetCurrentPrcb());
    KeBugCheckEx(INVALID_DATA_ACCESS_TRAP, (ULONG_PTR)Thread, 0, 2, 0);
}

ULONG KiReapTerminatedThreads(VOID)
{
    ULONG Count = 0;

    for (;;) {
        KIRQL OldIrql = KiAcquireDispatcherLock();
        PKTHREAD Thread;

        if (IsListEmpty(&KiReaperListHead)) {
            KiReleaseDispatcherLock(OldIrql);
            return Count;
        }
        /* On the list only once switched away from (the lock was held
         * from the insertion until the switch completed). */
        Thread = CONTAINING_RECORD(RemoveHeadList(&KiReaperListHead), KTHREAD, ReaperListEntry);
        KiReapsInProgress++;
        KiReleaseDispatcherLock(OldIrql);
        if (Thread->OwnsStack) {
            MmDeleteKernelStack((PVOID)Thread->StackBase, Thread->StackSize);
            __atomic_sub_fetch(&KiKernelStacks, 1, __ATOMIC_RELAXED);
            Thread->StackBase = 0;
            Thread->StackLimit = 0;
            Thread->OwnsStack = FALSE;
        }
        KiDereferenceThread(Thread);
        __atomic_sub_fetch(&KiReapsInProgress, 1, __ATOMIC_RELEASE);
        Count++;
    }
}

VOID KiSettleTerminatedThreads(VOID)
{
    LARGE_INTEGER TwoMs = { .QuadPart = -20000 };
    LONG Last = -1;

    /* Other processors' idle threads reap too: wait until no thread is
     * queued or being reaped and the thread count holds still. */
    for (ULONG i = 0; i < 200; i++) {
        KIRQL OldIrql;
        BOOLEAN Empty;
        LONG Count;

        KiReapTerminatedThreads();
        KeDelayExecutionThread(KernelMode, FALSE, &TwoMs);
        OldIrql = KiAcquireDispatcherLock();
        Empty = IsListEmpty(&KiReaperListHead) && KiReapsInProgress == 0;
        KiReleaseDispatcherLock(OldIrql);
        Count = KiQueryThreadCount();
        if (Empty && Count == Last) {
            /* Their stacks too, not kept for the next thread. */
            MiFlushDeadStacks();
            return;
        }
        Last = Count;
    }
}

/* ---- Thread routines ---- */

PKTHREAD NTAPI KeGetCurrentThread(VOID)
{
    return KiCurrentThread();
}

KPRIORITY NTAPI KeQueryPriorityThread(PKTHREAD Thread)
{
    return Thread->Priority;
}

KPRIORITY NTAPI KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority)
{
    KIRQL OldIrql;
    KPRIORITY Old;

    if (Priority <= LOW_PRIORITY || Priority > HIGH_PRIORITY) {
        KeBugCheckEx(INVALID_DATA_ACCESS_TRAP, (ULONG_PTR)Thread, (ULONG_PTR)Priority, 3, 0);
    }
    OldIrql = KiAcquireDispatcherLock();
    Old = Thread->Priority;
    /* As NT: the boost is gone and the base stays; an inherited priority
     * (inherit.c) still applies on top. */
    Thread->PriorityDecrement = 0;
    Thread->NormalPriority = (SCHAR)Priority;
    KiRecomputeThreadPriority(Thread);
    KiReleaseDispatcherLock(OldIrql);
    return Old;
}

LONG NTAPI KeSetBasePriorityThread(PKTHREAD Thread, LONG Increment)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    LONG ProcessBase = Thread->Process->BasePriority;
    LONG Old = Thread->BasePriority - ProcessBase;
    LONG NewBase = ProcessBase + Increment;

    /* The base stays in the class of the process: 1-15 or 16-31. */
    if (ProcessBase < LOW_REALTIME_PRIORITY) {
        NewBase = NewBase < 1                           ? 1
                  : NewBase > LOW_REALTIME_PRIORITY - 1 ? LOW_REALTIME_PRIORITY - 1
                                                        : NewBase;
    } else {
        NewBase = NewBase < LOW_REALTIME_PRIORITY ? LOW_REALTIME_PRIORITY
                  : NewBase > HIGH_PRIORITY       ? HIGH_PRIORITY
                                                  : NewBase;
    }
    Thread->BasePriority = (SCHAR)NewBase;
    Thread->PriorityDecrement = 0;
    Thread->NormalPriority = (SCHAR)NewBase;
    KiRecomputeThreadPriority(Thread);
    KiReleaseDispatcherLock(OldIrql);
    return Old;
}

static VOID KiSetAffinityCurrentThread(KAFFINITY Affinity, BOOLEAN System)
{
    PKTHREAD Thread = KiCurrentThread();
    KAFFINITY Set = Affinity & KiProcessorSet();
    KIRQL OldIrql;

    if (Set == 0) {
        KeBugCheckEx(INVALID_AFFINITY_SET, Affinity, KiProcessorSet(), 0, 0);
    }
    OldIrql = KiAcquireDispatcherLock();
    if (System && !Thread->SystemAffinityActive) {
        Thread->UserAffinity = Thread->Affinity;
    }
    Thread->SystemAffinityActive = System;
    Thread->Affinity = System ? Set : Affinity;
    KiCheckAffinityCurrentThread(Thread, KeGetCurrentPrcb());
    KeLowerIrql(OldIrql);
}

KAFFINITY NTAPI KeSetSystemAffinityThreadEx(KAFFINITY Affinity)
{
    PKTHREAD Thread = KiCurrentThread();
    KAFFINITY Previous;

    if (Thread == NULL || Thread->IdleThread) {
        return 0;
    }
    Previous = Thread->SystemAffinityActive ? Thread->Affinity : 0;
    KiSetAffinityCurrentThread(Affinity, TRUE);
    return Previous;
}

VOID NTAPI KeRevertToUserAffinityThreadEx(KAFFINITY Affinity)
{
    PKTHREAD Thread = KiCurrentThread();

    if (Thread == NULL || Thread->IdleThread) {
        return;
    }
    if (Affinity == 0) {
        KiSetAffinityCurrentThread(Thread->UserAffinity, FALSE);
    } else {
        KiSetAffinityCurrentThread(Affinity, TRUE);
    }
}

VOID NTAPI KeSetSystemAffinityThread(KAFFINITY Affinity)
{
    (VOID) KeSetSystemAffinityThreadEx(Affinity);
}

VOID NTAPI KeRevertToUserAffinityThread(VOID)
{
    KeRevertToUserAffinityThreadEx(0);
}

BOOLEAN NTAPI KeAlertThread(PKTHREAD Thread, KPROCESSOR_MODE AlertMode)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    BOOLEAN Previous = Thread->Alerted[AlertMode != KernelMode];

    if (!Previous) {
        if (Thread->State == Waiting && Thread->Alertable && AlertMode <= Thread->WaitMode) {
            KiUnwaitThread(Thread, STATUS_ALERTED, 0);
        } else {
            Thread->Alerted[AlertMode != KernelMode] = TRUE;
        }
    }
    KiReleaseDispatcherLock(OldIrql);
    return Previous;
}

BOOLEAN NTAPI KeTestAlertThread(KPROCESSOR_MODE AlertMode)
{
    PKTHREAD Thread = KiCurrentThread();
    KIRQL OldIrql = KiAcquireDispatcherLock();
    BOOLEAN Alerted = Thread->Alerted[AlertMode != KernelMode];

    Thread->Alerted[AlertMode != KernelMode] = FALSE;
    KiReleaseDispatcherLock(OldIrql);
    return Alerted;
}

/* Critical and guarded regions are with the APCs they hold off (apc.c). */

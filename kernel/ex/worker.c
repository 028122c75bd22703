/*
 * worker.c - the system worker threads and ExQueueWorkItem.
 *
 * Three queues, as NT: critical (priority 13), delayed (12) and
 * hypercritical (15), each a FIFO of WORK_QUEUE_ITEMs under a spin lock
 * with a semaphore counting the queued items, served by a fixed pool of
 * system threads started in phase 1 (ExpInitializeWorkerThreads). The
 * newer queue types map onto these three (docs/ex-sync.md). A queued item
 * has List.Flink != NULL until a worker takes it (ExInitializeWorkItem sets
 * it to NULL), so queueing an item twice is caught. Each routine must
 * return at PASSIVE_LEVEL outside any critical or guarded region.
 */
#include "exsyncp.h"

#define EXP_WORK_QUEUES 3

typedef struct _EXP_WORK_QUEUE {
    KSPIN_LOCK Lock;
    LIST_ENTRY Items;
    KSEMAPHORE Ready;
    KPRIORITY Priority;
    ULONG Threads; /* to start */
} EXP_WORK_QUEUE, *PEXP_WORK_QUEUE;

static EXP_WORK_QUEUE ExpWorkQueues[EXP_WORK_QUEUES] = {
    [CriticalWorkQueue] = { .Priority = 13, .Threads = 4 },
    [DelayedWorkQueue] = { .Priority = 12, .Threads = 3 },
    [HyperCriticalWorkQueue] = { .Priority = 15, .Threads = 1 },
};

static volatile LONG ExpWorkQueuesState; /* ExpInitializeOnce */
static volatile LONG ExpWorkerThreadsLaunched;
static volatile ULONG ExpWorkerThreadCount;
static volatile ULONG64 ExpWorkItemsRun;

static VOID ExpSetUpWorkQueues(VOID)
{
    for (ULONG i = 0; i < EXP_WORK_QUEUES; i++) {
        KeInitializeSpinLock(&ExpWorkQueues[i].Lock);
        InitializeListHead(&ExpWorkQueues[i].Items);
        KeInitializeSemaphore(&ExpWorkQueues[i].Ready, 0, 0x7FFFFFFF);
    }
}

/* The queues themselves exist before the threads (items may be queued
 * early); set up on first use. */
static VOID ExpInitializeWorkQueues(VOID)
{
    ExpInitializeOnce(&ExpWorkQueuesState, ExpSetUpWorkQueues);
}

static PEXP_WORK_QUEUE ExpQueueForType(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType)
{
    switch (QueueType) {
    case CriticalWorkQueue:
    case NormalWorkQueue:
        return &ExpWorkQueues[CriticalWorkQueue];
    case DelayedWorkQueue:
    case BackgroundWorkQueue:
        return &ExpWorkQueues[DelayedWorkQueue];
    case HyperCriticalWorkQueue:
    case RealTimeWorkQueue:
    case SuperCriticalWorkQueue:
        return &ExpWorkQueues[HyperCriticalWorkQueue];
    default:
        KeBugCheckEx(WORKER_INVALID, 0x1, (ULONG_PTR)WorkItem, (ULONG_PTR)QueueType, 0);
    }
}

VOID NTAPI ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType)
{
    PEXP_WORK_QUEUE Queue;
    KLOCK_QUEUE_HANDLE Lock;
    KIRQL Irql = KeGetCurrentIrql();

    if (Irql > DISPATCH_LEVEL) {
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)WorkItem, Irql, 0,
                     (ULONG_PTR)__builtin_return_address(0));
    }
    if (WorkItem->WorkerRoutine == NULL) {
        KeBugCheckEx(WORKER_INVALID, 0x2, (ULONG_PTR)WorkItem, 0, 0);
    }
    Queue = ExpQueueForType(WorkItem, QueueType);
    ExpInitializeWorkQueues();

    KeAcquireInStackQueuedSpinLock(&Queue->Lock, &Lock);
    if (WorkItem->List.Flink != NULL) {
        /* Queued twice (or never initialized with ExInitializeWorkItem). */
        KeReleaseInStackQueuedSpinLock(&Lock);
        KeBugCheckEx(WORKER_INVALID, 0x0, (ULONG_PTR)WorkItem, (ULONG_PTR)WorkItem->List.Flink, 0);
    }
    InsertTailList(&Queue->Items, &WorkItem->List);
    KeReleaseInStackQueuedSpinLock(&Lock);
    KeReleaseSemaphore(&Queue->Ready, 0, 1, FALSE);
}

static VOID NTAPI ExpWorkerThread(PVOID Context)
{
    PEXP_WORK_QUEUE Queue = Context;
    PKTHREAD Thread = KeGetCurrentThread();

    __atomic_add_fetch(&ExpWorkerThreadCount, 1, __ATOMIC_RELAXED);
    for (;;) {
        KLOCK_QUEUE_HANDLE Lock;
        PWORK_QUEUE_ITEM WorkItem;
        PWORKER_THREAD_ROUTINE Routine;
        PVOID Parameter;
        KIRQL Irql;

        KeWaitForSingleObject(&Queue->Ready, WrQueue, KernelMode, FALSE, NULL);
        KeAcquireInStackQueuedSpinLock(&Queue->Lock, &Lock);
        if (IsListEmpty(&Queue->Items)) {
            KeReleaseInStackQueuedSpinLock(&Lock);
            continue;
        }
        WorkItem = CONTAINING_RECORD(RemoveHeadList(&Queue->Items), WORK_QUEUE_ITEM, List);
        Routine = WorkItem->WorkerRoutine;
        Parameter = WorkItem->Parameter;
        /* From here the item belongs to its owner again: it may be freed or
         * requeued by the routine. */
        WorkItem->List.Flink = NULL;
        KeReleaseInStackQueuedSpinLock(&Lock);

        Routine(Parameter);
        __atomic_add_fetch(&ExpWorkItemsRun, 1, __ATOMIC_RELAXED);

        Irql = KeGetCurrentIrql();
        if (Irql != PASSIVE_LEVEL) {
            KeBugCheckEx(WORKER_THREAD_RETURNED_AT_BAD_IRQL, (ULONG_PTR)Routine, Irql,
                         (ULONG_PTR)Parameter, (ULONG_PTR)WorkItem);
        }
        if (Thread->KernelApcDisable != 0 || Thread->SpecialApcDisable != 0) {
            KeBugCheckEx(APC_INDEX_MISMATCH, (ULONG_PTR)Routine, 0,
                         ((ULONG_PTR)(USHORT)Thread->SpecialApcDisable << 16) |
                             (USHORT)Thread->KernelApcDisable,
                         0);
        }
        if (KeQueryPriorityThread(Thread) != Queue->Priority) {
            KeSetPriorityThread(Thread, Queue->Priority); /* the routine changed it */
        }
    }
}

NTSTATUS ExpInitializeWorkerThreads(VOID)
{
    LONG Expected = 0;

    ExpInitializeWorkQueues();
    if (!__atomic_compare_exchange_n(&ExpWorkerThreadsLaunched, &Expected, 1, FALSE,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        return STATUS_SUCCESS;
    }
    for (ULONG q = 0; q < EXP_WORK_QUEUES; q++) {
        PEXP_WORK_QUEUE Queue = &ExpWorkQueues[q];
        for (ULONG i = 0; i < Queue->Threads; i++) {
            PKTHREAD Thread;
            NTSTATUS Status = KiCreateThread(ExpWorkerThread, Queue, Queue->Priority, &Thread);
            if (!NT_SUCCESS(Status)) {
                return Status;
            }
            KiStartThread(Thread);
            KiDereferenceThread(Thread);
        }
    }
    return STATUS_SUCCESS;
}

ULONG ExpQueryWorkerThreadCount(VOID)
{
    return __atomic_load_n(&ExpWorkerThreadCount, __ATOMIC_RELAXED);
}

ULONG64 ExpQueryWorkItemsRun(VOID)
{
    return __atomic_load_n(&ExpWorkItemsRun, __ATOMIC_RELAXED);
}

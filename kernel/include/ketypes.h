/*
 * ketypes.h - the kernel's internal thread and process objects (KTHREAD,
 * KPROCESS), the scheduler's per-processor state (spliced into KPRCB by
 * arch.h) and the constants of the dispatcher. Drivers see PKTHREAD and
 * PKPROCESS only as opaque pointers (wdm.h); the layouts here are private.
 *
 * The arch layer (kernel/arch/x64, kernel/hal/hosted) may use only
 * KernelStack, StackBase, StackLimit and ArchData of a KTHREAD.
 */
#ifndef _KETYPES_
#define _KETYPES_

#include <wdm.h>

/* 32 priority levels (wdm.h): 0 zero-page thread, 1-15 variable, 16-31
 * real-time. */
#define KI_PRIORITY_LEVELS   32
#define KI_DEFAULT_PRIORITY  8  /* system threads start here (NT) */
#define KI_QUANTUM_TICKS     10 /* clock ticks (1 ms each) per quantum */
#define KI_MAXIMUM_DPC_DEPTH 4  /* low-importance DPCs queued before a request */

/* DISPATCHER_HEADER.Type values (NT's KOBJECTS). */
#define EventNotificationObject    0
#define EventSynchronizationObject 1
#define MutantObject               2
#define ProcessObject              3
#define QueueObject                4
#define SemaphoreObject            5
#define ThreadObject               6
#define GateObject                 7
#define TimerNotificationObject    8
#define TimerSynchronizationObject 9
#define ApcObject                  18
#define DpcObject                  19

/* Timer header flags (TimerMiscFlags). */
#define KI_TIMER_INSERTED 0x40

/* Thread states (NT's KTHREAD_STATE values). */
typedef enum _KTHREAD_STATE {
    Initialized = 0,
    Ready = 1,
    Running = 2,
    Standby = 3,
    Terminated = 4,
    Waiting = 5,
    Transition = 6,
    DeferredReady = 7,
} KTHREAD_STATE;

typedef VOID (*PKI_THREAD_STARTUP)(VOID);

typedef struct _KPROCESS {
    DISPATCHER_HEADER Header; /* signaled when the process exits */
    LIST_ENTRY ThreadListHead;
    KAFFINITY Affinity;
    SCHAR BasePriority;
    UCHAR Reserved[7];
    volatile LONG ThreadCount;
} KPROCESS;

typedef struct _KTHREAD {
    DISPATCHER_HEADER Header; /* thread objects are signaled at exit */

    /* ---- used by the arch layer (contract) ---- */
    PVOID KernelStack;    /* saved stack pointer while not running */
    ULONG_PTR StackBase;  /* top of the kernel stack (exclusive) */
    ULONG_PTR StackLimit; /* lowest usable address */
    ULONG_PTR ArchData[4];

    /* ---- scheduling (dispatcher lock) ---- */
    volatile UCHAR State; /* KTHREAD_STATE */
    SCHAR Priority;
    SCHAR BasePriority;
    SCHAR PriorityDecrement; /* boost still to decay */
    LONG Quantum;            /* clock ticks left; touched only by its processor */
    ULONG Processor;         /* where it runs / last ran / is queued */
    ULONG NextProcessor;
    KAFFINITY Affinity;     /* hard affinity (current) */
    KAFFINITY UserAffinity; /* affinity to revert to */
    BOOLEAN SystemAffinityActive;
    BOOLEAN Preempted;  /* put back at the head of its ready queue */
    BOOLEAN Alertable;  /* in an alertable wait */
    BOOLEAN WaitNext;   /* KeSetEvent(..., TRUE): holds the lock for a wait */
    BOOLEAN Alerted[2]; /* per KPROCESSOR_MODE */
    KPROCESSOR_MODE WaitMode;
    KIRQL WaitIrql;
    UCHAR WaitReason;
    UCHAR Spare0[3];
    LIST_ENTRY ReadyListEntry; /* ready queue link (state Ready) */

    /* ---- waiting (dispatcher lock) ---- */
    NTSTATUS WaitStatus;
    ULONG WaitBlockCount;
    PKWAIT_BLOCK WaitBlockList;
    KWAIT_BLOCK WaitBlock[THREAD_WAIT_OBJECTS + 1]; /* last one: the timeout */
    KTIMER Timer;                                   /* wait timeouts, delays */
    LIST_ENTRY MutantListHead;                      /* mutants it owns */
    LONG KernelApcDisable;
    LONG SpecialApcDisable;

    /* ---- APCs and priority inheritance (ke2; dispatcher lock) ---- */
    KAPC_STATE ApcState;      /* queues; KernelApcPending re-requests on switch */
    BOOLEAN ApcQueueable;     /* FALSE once the thread runs down its APCs */
    SCHAR OwnerBoostPriority; /* KiBoostOwnerPriority floor, 0 = none */
    SCHAR NormalPriority;     /* Priority without inheritance (inherit.c) */
    UCHAR Spare2[5];

    /* ---- life cycle ---- */
    PKPROCESS Process;
    LIST_ENTRY ThreadListEntry; /* in Process->ThreadListHead */
    LIST_ENTRY ReaperListEntry; /* waits for its stack to be freed */
    volatile LONG ReferenceCount;
    BOOLEAN SystemThread;
    BOOLEAN OwnsStack; /* stack came from MmCreateKernelStack */
    BOOLEAN IdleThread;
    UCHAR Spare1[5];
    SIZE_T StackSize;
    PKSTART_ROUTINE StartRoutine;
    PVOID StartContext;
    NTSTATUS ExitStatus;
    ULONG ContextSwitches;
    ULONG64 CreateTime;
    CLIENT_ID Cid;
} KTHREAD;

/* The scheduler's part of the KPRCB (spliced into KPRCB by arch.h). All of
 * it but the DPC queue and the software interrupt bits is guarded by the
 * dispatcher lock (docs/scheduler.md). */
typedef struct _KDPC_LIST {
    SINGLE_LIST_ENTRY ListHead;
    PSINGLE_LIST_ENTRY LastEntry;
} KDPC_LIST;

typedef struct _KDPC_DATA {
    KDPC_LIST DpcList;
    KSPIN_LOCK DpcLock; /* taken with interrupts disabled: a leaf lock */
    volatile LONG DpcQueueDepth;
    ULONG DpcCount;
} KDPC_DATA, *PKDPC_DATA;

#define KI_PRCB_SCHEDULER_FIELDS                                                                   \
    volatile ULONG SoftwareInterruptPending; /* 1 << APC_LEVEL, 1 << DISPATCH_LEVEL */             \
    volatile BOOLEAN QuantumEnd;                                                                   \
    volatile BOOLEAN TimerRequest;                                                                 \
    volatile BOOLEAN DpcRoutineActive;                                                             \
    volatile BOOLEAN IdleSchedule;                                                                 \
    ULONG ReadySummary; /* bit n: ready queue n not empty */                                       \
    LIST_ENTRY DispatcherReadyListHead[KI_PRIORITY_LEVELS];                                        \
    KDPC_DATA DpcData;                                                                             \
    ULONG64 ContextSwitches;                                                                       \
    ULONG64 DpcTime;                                                                               \
    ULONG64 IdleTicks;

#endif /* _KETYPES_ */

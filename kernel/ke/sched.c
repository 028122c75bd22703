/*
 * sched.c - the scheduler: per-processor ready queues (one list per
 * priority, 32 of them, plus a 32-bit summary so the best ready thread is
 * one bit scan away), readying a thread (to an idle processor first, else
 * preempting a lower-priority thread on its processor, locally or by an
 * IPI_DISPATCH, else queueing it), selection (with idle processors taking
 * ready work from busy ones), quantum end and round robin inside a level,
 * boost decay, priority and affinity changes, yield, and the DISPATCH_LEVEL
 * software interrupt that drives it all. Everything here runs under the
 * dispatcher lock (kisched.h, docs/scheduler.md).
 */
#include "kisched.h"

volatile KAFFINITY KiIdleSummary;
volatile LONG KiReadyCount;

/* Processors whose ready queues hold a thread (dispatcher lock): a
 * selection looks at another processor's queues only when its bit is set,
 * so it reads no line another processor writes unless there is work there
 * (the cost stays flat however many threads are ready here). */
static KAFFINITY KiReadyProcessors;

static KAFFINITY KiProcessorBit(ULONG Number)
{
    return (KAFFINITY)1 << Number;
}

static PKPRCB KiPrcbOf(ULONG Number)
{
    PKPRCB Prcb = Number < MAXIMUM_PROCESSORS ? KiProcessorBlock[Number] : NULL;
    return Prcb != NULL ? Prcb : KeGetCurrentPrcb();
}

static KAFFINITY KiActiveSet(VOID)
{
    KAFFINITY Active = __atomic_load_n(&KeActiveProcessors, __ATOMIC_ACQUIRE);
    return Active != 0 ? Active : KiProcessorBit(KeGetCurrentPrcb()->Number);
}

static VOID KiInsertReadyQueue(PKPRCB Prcb, PKTHREAD Thread, BOOLEAN Head)
{
    ULONG Priority = (ULONG)Thread->Priority;

    Thread->State = Ready;
    Thread->Processor = Prcb->Number;
    if (Head) {
        InsertHeadList(&Prcb->DispatcherReadyListHead[Priority], &Thread->ReadyListEntry);
    } else {
        InsertTailList(&Prcb->DispatcherReadyListHead[Priority], &Thread->ReadyListEntry);
    }
    Prcb->ReadySummary |= 1u << Priority;
    KiReadyProcessors |= KiProcessorBit(Prcb->Number);
    KiReadyCount++;
}

/* Prcb: the processor whose queue holds Thread (Thread->Processor). */
static VOID KiRemoveReadyQueueOf(PKPRCB Prcb, PKTHREAD Thread)
{
    ULONG Priority = (ULONG)Thread->Priority;

    RemoveEntryList(&Thread->ReadyListEntry);
    if (IsListEmpty(&Prcb->DispatcherReadyListHead[Priority])) {
        Prcb->ReadySummary &= ~(1u << Priority);
        if (Prcb->ReadySummary == 0) {
            KiReadyProcessors &= ~KiProcessorBit(Prcb->Number);
        }
    }
    KiReadyCount--;
}

static VOID KiRemoveReadyQueue(PKTHREAD Thread)
{
    KiRemoveReadyQueueOf(KiPrcbOf(Thread->Processor), Thread);
}

/* The first thread of Prcb's queues, at MinPriority or above, that may run
 * on processor Target. */
static PKTHREAD KiFindReadyThread(PKPRCB Prcb, LONG MinPriority, ULONG Target)
{
    ULONG Summary = Prcb->ReadySummary;

    while (Summary != 0) {
        LONG Priority = 31 - __builtin_clz(Summary);
        PLIST_ENTRY Head = &Prcb->DispatcherReadyListHead[Priority];

        if (Priority < MinPriority) {
            return NULL;
        }
        for (PLIST_ENTRY Entry = Head->Flink; Entry != Head; Entry = Entry->Flink) {
            PKTHREAD Thread = CONTAINING_RECORD(Entry, KTHREAD, ReadyListEntry);
            if (Thread->Affinity & KiProcessorBit(Target)) {
                return Thread;
            }
        }
        Summary &= ~(1u << Priority);
    }
    return NULL;
}

/* A better thread than Best (NULL: any at MinPriority or above) on
 * another processor's queues that may run on Prcb's, else Best. */
static __attribute__((noinline)) PKTHREAD
KiFindRemoteReadyThread(PKPRCB Prcb, PKTHREAD Best, LONG MinPriority, KAFFINITY Others)
{
    for (; Others != 0; Others &= Others - 1) {
        PKPRCB Other = KiProcessorBlock[__builtin_ctzll(Others)];
        PKTHREAD Candidate;
        if (Other == NULL || Other->ReadySummary == 0) {
            continue;
        }
        Candidate =
            KiFindReadyThread(Other, Best != NULL ? Best->Priority + 1 : MinPriority, Prcb->Number);
        if (Candidate != NULL) {
            Best = Candidate;
        }
    }
    return Best;
}

/* Takes the best ready thread at MinPriority or above for Prcb: its own
 * queues first, then any other processor's if that has a higher one
 * (looked at only when another processor has threads ready). */
FORCEINLINE PKTHREAD KiSelectReadyThread(PKPRCB Prcb, LONG MinPriority)
{
    PKTHREAD Best = KiFindReadyThread(Prcb, MinPriority, Prcb->Number);
    KAFFINITY Others = KiReadyProcessors & KiActiveSet() & ~KiProcessorBit(Prcb->Number);

    if (Others != 0) {
        Best = KiFindRemoteReadyThread(Prcb, Best, MinPriority, Others);
    }
    if (Best != NULL) {
        KiRemoveReadyQueueOf(Best->Processor == Prcb->Number ? Prcb : KiPrcbOf(Best->Processor),
                             Best);
    }
    return Best;
}

/* Makes Prcb reschedule: locally a software interrupt, remotely an IPI. */
static VOID KiRequestDispatch(PKPRCB Prcb)
{
    if (Prcb == KeGetCurrentPrcb()) {
        KiRequestSoftwareInterrupt(DISPATCH_LEVEL);
    } else {
        KiIpiSend(KiProcessorBit(Prcb->Number), IPI_DISPATCH);
    }
}

/* From Candidates (non-empty): the thread's last processor (its cache is
 * warm), else this one (no IPI needed), else the lowest-numbered. */
static ULONG KiChooseProcessor(KAFFINITY Candidates, ULONG Last, ULONG Current)
{
    if (Candidates & KiProcessorBit(Last)) {
        return Last;
    }
    if (Candidates & KiProcessorBit(Current)) {
        return Current;
    }
    return (ULONG)__builtin_ctzll(Candidates);
}

VOID KiReadyThread(PKTHREAD Thread)
{
    PKPRCB Current = KeGetCurrentPrcb();
    KAFFINITY Allowed = Thread->Affinity & KiActiveSet();
    BOOLEAN Preempted = Thread->Preempted;
    KAFFINITY Idle;
    ULONG Number;
    PKPRCB Prcb;

    Thread->Preempted = FALSE;
    if (Allowed == 0) {
        Allowed = KiProcessorBit(Current->Number);
    }

    /* An idle processor takes it at once. */
    Idle = KiIdleSummary & Allowed;
    if (Idle != 0) {
        Number = KiChooseProcessor(Idle, Thread->Processor, Current->Number);
        Prcb = KiPrcbOf(Number);
        KiIdleSummary &= ~KiProcessorBit(Number);
        Prcb->NextThread = Thread;
        Thread->State = Standby;
        Thread->Processor = Number;
        KiRequestDispatch(Prcb);
        return;
    }

    /* Otherwise queue it where KiChooseProcessor prefers. */
    Number = KiChooseProcessor(Allowed, Thread->Processor, Current->Number);
    Prcb = Number == Current->Number ? Current : KiPrcbOf(Number);
    if (Prcb->NextThread != NULL) {
        PKTHREAD Next = Prcb->NextThread;
        if (Thread->Priority > Next->Priority) {
            /* Displace the chosen thread; a dispatch is already requested. */
            Prcb->NextThread = Thread;
            Thread->State = Standby;
            Thread->Processor = Number;
            KiInsertReadyQueue(Prcb, Next, TRUE);
            return;
        }
    } else if (Prcb->CurrentThread != NULL && Thread->Priority > Prcb->CurrentThread->Priority) {
        Prcb->NextThread = Thread;
        Thread->State = Standby;
        Thread->Processor = Number;
        KiRequestDispatch(Prcb);
        return;
    }
    KiInsertReadyQueue(Prcb, Thread, Preempted);
}

/* The first thing a thread does when it runs again (Thread is the
 * current thread; DISPATCH_LEVEL, the dispatcher lock handed over). */
FORCEINLINE VOID KiCompleteSwitchInline(PKTHREAD Thread)
{
    /* Kernel APCs queued while the thread was away: the APC interrupt is
     * per processor, so ask again on the one it now runs on (apc.c). */
    if (Thread->ApcState.KernelApcPending) {
        KiRequestSoftwareInterrupt(APC_LEVEL);
    }
    KiReleaseDispatcherLockFromDpcLevel();
}

/* Runs New on this processor in place of Old. The dispatcher lock is held
 * and handed over: New releases it when it resumes (here, or in
 * KiThreadStartup for a new thread). Returns when Old runs again. */
FORCEINLINE VOID KiSwitchTo(PKPRCB Prcb, PKTHREAD Old, PKTHREAD New)
{
    KAFFINITY Bit = KiProcessorBit(Prcb->Number);

    New->State = Running;
    New->Processor = Prcb->Number;
    Prcb->CurrentThread = New;
    /* Written only when it changes: idle processors read it. */
    if (New == Prcb->IdleThread) {
        KiIdleSummary |= Bit;
    } else if (KiIdleSummary & Bit) {
        KiIdleSummary &= ~Bit;
    }
    if (New->Quantum <= 0) {
        New->Quantum = KI_QUANTUM_TICKS;
    }
    Prcb->ContextSwitches++;
    New->ContextSwitches++;
    KiSwapContext(Old, New);
    /* Old runs again, maybe on another processor. */
    KiCompleteSwitchInline(Old);
}

VOID KiCompleteSwitch(VOID)
{
    KiCompleteSwitchInline(KeGetCurrentPrcb()->CurrentThread);
}

/* Old keeps running-state until now; it goes back to a ready queue (head
 * when preempted) and New runs. */
static VOID KiSwitchReadyingOld(PKPRCB Prcb, PKTHREAD Old, PKTHREAD New, BOOLEAN Preempted)
{
    /* New is current first so readying Old cannot pick this processor's
     * NextThread slot or preempt New. */
    Prcb->CurrentThread = New;
    New->State = Running;
    if (Old != Prcb->IdleThread) {
        Old->Preempted = Preempted;
        KiReadyThread(Old);
    }
    KiSwitchTo(Prcb, Old, New);
}

NTSTATUS KiSwapThread(PKTHREAD Thread, PKPRCB Prcb)
{
    PKTHREAD New = Prcb->NextThread;

    if (New != NULL) {
        Prcb->NextThread = NULL;
    } else {
        New = KiSelectReadyThread(Prcb, 0);
        if (New == NULL) {
            New = Prcb->IdleThread;
        }
    }
    if (New == Thread) {
        Thread->State = Running;
        KiReleaseDispatcherLockFromDpcLevel();
        return Thread->WaitStatus;
    }
    KiSwitchTo(Prcb, Thread, New);
    return Thread->WaitStatus;
}

VOID KiDispatchInterrupt(VOID)
{
    PKPRCB Prcb = KeGetCurrentPrcb();
    PKTHREAD Thread, New;
    BOOLEAN QuantumEnd;

    if (Prcb->DpcData.DpcQueueDepth != 0) {
        KiRetireDpcList(Prcb);
    }
    if (Prcb->TimerRequest) {
        Prcb->TimerRequest = FALSE;
        KiTimerExpiration();
        if (Prcb->DpcData.DpcQueueDepth != 0) {
            KiRetireDpcList(Prcb);
        }
    }

    Thread = Prcb->CurrentThread;
    if (Thread == NULL) {
        return; /* the scheduler is not up on this processor yet */
    }
    if (!Prcb->QuantumEnd && Prcb->NextThread == NULL &&
        !(Thread == Prcb->IdleThread && KiReadyCount != 0)) {
        return;
    }

    KiAcquireDispatcherLockAtDpcLevel();
    QuantumEnd = Prcb->QuantumEnd;
    Prcb->QuantumEnd = FALSE;
    if (QuantumEnd && Thread != Prcb->IdleThread) {
        Thread->Quantum = KI_QUANTUM_TICKS;
        /* A boost wears off one level per quantum, never below the base;
         * real-time threads are never boosted. */
        if (Thread->PriorityDecrement > 0 && Thread->NormalPriority < LOW_REALTIME_PRIORITY) {
            Thread->NormalPriority--;
            Thread->PriorityDecrement--;
            /* Never below an inherited priority (inherit.c). */
            Thread->Priority = KiComputeThreadPriority(Thread);
        }
    }

    New = Prcb->NextThread;
    if (New != NULL) {
        Prcb->NextThread = NULL;
    } else if (Thread == Prcb->IdleThread) {
        New = KiSelectReadyThread(Prcb, 0);
    } else if (QuantumEnd) {
        /* Round robin: the next thread of the same (or a higher) level. */
        New = KiSelectReadyThread(Prcb, Thread->Priority);
    }
    if (New == NULL) {
        KiReleaseDispatcherLockFromDpcLevel();
        return;
    }
    KiSwitchReadyingOld(Prcb, Thread, New, !QuantumEnd);
}

VOID KiSetPriorityThread(PKTHREAD Thread, SCHAR Priority)
{
    SCHAR Old = Thread->Priority;
    PKPRCB Prcb;
    PKTHREAD Candidate;

    if (Priority == Old) {
        return;
    }
    switch (Thread->State) {
    case Ready:
        KiRemoveReadyQueue(Thread);
        Thread->Priority = Priority;
        KiReadyThread(Thread);
        break;
    case Running:
    case Standby:
        Thread->Priority = Priority;
        if (Priority >= Old) {
            break;
        }
        /* Lowered: a ready thread may now deserve its processor. */
        Prcb = KiPrcbOf(Thread->Processor);
        Candidate = KiFindReadyThread(Prcb, Priority + 1, Prcb->Number);
        if (Candidate == NULL) {
            break;
        }
        KiRemoveReadyQueue(Candidate);
        if (Thread->State == Standby) {
            Prcb->NextThread = Candidate;
            Candidate->State = Standby;
            KiInsertReadyQueue(Prcb, Thread, TRUE);
        } else if (Prcb->NextThread == NULL) {
            Prcb->NextThread = Candidate;
            Candidate->State = Standby;
            KiRequestDispatch(Prcb);
        } else {
            KiInsertReadyQueue(Prcb, Candidate, TRUE);
        }
        break;
    default:
        Thread->Priority = Priority;
        break;
    }
}

VOID KiCheckAffinityCurrentThread(PKTHREAD Thread, PKPRCB Prcb)
{
    PKTHREAD New;

    if (Thread->Affinity & KiProcessorBit(Prcb->Number)) {
        KiReleaseDispatcherLockFromDpcLevel();
        return;
    }
    New = Prcb->NextThread;
    if (New != NULL) {
        Prcb->NextThread = NULL;
    } else {
        New = KiSelectReadyThread(Prcb, 0);
        if (New == NULL) {
            New = Prcb->IdleThread;
        }
    }
    /* Readying puts it on a processor of its affinity (not this one). */
    KiSwitchReadyingOld(Prcb, Thread, New, FALSE);
}

BOOLEAN KiYieldThread(VOID)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    PKPRCB Prcb = KeGetCurrentPrcb();
    PKTHREAD Thread = Prcb->CurrentThread;
    PKTHREAD New;

    if (Thread == NULL || Thread == Prcb->IdleThread) {
        KiReleaseDispatcherLock(OldIrql);
        return FALSE;
    }
    New = Prcb->NextThread;
    if (New != NULL) {
        Prcb->NextThread = NULL;
    } else {
        New = KiSelectReadyThread(Prcb, Thread->Priority);
    }
    if (New == NULL) {
        KiReleaseDispatcherLock(OldIrql);
        return FALSE;
    }
    Thread->Quantum = KI_QUANTUM_TICKS;
    KiSwitchReadyingOld(Prcb, Thread, New, FALSE);
    KeLowerIrql(OldIrql);
    return TRUE;
}

NTSTATUS NTAPI ZwYieldExecution(VOID)
{
    return KiYieldThread() ? STATUS_SUCCESS : STATUS_NO_YIELD_PERFORMED;
}

/* ---- Benchmark seam (bench/ke/select_next.c) ----
 * The selection KiSwapThread makes when no NextThread is set, on a
 * caller-chosen processor's queues, followed by putting the chosen thread
 * back (at the head, as a preempted thread goes back, so the queues end as
 * they began) - nothing else, so a benchmark times the real code. The
 * caller holds the dispatcher lock and keeps Prcb's processor from
 * scheduling meanwhile (the threads it queues never run). */
PKTHREAD KiBenchSelectNextThread(PKPRCB Prcb)
{
    PKTHREAD Thread = KiSelectReadyThread(Prcb, 0);

    if (Thread != NULL) {
        KiInsertReadyQueue(Prcb, Thread, TRUE);
    }
    return Thread;
}

/* Queues a thread record that never runs at the tail of its priority's
 * list, as KiReadyThread does when it neither hands nor preempts. */
VOID KiBenchQueueReadyThread(PKPRCB Prcb, PKTHREAD Thread)
{
    KiInsertReadyQueue(Prcb, Thread, FALSE);
}

VOID KiBenchRemoveReadyThread(PKTHREAD Thread)
{
    KiRemoveReadyQueue(Thread);
}

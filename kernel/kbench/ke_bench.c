/*
 * ke_bench.c - kbench bodies for the dispatcher, DPCs, IPIs and system
 * threads, run in the guest by "bench" on the kernel command line:
 *
 *   guest_pingpong/cross:0|1       event ping-pong round trip between two
 *                                  threads on one processor / on two
 *   guest_dpc_latency/cross:0|1    KeInsertQueueDpc until the routine runs,
 *                                  here / on another processor
 *   guest_ipi_roundtrip            KeIpiGenericCall over every processor
 *   guest_thread_create_exit       PsCreateSystemThread of a thread that
 *                                  exits at once, until it has terminated
 *   guest_irql_raise_lower         KeRaiseIrql(DISPATCH_LEVEL) + KeLowerIrql
 *
 * Every body runs on processor 0 ("here"); "another processor" is the
 * lowest-numbered other active one. Entries that need two processors
 * report an error entry on a uniprocessor.
 */
#include <ntddk.h>
#include <arch.h>
#include <kbench.h>
#include <ke.h>
#include "../ps/psp.h"

#define KBP_HERE ((KAFFINITY)1)

/* The lowest active processor other than processor 0, or 0 if none. */
static KAFFINITY KbpOtherProcessor(VOID)
{
    KAFFINITY Others = KeQueryActiveProcessors() & ~KBP_HERE;
    return Others & (~Others + 1);
}

static ULONG KbpProcessorNumber(KAFFINITY Single)
{
    return (ULONG)__builtin_ctzll((ULONG64)Single);
}

/* A system thread and a reference to its object, so the caller can wait
 * for it to terminate (a thread object is signaled when it has). */
static PKTHREAD KbpStartThread(PKSTART_ROUTINE Routine, PVOID Context, PHANDLE Handle)
{
    PKTHREAD Thread;

    if (!NT_SUCCESS(
            PsCreateSystemThread(Handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, Routine, Context))) {
        return NULL;
    }
    Thread = PspReferenceThreadByHandle(*Handle);
    if (Thread == NULL) {
        ZwClose(*Handle);
    }
    return Thread;
}

static VOID KbpJoinThread(PKTHREAD Thread, HANDLE Handle)
{
    KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
    KiDereferenceThread(Thread);
    ZwClose(Handle);
}

/* ---- Event ping-pong ---- */

typedef struct _KBP_PINGPONG {
    KEVENT Ping;
    KEVENT Pong;
    KEVENT Ready;
    KAFFINITY Affinity;
    volatile LONG Stop;
} KBP_PINGPONG;

static VOID NTAPI KbpPingPongPartner(PVOID Context)
{
    KBP_PINGPONG *Game = Context;

    KeSetSystemAffinityThreadEx(Game->Affinity);
    KeSetEvent(&Game->Ready, 0, FALSE);
    for (;;) {
        KeWaitForSingleObject(&Game->Ping, Executive, KernelMode, FALSE, NULL);
        if (__atomic_load_n(&Game->Stop, __ATOMIC_ACQUIRE)) {
            break;
        }
        KeSetEvent(&Game->Pong, 0, FALSE);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* One iteration = Ping set, partner wakes, Pong set, we wake: a round
 * trip, two thread switches on one processor. Synchronization events:
 * each wait consumes its signal, as a futex ping-pong does. */
KBENCH_ARGS(guest_pingpong, "cross", 0, 0, 1)
{
    KBP_PINGPONG Game;
    KAFFINITY Previous = KeSetSystemAffinityThreadEx(KBP_HERE);
    PKTHREAD Partner;
    HANDLE Handle;

    RtlZeroMemory(&Game, sizeof(Game));
    Game.Affinity = KbState->Arg != 0 ? KbpOtherProcessor() : KBP_HERE;
    if (Game.Affinity == 0) {
        KbenchSkipWithError(KbState, "needs 2 processors");
        KeRevertToUserAffinityThreadEx(Previous);
        return;
    }
    KeInitializeEvent(&Game.Ping, SynchronizationEvent, FALSE);
    KeInitializeEvent(&Game.Pong, SynchronizationEvent, FALSE);
    KeInitializeEvent(&Game.Ready, NotificationEvent, FALSE);
    Partner = KbpStartThread(KbpPingPongPartner, &Game, &Handle);
    if (Partner == NULL) {
        KbenchSkipWithError(KbState, "PsCreateSystemThread failed");
        KeRevertToUserAffinityThreadEx(Previous);
        return;
    }
    KeWaitForSingleObject(&Game.Ready, Executive, KernelMode, FALSE, NULL);

    while (KbenchKeepRunning(KbState)) {
        KeSetEvent(&Game.Ping, 0, FALSE);
        KeWaitForSingleObject(&Game.Pong, Executive, KernelMode, FALSE, NULL);
    }

    __atomic_store_n(&Game.Stop, 1, __ATOMIC_RELEASE);
    KeSetEvent(&Game.Ping, 0, FALSE);
    KbpJoinThread(Partner, Handle);
    KbenchSetItemsProcessed(KbState, KbState->Iterations);
    KeRevertToUserAffinityThreadEx(Previous);
}

/* ---- DPC latency ---- */

typedef struct _KBP_DPC_PROBE {
    KDPC Dpc;
    volatile ULONG64 RanAt;
    volatile LONG Ran;
} KBP_DPC_PROBE;

static VOID NTAPI KbpDpcRoutine(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    KBP_DPC_PROBE *Probe = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    Probe->RanAt = KiReadTimestamp();
    __atomic_store_n(&Probe->Ran, 1, __ATOMIC_RELEASE);
}

/* Manual time: from just before KeInsertQueueDpc to the routine's first
 * instruction. Here: queued at PASSIVE_LEVEL, the DISPATCH_LEVEL software
 * interrupt drains it before KeInsertQueueDpc returns. Cross: the target
 * is interrupted with an IPI (from its idle halt, usually); we spin. */
KBENCH_ARGS(guest_dpc_latency, "cross", KBENCH_MANUAL_TIME, 0, 1)
{
    KBP_DPC_PROBE Probe;
    KAFFINITY Previous = KeSetSystemAffinityThreadEx(KBP_HERE);
    KAFFINITY Target = KbState->Arg != 0 ? KbpOtherProcessor() : KBP_HERE;

    if (Target == 0) {
        KbenchSkipWithError(KbState, "needs 2 processors");
        KeRevertToUserAffinityThreadEx(Previous);
        return;
    }
    RtlZeroMemory(&Probe, sizeof(Probe));
    KeInitializeDpc(&Probe.Dpc, KbpDpcRoutine, &Probe);
    KeSetImportanceDpc(&Probe.Dpc, HighImportance);
    KeSetTargetProcessorDpc(&Probe.Dpc, (CCHAR)KbpProcessorNumber(Target));

    while (KbenchKeepRunning(KbState)) {
        ULONG64 Start;

        __atomic_store_n(&Probe.Ran, 0, __ATOMIC_RELAXED);
        Start = KiReadTimestamp();
        KeInsertQueueDpc(&Probe.Dpc, NULL, NULL);
        while (!__atomic_load_n(&Probe.Ran, __ATOMIC_ACQUIRE)) {
            KiArchSpinWait();
        }
        KbenchSetIterationTime(KbState, Probe.RanAt - Start);
    }
    /* The routine has run, but its processor may still be leaving the
     * DPC (the probe lives on this stack). */
    KeFlushQueuedDpcs();
    KbenchSetItemsProcessed(KbState, KbState->Iterations);
    KeRevertToUserAffinityThreadEx(Previous);
}

/* ---- IPI round trip ---- */

static volatile LONG KbpIpiCalls;

static ULONG_PTR KbpIpiWorker(ULONG_PTR Argument)
{
    UNREFERENCED_PARAMETER(Argument);
    __atomic_fetch_add(&KbpIpiCalls, 1, __ATOMIC_RELAXED);
    return 0;
}

/* KeIpiGenericCall: every other processor is interrupted, all run the
 * worker at IPI_LEVEL at once, and the call returns when all are done. */
KBENCH(guest_ipi_roundtrip, 0)
{
    KAFFINITY Previous;
    ULONG Processors = KeQueryActiveProcessorCount(NULL);

    if (Processors < 2) {
        KbenchSkipWithError(KbState, "needs 2 processors");
        return;
    }
    Previous = KeSetSystemAffinityThreadEx(KBP_HERE);
    __atomic_store_n(&KbpIpiCalls, 0, __ATOMIC_RELAXED);
    while (KbenchKeepRunning(KbState)) {
        KeIpiGenericCall(KbpIpiWorker, 0);
    }
    if ((ULONG64)__atomic_load_n(&KbpIpiCalls, __ATOMIC_RELAXED) !=
        KbState->Iterations * Processors) {
        KbenchSkipWithError(KbState, "the worker did not run once per processor and call");
    }
    KbenchSetCounter(KbState, "processors", Processors, 0);
    KbenchSetItemsProcessed(KbState, KbState->Iterations);
    KeRevertToUserAffinityThreadEx(Previous);
}

/* ---- Thread create + exit ---- */

static VOID NTAPI KbpExitAtOnce(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Creation, the new thread's first dispatch and its exit, up to the
 * creator seeing the thread object signaled; the handle is closed in the
 * iteration too. Freeing the dead thread's stack is deferred work (the
 * reaper), so it is settled after the loop, untimed. */
KBENCH(guest_thread_create_exit, 0)
{
    KAFFINITY Previous = KeSetSystemAffinityThreadEx(KBP_HERE);

    while (KbenchKeepRunning(KbState)) {
        HANDLE Handle;
        PKTHREAD Thread = KbpStartThread(KbpExitAtOnce, NULL, &Handle);

        if (Thread == NULL) {
            KbenchSkipWithError(KbState, "PsCreateSystemThread failed");
            break;
        }
        KbpJoinThread(Thread, Handle);
    }
    KiSettleTerminatedThreads();
    KbenchSetItemsProcessed(KbState, KbState->Iterations);
    KeRevertToUserAffinityThreadEx(Previous);
}

/* ---- IRQL raise + lower ---- */

/* Not a measure with a peer: it shows what one IRQL change costs on this
 * accelerator (CR8 writes; a hypervisor without a TPR shadow traps each
 * one), which the dispatcher pays several times per wait and wake. */
KBENCH(guest_irql_raise_lower, 0)
{
    while (KbenchKeepRunning(KbState)) {
        KIRQL OldIrql;

        KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
        KeLowerIrql(OldIrql);
    }
    KbenchSetItemsProcessed(KbState, KbState->Iterations);
}

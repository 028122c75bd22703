/*
 * ipi.c - inter-processor requests, portable. Two kinds travel on the one
 * IPI vector (the arch delivers it: x64 LAPIC ICR, hosted a signal):
 *
 * - request bits (IPI_DISPATCH, IPI_DPC) OR-ed into the target PRCB's
 *   IpiRequests; the target's service routine turns them into a
 *   DISPATCH_LEVEL software interrupt (reschedule / DPC drain) that runs
 *   when its IRQL drops;
 * - packets: a synchronous "run this worker there" call. Each processor
 *   owns one packet slot (KiIpiPackets[sender]) and at most one packet in
 *   flight (it waits for it at IPI_LEVEL, so nothing on the same processor
 *   can post a second one); each target has a mask of senders whose
 *   packet it still has to run (KiIpiPacketSources[target]).
 *
 * Deadlock freedom: every loop that waits for other processors (a sender
 * waiting for its targets, the KeIpiGenericCall barrier, the generic-call
 * lock) runs the packets posted to its own processor while it spins, so
 * two processors sending to each other at IPI_LEVEL both make progress.
 * Waits are bounded: a processor that does not answer within
 * KI_IPI_TIMEOUT_US ends in CLOCK_WATCHDOG_TIMEOUT naming its PRCB, as NT
 * reports an unresponsive processor.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>

#define KI_IPI_TIMEOUT_US (30ull * 1000 * 1000)

typedef struct _KI_IPI_PACKET {
    PKIPI_BROADCAST_WORKER Worker;
    ULONG_PTR Context;
    /* Targets that have not finished the worker; each clears its own bit
     * after its last access to the packet. */
    volatile KAFFINITY Pending;
} KI_IPI_PACKET;

static KI_IPI_PACKET KiIpiPackets[MAXIMUM_PROCESSORS];
static volatile KAFFINITY KiIpiPacketSources[MAXIMUM_PROCESSORS];

/* KeIpiGenericCall: one at a time (its barrier counts every processor). */
static volatile LONG KiGenericCallLock;
static volatile LONG KiGenericCallBarrier;
static PKIPI_BROADCAST_WORKER KiGenericCallWorker;
static ULONG_PTR KiGenericCallContext;

/* Statistics (tests and docs read them). */
volatile LONGLONG KiIpiPacketsSent;
volatile LONGLONG KiIpiInterruptsServiced;

static ULONG KipCurrentNumber(VOID)
{
    return KeGetCurrentPrcb()->Number;
}

static VOID KipPause(VOID)
{
    KiArchSpinWait();
}

/* Runs every packet posted to the current processor. Re-entrant: the
 * source mask is taken atomically, each packet independently. */
static VOID KipIpiProcessPackets(VOID)
{
    ULONG Self = KipCurrentNumber();
    KAFFINITY Sources = __atomic_exchange_n(&KiIpiPacketSources[Self], 0, __ATOMIC_ACQUIRE);

    while (Sources != 0) {
        ULONG Source = (ULONG)__builtin_ctzll(Sources);
        KI_IPI_PACKET *Packet = &KiIpiPackets[Source];
        Sources &= Sources - 1;
        Packet->Worker(Packet->Context);
        /* The sender may reuse the packet as soon as this bit clears. */
        __atomic_and_fetch(&Packet->Pending, ~((KAFFINITY)1 << Self), __ATOMIC_RELEASE);
    }
}

VOID KiIpiPollPackets(VOID)
{
    /* Workers always run at IPI_LEVEL, polled or interrupted. Raw IRQL
     * writes: nothing here requests a software interrupt. */
    KIRQL Irql = KiReadIrql();

    if (Irql < IPI_LEVEL) {
        KiWriteIrql(IPI_LEVEL);
    }
    KipIpiProcessPackets();
    if (Irql < IPI_LEVEL) {
        KiWriteIrql(Irql);
    }
}

/* Bounded spinning: returns when the deadline passed; the caller decides
 * which processor to blame. */
static BOOLEAN KipIpiTimedOut(ULONG64 Start)
{
    return KiTimestampToMicroseconds(KiReadTimestamp() - Start) > KI_IPI_TIMEOUT_US;
}

static DECLSPEC_NORETURN VOID KipIpiUnresponsive(KAFFINITY Pending)
{
    ULONG Number = Pending != 0 ? (ULONG)__builtin_ctzll(Pending) : 0;

    DbgPrint("ipi: processor %u did not respond\n", Number);
    KeBugCheckEx(CLOCK_WATCHDOG_TIMEOUT, KI_IPI_TIMEOUT_US, 0, (ULONG_PTR)KiProcessorBlock[Number],
                 Number);
}

VOID KiIpiSend(KAFFINITY Targets, ULONG Requests)
{
    KAFFINITY Remaining;

    Targets &= KeQueryActiveProcessors();
    for (Remaining = Targets; Remaining != 0; Remaining &= Remaining - 1) {
        PKPRCB Prcb = KiProcessorBlock[__builtin_ctzll(Remaining)];
        __atomic_or_fetch(&Prcb->IpiRequests, (LONG)Requests, __ATOMIC_RELEASE);
    }
    if (Targets != 0) {
        KiArchSendIpi(Targets);
    }
}

VOID KiIpiServiceRoutine(PKTRAP_FRAME TrapFrame)
{
    PKPRCB Prcb = KeGetCurrentPrcb();
    LONG Requests = __atomic_exchange_n(&Prcb->IpiRequests, 0, __ATOMIC_ACQUIRE);

    (VOID) TrapFrame;
    __atomic_add_fetch(&KiIpiInterruptsServiced, 1, __ATOMIC_RELAXED);
    if (Requests & (IPI_DISPATCH | IPI_DPC)) {
        KiRequestSoftwareInterrupt(DISPATCH_LEVEL);
    }
    if (Requests & IPI_APC) {
        KiRequestSoftwareInterrupt(APC_LEVEL);
    }
    /* Packets are found through the source mask whether or not the
     * IPI_PACKET bit is still set (a poll may have run them already). */
    KipIpiProcessPackets();
}

/* Posts the current processor's packet to Targets (already without the
 * caller) and interrupts them. The caller is at IPI_LEVEL. */
static VOID KipIpiPostPacket(KAFFINITY Targets, PKIPI_BROADCAST_WORKER Worker, ULONG_PTR Context)
{
    ULONG Self = KipCurrentNumber();
    KI_IPI_PACKET *Packet = &KiIpiPackets[Self];
    KAFFINITY Remaining;

    Packet->Worker = Worker;
    Packet->Context = Context;
    __atomic_store_n(&Packet->Pending, Targets, __ATOMIC_RELEASE);
    for (Remaining = Targets; Remaining != 0; Remaining &= Remaining - 1) {
        __atomic_or_fetch(&KiIpiPacketSources[__builtin_ctzll(Remaining)], (KAFFINITY)1 << Self,
                          __ATOMIC_RELEASE);
    }
    __atomic_add_fetch(&KiIpiPacketsSent, 1, __ATOMIC_RELAXED);
    KiIpiSend(Targets, IPI_PACKET);
}

static VOID KipIpiWaitPacket(VOID)
{
    KI_IPI_PACKET *Packet = &KiIpiPackets[KipCurrentNumber()];
    ULONG64 Start = KiReadTimestamp();
    KAFFINITY Pending;

    while ((Pending = __atomic_load_n(&Packet->Pending, __ATOMIC_ACQUIRE)) != 0) {
        KipIpiProcessPackets();
        KipPause();
        if (KipIpiTimedOut(Start)) {
            KipIpiUnresponsive(Pending);
        }
    }
}

VOID KiIpiSendPacket(KAFFINITY Targets, PKIPI_BROADCAST_WORKER Worker, ULONG_PTR Context)
{
    KIRQL OldIrql = KiReadIrql();

    if (OldIrql < IPI_LEVEL) {
        KeRaiseIrql(IPI_LEVEL, &OldIrql);
    }
    Targets &= KeQueryActiveProcessors() & ~KeGetCurrentPrcb()->SetMember;
    if (Targets != 0) {
        KipIpiPostPacket(Targets, Worker, Context);
        KipIpiWaitPacket();
    }
    if (OldIrql < IPI_LEVEL) {
        KeLowerIrql(OldIrql);
    }
}

static ULONG_PTR KipIpiFlushTlbWorker(ULONG_PTR Context)
{
    const ULONG_PTR *Range = (const ULONG_PTR *)Context;
    MiArchInvalidateRange(Range[0], (SIZE_T)Range[1]);
    return 0;
}

VOID KiIpiFlushTlb(ULONG_PTR Va, SIZE_T Pages)
{
    /* The range lives on the sender's stack: the sender waits until every
     * target is done with it. */
    ULONG_PTR Range[2] = { Va, (ULONG_PTR)Pages };

    if (Pages == 0) {
        return;
    }
    KiIpiSendPacket(KeQueryActiveProcessors(), KipIpiFlushTlbWorker, (ULONG_PTR)Range);
}

/* Every processor arrives, waits for all the others, then runs the worker:
 * NT runs the broadcast function on all processors at once. */
static VOID KipGenericCallRendezvous(VOID)
{
    ULONG64 Start = KiReadTimestamp();

    __atomic_sub_fetch(&KiGenericCallBarrier, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&KiGenericCallBarrier, __ATOMIC_ACQUIRE) != 0) {
        KipIpiProcessPackets();
        KipPause();
        if (KipIpiTimedOut(Start)) {
            KipIpiUnresponsive(0);
        }
    }
}

static ULONG_PTR KipGenericCallTarget(ULONG_PTR Context)
{
    (VOID) Context;
    KipGenericCallRendezvous();
    return KiGenericCallWorker(KiGenericCallContext);
}

ULONG_PTR NTAPI KeIpiGenericCall(PKIPI_BROADCAST_WORKER BroadcastFunction, ULONG_PTR Context)
{
    KIRQL OldIrql = KiReadIrql(), LockIrql;
    KAFFINITY Targets;
    ULONG_PTR Result;
    ULONG64 Start = KiReadTimestamp();

    if (OldIrql > IPI_LEVEL) {
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)BroadcastFunction, OldIrql, 0,
                     (ULONG_PTR)KeIpiGenericCall);
    }
    /* Take the lock at DISPATCH_LEVEL (no preemption while holding it);
     * IPIs still reach a processor spinning here, and it polls too. */
    LockIrql = OldIrql;
    if (LockIrql < DISPATCH_LEVEL) {
        KeRaiseIrql(DISPATCH_LEVEL, &LockIrql);
    }
    while (__atomic_exchange_n(&KiGenericCallLock, 1, __ATOMIC_ACQUIRE) != 0) {
        do {
            KiIpiPollPackets();
            KipPause();
            if (KipIpiTimedOut(Start)) {
                KipIpiUnresponsive(0);
            }
        } while (__atomic_load_n(&KiGenericCallLock, __ATOMIC_RELAXED) != 0);
    }
    if (KiReadIrql() < IPI_LEVEL) {
        KIRQL Ignored;
        KeRaiseIrql(IPI_LEVEL, &Ignored);
    }

    Targets = KeQueryActiveProcessors() & ~KeGetCurrentPrcb()->SetMember;
    KiGenericCallWorker = BroadcastFunction;
    KiGenericCallContext = Context;
    __atomic_store_n(&KiGenericCallBarrier, (LONG)__builtin_popcountll(Targets) + 1,
                     __ATOMIC_RELEASE);
    if (Targets != 0) {
        KipIpiPostPacket(Targets, KipGenericCallTarget, 0);
    }
    KipGenericCallRendezvous();
    Result = BroadcastFunction(Context);
    if (Targets != 0) {
        KipIpiWaitPacket();
    }

    __atomic_store_n(&KiGenericCallLock, 0, __ATOMIC_RELEASE);
    KeLowerIrql(OldIrql);
    return Result;
}

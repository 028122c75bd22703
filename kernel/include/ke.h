/*
 * ke.h - kernel (Ke) internals shared by the portable kernel, the arch code
 * and the HALs: boot-time state, time keeping, boot phases, boot options and
 * bug checks raised from traps.
 */
#ifndef _KE_
#define _KE_

#include <wdm.h>
#include <arc.h>
#include <arch.h>

#define KEEL_VERSION_STRING "0.1.0"

/* The loader block the kernel was started with (a copy in kernel memory;
 * NULL in the hosted build). */
extern PLOADER_PARAMETER_BLOCK KeLoaderBlock;

/* ---- Phase-0 locks (kernel/ke/irql.c) ---------------------------------- */

/* A minimal spin lock for the phase-0 allocators (the real KSPIN_LOCK comes
 * with the dispatcher): raises to DISPATCH_LEVEL (never lowers) and spins. */
typedef volatile LONG KI_LOCK;
KIRQL KiAcquireLock(KI_LOCK *Lock);
VOID KiReleaseLock(KI_LOCK *Lock, KIRQL OldIrql);

/* ---- Time (kernel/ke/time.c) ------------------------------------------- */

/* The clock interrupt period, in 100 ns units: 1 ms (NT defaults to 15.6 ms;
 * a 1 ms tick gives the scheduler finer quanta and costs little). */
#define KI_TIME_INCREMENT 10000

/* Sets the time base: the timestamp counter's rate, the counter value that
 * is "boot" (loader entry) and the wall-clock time (100 ns since 1601) at
 * that moment. */
VOID KiInitializeTime(ULONG64 TimestampFrequency, ULONG64 BootTimestamp, ULONG64 BootSystemTime);
ULONG64 KiQueryTimestampFrequency(VOID);
ULONG64 KiQueryBootTimestamp(VOID);
/* Converts a timestamp delta to 100 ns units / microseconds without
 * overflowing for any realistic uptime. */
ULONG64 KiTimestampTo100ns(ULONG64 Delta);
ULONG64 KiTimestampToMicroseconds(ULONG64 Delta);
/* Converts a calendar date (UTC) to 100 ns units since 1601-01-01. Returns
 * FALSE when a field is out of range. */
BOOLEAN KiCalendarToSystemTime(ULONG Year, ULONG Month, ULONG Day, ULONG Hour, ULONG Minute,
                               ULONG Second, PULONG64 SystemTime);
/* The clock interrupt's work (called at CLOCK_LEVEL). */
VOID KiClockInterrupt(VOID);

/* ---- Boot (kernel/ke/init.c) ------------------------------------------- */

/* "Keel 0.1.0 (NT 10.0 x64, free build)" */
VOID KiPrintBanner(VOID);
/* Prints "boot: <Name> at X.XXX ms" for Timestamp (a KiReadTimestamp
 * value), relative to the boot timestamp. */
VOID KiPrintBootPhase(PCSTR Name, ULONG64 Timestamp);
/* Phase 1 of the portable boot: the module list, boot drivers, then "system
 * ready" and the command-line actions. Returns only when the system should
 * idle. */
VOID KiBootSystem(PVOID KernelBase, ULONG KernelSize, const VOID *BootImage, SIZE_T BootImageSize,
                  PCSTR CommandLine);

/* ---- Boot options (kernel/ke/cmdline.c) -------------------------------- */

/* Finds option Name (case-insensitive) in a space-separated command line
 * of "name" / "name=value" words, reading at most MaxLength bytes. On
 * success, Value and ValueLength describe the value (empty without '='). */
BOOLEAN KiFindBootOption(PCSTR CommandLine, SIZE_T MaxLength, PCSTR Name, PCSTR *Value,
                         PSIZE_T ValueLength);
/* Option Name=N with N a decimal number that fits in a ULONG: TRUE and
 * *Value = N; FALSE (Value untouched) when absent, empty or malformed. */
BOOLEAN KiFindBootOptionUlong(PCSTR CommandLine, SIZE_T MaxLength, PCSTR Name, PULONG Value);

/* ---- Bug checks (kernel/ke/bugcheck.c) --------------------------------- */

/* KeBugCheckEx with the registers of a trap (printed instead of the
 * caller's, and the stack walk starts at the trap). */
DECLSPEC_NORETURN VOID KiBugCheckTrap(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                      ULONG_PTR P4, PKTRAP_FRAME TrapFrame);
/* The stop screen's view of a trap frame: the registers as a CONTEXT, and
 * the stack walked from it with the unwind tables (RtlpWalkFrames; a stack
 * pointer that is not readable yields the faulting RIP alone). */
VOID KiTrapFrameToContext(const KTRAP_FRAME *TrapFrame, PCONTEXT Context);
ULONG KiWalkTrapFrameStack(const KTRAP_FRAME *TrapFrame, PULONG_PTR Frames, ULONG MaxFrames);
/* Name of a stop code ("IRQL_NOT_LESS_OR_EQUAL"), or NULL. */
PCSTR KiBugCheckName(ULONG BugCheckCode);
/* Maps an unhandled processor exception to the stop code NT uses and bug
 * checks (kernel/ke/except.c). */
DECLSPEC_NORETURN VOID KiUnhandledTrap(PKTRAP_FRAME TrapFrame);

/* ---- Processors and IPIs (smp: kernel/ke/processor.c, kernel/ke/ipi.c) -- */

/* Every started processor's PRCB, indexed by number (NULL = not started);
 * KeActiveProcessors has bit N set once KiProcessorBlock[N] is valid.
 * KeNumberProcessors (wdm.h) counts them. */
extern PKPRCB KiProcessorBlock[MAXIMUM_PROCESSORS];
extern volatile KAFFINITY KeActiveProcessors;
/* Processors the firmware described (started or not); 0 until known. */
extern ULONG KiMaximumProcessors;

/* Called once on each processor (the boot processor too) when its KPCR,
 * descriptor tables and clock are up: publishes Prcb in KiProcessorBlock
 * and KeActiveProcessors and counts it in KeNumberProcessors. */
VOID KiRegisterProcessor(PKPRCB Prcb);

/* Request bits in Prcb->IpiRequests. */
#define IPI_DISPATCH 0x1 /* reschedule: request a DISPATCH_LEVEL software interrupt */
#define IPI_DPC      0x2 /* drain the DPC queue (same software interrupt) */
#define IPI_PACKET   0x4 /* run the packets other processors posted */
#define IPI_APC      0x8 /* deliver kernel APCs: request an APC_LEVEL software interrupt */

/* Sets Requests in each target's IpiRequests and interrupts the targets
 * (the caller's own bit is honoured: it is interrupted like any other). */
VOID KiIpiSend(KAFFINITY Targets, ULONG Requests);
/* The IPI handler's body, called by the arch at IPI_LEVEL. */
VOID KiIpiServiceRoutine(PKTRAP_FRAME TrapFrame);
/* Runs Worker(Context) at IPI_LEVEL on every active processor in Targets
 * other than the caller and returns when all of them have finished. Any
 * IRQL <= IPI_LEVEL; never with a spin lock another processor may be
 * spinning for with interrupts disabled. */
VOID KiIpiSendPacket(KAFFINITY Targets, PKIPI_BROADCAST_WORKER Worker, ULONG_PTR Context);
/* TLB shootdown: every other active processor drops its translations for
 * Pages pages at Va (MiArchInvalidateRange) before this returns. The
 * caller flushes its own processor. */
VOID KiIpiFlushTlb(ULONG_PTR Va, SIZE_T Pages);
/* Runs the packets posted to this processor now. Any loop that spins with
 * interrupts disabled or at IRQL >= IPI_LEVEL waiting for another processor
 * (a spin lock taken from an interrupt handler) calls it, so a packet
 * sender holding what it waits for still completes. */
VOID KiIpiPollPackets(VOID);
/* Starts the application processors (x64, kernel/arch/x64/smp.c). */
VOID KiStartSecondaryProcessors(VOID);

/* ---- end processors and IPIs ---- */

/* ---- Dispatcher and scheduler (kecore: kernel/ke, kernel/ps) ---- */

/* Software interrupts (softint.c). KiRequestSoftwareInterrupt marks
 * APC_LEVEL or DISPATCH_LEVEL work pending on this processor; it runs when
 * the IRQL drops below that level: KeLowerIrql and every interrupt exit
 * (arch: "restore the interrupted IRQL, then if it is below DISPATCH_LEVEL
 * call KiCheckSoftwareInterrupts") call KiCheckSoftwareInterrupts. */
VOID KiRequestSoftwareInterrupt(KIRQL Irql);
VOID KiCheckSoftwareInterrupts(VOID);
/* The DISPATCH_LEVEL software interrupt: drains the DPC queue, expires
 * timers, then reschedules (quantum end, preemption). */
VOID KiDispatchInterrupt(VOID);

/* Boot (thread.c, idle.c). KiInitializeScheduler turns the caller (boot
 * processor, its boot stack) into processor 0's idle thread and creates
 * the system process; every processor then ends in KiIdleLoop, which never
 * returns. KiInitializeProcessorScheduler prepares a processor's ready
 * queues, DPC queue and idle thread (KiIdleLoop calls it on a processor
 * that has none yet, so other processors need only call KiIdleLoop). */
VOID KiInitializeScheduler(VOID);
VOID KiInitializeProcessorScheduler(PKPRCB Prcb);
DECLSPEC_NORETURN VOID KiIdleLoop(VOID);
/* Phase 1 runs in a system thread (init.c): KiStartPhase1 creates it with
 * the arguments of KiBootSystem; the caller then becomes the idle thread. */
VOID KiStartPhase1(PVOID KernelBase, ULONG KernelSize, const VOID *BootImage, SIZE_T BootImageSize,
                   PCSTR CommandLine);

/* Threads (thread.c). KiCreateThread makes a system thread in the
 * Initialized state with a kernel stack (MmCreateKernelStack), one
 * reference for the caller; KiStartThread makes it Ready. */
NTSTATUS KiCreateThread(PKSTART_ROUTINE StartRoutine, PVOID StartContext, KPRIORITY Priority,
                        PKTHREAD *Thread);
VOID KiStartThread(PKTHREAD Thread);
/* Destroys a thread that was created but never started. */
VOID KiDiscardThread(PKTHREAD Thread);
VOID KiReferenceThread(PKTHREAD Thread);
VOID KiDereferenceThread(PKTHREAD Thread);
DECLSPEC_NORETURN VOID KiTerminateThread(NTSTATUS ExitStatus);
/* Frees the stacks of terminated threads (runs at PASSIVE_LEVEL: the idle
 * loop and thread creation call it). Returns the number reaped. */
ULONG KiReapTerminatedThreads(VOID);
/* Waits (PASSIVE_LEVEL, a schedulable thread) until every terminated
 * thread has been reaped, on any processor, and frees the dead stacks the
 * memory manager keeps for new threads: tests call it before comparing
 * page or thread counts with a baseline. */
VOID KiSettleTerminatedThreads(VOID);
/* Threads alive (created, not yet reaped), for leak checks. */
LONG KiQueryThreadCount(VOID);
/* Kernel stacks of threads (MmCreateKernelStack) not yet freed. */
LONG KiQueryKernelStackCount(VOID);
/* Pool tag of thread objects ("Thre", as NT). */
#define KI_THREAD_POOL_TAG 0x65726854
PKPROCESS KiQuerySystemProcess(VOID);
/* Yields the rest of the quantum to a ready thread of the same priority
 * (ZwYieldExecution). Returns TRUE when another thread ran. */
BOOLEAN KiYieldThread(VOID);

/* The scheduler's self-check printed at boot ("sched: self-check: ..."). */
BOOLEAN KiSchedulerSelfCheck(VOID);

/* ---- end dispatcher and scheduler ---- */

/* ---- APCs and priority inheritance (ke2: kernel/ke/apc.c, inherit.c) ---- */

/* Ownership boost for executive locks (FAST_MUTEX, ERESOURCE...): raises
 * Owner to at least Priority (1-31; a variable-priority owner may be lifted
 * into the real-time range while a real-time thread waits on it) until
 * KiRemoveOwnerBoost. Boosts only rise: the highest outstanding request
 * wins. The caller keeps Owner referenced (it owns the lock the caller
 * waits for). Both take the dispatcher lock: IRQL <= DISPATCH_LEVEL, never
 * with the dispatcher lock held. */
VOID KiBoostOwnerPriority(PKTHREAD Owner, KPRIORITY Priority);
/* Drops the ownership boost: Thread goes back to its base priority plus
 * its decaying wake boost, or to the highest waiter of a KMUTANT it still
 * owns when that is higher. Called by the owner AFTER it has released the
 * lock and readied the waiter: dropping first lets a medium-priority
 * thread run before the waiter is ready (the inversion again). */
VOID KiRemoveOwnerBoost(PKTHREAD Thread);

/* Delivers the current thread's deliverable kernel APCs (IRQL APC_LEVEL,
 * called by the APC_LEVEL software interrupt). */
VOID KiDeliverApc(VOID);

/* ---- end APCs and priority inheritance ---- */

#endif /* _KE_ */

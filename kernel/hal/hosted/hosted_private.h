/*
 * hosted_private.h - routines and state shared between the files of the
 * hosted HAL: memory, the per-processor record (a processor is a host
 * thread), the interrupt lines signals feed, and the stack switch.
 */
#ifndef _HOSTED_PRIVATE_
#define _HOSTED_PRIVATE_

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <ntdef.h>
#include <arch.h>

/* Creates "physical memory" (PhysicalSize bytes, mapped at
 * MmPhysicalMapBase) and reserves the system VA range for kernel pages. */
BOOLEAN HalpInitializeHostedMemory(SIZE_T PhysicalSize, SIZE_T SystemVaSize);

/* ---- Processors (processor.c) ------------------------------------------ */

/* Interrupt lines of a hosted processor (bits of PendingInterrupts). A
 * line is taken when interrupts are enabled and the IRQL is below its
 * level; otherwise it stays pending until KiRestoreInterrupts or an IRQL
 * drop unmasks it, as the local APIC holds a masked vector. */
#define HALP_INTERRUPT_CLOCK 0x1 /* CLOCK_LEVEL: the periodic tick */
#define HALP_INTERRUPT_IPI   0x2 /* IPI_LEVEL: another processor's request */

/* One hosted processor: its KPCR (what KeGetPcr returns on the host
 * thread), the emulated interrupt flag and pending lines, and the host
 * objects behind it. Lives in the host thread's TLS; processors that joined
 * the system are also reachable through HalpProcessors[Number]. */
typedef struct _HALP_PROCESSOR {
    KPCR Pcr;
    volatile BOOLEAN InterruptsEnabled;
    volatile BOOLEAN Online;             /* registered; its clock may run */
    volatile LONG PendingInterrupts;     /* HALP_INTERRUPT_* */
    volatile LONG IpiSignalInFlight;     /* an IPI signal sent, not yet handled */
    volatile ULONG64 SignalsReceived;    /* every handler entry (halt wake-ups) */
    volatile ULONG64 InterruptsTaken;    /* lines actually serviced */
    volatile ULONG64 InterruptsDeferred; /* lines that arrived masked */
    volatile ULONG64 IpisTaken;

    /* Context switches: the interrupt flag to restore once the switch is
     * complete (the flag is a processor's, not a thread's), and the thread
     * switched away from. */
    BOOLEAN SwitchInterrupts;
    BOOLEAN SwitchFromDying;

    /* The host thread and the stack it was born with (ASan needs the
     * bounds of whatever stack a switch leaves). */
    pthread_t Thread;
    pid_t Tid;
    ULONG_PTR NativeStackBottom;
    SIZE_T NativeStackSize;
    timer_t Clock;
    BOOLEAN ClockRunning;
} HALP_PROCESSOR, *PHALP_PROCESSOR;

extern PHALP_PROCESSOR HalpProcessors[MAXIMUM_PROCESSORS];
extern volatile BOOLEAN HalpShuttingDown;

/* The calling host thread's processor (created on first use). Not inlined
 * anywhere: after a context switch the same kernel thread may continue on
 * another host thread, so a cached TLS address would be stale. */
PHALP_PROCESSOR HalpCurrentProcessor(VOID);
/* Processor numbers are handed out in order, to started processors and to
 * any other host thread that runs kernel code. */
USHORT HalpClaimProcessorNumber(VOID);
/* Makes the calling host thread processor Number (a fresh record). */
PHALP_PROCESSOR HalpAdoptProcessor(USHORT Number);
/* Records the calling host thread and its stack in Processor. */
VOID HalpBindHostThread(PHALP_PROCESSOR Processor);

/* mp.c: makes the calling host thread processor 0 of the system (bound,
 * interrupt handlers installed, registered; no clock yet), and stops every
 * processor's clock for good (process exit). */
VOID HalpStartBootProcessor(VOID);
VOID HalpStopProcessors(VOID);

/* ---- Interrupts (interrupt.c) ------------------------------------------ */

/* Real-time signals carry the interrupts (SIGUSR1/2 belong to libFuzzer). */
#define HALP_CLOCK_SIGNAL (SIGRTMIN + 2)
#define HALP_IPI_SIGNAL   (SIGRTMIN + 3)

/* Interrupt frames on one kernel stack. An interrupt entry (the signal
 * handler, or HalpDispatchPendingInterrupts when an unmask finds a held
 * line) that takes a line counts as a frame of the thread it interrupted
 * (KTHREAD.ArchData[HALP_ARCH_INTERRUPT_DEPTH]) until it returns. As on
 * x64, where the stub runs with IF clear and a line at or below the current
 * level is held by the APIC, a frame may only be nested by one that
 * interrupts a higher IRQL, so at most one frame per interrupted level
 * stands on a stack: PASSIVE_LEVEL (thread code), PASSIVE_LEVEL again (a
 * normal kernel APC that the first frame's exit delivers, which no other
 * normal APC interrupts), APC_LEVEL (a special APC), DISPATCH_LEVEL (DPCs)
 * and CLOCK_LEVEL (an IPI during the clock); nothing nests at IPI_LEVEL.
 * HalpInterruptNestingPeak is the deepest nesting seen (tests reset it). */
#define HALP_ARCH_INTERRUPT_DEPTH      3
#define HALP_MAXIMUM_INTERRUPT_NESTING 5
extern volatile LONG HalpInterruptNestingPeak;

/* Installs the handlers (once per process). */
VOID HalpInstallInterruptHandlers(VOID);
/* Takes every pending line the current IRQL and interrupt flag allow, then
 * (when the IRQL it found was below DISPATCH_LEVEL) the software
 * interrupts: the interrupt-exit path of contract 3. */
VOID HalpDispatchPendingInterrupts(VOID);
/* Starts / stops the processor's periodic clock (a POSIX timer signalling
 * its host thread every KI_TIME_INCREMENT). */
BOOLEAN HalpStartHostClock(PHALP_PROCESSOR Processor);
VOID HalpStopHostClock(PHALP_PROCESSOR Processor);

/* ---- Stack switch (swap.S) --------------------------------------------- */

/* Saves the callee-saved registers, MXCSR and the x87 control word on the
 * current stack, stores the stack pointer in *SaveStack, loads NewStack and
 * returns through the context saved there. */
VOID HalpSwitchStack(PVOID *SaveStack, PVOID NewStack);
/* Where a fresh context first returns to: calls R12(R13) on the new stack
 * with the frame chain ending there. */
VOID HalpThreadTrampoline(VOID);

/* Builds a fresh context on [StackLimit, StackBase) that runs
 * Routine(Argument) on the first HalpSwitchStack to it; returns its stack
 * pointer. */
PVOID HalpInitializeStack(ULONG_PTR StackBase, VOID (*Routine)(PVOID), PVOID Argument);

#endif /* _HOSTED_PRIVATE_ */

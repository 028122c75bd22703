/*
 * interrupt.c - interrupts of the hosted processors. Two "lines" exist:
 * the clock (a POSIX timer per processor, CLOCK_LEVEL) and the IPI
 * (pthread_kill from the sender, IPI_LEVEL); each arrives as a real-time
 * signal on the processor's host thread. The handler plays the part of the
 * x64 interrupt stub: it marks the line pending and, when the emulated
 * interrupt flag is set and the IRQL is below the line's level, raises to
 * that level, runs the kernel's service routine, restores the IRQL and,
 * if the interrupted IRQL was below DISPATCH_LEVEL, runs the software
 * interrupts (KiCheckSoftwareInterrupts), which may switch threads right
 * there. A masked line stays pending; KiRestoreInterrupts and KiWriteIrql
 * (processor.c) take it when they unmask it.
 *
 * Why this is safe although it runs from a signal handler:
 * - the handler never calls libc (beyond reading errno) or the sanitizer
 *   runtime's non-reentrant parts: it touches kernel state only, and kernel
 *   code itself uses no libc; the HAL's own libc calls (write, mmap,
 *   clock_gettime, pthread_kill) are system calls, async-signal-safe;
 * - signals are never blocked (SA_NODEFER, empty sa_mask): whether an
 *   interrupt may be taken is decided by the emulated flag and the IRQL,
 *   which only this host thread changes, so plain stores with signal
 *   fences order them against the handler;
 * - a thread switched away inside the handler is suspended with its signal
 *   frame on its own kernel stack; when it is resumed (perhaps on another
 *   host thread) the handler returns and rt_sigreturn restores exactly its
 *   registers. The frame also carries the sigaltstack settings of the host
 *   thread the signal hit, so a handler that ends on another host thread
 *   rewrites them to that thread's own (the ASan SEGV stack is per thread);
 * - context switches run with the emulated flag clear (thread.c), so the
 *   handler never starts a switch while ASan is between
 *   __sanitizer_start_switch_fiber and __sanitizer_finish_switch_fiber.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include "hosted_private.h"

static pthread_once_t HalpHandlersOnce = PTHREAD_ONCE_INIT;

/* Lines the IRQL leaves unmasked. */
static LONG HalpUnmaskedLines(KIRQL Irql)
{
    LONG Lines = 0;

    if (Irql < CLOCK_LEVEL) {
        Lines |= HALP_INTERRUPT_CLOCK;
    }
    if (Irql < IPI_LEVEL) {
        Lines |= HALP_INTERRUPT_IPI;
    }
    return Lines;
}

/* Takes the deliverable lines, highest level first, on the current
 * processor. Called pinned (interrupt flag clear: no handler can switch
 * this thread to another host thread) and returns pinned. While a service
 * routine runs, the IRQL is at its line's level, above DISPATCH_LEVEL,
 * where nothing switches threads, so the flag is set again and a higher
 * line nests as it would on the local APIC. */
static VOID HalpServiceLines(PHALP_PROCESSOR Processor, PKTRAP_FRAME TrapFrame)
{
    for (;;) {
        KIRQL Irql = Processor->Pcr.Irql;
        LONG Lines;
        LONG Line;
        KIRQL Level;

        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (HalpShuttingDown) {
            return;
        }
        Lines = __atomic_load_n(&Processor->PendingInterrupts, __ATOMIC_ACQUIRE) &
                HalpUnmaskedLines(Irql);
        if (Lines == 0) {
            return;
        }
        Line = (Lines & HALP_INTERRUPT_IPI) ? HALP_INTERRUPT_IPI : HALP_INTERRUPT_CLOCK;
        Level = Line == HALP_INTERRUPT_IPI ? IPI_LEVEL : CLOCK_LEVEL;
        __atomic_and_fetch(&Processor->PendingInterrupts, ~Line, __ATOMIC_ACQ_REL);

        Processor->Pcr.Irql = Level;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsEnabled = TRUE;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsTaken++;
        if (Line == HALP_INTERRUPT_IPI) {
            Processor->IpisTaken++;
            KiIpiServiceRoutine(TrapFrame);
        } else {
            KiClockInterrupt();
        }
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsEnabled = FALSE;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->Pcr.Irql = Irql;
    }
}

VOID HalpDispatchPendingInterrupts(VOID)
{
    PHALP_PROCESSOR Processor;
    KIRQL Interrupted;
    ULONG64 Taken;

    /* Pin first: only then is the processor record the thread's for good. */
    if (!KiDisableInterrupts()) {
        return; /* the flag was clear: nothing may be taken */
    }
    Processor = HalpCurrentProcessor();
    Interrupted = Processor->Pcr.Irql;
    Taken = Processor->InterruptsTaken;
    HalpServiceLines(Processor, NULL);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    Processor->InterruptsEnabled = TRUE;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    /* The interrupt exit (contract 3): software interrupts run when the
     * level returned to is below them. Only when a line was really taken:
     * an IRQL drop already checks them itself. */
    if (Interrupted < DISPATCH_LEVEL && Processor->InterruptsTaken != Taken) {
        KiCheckSoftwareInterrupts();
    }
}

/* The sigaltstack of the host thread the handler finishes on. */
static VOID HalpFixSignalStack(ucontext_t *Context)
{
    stack_t Current;

    if (sigaltstack(NULL, &Current) == 0) {
        Context->uc_stack = Current;
        Context->uc_stack.ss_flags &= ~SS_ONSTACK;
    }
}

static VOID HalpCaptureFrame(PKTRAP_FRAME Frame, const ucontext_t *Context, int Signal)
{
    const greg_t *Regs = Context->uc_mcontext.gregs;

    memset(Frame, 0, sizeof(*Frame));
    Frame->Rax = (ULONG64)Regs[REG_RAX];
    Frame->Rbx = (ULONG64)Regs[REG_RBX];
    Frame->Rcx = (ULONG64)Regs[REG_RCX];
    Frame->Rdx = (ULONG64)Regs[REG_RDX];
    Frame->Rsi = (ULONG64)Regs[REG_RSI];
    Frame->Rdi = (ULONG64)Regs[REG_RDI];
    Frame->Rbp = (ULONG64)Regs[REG_RBP];
    Frame->R8 = (ULONG64)Regs[REG_R8];
    Frame->R9 = (ULONG64)Regs[REG_R9];
    Frame->R10 = (ULONG64)Regs[REG_R10];
    Frame->R11 = (ULONG64)Regs[REG_R11];
    Frame->R12 = (ULONG64)Regs[REG_R12];
    Frame->R13 = (ULONG64)Regs[REG_R13];
    Frame->R14 = (ULONG64)Regs[REG_R14];
    Frame->R15 = (ULONG64)Regs[REG_R15];
    Frame->Rip = (ULONG64)Regs[REG_RIP];
    Frame->Rsp = (ULONG64)Regs[REG_RSP];
    Frame->EFlags = (ULONG64)Regs[REG_EFL];
    Frame->Vector = (ULONG64)Signal;
}

/* errno and pthread_self() are declared const by glibc, so the compiler
 * may reuse one host thread's answer after a switch resumed the handler on
 * another: read them out of line. */
static __attribute__((noinline)) int HalpReadErrno(void)
{
    __asm__ volatile("" ::: "memory");
    return errno;
}

static __attribute__((noinline)) void HalpWriteErrno(int Value)
{
    __asm__ volatile("" ::: "memory");
    errno = Value;
}

static void HalpInterruptHandler(int Signal, siginfo_t *Info, void *UserContext)
{
    ucontext_t *Context = UserContext;
    int SavedErrno = HalpReadErrno();
    LONG Line = Signal == HALP_IPI_SIGNAL ? HALP_INTERRUPT_IPI : HALP_INTERRUPT_CLOCK;
    PHALP_PROCESSOR Processor;
    BOOLEAN Enabled;
    KIRQL Interrupted;
    ULONG64 Taken;

    (void)Info;
    /* Pin: a nested signal now only marks its line pending, so this
     * thread stays on this host thread until the flag is set again. */
    Enabled = KiDisableInterrupts();
    Processor = HalpCurrentProcessor();
    Processor->SignalsReceived++;
    if (!Processor->Online || HalpShuttingDown) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsEnabled = Enabled;
        HalpWriteErrno(SavedErrno);
        return;
    }
    __atomic_or_fetch(&Processor->PendingInterrupts, Line, __ATOMIC_ACQ_REL);
    Interrupted = Processor->Pcr.Irql;
    if (!Enabled || (HalpUnmaskedLines(Interrupted) & Line) == 0) {
        Processor->InterruptsDeferred++;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsEnabled = Enabled;
        HalpWriteErrno(SavedErrno);
        return;
    }

    Taken = Processor->InterruptsTaken;
    if (Line == HALP_INTERRUPT_IPI) {
        KTRAP_FRAME Frame;
        HalpCaptureFrame(&Frame, Context, Signal);
        HalpServiceLines(Processor, &Frame);
    } else {
        HalpServiceLines(Processor, NULL);
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    Processor->InterruptsEnabled = TRUE;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (Interrupted < DISPATCH_LEVEL && Processor->InterruptsTaken != Taken) {
        /* May switch to another thread; this one continues here later,
         * perhaps on another host thread. */
        KiCheckSoftwareInterrupts();
        if (HalpCurrentProcessor() != Processor) {
            HalpFixSignalStack(Context);
        }
    }
    HalpWriteErrno(SavedErrno);
}

static void HalpInstallOnce(void)
{
    struct sigaction Action;

    memset(&Action, 0, sizeof(Action));
    Action.sa_sigaction = HalpInterruptHandler;
    Action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&Action.sa_mask);
    sigaction(HALP_CLOCK_SIGNAL, &Action, NULL);
    sigaction(HALP_IPI_SIGNAL, &Action, NULL);
}

VOID HalpInstallInterruptHandlers(VOID)
{
    pthread_once(&HalpHandlersOnce, HalpInstallOnce);
}

BOOLEAN HalpStartHostClock(PHALP_PROCESSOR Processor)
{
    struct sigevent Event;
    struct itimerspec Period;

    if (Processor->ClockRunning) {
        return TRUE;
    }
    memset(&Event, 0, sizeof(Event));
    Event.sigev_notify = SIGEV_THREAD_ID;
    Event.sigev_signo = HALP_CLOCK_SIGNAL;
    Event._sigev_un._tid = Processor->Tid;
    if (timer_create(CLOCK_MONOTONIC, &Event, &Processor->Clock) != 0) {
        return FALSE;
    }
    /* KI_TIME_INCREMENT is in 100 ns units. */
    memset(&Period, 0, sizeof(Period));
    Period.it_interval.tv_nsec = KI_TIME_INCREMENT * 100;
    Period.it_value = Period.it_interval;
    if (timer_settime(Processor->Clock, 0, &Period, NULL) != 0) {
        timer_delete(Processor->Clock);
        return FALSE;
    }
    Processor->ClockRunning = TRUE;
    return TRUE;
}

VOID HalpStopHostClock(PHALP_PROCESSOR Processor)
{
    if (Processor->ClockRunning) {
        Processor->ClockRunning = FALSE;
        timer_delete(Processor->Clock);
    }
}

VOID KiArchSendIpi(KAFFINITY Targets)
{
    while (Targets != 0) {
        ULONG Number = (ULONG)__builtin_ctzll(Targets);
        PHALP_PROCESSOR Target = HalpProcessors[Number];

        Targets &= Targets - 1;
        if (Target == NULL || !Target->Online) {
            continue;
        }
        /* One signal per pending line is enough: if the bit was already
         * set, a signal is on its way or the line is held masked and will
         * be taken when the target unmasks it. */
        if ((__atomic_fetch_or(&Target->PendingInterrupts, HALP_INTERRUPT_IPI, __ATOMIC_ACQ_REL) &
             HALP_INTERRUPT_IPI) == 0) {
            pthread_kill(Target->Thread, HALP_IPI_SIGNAL);
        }
    }
}

VOID KiHaltUntilInterrupt(VOID)
{
    PHALP_PROCESSOR Processor;
    ULONG64 Seen;
    BOOLEAN Enabled;
    sigset_t Block, Previous;

    /* Pinned, read this processor's signal count; a handler that runs
     * after this read is the interrupt the halt waits for. */
    Enabled = KiDisableInterrupts();
    Processor = HalpCurrentProcessor();
    Seen = Processor->SignalsReceived;
    (VOID) Enabled;

    /* "sti": takes what is already pending (this may switch threads). */
    KiRestoreInterrupts(TRUE);

    /* "hlt": with the interrupt signals blocked, nothing can arrive between
     * the check and the wait; sigsuspend unblocks and waits atomically. A
     * thread that moved to another host thread meanwhile just returns. */
    sigemptyset(&Block);
    sigaddset(&Block, HALP_CLOCK_SIGNAL);
    sigaddset(&Block, HALP_IPI_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &Block, &Previous);
    if (HalpCurrentProcessor() == Processor && Processor->SignalsReceived == Seen &&
        (Processor->PendingInterrupts & HalpUnmaskedLines(Processor->Pcr.Irql)) == 0 &&
        !HalpShuttingDown) {
        sigsuspend(&Previous);
    }
    pthread_sigmask(SIG_SETMASK, &Previous, NULL);
}

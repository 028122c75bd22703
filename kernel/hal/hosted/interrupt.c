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
 * - whether an interrupt may be taken is decided by the emulated flag and
 *   the IRQL, which only this host thread changes, so plain stores with
 *   signal fences order them against the handler; the host blocks the two
 *   signals only around a handler's own stub work (see "Frames" below);
 * - a thread switched away inside the handler is suspended with its signal
 *   frame on its own kernel stack; when it is resumed (perhaps on another
 *   host thread) the handler returns and rt_sigreturn restores exactly its
 *   registers. The frame also carries the sigaltstack settings of the host
 *   thread the signal hit, so a handler that ends on another host thread
 *   rewrites them to that thread's own (the ASan SEGV stack is per thread);
 * - context switches run with the emulated flag clear (thread.c), so the
 *   handler never starts a switch while ASan is between
 *   __sanitizer_start_switch_fiber and __sanitizer_finish_switch_fiber.
 *
 * Frames. On x64 a stack holds at most one interrupt frame per level: the
 * gate clears IF, the APIC holds a vector at or below the TPR, and iretq
 * restores IF atomically with the return. The hosted handler keeps that
 * bound (hosted_private.h, HALP_MAXIMUM_INTERRUPT_NESTING) with three rules:
 * - the host blocks both signals while it delivers one (sa_mask, no
 *   SA_NODEFER): with SA_NODEFER a host thread that the host keeps
 *   preempting in its return to user mode got one more frame per timer
 *   expiry or queued IPI before the first handler ran an instruction, and
 *   a handler that only defers its line stays blocked until rt_sigreturn;
 *   one that takes its line unblocks them once the flag is clear (its body
 *   may switch threads, and the thread switched to must take interrupts);
 * - the body runs the software interrupts with the flag clear and loops
 *   over lines that arrived meanwhile instead of nesting (the second entry,
 *   HalpDispatchPendingInterrupts, loops likewise instead of recursing);
 * - the exit blocks the signals again before its last look at the lines
 *   and sets the flag only then: "sti; iretq" with no window between.
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

volatile LONG HalpInterruptNestingPeak;

/* An interrupt entry that takes a line becomes a frame of the thread it
 * interrupted (pinned: the current thread is the owner of this stack). */
static PKTHREAD HalpEnterInterruptFrame(VOID)
{
    PKTHREAD Thread = KeGetCurrentPrcb()->CurrentThread;
    LONG Depth, Peak;

    if (Thread == NULL) {
        return NULL;
    }
    Depth = (LONG)++Thread->ArchData[HALP_ARCH_INTERRUPT_DEPTH];
    Peak = __atomic_load_n(&HalpInterruptNestingPeak, __ATOMIC_RELAXED);
    while (Depth > Peak && !__atomic_compare_exchange_n(&HalpInterruptNestingPeak, &Peak, Depth,
                                                        TRUE, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return Thread;
}

/* Pinned again (perhaps on another processor: the stack is the same). */
static VOID HalpLeaveInterruptFrame(PKTHREAD Thread)
{
    if (Thread != NULL) {
        Thread->ArchData[HALP_ARCH_INTERRUPT_DEPTH]--;
    }
}

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

/* An interrupt entry's work after the stub, pinned with the interrupt flag
 * clear at the interrupted IRQL: every line that IRQL leaves unmasked and,
 * when it is below DISPATCH_LEVEL, the software interrupts, again and
 * again until no unmasked line is pending. The software interrupts run with
 * the flag clear, as x64's KiDispatchTrap runs them with IF clear: only
 * inside them (DPCs at DISPATCH_LEVEL, APCs) is it set, where a new line
 * interrupts a higher level than this frame did. A line that arrives while
 * the flag is clear is left pending and taken by the next round here, in
 * this frame, never by a nested one. Returns pinned and with the flag
 * clear, perhaps on another processor (a switch inside the software
 * interrupts). */
static VOID HalpRunInterruptBody(PKTRAP_FRAME TrapFrame)
{
    KIRQL Interrupted = KiReadIrql();

    for (;;) {
        PHALP_PROCESSOR Processor = HalpCurrentProcessor();
        ULONG64 Taken = Processor->InterruptsTaken;

        HalpServiceLines(Processor, TrapFrame);
        /* The interrupt exit (contract 3): software interrupts run when the
         * level returned to is below them. Only when a line was really
         * taken: an IRQL drop already checks them itself. */
        if (Interrupted >= DISPATCH_LEVEL || Processor->InterruptsTaken == Taken) {
            return;
        }
        KiCheckSoftwareInterrupts();
        Processor = HalpCurrentProcessor();
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (HalpShuttingDown || (__atomic_load_n(&Processor->PendingInterrupts, __ATOMIC_ACQUIRE) &
                                 HalpUnmaskedLines(Interrupted)) == 0) {
            return;
        }
    }
}

/* The interrupt entry of an unmask (KiRestoreInterrupts(TRUE), an IRQL
 * drop): the local APIC delivering a held vector. It loops instead of
 * recursing: lines that arrive while it runs are taken by its next round,
 * so a stream of them never deepens the stack. */
VOID HalpDispatchPendingInterrupts(VOID)
{
    for (;;) {
        PHALP_PROCESSOR Processor;
        PKTHREAD Thread;

        /* Pin first: only then is the processor record the thread's for
         * good. */
        if (!KiDisableInterrupts()) {
            return; /* the flag was clear: nothing may be taken */
        }
        Processor = HalpCurrentProcessor();
        if (!HalpShuttingDown && (__atomic_load_n(&Processor->PendingInterrupts, __ATOMIC_ACQUIRE) &
                                  HalpUnmaskedLines(Processor->Pcr.Irql)) != 0) {
            Thread = HalpEnterInterruptFrame();
            HalpRunInterruptBody(NULL);
            HalpLeaveInterruptFrame(Thread);
            Processor = HalpCurrentProcessor();
        }
        /* "iretq": the flag is set again; a line deferred just before is
         * caught by the check after it (a signal after it is a new
         * interrupt of the caller, which is no longer inside this entry). */
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsEnabled = TRUE;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        /* Unpinned: the record read may be another processor's if a
         * nested interrupt moved this thread; a spurious round is then
         * harmless, and a line of the new processor was taken by the
         * switch's own unmask. */
        Processor = HalpCurrentProcessor();
        if (HalpShuttingDown || (__atomic_load_n(&Processor->PendingInterrupts, __ATOMIC_ACQUIRE) &
                                 HalpUnmaskedLines(KiReadIrql())) == 0) {
            return;
        }
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

/* The two interrupt signals, the clock and the IPI. */
static VOID HalpInterruptSignalSet(sigset_t *Signals)
{
    sigemptyset(Signals);
    sigaddset(Signals, HALP_CLOCK_SIGNAL);
    sigaddset(Signals, HALP_IPI_SIGNAL);
}

/* The host's mask for the interrupt signals (the processor's "IF" for the
 * last instructions of a handler, see below). */
static VOID HalpBlockInterruptSignals(BOOLEAN Block)
{
    sigset_t Signals;

    HalpInterruptSignalSet(&Signals);
    pthread_sigmask(Block ? SIG_BLOCK : SIG_UNBLOCK, &Signals, NULL);
}

static void HalpInterruptHandler(int Signal, siginfo_t *Info, void *UserContext)
{
    ucontext_t *Context = UserContext;
    int SavedErrno = HalpReadErrno();
    LONG Line = Signal == HALP_IPI_SIGNAL ? HALP_INTERRUPT_IPI : HALP_INTERRUPT_CLOCK;
    PHALP_PROCESSOR Processor;
    PHALP_PROCESSOR Origin;
    PKTHREAD Thread;
    BOOLEAN Enabled;
    KIRQL Interrupted;

    (void)Info;
    /* Pin: a nested signal now only marks its line pending, so this
     * thread stays on this host thread until the flag is set again. */
    Enabled = KiDisableInterrupts();
    Processor = HalpCurrentProcessor();
    Processor->SignalsReceived++;
    if (Line == HALP_INTERRUPT_IPI) {
        /* This IPI signal arrived: a sender may send the next one. Before
         * the pending lines are read, so a request posted while it was on
         * its way is seen here (KiArchSendIpi). */
        __atomic_store_n(&Processor->IpiSignalInFlight, 0, __ATOMIC_SEQ_CST);
    }
    if (!Processor->Online || HalpShuttingDown) {
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsEnabled = Enabled;
        HalpWriteErrno(SavedErrno);
        return;
    }
    __atomic_or_fetch(&Processor->PendingInterrupts, Line, __ATOMIC_SEQ_CST);
    Interrupted = Processor->Pcr.Irql;
    if (!Enabled || (HalpUnmaskedLines(Interrupted) & Line) == 0) {
        /* Held, as the APIC holds a vector at or below the TPR or while IF
         * is clear: taken by whatever unmasks it. */
        Processor->InterruptsDeferred++;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        Processor->InterruptsEnabled = Enabled;
        HalpWriteErrno(SavedErrno);
        return;
    }

    Origin = Processor;
    Thread = HalpEnterInterruptFrame();
    /* The flag is clear: a signal from here on only defers its line. */
    HalpBlockInterruptSignals(FALSE);
    for (;;) {
        if (Line == HALP_INTERRUPT_IPI) {
            KTRAP_FRAME Frame;
            HalpCaptureFrame(&Frame, Context, Signal);
            HalpRunInterruptBody(&Frame);
        } else {
            /* Switches inside may resume this thread on another host
             * thread; it continues here. */
            HalpRunInterruptBody(NULL);
        }
        /* "iretq" restores IF with the return, so nothing can interrupt
         * the frame between the two: here the host holds the interrupt
         * signals from the last check until rt_sigreturn restores the
         * interrupted context's mask (uc_sigmask). A signal that came
         * meanwhile is delivered after the return, on the interrupted
         * context, not on top of this frame. */
        HalpBlockInterruptSignals(TRUE);
        Processor = HalpCurrentProcessor();
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (HalpShuttingDown || (__atomic_load_n(&Processor->PendingInterrupts, __ATOMIC_ACQUIRE) &
                                 HalpUnmaskedLines(Interrupted)) == 0) {
            break;
        }
        /* A line arrived (deferred) after the body's last look: take it
         * in this frame. */
        HalpBlockInterruptSignals(FALSE);
    }
    HalpLeaveInterruptFrame(Thread);
    if (Processor != Origin) {
        HalpFixSignalStack(Context);
    }
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    Processor->InterruptsEnabled = TRUE;
    HalpWriteErrno(SavedErrno);
}

static void HalpInstallOnce(void)
{
    struct sigaction Action;

    memset(&Action, 0, sizeof(Action));
    Action.sa_sigaction = HalpInterruptHandler;
    /* Both signals held while the host delivers one (see "Frames"). */
    Action.sa_flags = SA_SIGINFO | SA_RESTART;
    HalpInterruptSignalSet(&Action.sa_mask);
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
         * be taken when the target unmasks it. And at most one signal on
         * its way: real-time signals queue, and the host delivers every
         * queued one at once, each on a frame of its own on top of the
         * last, before the first handler runs; an unmask on the target can
         * take the line (clearing the bit) long before its signal arrives,
         * so the bit alone would let senders queue one signal after
         * another. The handler clears IpiSignalInFlight before it reads
         * the lines, so a request that finds a signal on its way is seen
         * by that signal's handler. */
        if ((__atomic_fetch_or(&Target->PendingInterrupts, HALP_INTERRUPT_IPI, __ATOMIC_SEQ_CST) &
             HALP_INTERRUPT_IPI) == 0 &&
            __atomic_exchange_n(&Target->IpiSignalInFlight, 1, __ATOMIC_SEQ_CST) == 0 &&
            pthread_kill(Target->Thread, HALP_IPI_SIGNAL) != 0) {
            /* Not sent: the next request must try again. */
            __atomic_store_n(&Target->IpiSignalInFlight, 0, __ATOMIC_SEQ_CST);
        }
    }
}

VOID KiHaltUntilInterrupt(VOID)
{
    PHALP_PROCESSOR Processor;
    ULONG64 Seen;
    sigset_t Block, Previous;

    /* Pinned, read this processor's signal count; a handler that runs
     * after this read is the interrupt the halt waits for. */
    (VOID) KiDisableInterrupts();
    Processor = HalpCurrentProcessor();
    Seen = Processor->SignalsReceived;

    /* "sti": takes what is already pending (this may switch threads). */
    KiRestoreInterrupts(TRUE);

    /* "hlt": with the interrupt signals blocked, nothing can arrive between
     * the check and the wait; sigsuspend unblocks and waits atomically. A
     * thread that moved to another host thread meanwhile just returns. */
    HalpInterruptSignalSet(&Block);
    pthread_sigmask(SIG_BLOCK, &Block, &Previous);
    if (HalpCurrentProcessor() == Processor && Processor->SignalsReceived == Seen &&
        (Processor->PendingInterrupts & HalpUnmaskedLines(Processor->Pcr.Irql)) == 0 &&
        !HalpShuttingDown) {
        sigsuspend(&Previous);
    }
    pthread_sigmask(SIG_SETMASK, &Previous, NULL);
}

/*
 * interrupt_test.c - nesting of the hosted HAL's interrupt frames under a
 * storm (linked only into ktest_hosted). The processor the test thread is
 * on gets a second clock timer with a 20 us period (a POSIX timer keeps at
 * most one signal in flight, as the real clock does) and IPIs from a host
 * thread as fast as it takes them (KiArchSendIpi signals again only once
 * the last one was taken), while the test thread runs at PASSIVE_LEVEL or
 * DISPATCH_LEVEL. Every interrupt exit then finds another line arriving;
 * the frames on one stack must still stay within one per interrupted level
 * (HALP_MAXIMUM_INTERRUPT_NESTING, hosted_private.h), and no line may be
 * left pending once the storm is over.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <ktest.h>
#include "hosted_private.h"

#define KT_STORM_MS           300
#define KT_STORM_CLOCK_PERIOD 20000 /* ns */
#define KT_STORM_SETTLE_MS    1000

typedef struct _KT_STORM {
    PHALP_PROCESSOR Target;
    volatile BOOLEAN Done;
} KT_STORM;

/* Host time: the storm thread is no processor and runs no kernel code but
 * KiArchSendIpi (which reads only HalpProcessors). */
static ULONG64 KtHostMs(VOID)
{
    struct timespec Now;

    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (ULONG64)Now.tv_sec * 1000 + (ULONG64)Now.tv_nsec / 1000000;
}

static void *KtStormRoutine(void *Argument)
{
    KT_STORM *Storm = Argument;
    KAFFINITY Target = Storm->Target->Pcr.Prcb.SetMember;
    ULONG64 Start = KtHostMs();

    /* Stops early once the bound is broken: the nesting would otherwise
     * run the target's kernel stack into its guard page. */
    while (KtHostMs() - Start < KT_STORM_MS &&
           __atomic_load_n(&HalpInterruptNestingPeak, __ATOMIC_RELAXED) <=
               HALP_MAXIMUM_INTERRUPT_NESTING) {
        KiArchSendIpi(Target);
    }
    Storm->Done = TRUE;
    return NULL;
}

static BOOLEAN KtStartStormClock(PHALP_PROCESSOR Target, timer_t *Timer)
{
    struct sigevent Event;
    struct itimerspec Period;

    memset(&Event, 0, sizeof(Event));
    Event.sigev_notify = SIGEV_THREAD_ID;
    Event.sigev_signo = HALP_CLOCK_SIGNAL;
    Event._sigev_un._tid = Target->Tid;
    if (timer_create(CLOCK_MONOTONIC, &Event, Timer) != 0) {
        return FALSE;
    }
    memset(&Period, 0, sizeof(Period));
    Period.it_interval.tv_nsec = KT_STORM_CLOCK_PERIOD;
    Period.it_value = Period.it_interval;
    if (timer_settime(*Timer, 0, &Period, NULL) != 0) {
        timer_delete(*Timer);
        return FALSE;
    }
    return TRUE;
}

/* Runs the storm against the test thread's processor with the thread at
 * Irql; returns the deepest nesting seen, or -1 if the storm could not
 * start. *Taken: interrupts the target took meanwhile; *Stuck: lines still
 * pending on it after the storm although the thread was back at
 * PASSIVE_LEVEL with interrupts enabled (a lost unmask). */
static LONG KtRunStorm(KIRQL Irql, PULONG64 Taken, PBOOLEAN Stuck)
{
    PHALP_PROCESSOR Target;
    KAFFINITY Previous;
    KT_STORM Storm;
    pthread_t Thread;
    timer_t Timer;
    ULONG64 Before, Start;
    KIRQL OldIrql;
    LONG Peak;

    /* This processor for the whole storm, so that its frames land on this
     * thread's stack. */
    Previous = KeSetSystemAffinityThreadEx(KeGetCurrentPrcb()->SetMember);
    Target = HalpCurrentProcessor();
    if (!Target->Online || !Target->ClockRunning || !KtStartStormClock(Target, &Timer)) {
        KeRevertToUserAffinityThreadEx(Previous);
        return -1;
    }
    memset(&Storm, 0, sizeof(Storm));
    Storm.Target = Target;
    Before = Target->InterruptsTaken;
    __atomic_store_n(&HalpInterruptNestingPeak, 0, __ATOMIC_RELAXED);
    if (pthread_create(&Thread, NULL, KtStormRoutine, &Storm) != 0) {
        timer_delete(Timer);
        KeRevertToUserAffinityThreadEx(Previous);
        return -1;
    }

    KeRaiseIrql(Irql, &OldIrql);
    while (!Storm.Done) {
        /* Raising and lowering around a little work: every drop is an
         * unmask that takes held lines (the second interrupt entry). */
        KIRQL Inner;
        KeRaiseIrql(Irql > DISPATCH_LEVEL ? Irql : DISPATCH_LEVEL, &Inner);
        __builtin_ia32_pause();
        KeLowerIrql(Inner);
    }
    KeLowerIrql(OldIrql);
    timer_delete(Timer);
    pthread_join(Thread, NULL);
    Peak = __atomic_load_n(&HalpInterruptNestingPeak, __ATOMIC_RELAXED);

    /* The last IPI signal may still be on its way; once it arrived, the
     * line must have been taken, not left pending. */
    Start = KtHostMs();
    while ((Target->PendingInterrupts & HALP_INTERRUPT_IPI) != 0 &&
           KtHostMs() - Start < KT_STORM_SETTLE_MS) {
        __builtin_ia32_pause();
    }
    *Stuck = (Target->PendingInterrupts & HALP_INTERRUPT_IPI) != 0;
    *Taken = Target->InterruptsTaken - Before;
    KeRevertToUserAffinityThreadEx(Previous);
    return Peak;
}

static ULONG_PTR KtOwnInterruptDepth(VOID)
{
    return KeGetCurrentPrcb()->CurrentThread->ArchData[HALP_ARCH_INTERRUPT_DEPTH];
}

/* A storm at Level: interrupts are taken, none is left stuck, the frames
 * on the thread's stack peak at 1..MaxPeak and are all gone after. */
static VOID KtCheckStorm(PKTEST_CONTEXT KtContext, KIRQL Level, LONG MaxPeak)
{
    ULONG64 Taken = 0;
    BOOLEAN Stuck = FALSE;
    LONG Peak = KtRunStorm(Level, &Taken, &Stuck);

    if (Peak < 0) {
        KT_SKIP("no clock (HalHostedStartProcessors not called)");
    }
    KT_EXPECT_LE(Peak, MaxPeak);
    KT_EXPECT_LE(Peak, HALP_MAXIMUM_INTERRUPT_NESTING);
    KT_EXPECT_GE(Peak, 1);
    KT_EXPECT_GT(Taken, 100);
    KT_EXPECT_FALSE(Stuck);
    KT_EXPECT_EQ(KtOwnInterruptDepth(), 0);
}

KTEST(hal_hosted, interrupt_storm_at_passive_nests_boundedly)
{
    /* Frames interrupting PASSIVE_LEVEL (the thread), DISPATCH_LEVEL (the
     * DPC and dispatch work of that frame's exit) and CLOCK_LEVEL (an IPI
     * during a tick); no APCs here. */
    KtCheckStorm(KtContext, PASSIVE_LEVEL, 3);
}

KTEST(hal_hosted, interrupt_storm_at_dispatch_nests_once_per_level)
{
    /* The tick interrupting DISPATCH_LEVEL and an IPI interrupting it. */
    KtCheckStorm(KtContext, DISPATCH_LEVEL, 2);
}

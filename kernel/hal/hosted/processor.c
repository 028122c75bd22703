/*
 * processor.c - the hosted HAL's processor: every host thread that runs
 * kernel code is a processor with its own KPCR/KPRCB (a HALP_PROCESSOR in
 * thread-local storage), IRQL lives in that KPCR, the interrupt flag is a
 * field of the processor (interrupt.c delivers what it held back), and the
 * timestamp counter is CLOCK_MONOTONIC in nanoseconds.
 *
 * Kernel threads move between host threads (a context switch on host
 * thread B may resume a thread that last ran on host thread A), so nothing
 * here may keep a TLS address across a call that can switch: every access
 * goes through HalpCurrentProcessor, which is never inlined.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ntddk.h>
#include <arch.h>
#include <hal.h>
#include <ke.h>
#include "hosted_private.h"

/* Spin-wait iterations between two host yields (a power of two): about
 * 10 us of PAUSEs, a fraction of a host time slice. */
#define HALP_SPINS_PER_YIELD 64

static _Thread_local HALP_PROCESSOR HalpThreadProcessor;
static volatile USHORT HalpNextProcessorNumber;

PHALP_PROCESSOR HalpProcessors[MAXIMUM_PROCESSORS];
volatile BOOLEAN HalpShuttingDown;

USHORT HalpClaimProcessorNumber(VOID)
{
    return __atomic_fetch_add(&HalpNextProcessorNumber, 1, __ATOMIC_RELAXED);
}

static VOID HalpInitializeProcessorRecord(PHALP_PROCESSOR Processor, USHORT Number)
{
    Processor->Pcr.Self = &Processor->Pcr;
    Processor->Pcr.CurrentPrcb = &Processor->Pcr.Prcb;
    Processor->Pcr.Irql = PASSIVE_LEVEL;
    Processor->Pcr.Prcb.Number = Number;
    Processor->Pcr.Prcb.ApicId = Number;
    Processor->Pcr.Prcb.TimestampFrequency = KiQueryTimestampFrequency();
    Processor->InterruptsEnabled = TRUE;
}

__attribute__((noinline)) PHALP_PROCESSOR HalpCurrentProcessor(VOID)
{
    PHALP_PROCESSOR Processor = &HalpThreadProcessor;

    /* An optimization barrier: the address is this host thread's, now. */
    __asm__ volatile("" : "+r"(Processor));
    if (Processor->Pcr.Self == NULL) {
        /* Any host thread that runs kernel code is a processor (a
         * benchmark's worker threads, say); only started processors join
         * KiProcessorBlock and take interrupts. */
        HalpInitializeProcessorRecord(Processor, HalpClaimProcessorNumber());
    }
    return Processor;
}

PHALP_PROCESSOR HalpAdoptProcessor(USHORT Number)
{
    PHALP_PROCESSOR Processor = &HalpThreadProcessor;

    __asm__ volatile("" : "+r"(Processor));
    HalpInitializeProcessorRecord(Processor, Number);
    return Processor;
}

VOID HalpBindHostThread(PHALP_PROCESSOR Processor)
{
    pthread_attr_t Attributes;
    void *Bottom;
    size_t Size;

    Processor->Thread = pthread_self();
    Processor->Tid = gettid();
    if (pthread_getattr_np(pthread_self(), &Attributes) == 0) {
        if (pthread_attr_getstack(&Attributes, &Bottom, &Size) == 0) {
            Processor->NativeStackBottom = (ULONG_PTR)Bottom;
            Processor->NativeStackSize = Size;
        }
        pthread_attr_destroy(&Attributes);
    }
}

__attribute__((noinline)) PKPCR KeGetPcr(VOID)
{
    return &HalpCurrentProcessor()->Pcr;
}

KIRQL KiReadIrql(VOID)
{
    return HalpCurrentProcessor()->Pcr.Irql;
}

VOID KiWriteIrql(KIRQL Irql)
{
    PHALP_PROCESSOR Processor = HalpCurrentProcessor();
    KIRQL Old = Processor->Pcr.Irql;

    Processor->Pcr.Irql = Irql;
    /* Lowering unmasks: a line that arrived while masked is taken now, as
     * the local APIC delivers a held vector when TPR drops below it. The
     * store above comes first, so a signal landing after it sees the new
     * level and is taken by its own handler. */
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (Irql < Old && Processor->PendingInterrupts != 0) {
        HalpDispatchPendingInterrupts();
    }
}

BOOLEAN KiDisableInterrupts(VOID)
{
    PHALP_PROCESSOR Processor = HalpCurrentProcessor();
    BOOLEAN Was = Processor->InterruptsEnabled;

    Processor->InterruptsEnabled = FALSE;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return Was;
}

VOID KiRestoreInterrupts(BOOLEAN Enable)
{
    PHALP_PROCESSOR Processor = HalpCurrentProcessor();

    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    Processor->InterruptsEnabled = Enable;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (Enable && Processor->PendingInterrupts != 0) {
        HalpDispatchPendingInterrupts();
    }
}

ULONG64 KiReadTimestamp(VOID)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (ULONG64)Now.tv_sec * 1000000000ull + (ULONG64)Now.tv_nsec;
}

DECLSPEC_NORETURN VOID KiHaltProcessor(VOID)
{
    HalTerminateSystem(HAL_EXIT_BUGCHECK);
}

VOID KiArchSpinWait(VOID)
{
    /* Per host thread: a leaf, nothing here can switch threads. */
    static _Thread_local ULONG Spins;

    __builtin_ia32_pause();
    if ((++Spins & (HALP_SPINS_PER_YIELD - 1)) == 0) {
        sched_yield();
    }
}

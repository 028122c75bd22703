/*
 * processor.c - the hosted HAL's processor: every host thread that runs
 * kernel code is a processor with its own KPCR/KPRCB (a HALP_PROCESSOR in
 * thread-local storage), IRQL lives in that KPCR, the interrupt flag is a
 * field of the processor (interrupt.c delivers what it held back), and the
 * timestamp counter is CLOCK_MONOTONIC in nanoseconds.
 *
 * Kernel threads move between host threads (a context switch on host
 * thread B may resume a thread that last ran on host thread A, from inside
 * a signal handler, between any two instructions), so nothing here may
 * keep a TLS address while the thread can be switched: the IRQL and the
 * interrupt flag are read and written by single %fs-relative instructions
 * (as "mov cr8" and "cli" on bare metal), and other fields only once the
 * thread is pinned: interrupt flag clear, or IRQL at DISPATCH_LEVEL or
 * above.
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

/* local-exec: the hosted kernel links only into executables, so the
 * variable is at a link-time offset from %fs and one instruction reaches a
 * field of it (HALP_TLS_*). */
_Thread_local HALP_PROCESSOR HalpThreadProcessor __attribute__((tls_model("local-exec"), used));

/* arch.h's inline hot-path accessors reach these fields by offset. */
_Static_assert(offsetof(HALP_PROCESSOR, Pcr) == 0, "arch.h: KPCR first in the record");
_Static_assert(offsetof(HALP_PROCESSOR, PendingInterrupts) == KI_HOSTED_PENDING_INTERRUPTS,
               "arch.h: KI_HOSTED_PENDING_INTERRUPTS");

#define HALP_TLS_LOAD8(Field, Result)                                                              \
    __asm__ volatile("movb " KI_HOSTED_TLS(1) ", %b0"                                              \
                     : "=q"(Result)                                                                \
                     : "i"(offsetof(HALP_PROCESSOR, Field))                                        \
                     : "memory")
#define HALP_TLS_STORE8(Field, Value)                                                              \
    __asm__ volatile("movb %b0, " KI_HOSTED_TLS(1)                                                 \
                     :                                                                             \
                     : "q"(Value), "i"(offsetof(HALP_PROCESSOR, Field))                            \
                     : "memory")
#define HALP_TLS_LOAD32(Field, Result)                                                             \
    __asm__ volatile("movl " KI_HOSTED_TLS(1) ", %k0"                                              \
                     : "=r"(Result)                                                                \
                     : "i"(offsetof(HALP_PROCESSOR, Field))                                        \
                     : "memory")
#define HALP_TLS_LOAD64(Field, Result)                                                             \
    __asm__ volatile("movq " KI_HOSTED_TLS(1) ", %0"                                               \
                     : "=r"(Result)                                                                \
                     : "i"(offsetof(HALP_PROCESSOR, Field))                                        \
                     : "memory")
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

/* The first kernel call of a host thread: its record is made here. */
static __attribute__((noinline)) PHALP_PROCESSOR HalpCreateCurrentProcessor(VOID)
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

/* Every kernel call of a host thread but the first: Pcr.Self, which is
 * the record's address (the KPCR is its first member), read with one
 * %fs-relative load, so the address is the host thread's at that moment
 * (the context switch and hot IRQL paths call this several times each). */
PHALP_PROCESSOR HalpCurrentProcessor(VOID)
{
    PVOID Self;

    HALP_TLS_LOAD64(Pcr.Self, Self);
    if (__builtin_expect(Self == NULL, 0)) {
        return HalpCreateCurrentProcessor();
    }
    return (PHALP_PROCESSOR)Self;
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

/* The record exists before the first single-instruction access. */
static inline VOID HalpEnsureProcessor(VOID)
{
    PVOID Self;

    HALP_TLS_LOAD64(Pcr.Self, Self);
    if (__builtin_expect(Self == NULL, 0)) {
        (VOID) HalpCreateCurrentProcessor();
    }
}

VOID HalpEnsureCurrentProcessor(VOID)
{
    HalpEnsureProcessor();
}

VOID HalpLowerIrqlSlow(KIRQL OldIrql)
{
    LONG Pending;

    /* As KiWriteIrql and KeLowerIrql do after the store. */
    HALP_TLS_LOAD32(PendingInterrupts, Pending);
    if (Pending != 0) {
        HalpDispatchPendingInterrupts();
    }
    if (OldIrql < DISPATCH_LEVEL &&
        (KeGetCurrentPrcb()->SoftwareInterruptPending & ~((2u << OldIrql) - 1)) != 0) {
        KiCheckSoftwareInterrupts();
    }
}

KIRQL KiReadIrql(VOID)
{
    KIRQL Irql;

    HALP_TLS_LOAD8(Pcr.Irql, Irql);
    return Irql;
}

VOID KiWriteIrql(KIRQL Irql)
{
    KIRQL Old;
    LONG Pending;

    HalpEnsureProcessor();
    /* A switch between these two instructions resumes the thread on a
     * processor whose IRQL is the thread's, so Old stays right. */
    HALP_TLS_LOAD8(Pcr.Irql, Old);
    HALP_TLS_STORE8(Pcr.Irql, Irql);
    /* Lowering unmasks: a line that arrived while masked is taken now, as
     * the local APIC delivers a held vector when TPR drops below it. */
    HALP_TLS_LOAD32(PendingInterrupts, Pending);
    if (Irql < Old && Pending != 0) {
        HalpDispatchPendingInterrupts();
    }
}

BOOLEAN KiDisableInterrupts(VOID)
{
    BOOLEAN Was;

    HalpEnsureProcessor();
    /* A handler between the two runs with the flag set and leaves it set
     * (on whichever processor the thread then continues), so Was is
     * right and the store clears the flag of the processor the thread is
     * on from here. */
    HALP_TLS_LOAD8(InterruptsEnabled, Was);
    HALP_TLS_STORE8(InterruptsEnabled, (BOOLEAN)FALSE);
    return Was;
}

VOID KiRestoreInterrupts(BOOLEAN Enable)
{
    LONG Pending;

    HalpEnsureProcessor();
    HALP_TLS_STORE8(InterruptsEnabled, Enable);
    if (Enable) {
        HALP_TLS_LOAD32(PendingInterrupts, Pending);
        if (Pending != 0) {
            HalpDispatchPendingInterrupts();
        }
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

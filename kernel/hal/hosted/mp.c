/*
 * mp.c - the hosted system's processors: processor 0 is the host thread
 * that called HalHostedInitialize; HalHostedStartProcessors starts its
 * clock and creates the others, one host thread each, with their own KPCR
 * (TLS), registered in KiProcessorBlock/KeActiveProcessors (kernel/ke/
 * processor.c), a clock of their own, ending in KiIdleLoop as an x64
 * application processor does. HalHostedRunSystemThread is the hosted
 * counterpart of KiStartPhase1: the program's work runs in a system
 * thread, the calling host thread becomes processor 0's idle loop.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <ntddk.h>
#include <arch.h>
#include <hal.h>
#include <hosted.h>
#include <ke.h>
#include <mm.h>
#include "hosted_private.h"

/* Enough for the idle loop and whatever the interrupt handlers run on it
 * under ASan. */
#define HALP_PROCESSOR_STACK_SIZE (1024 * 1024)

static pthread_mutex_t HalpStartLock = PTHREAD_MUTEX_INITIALIZER;
static volatile LONG HalpStartedProcessors;

/* Publishes the calling host thread as processor Processor: reachable for
 * IPIs, taking interrupts, counted by the kernel. */
static VOID HalpBringOnline(PHALP_PROCESSOR Processor)
{
    ULONG Number = Processor->Pcr.Prcb.Number;

    HalpProcessors[Number] = Processor;
    __atomic_store_n(&Processor->Online, TRUE, __ATOMIC_RELEASE);
    KiRegisterProcessor(&Processor->Pcr.Prcb);
}

VOID HalpStartBootProcessor(VOID)
{
    PHALP_PROCESSOR Processor = HalpCurrentProcessor();

    HalpBindHostThread(Processor);
    HalpInstallInterruptHandlers();
    HalpBringOnline(Processor);
}

static void *HalpProcessorMain(void *Argument)
{
    USHORT Number = (USHORT)(ULONG_PTR)Argument;
    PHALP_PROCESSOR Processor = HalpAdoptProcessor(Number);

    /* Like an application processor coming out of INIT-SIPI: interrupts
     * off until the idle loop halts with them on. */
    Processor->InterruptsEnabled = FALSE;
    HalpBindHostThread(Processor);
    KiInitializeProcessorScheduler(&Processor->Pcr.Prcb);
    HalpBringOnline(Processor);
    if (!HalpStartHostClock(Processor)) {
        fprintf(stderr, "hosted HAL: processor %u: no clock\n", Number);
        exit(HAL_EXIT_BUGCHECK);
    }
    __atomic_add_fetch(&HalpStartedProcessors, 1, __ATOMIC_RELEASE);
    KiIdleLoop();
}

ULONG HalHostedStartProcessors(ULONG Count)
{
    PHALP_PROCESSOR Boot;
    ULONG Started;

    HalHostedInitialize();
    Boot = HalpCurrentProcessor();
    if (Count == 0) {
        Count = 1;
    }
    if (Count > MAXIMUM_PROCESSORS) {
        Count = MAXIMUM_PROCESSORS;
    }
    pthread_mutex_lock(&HalpStartLock);
    if (!HalpStartHostClock(Boot)) {
        fprintf(stderr, "hosted HAL: processor 0: no clock\n");
        exit(HAL_EXIT_BUGCHECK);
    }
    Started = (ULONG)__builtin_popcountll(KeQueryActiveProcessors());
    for (; Started < Count; Started++) {
        pthread_attr_t Attributes;
        pthread_t Thread;
        USHORT Number = HalpClaimProcessorNumber();
        LONG Target = HalpStartedProcessors + 1;

        if (Number >= MAXIMUM_PROCESSORS) {
            break;
        }
        pthread_attr_init(&Attributes);
        pthread_attr_setstacksize(&Attributes, HALP_PROCESSOR_STACK_SIZE);
        pthread_attr_setdetachstate(&Attributes, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&Thread, &Attributes, HalpProcessorMain, (void *)(ULONG_PTR)Number) !=
            0) {
            pthread_attr_destroy(&Attributes);
            break;
        }
        pthread_attr_destroy(&Attributes);
        /* One at a time, as the x64 boot processor waits for each AP. */
        while (__atomic_load_n(&HalpStartedProcessors, __ATOMIC_ACQUIRE) < Target) {
            sched_yield();
        }
    }
    pthread_mutex_unlock(&HalpStartLock);
    return (ULONG)__builtin_popcountll(KeQueryActiveProcessors());
}

DECLSPEC_NORETURN VOID HalHostedRunSystemThread(VOID (*Routine)(PVOID), PVOID Context)
{
    PKTHREAD Thread;
    NTSTATUS Status;

    HalHostedInitialize();
    /* perf: the zero-page thread, as phase 1 starts it on bare metal. */
    MiStartZeroPageThread();
    Status = KiCreateThread(Routine, Context, KI_DEFAULT_PRIORITY, &Thread);
    if (!NT_SUCCESS(Status)) {
        fprintf(stderr, "hosted HAL: no system thread (0x%08x)\n", (unsigned)Status);
        exit(HAL_EXIT_BUGCHECK);
    }
    KiStartThread(Thread);
    KiDereferenceThread(Thread);
    KiIdleLoop();
}

VOID HalpStopProcessors(VOID)
{
    HalpShuttingDown = TRUE;
    for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
        if (HalpProcessors[i] != NULL) {
            HalpStopHostClock(HalpProcessors[i]);
        }
    }
}

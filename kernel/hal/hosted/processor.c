/*
 * processor.c - the hosted HAL's processor: every host thread is a
 * processor with its own KPCR/KPRCB in thread-local storage, IRQL lives in
 * that KPCR, the "interrupt flag" is a thread-local bit (there are no
 * asynchronous interrupts in a host process yet) and the timestamp counter
 * is CLOCK_MONOTONIC in nanoseconds.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ntdef.h>
#include <arch.h>
#include <hal.h>

static _Thread_local KPCR HalpThreadPcr;
static _Thread_local BOOLEAN HalpInterruptsEnabled = TRUE;
static volatile USHORT HalpNextProcessorNumber;

PKPCR KeGetPcr(VOID)
{
    PKPCR Pcr = &HalpThreadPcr;

    if (Pcr->Self == NULL) {
        Pcr->Self = Pcr;
        Pcr->CurrentPrcb = &Pcr->Prcb;
        Pcr->Irql = PASSIVE_LEVEL;
        Pcr->Prcb.Number = __atomic_fetch_add(&HalpNextProcessorNumber, 1, __ATOMIC_RELAXED);
        Pcr->Prcb.TimestampFrequency = 1000000000ull;
    }
    return Pcr;
}

KIRQL KiReadIrql(VOID)
{
    return KeGetPcr()->Irql;
}

VOID KiWriteIrql(KIRQL Irql)
{
    KeGetPcr()->Irql = Irql;
}

BOOLEAN KiDisableInterrupts(VOID)
{
    BOOLEAN Was = HalpInterruptsEnabled;
    HalpInterruptsEnabled = FALSE;
    return Was;
}

VOID KiRestoreInterrupts(BOOLEAN Enable)
{
    HalpInterruptsEnabled = Enable;
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

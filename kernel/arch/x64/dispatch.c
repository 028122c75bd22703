/*
 * dispatch.c - KiDispatchTrap, where every stub in trap.S lands: the clock
 * interrupt runs at CLOCK_LEVEL and the IPI at IPI_LEVEL, each
 * acknowledged; spurious interrupts are ignored (the APIC expects no EOI
 * for them), and every exception is unhandled for now (no SEH yet) and
 * ends in a bug check.
 */
#include <ntddk.h>
#include <hal.h>
#include <ke.h>
#include "archp.h"

VOID KiDispatchTrap(PKTRAP_FRAME TrapFrame)
{
    switch (TrapFrame->Vector) {
    case HAL_CLOCK_VECTOR: {
        KIRQL OldIrql = KiReadIrql();
        KiWriteIrql(CLOCK_LEVEL);
        KiClockInterrupt();
        HalpEndOfInterrupt();
        KiWriteIrql(OldIrql);
        /* kecore: DPCs, timer expiry and preemption run here, on the
         * interrupted thread's stack (contract 3). */
        if (OldIrql < DISPATCH_LEVEL) {
            KiCheckSoftwareInterrupts();
        }
        return;
    }
    case HAL_IPI_VECTOR: {
        /* smp: requests and packets from other processors (ke/ipi.c). */
        KIRQL OldIrql = KiReadIrql();
        KiWriteIrql(IPI_LEVEL);
        KiIpiServiceRoutine(TrapFrame);
        HalpEndOfInterrupt();
        KiWriteIrql(OldIrql);
        if (OldIrql < DISPATCH_LEVEL) {
            KiCheckSoftwareInterrupts();
        }
        return;
    }
    case HAL_SPURIOUS_VECTOR:
        return;
    default:
        KiUnhandledTrap(TrapFrame);
    }
}

/*
 * dispatch.c - KiDispatchTrap, where every stub in trap.S lands: the clock
 * interrupt runs at CLOCK_LEVEL and is acknowledged, spurious interrupts
 * are ignored (the APIC expects no EOI for them), and every exception is
 * unhandled for now (no SEH yet) and ends in a bug check.
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
        return;
    }
    case HAL_SPURIOUS_VECTOR:
        return;
    default:
        KiUnhandledTrap(TrapFrame);
    }
}

/*
 * softint.c - software interrupts, portable: the APC_LEVEL and
 * DISPATCH_LEVEL requests of a processor (Prcb->SoftwareInterruptPending)
 * and their delivery when the IRQL drops below them (KeLowerIrql and every
 * interrupt exit call KiCheckSoftwareInterrupts). Delivery of the
 * DISPATCH_LEVEL interrupt is KiDispatchInterrupt (sched.c): DPCs, timer
 * expiry, then rescheduling; a context switch may happen inside it, on the
 * interrupted thread's stack, and that thread resumes here later.
 */
#include "kisched.h"

VOID KiRequestSoftwareInterrupt(KIRQL Irql)
{
    __atomic_or_fetch(&KeGetCurrentPrcb()->SoftwareInterruptPending, 1u << Irql, __ATOMIC_RELAXED);
}

VOID KiCheckSoftwareInterrupts(VOID)
{
    for (;;) {
        BOOLEAN Enabled = KiDisableInterrupts();
        /* Read after disabling: the thread cannot move to another
         * processor from here on until it enables them again. */
        PKPRCB Prcb = KeGetCurrentPrcb();
        KIRQL Irql = KiReadIrql();
        ULONG Pending = __atomic_load_n(&Prcb->SoftwareInterruptPending, __ATOMIC_RELAXED);

        if (Irql < DISPATCH_LEVEL && (Pending & (1u << DISPATCH_LEVEL)) != 0) {
            __atomic_and_fetch(&Prcb->SoftwareInterruptPending, ~(1u << DISPATCH_LEVEL),
                               __ATOMIC_RELAXED);
            KiWriteIrql(DISPATCH_LEVEL);
            /* DPCs run with interrupts enabled, as on NT. */
            KiRestoreInterrupts(TRUE);
            KiDispatchInterrupt();
            KiDisableInterrupts();
            KiWriteIrql(Irql);
            KiRestoreInterrupts(Enabled);
            continue;
        }
        if (Irql < APC_LEVEL && (Pending & (1u << APC_LEVEL)) != 0) {
            /* Kernel APCs of the current thread (apc.c), at APC_LEVEL with
             * interrupts enabled; a normal APC's routine drops to
             * PASSIVE_LEVEL and may be switched to another processor. */
            __atomic_and_fetch(&Prcb->SoftwareInterruptPending, ~(1u << APC_LEVEL),
                               __ATOMIC_RELAXED);
            KiWriteIrql(APC_LEVEL);
            KiRestoreInterrupts(TRUE);
            KiDeliverApc();
            KiDisableInterrupts();
            KiWriteIrql(Irql);
            KiRestoreInterrupts(Enabled);
            continue;
        }
        KiRestoreInterrupts(Enabled);
        return;
    }
}

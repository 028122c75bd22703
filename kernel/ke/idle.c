/*
 * idle.c - KiIdleLoop, where every processor ends up once its KPCR,
 * descriptor tables and clock are running: the caller becomes the
 * processor's idle thread (priority 0, never in a ready queue, chosen when
 * nothing else is ready). It runs at PASSIVE_LEVEL: it frees the stacks of
 * terminated threads, then halts until an interrupt; the interrupt's exit
 * path runs the DISPATCH_LEVEL software interrupt, which switches to any
 * thread made ready meanwhile (handed to this idle processor directly by
 * KiReadyThread, or taken from a busy processor's queue).
 */
#include "kisched.h"

DECLSPEC_NORETURN VOID KiIdleLoop(VOID)
{
    PKPRCB Prcb = KeGetCurrentPrcb();

    if (Prcb->IdleThread == NULL) {
        KiInitializeProcessorScheduler(Prcb);
    }
    KeLowerIrql(PASSIVE_LEVEL);
    for (;;) {
        BOOLEAN Work;

        KiReapTerminatedThreads();
        KiDisableInterrupts();
        Work = Prcb->SoftwareInterruptPending != 0 || Prcb->NextThread != NULL ||
               (Prcb->ReadySummary != 0);
        if (Work) {
            KiRequestSoftwareInterrupt(DISPATCH_LEVEL);
            KiRestoreInterrupts(TRUE);
            KiCheckSoftwareInterrupts();
            continue;
        }
        /* No interrupt can slip in between the check and the halt. */
        KiHaltUntilInterrupt();
    }
}

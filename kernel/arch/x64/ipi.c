/*
 * ipi.c - IPI delivery on x64: one fixed-vector interrupt (HAL_IPI_VECTOR,
 * IPI_LEVEL) per target through the local APIC's interrupt command
 * register, physical destination = the target's APIC id. What the IPI
 * means travels separately, in the target PRCB (kernel/ke/ipi.c).
 */
#include <ntddk.h>
#include <hal.h>
#include <ke.h>
#include "archp.h"

VOID KiArchSendIpi(KAFFINITY Targets)
{
    while (Targets != 0) {
        ULONG Number = (ULONG)__builtin_ctzll(Targets);
        PKPRCB Prcb = KiProcessorBlock[Number];

        Targets &= Targets - 1;
        if (Prcb != NULL && !HalpSendIpi(Prcb->ApicId, HAL_IPI_VECTOR)) {
            /* The APIC never accepted the command: the sender's bounded
             * wait reports the processor; nothing else to do here. */
            DbgPrint("ipi: APIC did not accept an IPI for processor %u\n", Number);
        }
    }
}

/*
 * apic.c - the local APIC of each processor (xAPIC, memory mapped; the
 * same physical page shows every processor its own APIC): enabling it,
 * end of interrupt, the APIC id, and the interrupt command register that
 * sends INIT, STARTUP and fixed-vector IPIs. The register page is mapped
 * once, by the boot processor, through the kernel's I/O space mapping.
 */
#include <ntddk.h>
#include <arch.h>
#include <hal.h>
#include <ke.h>
#include <mm.h>
#include "halp.h"

#define IA32_APIC_BASE   0x1B
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_MASK   0x000FFFFFFFFFF000ull

#define APIC_ID        0x20
#define APIC_TPR       0x80
#define APIC_EOI       0xB0
#define APIC_SVR       0xF0
#define APIC_ESR       0x280
#define APIC_ICR_LOW   0x300
#define APIC_ICR_HIGH  0x310
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_ERROR 0x370

#define APIC_LVT_MASKED  (1u << 16)
#define APIC_SVR_ENABLE  (1u << 8)
#define ICR_FIXED        (0u << 8)
#define ICR_INIT         (5u << 8)
#define ICR_STARTUP      (6u << 8)
#define ICR_PHYSICAL     (0u << 11)
#define ICR_SEND_PENDING (1u << 12)
#define ICR_ASSERT       (1u << 14)
#define ICR_LEVEL        (1u << 15)

static volatile ULONG *HalpLocalApic;

ULONG HalpApicRead(ULONG Register)
{
    return HalpLocalApic[Register / 4];
}

VOID HalpApicWrite(ULONG Register, ULONG Value)
{
    HalpLocalApic[Register / 4] = Value;
}

NTSTATUS HalpInitializeLocalApic(VOID)
{
    ULONG64 Base = HalpReadMsr(IA32_APIC_BASE);

    HalpWriteMsr(IA32_APIC_BASE, Base | APIC_BASE_ENABLE);
    if (HalpLocalApic == NULL) {
        HalpLocalApic = MiMapIoSpace(Base & APIC_BASE_MASK, PAGE_SIZE);
        if (HalpLocalApic == NULL) {
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    HalpApicWrite(APIC_TPR, 0);
    HalpApicWrite(APIC_SVR, APIC_SVR_ENABLE | HAL_SPURIOUS_VECTOR);
    HalpApicWrite(APIC_LVT_LINT0, APIC_LVT_MASKED);
    HalpApicWrite(APIC_LVT_LINT1, APIC_LVT_MASKED);
    HalpApicWrite(APIC_LVT_ERROR, APIC_LVT_MASKED);
    /* The error status register latches on a write; clear it. */
    HalpApicWrite(APIC_ESR, 0);
    HalpApicWrite(APIC_ESR, 0);
    return STATUS_SUCCESS;
}

VOID HalpEndOfInterrupt(VOID)
{
    if (HalpLocalApic != NULL) {
        HalpApicWrite(APIC_EOI, 0);
    }
}

ULONG HalpGetLocalApicId(VOID)
{
    return HalpApicRead(APIC_ID) >> 24;
}

/* Waits (boundedly) until the previous command has been accepted. */
static BOOLEAN HalpWaitForIcrIdle(VOID)
{
    for (ULONG Spin = 0; Spin < 1000000u; Spin++) {
        if (!(HalpApicRead(APIC_ICR_LOW) & ICR_SEND_PENDING)) {
            return TRUE;
        }
        __builtin_ia32_pause();
    }
    return FALSE;
}

/* One ICR command to one physical destination. Interrupts are off so an
 * interrupt handler on this processor cannot interleave its own command
 * between the two register writes. */
static BOOLEAN HalpSendCommand(ULONG ApicId, ULONG Command)
{
    BOOLEAN Enabled = KiDisableInterrupts();
    BOOLEAN Sent = FALSE;

    if (HalpLocalApic != NULL && HalpWaitForIcrIdle()) {
        HalpApicWrite(APIC_ICR_HIGH, ApicId << 24);
        HalpApicWrite(APIC_ICR_LOW, Command | ICR_PHYSICAL);
        Sent = HalpWaitForIcrIdle();
    }
    KiRestoreInterrupts(Enabled);
    return Sent;
}

BOOLEAN HalpSendInitIpi(ULONG ApicId)
{
    return HalpSendCommand(ApicId, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
}

BOOLEAN HalpSendStartupIpi(ULONG ApicId, ULONG PageNumber)
{
    return HalpSendCommand(ApicId, ICR_STARTUP | ICR_ASSERT | (PageNumber & 0xFF));
}

BOOLEAN HalpSendIpi(ULONG ApicId, ULONG Vector)
{
    return HalpSendCommand(ApicId, ICR_FIXED | ICR_ASSERT | (Vector & 0xFF));
}

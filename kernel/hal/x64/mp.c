/*
 * mp.c - finding the processors: the ACPI MADT (through the table reader
 * in kernel/hal/acpi, reading firmware memory via the physical map), and
 * when there is no usable MADT, QEMU's fw_cfg CPU count (APIC ids 0..N-1,
 * how QEMU numbers them). Nothing here starts a processor.
 */
#include <ntddk.h>
#include <acpi.h>
#include <hal.h>
#include <mm.h>
#include "halp.h"

#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA     0x511
#define FW_CFG_SIGNATURE     0x0000
#define FW_CFG_NB_CPUS       0x0005

static VOID HalpOutWord(USHORT Port, USHORT Value)
{
    __asm__ volatile("outw %0, %1" : : "a"(Value), "Nd"(Port));
}

/* Physical memory through the physical map, refusing anything outside it. */
static BOOLEAN HalpReadPhysical(PVOID Context, ULONG64 Address, PVOID Buffer, ULONG Length)
{
    (VOID) Context;
    if (MmPhysicalMapBase == 0 || Address >= MiPhysicalMapSize ||
        Length > MiPhysicalMapSize - Address) {
        return FALSE;
    }
    memcpy(Buffer, (const VOID *)(MmPhysicalMapBase + Address), Length);
    return TRUE;
}

static ULONG HalpFwCfgProcessorCount(VOID)
{
    UCHAR Signature[4];
    USHORT Count;

    HalpOutWord(FW_CFG_PORT_SELECTOR, FW_CFG_SIGNATURE);
    for (ULONG i = 0; i < 4; i++) {
        Signature[i] = HalpInByte(FW_CFG_PORT_DATA);
    }
    if (memcmp(Signature, "QEMU", 4) != 0) {
        return 0;
    }
    HalpOutWord(FW_CFG_PORT_SELECTOR, FW_CFG_NB_CPUS);
    Count = HalpInByte(FW_CFG_PORT_DATA);
    Count |= (USHORT)(HalpInByte(FW_CFG_PORT_DATA) << 8);
    return Count;
}

ULONG HalpEnumerateProcessors(ULONG64 RsdpPhysical, PULONG ApicIds, ULONG MaxCount, PCSTR *Source)
{
    static HALP_MADT_INFO Madt;
    ULONG64 Address;
    ULONG Length, Count;

    *Source = "none";
    if (RsdpPhysical != 0 &&
        NT_SUCCESS(HalpAcpiFindTable(HalpReadPhysical, NULL, RsdpPhysical, ACPI_MADT_SIGNATURE,
                                     &Address, &Length)) &&
        NT_SUCCESS(HalpAcpiParseMadt(HalpReadPhysical, NULL, Address, Length, &Madt)) &&
        Madt.ProcessorCount != 0) {
        Count = Madt.ProcessorCount < MaxCount ? Madt.ProcessorCount : MaxCount;
        memcpy(ApicIds, Madt.ApicIds, Count * sizeof(ULONG));
        *Source = "ACPI MADT";
        return Count;
    }
    Count = HalpFwCfgProcessorCount();
    if (Count != 0) {
        if (Count > MaxCount) {
            Count = MaxCount;
        }
        for (ULONG i = 0; i < Count; i++) {
            ApicIds[i] = i;
        }
        *Source = "fw_cfg";
    }
    return Count;
}

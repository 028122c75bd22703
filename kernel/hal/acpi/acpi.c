/*
 * acpi.c - the ACPI table reader: RSDP -> RSDT/XSDT -> a table by
 * signature, and the MADT decoded into the list of processors. Firmware
 * tables are untrusted input: all reads go through the caller's reader in
 * small bounded pieces (no pointer into firmware memory is kept), lengths
 * are checked against the structure they must hold and against fixed
 * limits, and checksums are verified before anything is used. Portable:
 * the x64 HAL reads through the physical map, the tests through a buffer.
 */
#include <ntddk.h>
#include <acpi.h>

#define ACPI_RSDP_V1_LENGTH 20
#define ACPI_RSDP_V2_LENGTH 36
#define ACPI_SDT_HEADER     36
#define ACPI_MADT_HEADER    44 /* SDT header + local APIC address + flags */

#define MADT_LOCAL_APIC          0
#define MADT_LOCAL_APIC_OVERRIDE 5
#define MADT_LOCAL_X2APIC        9

#define MADT_ENABLED        0x1
#define MADT_ONLINE_CAPABLE 0x2

static ULONG HalpGet32(const UCHAR *Bytes)
{
    return (ULONG)Bytes[0] | ((ULONG)Bytes[1] << 8) | ((ULONG)Bytes[2] << 16) |
           ((ULONG)Bytes[3] << 24);
}

static ULONG64 HalpGet64(const UCHAR *Bytes)
{
    return (ULONG64)HalpGet32(Bytes) | ((ULONG64)HalpGet32(Bytes + 4) << 32);
}

/* The byte sum of [Address, Address + Length) modulo 256 (0 = valid). */
static BOOLEAN HalpAcpiChecksum(PHALP_ACPI_READ Read, PVOID Context, ULONG64 Address, ULONG Length,
                                PUCHAR Sum)
{
    UCHAR Chunk[128];
    UCHAR Total = 0;

    if (Address + Length < Address) {
        return FALSE;
    }
    for (ULONG Offset = 0; Offset < Length;) {
        ULONG Piece = Length - Offset < sizeof(Chunk) ? Length - Offset : (ULONG)sizeof(Chunk);
        if (!Read(Context, Address + Offset, Chunk, Piece)) {
            return FALSE;
        }
        for (ULONG i = 0; i < Piece; i++) {
            Total = (UCHAR)(Total + Chunk[i]);
        }
        Offset += Piece;
    }
    *Sum = Total;
    return TRUE;
}

/* Reads and validates a system description table header: its signature
 * (when Signature is non-zero), a length that covers at least MinLength
 * and at most ACPI_MAX_TABLE_LENGTH, and the checksum over that length. */
static NTSTATUS HalpAcpiCheckTable(PHALP_ACPI_READ Read, PVOID Context, ULONG64 Address,
                                   ULONG Signature, ULONG MinLength, PULONG Length)
{
    UCHAR Header[ACPI_SDT_HEADER];
    UCHAR Sum;
    ULONG TableLength;

    if (Address == 0 || !Read(Context, Address, Header, sizeof(Header))) {
        return STATUS_NOT_FOUND;
    }
    if (Signature != 0 && HalpGet32(Header) != Signature) {
        return STATUS_NOT_FOUND;
    }
    TableLength = HalpGet32(Header + 4);
    if (TableLength < MinLength || TableLength > ACPI_MAX_TABLE_LENGTH) {
        return STATUS_INVALID_PARAMETER;
    }
    if (!HalpAcpiChecksum(Read, Context, Address, TableLength, &Sum)) {
        return STATUS_INVALID_PARAMETER;
    }
    if (Sum != 0) {
        return STATUS_DATA_ERROR;
    }
    *Length = TableLength;
    return STATUS_SUCCESS;
}

NTSTATUS HalpAcpiFindTable(PHALP_ACPI_READ Read, PVOID Context, ULONG64 RsdpAddress,
                           ULONG Signature, PULONG64 TableAddress, PULONG TableLength)
{
    UCHAR Rsdp[ACPI_RSDP_V2_LENGTH];
    UCHAR Sum;
    ULONG64 Root;
    ULONG RootLength, EntrySize, Entries;
    NTSTATUS Status;

    if (Read == NULL || TableAddress == NULL || TableLength == NULL || RsdpAddress == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    if (!Read(Context, RsdpAddress, Rsdp, ACPI_RSDP_V1_LENGTH) ||
        memcmp(Rsdp, "RSD PTR ", 8) != 0) {
        return STATUS_NOT_FOUND;
    }
    if (!HalpAcpiChecksum(Read, Context, RsdpAddress, ACPI_RSDP_V1_LENGTH, &Sum) || Sum != 0) {
        return STATUS_DATA_ERROR;
    }

    /* Revision 2+: the extended structure and the 64-bit XSDT. */
    Root = HalpGet32(Rsdp + 16);
    EntrySize = 4;
    if (Rsdp[15] >= 2 && Read(Context, RsdpAddress, Rsdp, ACPI_RSDP_V2_LENGTH)) {
        ULONG Length = HalpGet32(Rsdp + 20);
        ULONG64 Xsdt = HalpGet64(Rsdp + 24);
        if (Length < ACPI_RSDP_V2_LENGTH || Length > 4096 ||
            !HalpAcpiChecksum(Read, Context, RsdpAddress, Length, &Sum) || Sum != 0) {
            return STATUS_DATA_ERROR;
        }
        if (Xsdt != 0) {
            Root = Xsdt;
            EntrySize = 8;
        }
    }
    Status = HalpAcpiCheckTable(Read, Context, Root,
                                EntrySize == 8 ? ACPI_SIGNATURE('X', 'S', 'D', 'T')
                                               : ACPI_SIGNATURE('R', 'S', 'D', 'T'),
                                ACPI_SDT_HEADER, &RootLength);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }

    Entries = (RootLength - ACPI_SDT_HEADER) / EntrySize;
    if (Entries > ACPI_MAX_SDT_ENTRIES) {
        Entries = ACPI_MAX_SDT_ENTRIES;
    }
    for (ULONG i = 0; i < Entries; i++) {
        UCHAR Entry[8];
        ULONG64 Address;
        ULONG Length;

        if (!Read(Context, Root + ACPI_SDT_HEADER + (ULONG64)i * EntrySize, Entry, EntrySize)) {
            return STATUS_INVALID_PARAMETER;
        }
        Address = EntrySize == 8 ? HalpGet64(Entry) : HalpGet32(Entry);
        if (Address == 0) {
            continue;
        }
        /* A table that does not validate is skipped: firmware may carry a
         * second, good copy, and one bad table must not hide the rest. */
        Status = HalpAcpiCheckTable(Read, Context, Address, Signature, ACPI_SDT_HEADER, &Length);
        if (NT_SUCCESS(Status)) {
            *TableAddress = Address;
            *TableLength = Length;
            return STATUS_SUCCESS;
        }
    }
    return STATUS_NOT_FOUND;
}

static VOID HalpAcpiAddProcessor(PHALP_MADT_INFO Info, ULONG ApicId, ULONG Flags)
{
    if (!(Flags & (MADT_ENABLED | MADT_ONLINE_CAPABLE)) || ApicId == 0xFFFFFFFFu) {
        Info->SkippedProcessors++;
        return;
    }
    for (ULONG i = 0; i < Info->ProcessorCount; i++) {
        if (Info->ApicIds[i] == ApicId) {
            Info->SkippedProcessors++; /* listed twice (xAPIC and x2APIC) */
            return;
        }
    }
    if (Info->ProcessorCount >= MAXIMUM_PROCESSORS) {
        Info->SkippedProcessors++;
        return;
    }
    Info->ApicIds[Info->ProcessorCount++] = ApicId;
}

NTSTATUS HalpAcpiParseMadt(PHALP_ACPI_READ Read, PVOID Context, ULONG64 TableAddress,
                           ULONG TableLength, PHALP_MADT_INFO Info)
{
    UCHAR Header[ACPI_MADT_HEADER];
    ULONG Length;
    NTSTATUS Status;

    if (Read == NULL || Info == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    memset(Info, 0, sizeof(*Info));
    /* Re-validated here: the caller's length is only a hint. */
    Status = HalpAcpiCheckTable(Read, Context, TableAddress, ACPI_MADT_SIGNATURE, ACPI_MADT_HEADER,
                                &Length);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    if (TableLength != 0 && TableLength < Length) {
        Length = TableLength;
    }
    if (!Read(Context, TableAddress, Header, sizeof(Header))) {
        return STATUS_INVALID_PARAMETER;
    }
    Info->LocalApicAddress = HalpGet32(Header + 36);
    Info->Flags = HalpGet32(Header + 40);

    for (ULONG Offset = ACPI_MADT_HEADER; Offset + 2 <= Length;) {
        UCHAR Entry[16];
        UCHAR Type, EntryLength;

        if (!Read(Context, TableAddress + Offset, Entry, 2)) {
            return STATUS_INVALID_PARAMETER;
        }
        Type = Entry[0];
        EntryLength = Entry[1];
        /* A zero or overlong length would loop forever or run past the
         * table: the rest of the table cannot be trusted. */
        if (EntryLength < 2 || EntryLength > Length - Offset) {
            return Info->ProcessorCount != 0 ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
        }
        switch (Type) {
        case MADT_LOCAL_APIC:
            if (EntryLength >= 8 && Read(Context, TableAddress + Offset, Entry, 8)) {
                HalpAcpiAddProcessor(Info, Entry[3], HalpGet32(Entry + 4));
            }
            break;
        case MADT_LOCAL_X2APIC:
            if (EntryLength >= 16 && Read(Context, TableAddress + Offset, Entry, 16)) {
                HalpAcpiAddProcessor(Info, HalpGet32(Entry + 4), HalpGet32(Entry + 8));
            }
            break;
        case MADT_LOCAL_APIC_OVERRIDE:
            if (EntryLength >= 12 && Read(Context, TableAddress + Offset, Entry, 12)) {
                Info->LocalApicAddress = HalpGet64(Entry + 4);
            }
            break;
        default:
            break;
        }
        Offset += EntryLength;
    }
    return STATUS_SUCCESS;
}

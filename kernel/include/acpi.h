/*
 * acpi.h - the ACPI table reader (kernel/hal/acpi): finds a table through
 * the RSDP and RSDT/XSDT, and decodes the MADT (the processors and their
 * local APIC ids). Portable and hostile-input safe: every byte is read
 * through a caller-supplied physical-memory reader that may refuse any
 * range, every length and checksum is verified, and nothing is trusted
 * past the bounds a header claims.
 */
#ifndef _ACPI_
#define _ACPI_

#include <wdm.h>

/* Copies Length bytes of physical memory at Address into Buffer; FALSE
 * when the range is not readable. */
typedef BOOLEAN (*PHALP_ACPI_READ)(PVOID Context, ULONG64 Address, PVOID Buffer, ULONG Length);

#define ACPI_SIGNATURE(a, b, c, d)                                                                 \
    ((ULONG)(UCHAR)(a) | ((ULONG)(UCHAR)(b) << 8) | ((ULONG)(UCHAR)(c) << 16) |                    \
     ((ULONG)(UCHAR)(d) << 24))
#define ACPI_MADT_SIGNATURE ACPI_SIGNATURE('A', 'P', 'I', 'C')

/* Limits on what a (possibly hostile) firmware may claim. */
#define ACPI_MAX_TABLE_LENGTH (1024u * 1024u)
#define ACPI_MAX_SDT_ENTRIES  256u

/* Finds the table with Signature from the RSDP at RsdpAddress (the XSDT
 * when the RSDP is revision 2+ and gives one, else the RSDT). Verifies the
 * RSDP checksums, the root table's and the found table's. */
NTSTATUS HalpAcpiFindTable(PHALP_ACPI_READ Read, PVOID Context, ULONG64 RsdpAddress,
                           ULONG Signature, PULONG64 TableAddress, PULONG TableLength);

typedef struct _HALP_MADT_INFO {
    ULONG64 LocalApicAddress;          /* after any address override entry */
    ULONG Flags;                       /* MADT flags (bit 0: PC-AT compatible PICs) */
    ULONG ProcessorCount;              /* usable processors recorded in ApicIds */
    ULONG SkippedProcessors;           /* disabled, duplicate or beyond the array */
    ULONG ApicIds[MAXIMUM_PROCESSORS]; /* in table order */
} HALP_MADT_INFO, *PHALP_MADT_INFO;

/* Reads and decodes the MADT at TableAddress (TableLength from
 * HalpAcpiFindTable): processor local APIC (type 0) and x2APIC (type 9)
 * entries that are enabled or online-capable, and the local APIC address
 * override (type 5). */
NTSTATUS HalpAcpiParseMadt(PHALP_ACPI_READ Read, PVOID Context, ULONG64 TableAddress,
                           ULONG TableLength, PHALP_MADT_INFO Info);

#endif /* _ACPI_ */

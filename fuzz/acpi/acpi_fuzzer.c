/*
 * acpi_fuzzer.c - libFuzzer harness for the ACPI table reader
 * (kernel/hal/acpi): the input is "physical memory" from address 0, with
 * the RSDP at address 16 (0 means "no RSDP"); the reader refuses anything outside it. Whatever
 * the tables claim, the reader must stay inside the input (ASan checks
 * that: the input is its own allocation) and what it reports must be
 * consistent with what it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ntddk.h>
#include <acpi.h>

#define ACPI_FUZZ_RSDP 16

typedef struct _MEMORY {
    const UCHAR *Bytes;
    SIZE_T Size;
} MEMORY;

static BOOLEAN ReadMemory(PVOID Context, ULONG64 Address, PVOID Buffer, ULONG Length)
{
    const MEMORY *Memory = Context;

    if (Address > Memory->Size || Length > Memory->Size - Address) {
        return FALSE;
    }
    memcpy(Buffer, Memory->Bytes + Address, Length);
    return TRUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    MEMORY Memory = { Data, Size };
    HALP_MADT_INFO Info;
    ULONG64 Table;
    ULONG Length;

    if (!NT_SUCCESS(HalpAcpiFindTable(ReadMemory, &Memory, ACPI_FUZZ_RSDP, ACPI_MADT_SIGNATURE,
                                      &Table, &Length))) {
        return 0;
    }
    /* A table it found is inside memory it could read, within the limit. */
    if (Table > Size || Length > Size - Table || Length > ACPI_MAX_TABLE_LENGTH) {
        abort();
    }
    if (NT_SUCCESS(HalpAcpiParseMadt(ReadMemory, &Memory, Table, Length, &Info)) &&
        Info.ProcessorCount > MAXIMUM_PROCESSORS) {
        abort();
    }
    return 0;
}

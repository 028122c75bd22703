/*
 * acpi_test.c - the ACPI table reader over synthetic firmware tables in a
 * buffer that stands for physical memory: well-formed RSDP v1/v2 chains,
 * the MADT entry kinds, and hostile tables (bad checksums, lengths that
 * lie, loops, pointers outside memory, too many processors).
 */
#include <ntddk.h>
#include <acpi.h>
#include <ktest.h>

#define MEM_BASE 0x10000ull
#define MEM_SIZE 0x4000u
#define RSDP_AT  0x10000ull
#define ROOT_AT  0x10100ull
#define MADT_AT  0x10400ull
#define OTHER_AT 0x10200ull

typedef struct _FAKE_MEMORY {
    UCHAR Bytes[MEM_SIZE];
    ULONG Reads;
} FAKE_MEMORY;

static FAKE_MEMORY Memory;

static BOOLEAN FakeRead(PVOID Context, ULONG64 Address, PVOID Buffer, ULONG Length)
{
    FAKE_MEMORY *M = Context;
    M->Reads++;
    if (Address < MEM_BASE || Address - MEM_BASE > MEM_SIZE || Length > MEM_SIZE ||
        Address - MEM_BASE + Length > MEM_SIZE) {
        return FALSE;
    }
    memcpy(Buffer, &M->Bytes[Address - MEM_BASE], Length);
    return TRUE;
}

static PUCHAR At(ULONG64 Address)
{
    return &Memory.Bytes[Address - MEM_BASE];
}

static VOID Put32(PUCHAR P, ULONG V)
{
    P[0] = (UCHAR)V;
    P[1] = (UCHAR)(V >> 8);
    P[2] = (UCHAR)(V >> 16);
    P[3] = (UCHAR)(V >> 24);
}

static VOID Put64(PUCHAR P, ULONG64 V)
{
    Put32(P, (ULONG)V);
    Put32(P + 4, (ULONG)(V >> 32));
}

static VOID FixChecksum(PUCHAR Table, ULONG Length, ULONG ChecksumOffset)
{
    UCHAR Sum = 0;
    Table[ChecksumOffset] = 0;
    for (ULONG i = 0; i < Length; i++) {
        Sum = (UCHAR)(Sum + Table[i]);
    }
    Table[ChecksumOffset] = (UCHAR)(0 - Sum);
}

static VOID MakeRsdp(ULONG Revision, ULONG64 Root)
{
    PUCHAR R = At(RSDP_AT);
    memcpy(R, "RSD PTR ", 8);
    memcpy(R + 9, "KEELFW", 6);
    R[15] = (UCHAR)Revision;
    if (Revision >= 2) {
        Put32(R + 16, 0);
        Put32(R + 20, 36);
        Put64(R + 24, Root);
        FixChecksum(R, 20, 8);
        FixChecksum(R, 36, 32);
    } else {
        Put32(R + 16, (ULONG)Root);
        FixChecksum(R, 20, 8);
    }
}

static VOID MakeHeader(ULONG64 Address, const char *Signature, ULONG Length)
{
    PUCHAR T = At(Address);
    memcpy(T, Signature, 4);
    Put32(T + 4, Length);
    T[8] = 1;
    memcpy(T + 10, "KEELFW", 6);
}

/* A root table (RSDT or XSDT) listing Count tables. */
static VOID MakeRoot(BOOLEAN Xsdt, const ULONG64 *Tables, ULONG Count)
{
    ULONG EntrySize = Xsdt ? 8 : 4;
    ULONG Length = 36 + Count * EntrySize;
    MakeHeader(ROOT_AT, Xsdt ? "XSDT" : "RSDT", Length);
    for (ULONG i = 0; i < Count; i++) {
        if (Xsdt) {
            Put64(At(ROOT_AT) + 36 + i * 8, Tables[i]);
        } else {
            Put32(At(ROOT_AT) + 36 + i * 4, (ULONG)Tables[i]);
        }
    }
    FixChecksum(At(ROOT_AT), Length, 9);
}

/* MADT builder: entries appended after the 44-byte header. */
static ULONG MadtLength;

static VOID MadtBegin(VOID)
{
    MadtLength = 44;
    MakeHeader(MADT_AT, "APIC", MadtLength);
    Put32(At(MADT_AT) + 36, 0xFEE00000u);
    Put32(At(MADT_AT) + 40, 1);
}

static VOID MadtLocalApic(UCHAR Uid, UCHAR ApicId, ULONG Flags)
{
    PUCHAR E = At(MADT_AT) + MadtLength;
    E[0] = 0;
    E[1] = 8;
    E[2] = Uid;
    E[3] = ApicId;
    Put32(E + 4, Flags);
    MadtLength += 8;
}

static VOID MadtX2Apic(ULONG ApicId, ULONG Flags)
{
    PUCHAR E = At(MADT_AT) + MadtLength;
    memset(E, 0, 16);
    E[0] = 9;
    E[1] = 16;
    Put32(E + 4, ApicId);
    Put32(E + 8, Flags);
    Put32(E + 12, ApicId);
    MadtLength += 16;
}

static VOID MadtOther(UCHAR Type, UCHAR Length)
{
    PUCHAR E = At(MADT_AT) + MadtLength;
    memset(E, 0xA5, Length);
    E[0] = Type;
    E[1] = Length;
    MadtLength += Length;
}

static VOID MadtEnd(VOID)
{
    Put32(At(MADT_AT) + 4, MadtLength);
    FixChecksum(At(MADT_AT), MadtLength, 9);
}

static VOID MakeOther(VOID)
{
    MakeHeader(OTHER_AT, "FACP", 40);
    FixChecksum(At(OTHER_AT), 40, 9);
}

static VOID Reset(VOID)
{
    memset(&Memory, 0, sizeof(Memory));
}

static NTSTATUS FindAndParse(PHALP_MADT_INFO Info)
{
    ULONG64 Address = 0;
    ULONG Length = 0;
    NTSTATUS Status =
        HalpAcpiFindTable(FakeRead, &Memory, RSDP_AT, ACPI_MADT_SIGNATURE, &Address, &Length);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    return HalpAcpiParseMadt(FakeRead, &Memory, Address, Length, Info);
}

static VOID BuildFourProcessors(ULONG Revision)
{
    ULONG64 Tables[2] = { OTHER_AT, MADT_AT };
    Reset();
    MakeOther();
    MadtBegin();
    MadtLocalApic(0, 0, 1);
    MadtOther(1, 12); /* I/O APIC */
    MadtLocalApic(1, 1, 1);
    MadtLocalApic(2, 2, 1);
    MadtOther(2, 10); /* interrupt source override */
    MadtLocalApic(3, 3, 1);
    MadtEnd();
    MakeRoot(Revision >= 2, Tables, 2);
    MakeRsdp(Revision, ROOT_AT);
}

KTEST(acpi, rsdt_madt_four_processors)
{
    HALP_MADT_INFO Info;

    BuildFourProcessors(0);
    KT_ASSERT_SUCCESS(FindAndParse(&Info));
    KT_EXPECT_EQ(Info.ProcessorCount, 4u);
    for (ULONG i = 0; i < 4; i++) {
        KT_EXPECT_EQ(Info.ApicIds[i], i);
    }
    KT_EXPECT_EQ(Info.LocalApicAddress, 0xFEE00000ull);
    KT_EXPECT_EQ(Info.Flags, 1u);
    KT_EXPECT_EQ(Info.SkippedProcessors, 0u);
}

KTEST(acpi, xsdt_madt_four_processors)
{
    HALP_MADT_INFO Info;

    BuildFourProcessors(2);
    KT_ASSERT_SUCCESS(FindAndParse(&Info));
    KT_EXPECT_EQ(Info.ProcessorCount, 4u);
    KT_EXPECT_EQ(Info.ApicIds[3], 3u);
}

KTEST(acpi, find_other_table_and_missing_table)
{
    ULONG64 Address = 0;
    ULONG Length = 0;

    BuildFourProcessors(2);
    KT_EXPECT_SUCCESS(HalpAcpiFindTable(FakeRead, &Memory, RSDP_AT,
                                        ACPI_SIGNATURE('F', 'A', 'C', 'P'), &Address, &Length));
    KT_EXPECT_EQ(Address, OTHER_AT);
    KT_EXPECT_EQ(Length, 40u);
    KT_EXPECT_STATUS(HalpAcpiFindTable(FakeRead, &Memory, RSDP_AT,
                                       ACPI_SIGNATURE('H', 'P', 'E', 'T'), &Address, &Length),
                     STATUS_NOT_FOUND);
}

KTEST(acpi, disabled_duplicate_and_x2apic_entries)
{
    ULONG64 Tables[1] = { MADT_AT };
    HALP_MADT_INFO Info;

    Reset();
    MadtBegin();
    MadtLocalApic(0, 0, 1);
    MadtLocalApic(1, 1, 0);     /* disabled, not online capable */
    MadtLocalApic(2, 2, 2);     /* online capable: usable */
    MadtX2Apic(2, 1);           /* the same processor again */
    MadtX2Apic(300, 1);         /* an id beyond 8 bits */
    MadtX2Apic(0xFFFFFFFFu, 1); /* the invalid id */
    /* Local APIC address override (type 5). */
    {
        PUCHAR E = At(MADT_AT) + MadtLength;
        memset(E, 0, 12);
        E[0] = 5;
        E[1] = 12;
        Put64(E + 4, 0xFED00000ull);
        MadtLength += 12;
    }
    MadtEnd();
    MakeRoot(FALSE, Tables, 1);
    MakeRsdp(0, ROOT_AT);

    KT_ASSERT_SUCCESS(FindAndParse(&Info));
    KT_EXPECT_EQ(Info.ProcessorCount, 3u);
    KT_EXPECT_EQ(Info.ApicIds[0], 0u);
    KT_EXPECT_EQ(Info.ApicIds[1], 2u);
    KT_EXPECT_EQ(Info.ApicIds[2], 300u);
    KT_EXPECT_EQ(Info.SkippedProcessors, 3u);
    KT_EXPECT_EQ(Info.LocalApicAddress, 0xFED00000ull);
}

KTEST(acpi, more_processors_than_supported)
{
    ULONG64 Tables[1] = { MADT_AT };
    HALP_MADT_INFO Info;

    Reset();
    MadtBegin();
    for (ULONG i = 0; i < MAXIMUM_PROCESSORS + 6; i++) {
        MadtX2Apic(i, 1);
    }
    MadtEnd();
    MakeRoot(FALSE, Tables, 1);
    MakeRsdp(0, ROOT_AT);
    KT_ASSERT_SUCCESS(FindAndParse(&Info));
    KT_EXPECT_EQ(Info.ProcessorCount, (ULONG)MAXIMUM_PROCESSORS);
    KT_EXPECT_EQ(Info.SkippedProcessors, 6u);
}

KTEST(acpi, bad_checksums_are_rejected)
{
    HALP_MADT_INFO Info;

    /* RSDP v1 checksum. */
    BuildFourProcessors(0);
    At(RSDP_AT)[8] ^= 1;
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_DATA_ERROR);

    /* RSDP v2 extended checksum. */
    BuildFourProcessors(2);
    At(RSDP_AT)[32] ^= 1;
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_DATA_ERROR);

    /* Root table checksum. */
    BuildFourProcessors(2);
    At(ROOT_AT)[9] ^= 1;
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_DATA_ERROR);

    /* A MADT with a bad checksum is skipped: not found. */
    BuildFourProcessors(0);
    At(MADT_AT)[9] ^= 1;
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_NOT_FOUND);

    /* No signature at all. */
    BuildFourProcessors(0);
    At(RSDP_AT)[0] = 'X';
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_NOT_FOUND);
}

KTEST(acpi, lying_lengths_are_rejected)
{
    HALP_MADT_INFO Info;
    ULONG64 Address;
    ULONG Length;

    /* Root table claims to run past readable memory. */
    BuildFourProcessors(0);
    Put32(At(ROOT_AT) + 4, MEM_SIZE * 4);
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_INVALID_PARAMETER);

    /* Root table shorter than its own header. */
    BuildFourProcessors(0);
    Put32(At(ROOT_AT) + 4, 20);
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_INVALID_PARAMETER);

    /* Root table larger than the hard limit. */
    BuildFourProcessors(0);
    Put32(At(ROOT_AT) + 4, ACPI_MAX_TABLE_LENGTH + 1);
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_INVALID_PARAMETER);

    /* RSDP v2 with an absurd length. */
    BuildFourProcessors(2);
    Put32(At(RSDP_AT) + 20, 0x7FFFFFFF);
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_DATA_ERROR);

    /* RSDT entry pointing outside memory, then a 64-bit wrap. */
    BuildFourProcessors(2);
    Put64(At(ROOT_AT) + 36 + 8, 0xFFFFFFFFFFFFFFF0ull);
    FixChecksum(At(ROOT_AT), 36 + 16, 9);
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_NOT_FOUND);
    KT_EXPECT_STATUS(HalpAcpiFindTable(FakeRead, &Memory, 0xFFFFFFFFFFFFFFF8ull,
                                       ACPI_MADT_SIGNATURE, &Address, &Length),
                     STATUS_NOT_FOUND);
}

KTEST(acpi, madt_entry_lengths_that_lie)
{
    ULONG64 Tables[1] = { MADT_AT };
    HALP_MADT_INFO Info;

    /* A zero-length entry after one good processor: stop there, keep it. */
    Reset();
    MadtBegin();
    MadtLocalApic(0, 0, 1);
    MadtOther(0x7F, 2);
    At(MADT_AT)[MadtLength - 1] = 0;
    MadtLocalApic(1, 1, 1);
    MadtEnd();
    MakeRoot(FALSE, Tables, 1);
    MakeRsdp(0, ROOT_AT);
    KT_ASSERT_SUCCESS(FindAndParse(&Info));
    KT_EXPECT_EQ(Info.ProcessorCount, 1u);

    /* An entry running past the table's end, and nothing usable before. */
    Reset();
    MadtBegin();
    MadtOther(0x7F, 4);
    At(MADT_AT)[MadtLength - 3] = 200;
    MadtEnd();
    MakeRoot(FALSE, Tables, 1);
    MakeRsdp(0, ROOT_AT);
    KT_EXPECT_STATUS(FindAndParse(&Info), STATUS_INVALID_PARAMETER);

    /* Processor entries too short for their type are ignored. */
    Reset();
    MadtBegin();
    MadtOther(0, 4);
    MadtOther(9, 8);
    MadtLocalApic(5, 5, 1);
    MadtEnd();
    MakeRoot(FALSE, Tables, 1);
    MakeRsdp(0, ROOT_AT);
    KT_ASSERT_SUCCESS(FindAndParse(&Info));
    KT_EXPECT_EQ(Info.ProcessorCount, 1u);
    KT_EXPECT_EQ(Info.ApicIds[0], 5u);
}

/* Random bytes everywhere (a fixed seed): the reader must neither crash
 * nor read outside memory (FakeRead refuses, ASan watches the buffer). */
KTEST(acpi, random_tables_do_not_crash)
{
    ULONG Seed = 0x2545F491u;
    HALP_MADT_INFO Info;

    for (ULONG Round = 0; Round < 200; Round++) {
        BuildFourProcessors(Round & 1 ? 2 : 0);
        for (ULONG i = 0; i < 24; i++) {
            Seed = Seed * 1103515245u + 12345u;
            ULONG Offset = (Seed >> 8) % 0x500u;
            Memory.Bytes[Offset] = (UCHAR)(Seed >> 24);
        }
        memset(&Info, 0, sizeof(Info));
        (VOID) FindAndParse(&Info);
        KT_EXPECT_LE(Info.ProcessorCount, (ULONG)MAXIMUM_PROCESSORS);
    }
}

/*
 * cpio_test.c - ktest cases for the boot image reader (cpio.c): archives
 * written in memory by a small newc writer, lookups by path, iteration,
 * and every kind of malformed header.
 */
#include <ntddk.h>
#include <cpio.h>
#include <ktest.h>

#define TC_CAPACITY 2048

static DECLSPEC_ALIGN(16) UCHAR TcArchive[TC_CAPACITY];
static SIZE_T TcSize;

static VOID TcHex(UCHAR *Text, ULONG Value)
{
    static const char Digits[] = "0123456789ABCDEF";
    ULONG Index;

    for (Index = 0; Index < 8; Index++) {
        Text[Index] = (UCHAR)Digits[(Value >> (28 - 4 * Index)) & 0xF];
    }
}

/* Appends one newc record (header, name, padding, data, padding). */
static VOID TcAdd(const char *Name, ULONG Mode, const char *Data)
{
    ULONG NameSize = (ULONG)strlen(Name) + 1;
    ULONG DataSize = Data != NULL ? (ULONG)strlen(Data) : 0;
    ULONG Fields[13] = { 1, Mode, 0, 0, 1, 0, DataSize, 0, 0, 0, 0, NameSize, 0 };
    ULONG Index;

    memcpy(TcArchive + TcSize, "070701", 6);
    for (Index = 0; Index < 13; Index++) {
        TcHex(TcArchive + TcSize + 6 + 8 * Index, Fields[Index]);
    }
    TcSize += 110;
    memcpy(TcArchive + TcSize, Name, NameSize);
    TcSize += NameSize;
    while (TcSize % 4 != 0) {
        TcArchive[TcSize++] = 0;
    }
    if (DataSize != 0) {
        memcpy(TcArchive + TcSize, Data, DataSize);
    }
    TcSize += DataSize;
    while (TcSize % 4 != 0) {
        TcArchive[TcSize++] = 0;
    }
}

static VOID TcBuild(VOID)
{
    memset(TcArchive, 0, sizeof(TcArchive));
    TcSize = 0;
    TcAdd("System32", 040755, NULL);
    TcAdd("System32/drivers", 040755, NULL);
    TcAdd("System32/drivers/a.sys", 0100644, "driver a");
    TcAdd("./System32/ntoskrnl.exe", 0100644, "kernel!");
    TcAdd("System32/empty", 0100644, NULL);
    TcAdd("TRAILER!!!", 0, NULL);
}

static BOOLEAN TcNameIs(const CPIO_ENTRY *Entry, const char *Name)
{
    return Entry->NameLength == strlen(Name) && memcmp(Entry->Name, Name, Entry->NameLength) == 0;
}

KTEST(rtl_cpio, iterates_every_entry)
{
    CPIO_ENTRY Entry;
    SIZE_T Offset = 0;
    ULONG Count = 0;

    TcBuild();
    while (RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry) == STATUS_SUCCESS) {
        /* Data starts on a 4-byte boundary of the archive. */
        KT_EXPECT_EQ(((const UCHAR *)Entry.Data - TcArchive) % 4, 0);
        Count++;
        KT_ASSERT_TRUE(Count <= 5);
    }
    KT_EXPECT_EQ(Count, 5);
    /* The trailer answers again and again. */
    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry), STATUS_NO_MORE_ENTRIES);

    Offset = 0;
    KT_ASSERT_SUCCESS(RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry));
    KT_EXPECT_TRUE(TcNameIs(&Entry, "System32"));
    KT_EXPECT_EQ(Entry.Mode, 040755);
    KT_EXPECT_EQ(Entry.DataSize, 0);
}

KTEST(rtl_cpio, finds_files)
{
    CPIO_ENTRY Entry;

    TcBuild();
    KT_ASSERT_SUCCESS(RtlCpioFindFile(TcArchive, TcSize, "System32/ntoskrnl.exe", &Entry));
    KT_EXPECT_EQ(Entry.DataSize, 7);
    KT_EXPECT_EQ(memcmp(Entry.Data, "kernel!", 7), 0);
    KT_EXPECT_EQ(Entry.Mode & 0170000, 0100000);

    /* Case, separators and a leading root do not matter. */
    KT_EXPECT_SUCCESS(RtlCpioFindFile(TcArchive, TcSize, "\\SYSTEM32\\NtOsKrnl.Exe", &Entry));
    KT_EXPECT_SUCCESS(RtlCpioFindFile(TcArchive, TcSize, "/system32/drivers/A.SYS", &Entry));
    KT_EXPECT_EQ(Entry.DataSize, 8);
    KT_EXPECT_SUCCESS(RtlCpioFindFile(TcArchive, TcSize, "./System32/empty", &Entry));
    KT_EXPECT_EQ(Entry.DataSize, 0);

    /* Directories are not files; prefixes and extensions must match. */
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, TcSize, "System32", &Entry),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, TcSize, "System32/ntoskrnl", &Entry),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, TcSize, "System32/ntoskrnl.exe2", &Entry),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, TcSize, "", &Entry), STATUS_OBJECT_NAME_NOT_FOUND);
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, TcSize, NULL, &Entry), STATUS_INVALID_PARAMETER);
}

KTEST(rtl_cpio, empty_and_unterminated_archives)
{
    CPIO_ENTRY Entry;
    SIZE_T Offset = 0;

    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, 0, &Offset, &Entry), STATUS_NO_MORE_ENTRIES);
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, 0, "x", &Entry), STATUS_OBJECT_NAME_NOT_FOUND);

    /* No trailer: a clean end after the last record is still the end. */
    memset(TcArchive, 0, sizeof(TcArchive));
    TcSize = 0;
    TcAdd("x", 0100644, "abc");
    KT_EXPECT_SUCCESS(RtlCpioFindFile(TcArchive, TcSize, "x", &Entry));
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, TcSize, "y", &Entry), STATUS_OBJECT_NAME_NOT_FOUND);
    /* The final padding may be missing. */
    KT_EXPECT_SUCCESS(RtlCpioFindFile(TcArchive, TcSize - 1, "x", &Entry));
    KT_EXPECT_STATUS(RtlCpioFindFile(TcArchive, TcSize - 1, "y", &Entry),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    /* An offset past the end is an error, not a read. */
    Offset = TcSize + 1;
    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry),
                     STATUS_INVALID_IMAGE_FORMAT);
}

/* Corrupts one byte of the first header and expects a format error. */
static NTSTATUS TcCorrupt(ULONG Offset, UCHAR Value)
{
    CPIO_ENTRY Entry;

    TcBuild();
    TcArchive[Offset] = Value;
    return RtlCpioFindFile(TcArchive, TcSize, "System32/ntoskrnl.exe", &Entry);
}

KTEST(rtl_cpio, rejects_malformed_headers)
{
    CPIO_ENTRY Entry;
    SIZE_T Offset;

    KT_EXPECT_STATUS(TcCorrupt(0, '1'), STATUS_INVALID_IMAGE_FORMAT);          /* magic */
    KT_EXPECT_STATUS(TcCorrupt(5, '7'), STATUS_INVALID_IMAGE_FORMAT);          /* magic 070707 */
    KT_EXPECT_STATUS(TcCorrupt(6 + 8 * 1, 'g'), STATUS_INVALID_IMAGE_FORMAT);  /* mode */
    KT_EXPECT_STATUS(TcCorrupt(6 + 8 * 6, ' '), STATUS_INVALID_IMAGE_FORMAT);  /* filesize */
    KT_EXPECT_STATUS(TcCorrupt(6 + 8 * 12, '-'), STATUS_INVALID_IMAGE_FORMAT); /* check */
    /* The name is not NUL-terminated where its size says. */
    KT_EXPECT_STATUS(TcCorrupt(110 + 8, 'X'), STATUS_INVALID_IMAGE_FORMAT);

    /* Name size zero, and name/file sizes running past the archive. */
    TcBuild();
    memcpy(TcArchive + 6 + 8 * 11, "00000000", 8);
    Offset = 0;
    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry),
                     STATUS_INVALID_IMAGE_FORMAT);
    TcBuild();
    memcpy(TcArchive + 6 + 8 * 11, "FFFFFFFF", 8);
    Offset = 0;
    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry),
                     STATUS_INVALID_IMAGE_FORMAT);
    TcBuild();
    memcpy(TcArchive + 6 + 8 * 6, "FFFFFFF0", 8);
    Offset = 0;
    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry),
                     STATUS_INVALID_IMAGE_FORMAT);
    TcBuild();
    memcpy(TcArchive + 6 + 8 * 6, "00000800", 8); /* just past the end */
    Offset = 0;
    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, TcSize, &Offset, &Entry),
                     STATUS_INVALID_IMAGE_FORMAT);
    /* A header cut short. */
    TcBuild();
    Offset = 0;
    KT_EXPECT_STATUS(RtlCpioNextEntry(TcArchive, 109, &Offset, &Entry),
                     STATUS_INVALID_IMAGE_FORMAT);
}

/* Every truncation and every single-byte change of the archive: the
 * reader returns some status and never reads out of bounds (ASan). */
KTEST(rtl_cpio, survives_truncation_and_corruption)
{
    static const UCHAR Values[] = { 0x00, '0', 'F', 0xFF };
    CPIO_ENTRY Entry;
    SIZE_T Size;
    SIZE_T Full;
    ULONG Found = 0;
    ULONG Offset;

    TcBuild();
    Full = TcSize;
    for (Size = 0; Size <= Full; Size++) {
        if (RtlCpioFindFile(TcArchive, Size, "System32/empty", &Entry) == STATUS_SUCCESS) {
            KT_EXPECT_TRUE((const UCHAR *)Entry.Data + Entry.DataSize <= TcArchive + Size);
            Found++;
        }
    }
    KT_EXPECT_GT(Found, 0);

    for (Offset = 0; Offset < Full; Offset++) {
        ULONG Value;
        for (Value = 0; Value < RTL_NUMBER_OF(Values); Value++) {
            SIZE_T Next = 0;
            ULONG Steps = 0;

            TcBuild();
            TcArchive[Offset] = Values[Value];
            RtlCpioFindFile(TcArchive, Full, "System32/ntoskrnl.exe", &Entry);
            while (RtlCpioNextEntry(TcArchive, Full, &Next, &Entry) == STATUS_SUCCESS) {
                KT_ASSERT_TRUE(++Steps <= Full / 110 + 1);
                KT_ASSERT_TRUE((const UCHAR *)Entry.Data + Entry.DataSize <= TcArchive + Full);
            }
        }
    }
}

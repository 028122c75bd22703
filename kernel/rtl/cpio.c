/*
 * cpio.c - reader for the boot image, a cpio "newc" archive (cpio.h).
 *
 * A newc record is a 110-byte ASCII header ("070701" and thirteen 8-digit
 * hex fields), the NUL-terminated name, padding to a 4-byte boundary, the
 * file data and padding again; the record named "TRAILER!!!" ends the
 * archive. Compiled into the kernel, the hosted build and the boot loader,
 * so it uses nothing but memcmp. The archive is untrusted: every field is
 * parsed strictly and every offset checked against the archive size.
 */
#include <wdm.h>
#include <cpio.h>

#define CPIOP_HEADER_SIZE  110
#define CPIOP_MAGIC_LENGTH 6
#define CPIOP_FIELD_LENGTH 8

/* Field indexes, in header order after the magic. */
#define CPIOP_FIELD_MODE     1
#define CPIOP_FIELD_FILESIZE 6
#define CPIOP_FIELD_NAMESIZE 11

#define CPIOP_TRAILER      "TRAILER!!!"
#define CPIOP_TYPE_MASK    0170000
#define CPIOP_TYPE_REGULAR 0100000

static BOOLEAN CpiopRangeInside(ULONG64 Offset, ULONG64 Size, ULONG64 Limit)
{
    return Offset <= Limit && Size <= Limit - Offset;
}

static ULONG64 CpiopAlign4(ULONG64 Value)
{
    return (Value + 3) & ~3ULL;
}

/* One 8-digit hex field; FALSE on any non-hex character. */
static BOOLEAN CpiopParseField(const UCHAR *Header, ULONG Field, PULONG Value)
{
    const UCHAR *Text = Header + CPIOP_MAGIC_LENGTH + Field * CPIOP_FIELD_LENGTH;
    ULONG Result = 0;
    ULONG Index;

    for (Index = 0; Index < CPIOP_FIELD_LENGTH; Index++) {
        UCHAR Digit = Text[Index];
        ULONG Nibble;

        if (Digit >= '0' && Digit <= '9') {
            Nibble = Digit - '0';
        } else if (Digit >= 'a' && Digit <= 'f') {
            Nibble = Digit - 'a' + 10;
        } else if (Digit >= 'A' && Digit <= 'F') {
            Nibble = Digit - 'A' + 10;
        } else {
            return FALSE;
        }
        Result = (Result << 4) | Nibble;
    }
    *Value = Result;
    return TRUE;
}

NTSTATUS RtlCpioNextEntry(const VOID *Archive, SIZE_T ArchiveSize, PSIZE_T Offset,
                          PCPIO_ENTRY Entry)
{
    const UCHAR *Base = Archive;
    const UCHAR *Header;
    ULONG64 Position;
    ULONG64 DataOffset;
    ULONG64 NextOffset;
    ULONG Mode;
    ULONG FileSize;
    ULONG NameSize;
    ULONG Field;

    if (Offset == NULL || Entry == NULL || (Archive == NULL && ArchiveSize != 0)) {
        return STATUS_INVALID_PARAMETER;
    }
    Position = *Offset;
    if (Position == ArchiveSize) {
        return STATUS_NO_MORE_ENTRIES;
    }
    if (!CpiopRangeInside(Position, CPIOP_HEADER_SIZE, ArchiveSize)) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    Header = Base + Position;
    /* 070701 is newc; 070702 is the same layout with a checksum field. */
    if (memcmp(Header, "070701", CPIOP_MAGIC_LENGTH) != 0 &&
        memcmp(Header, "070702", CPIOP_MAGIC_LENGTH) != 0) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    for (Field = 0; Field < 13; Field++) {
        ULONG Ignored;
        if (!CpiopParseField(Header, Field, &Ignored)) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
    }
    CpiopParseField(Header, CPIOP_FIELD_MODE, &Mode);
    CpiopParseField(Header, CPIOP_FIELD_FILESIZE, &FileSize);
    CpiopParseField(Header, CPIOP_FIELD_NAMESIZE, &NameSize);

    /* The name size counts the terminating NUL, which must be there. */
    if (NameSize == 0 || !CpiopRangeInside(Position + CPIOP_HEADER_SIZE, NameSize, ArchiveSize) ||
        Base[Position + CPIOP_HEADER_SIZE + NameSize - 1] != 0) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    DataOffset = CpiopAlign4(Position + CPIOP_HEADER_SIZE + NameSize);
    if (!CpiopRangeInside(DataOffset, FileSize, ArchiveSize)) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }

    Entry->Name = (const char *)(Header + CPIOP_HEADER_SIZE);
    Entry->NameLength = NameSize - 1;
    Entry->Data = Base + DataOffset;
    Entry->DataSize = FileSize;
    Entry->Mode = Mode;

    if (Entry->NameLength == sizeof(CPIOP_TRAILER) - 1 &&
        memcmp(Entry->Name, CPIOP_TRAILER, sizeof(CPIOP_TRAILER) - 1) == 0) {
        /* Stay on the trailer: asking again gives the same answer. */
        return STATUS_NO_MORE_ENTRIES;
    }
    /* The last record's padding may be missing at the very end. */
    NextOffset = CpiopAlign4(DataOffset + FileSize);
    if (NextOffset > ArchiveSize) {
        NextOffset = ArchiveSize;
    }
    *Offset = (SIZE_T)NextOffset;
    return STATUS_SUCCESS;
}

static CHAR CpiopFoldCharacter(CHAR Character)
{
    if (Character >= 'a' && Character <= 'z') {
        return (CHAR)(Character - 'a' + 'A');
    }
    if (Character == '\\') {
        return '/';
    }
    return Character;
}

/* Drops leading "./" and "/" (either slash) so "./System32/x" and
 * "\System32\x" name the same file as "System32/x". */
static VOID CpiopSkipRoot(const char **Name, SIZE_T *Length)
{
    for (;;) {
        if (*Length >= 1 && CpiopFoldCharacter((*Name)[0]) == '/') {
            (*Name)++;
            (*Length)--;
        } else if (*Length >= 2 && (*Name)[0] == '.' && CpiopFoldCharacter((*Name)[1]) == '/') {
            *Name += 2;
            *Length -= 2;
        } else {
            return;
        }
    }
}

NTSTATUS RtlCpioFindFile(const VOID *Archive, SIZE_T ArchiveSize, PCSTR Path, PCPIO_ENTRY Entry)
{
    CPIO_ENTRY Current;
    SIZE_T Offset = 0;
    const char *Wanted = Path;
    SIZE_T WantedLength = 0;
    NTSTATUS Status;

    if (Path == NULL || Entry == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    while (Path[WantedLength] != 0) {
        WantedLength++;
    }
    CpiopSkipRoot(&Wanted, &WantedLength);

    /* Each record is at least one header long, so this ends. */
    for (;;) {
        const char *Name;
        SIZE_T Length;
        SIZE_T Index;

        Status = RtlCpioNextEntry(Archive, ArchiveSize, &Offset, &Current);
        if (Status == STATUS_NO_MORE_ENTRIES) {
            return STATUS_OBJECT_NAME_NOT_FOUND;
        }
        if (!NT_SUCCESS(Status)) {
            return Status;
        }
        if ((Current.Mode & CPIOP_TYPE_MASK) != CPIOP_TYPE_REGULAR) {
            continue;
        }
        Name = Current.Name;
        Length = Current.NameLength;
        CpiopSkipRoot(&Name, &Length);
        if (Length != WantedLength) {
            continue;
        }
        for (Index = 0; Index < Length; Index++) {
            if (CpiopFoldCharacter(Name[Index]) != CpiopFoldCharacter(Wanted[Index])) {
                break;
            }
        }
        if (Index == Length) {
            *Entry = Current;
            return STATUS_SUCCESS;
        }
    }
}

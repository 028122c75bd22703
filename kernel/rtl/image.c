/*
 * image.c - PE32+ image handling (ldr.h): validation, mapping, base
 * relocation, import binding, export lookup and COFF symbol lookup.
 *
 * This file is compiled into ntoskrnl, the hosted kernel and the boot
 * loader, so it calls nothing but memcpy/memset/memcmp: no allocation, no
 * DbgPrint. Every image is hostile: each offset/size is range-checked with
 * overflow-safe arithmetic before it is used, every loop is bounded by the
 * data it walks, and multi-byte fields are read with memcpy because a file
 * inside a cpio archive is only 4-byte aligned (and a hostile RVA may be
 * anything), which a direct typed access would get wrong (and UBSan flags).
 */
#include <wdm.h>
#include <ldr.h>

/* Upper bounds that keep every walk finite and reject absurd headers. */
#define LDRP_MAX_SECTIONS           96    /* the Windows loader's limit */
#define LDRP_MAX_IMPORT_DESCRIPTORS 4096  /* modules one image may import */
#define LDRP_MAX_THUNKS             65536 /* symbols imported from one module */
#define LDRP_MAX_NAME               4096  /* longest import/export name */

/* The parts of the headers every routine needs, copied out of the image. */
typedef struct _LDRP_HEADERS {
    ULONG NtOffset;
    ULONG SectionTableOffset;
    IMAGE_FILE_HEADER FileHeader;
    IMAGE_OPTIONAL_HEADER64 Optional; /* directories past NumberOfRvaAndSizes are zero */
} LDRP_HEADERS, *PLDRP_HEADERS;

/* [Offset, Offset + Size) lies inside [0, Limit), without overflow. */
static BOOLEAN LdrpRangeInside(ULONG64 Offset, ULONG64 Size, ULONG64 Limit)
{
    return Offset <= Limit && Size <= Limit - Offset;
}

static VOID LdrpWrite32(UCHAR *Base, ULONG64 Offset, ULONG Value)
{
    __builtin_memcpy(Base + Offset, &Value, sizeof(Value));
}

static VOID LdrpWrite64(UCHAR *Base, ULONG64 Offset, ULONG64 Value)
{
    __builtin_memcpy(Base + Offset, &Value, sizeof(Value));
}

static BOOLEAN LdrpIsPowerOfTwo(ULONG Value)
{
    return Value != 0 && (Value & (Value - 1)) == 0;
}

/* Length of the NUL-terminated string at Offset if the terminator lies
 * inside [Offset, Limit) within MaxLength bytes; -1 otherwise. */
static LONG_PTR LdrpStringLength(const UCHAR *Base, ULONG64 Limit, ULONG64 Offset,
                                 ULONG64 MaxLength)
{
    ULONG64 Index;

    if (Offset >= Limit) {
        return -1;
    }
    for (Index = 0; Index < MaxLength && Offset + Index < Limit; Index++) {
        if (Base[Offset + Index] == 0) {
            return (LONG_PTR)Index;
        }
    }
    return -1;
}

/* Copies a possibly unterminated Length-byte name into a caller buffer,
 * truncating and always terminating (when there is room for anything). */
static VOID LdrpCopyName(PCHAR Buffer, SIZE_T BufferSize, const CHAR *Source, SIZE_T Length)
{
    if (Buffer == NULL || BufferSize == 0) {
        return;
    }
    if (Source == NULL) {
        Length = 0;
    }
    if (Length > BufferSize - 1) {
        Length = BufferSize - 1;
    }
    if (Length != 0) {
        memcpy(Buffer, Source, Length);
    }
    Buffer[Length] = 0;
}

static SIZE_T LdrpCStringLength(PCSTR String)
{
    SIZE_T Length = 0;
    while (String[Length] != 0) {
        Length++;
    }
    return Length;
}

/* Reads and checks the DOS header, NT headers and the position of the
 * section table in the first Size bytes of Base (a file or a mapped
 * image: both start with the headers). */
static NTSTATUS LdrpReadHeaders(const UCHAR *Base, SIZE_T Size, PLDRP_HEADERS Headers,
                                PCSTR *Defect)
{
    ULONG64 NtOffset;
    ULONG64 OptionalOffset;
    ULONG64 SectionTableOffset;
    ULONG64 SectionTableSize;
    USHORT OptionalSize;
    LONG Lfanew;
    ULONG Index;

    if (Base == NULL || Size < sizeof(IMAGE_DOS_HEADER)) {
        *Defect = "file too small for a DOS header";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (LdrpRead16(Base, 0) != IMAGE_DOS_SIGNATURE) {
        *Defect = "bad DOS signature (no MZ)";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    __builtin_memcpy(&Lfanew, Base + FIELD_OFFSET(IMAGE_DOS_HEADER, e_lfanew), sizeof(Lfanew));
    /* The NT headers follow the DOS header, ULONG-aligned. */
    if (Lfanew < (LONG)sizeof(IMAGE_DOS_HEADER) || (Lfanew & 3) != 0) {
        *Defect = "bad e_lfanew";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    NtOffset = (ULONG64)Lfanew;
    OptionalOffset = NtOffset + sizeof(ULONG) + sizeof(IMAGE_FILE_HEADER);
    if (!LdrpRangeInside(NtOffset, OptionalOffset - NtOffset, Size)) {
        *Defect = "bad e_lfanew (NT headers outside the file)";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (LdrpRead32(Base, NtOffset) != IMAGE_NT_SIGNATURE) {
        *Defect = "bad NT signature (no PE00)";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    __builtin_memcpy(&Headers->FileHeader, Base + NtOffset + sizeof(ULONG),
                     sizeof(IMAGE_FILE_HEADER));
    if (Headers->FileHeader.Machine != IMAGE_FILE_MACHINE_AMD64) {
        *Defect = "not an x64 image (Machine)";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if ((Headers->FileHeader.Characteristics & IMAGE_FILE_EXECUTABLE_IMAGE) == 0) {
        *Defect = "not an executable image";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    OptionalSize = Headers->FileHeader.SizeOfOptionalHeader;
    if (OptionalSize < FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, DataDirectory) ||
        !LdrpRangeInside(OptionalOffset, OptionalSize, Size)) {
        *Defect = "bad optional header size";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    memset(&Headers->Optional, 0, sizeof(Headers->Optional));
    __builtin_memcpy(&Headers->Optional, Base + OptionalOffset,
                     OptionalSize < sizeof(IMAGE_OPTIONAL_HEADER64)
                         ? OptionalSize
                         : sizeof(IMAGE_OPTIONAL_HEADER64));
    if (Headers->Optional.Magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC) {
        *Defect = "not a PE32+ image (optional header magic)";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (Headers->Optional.NumberOfRvaAndSizes > IMAGE_NUMBEROF_DIRECTORY_ENTRIES ||
        FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, DataDirectory) +
                Headers->Optional.NumberOfRvaAndSizes * sizeof(IMAGE_DATA_DIRECTORY) >
            OptionalSize) {
        *Defect = "bad NumberOfRvaAndSizes";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    for (Index = Headers->Optional.NumberOfRvaAndSizes; Index < IMAGE_NUMBEROF_DIRECTORY_ENTRIES;
         Index++) {
        Headers->Optional.DataDirectory[Index].VirtualAddress = 0;
        Headers->Optional.DataDirectory[Index].Size = 0;
    }
    if (Headers->FileHeader.NumberOfSections == 0 ||
        Headers->FileHeader.NumberOfSections > LDRP_MAX_SECTIONS) {
        *Defect = "bad number of sections";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    SectionTableOffset = OptionalOffset + OptionalSize;
    SectionTableSize = (ULONG64)Headers->FileHeader.NumberOfSections * IMAGE_SIZEOF_SECTION_HEADER;
    if (!LdrpRangeInside(SectionTableOffset, SectionTableSize, Size)) {
        *Defect = "section table outside the file";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    Headers->NtOffset = (ULONG)NtOffset;
    Headers->SectionTableOffset = (ULONG)SectionTableOffset;
    return STATUS_SUCCESS;
}

static VOID LdrpReadSection(const UCHAR *Base, const LDRP_HEADERS *Headers, ULONG Index,
                            PIMAGE_SECTION_HEADER Section)
{
    __builtin_memcpy(
        Section, Base + Headers->SectionTableOffset + (ULONG64)Index * IMAGE_SIZEOF_SECTION_HEADER,
        sizeof(*Section));
}

/* The bytes a section occupies in memory (a zero VirtualSize means the raw
 * size, as old linkers wrote). */
static ULONG LdrpSectionExtent(const IMAGE_SECTION_HEADER *Section)
{
    return Section->Misc.VirtualSize != 0 ? Section->Misc.VirtualSize : Section->SizeOfRawData;
}

/* Full validation of a file: headers, layout of the image, sections,
 * directories. */
static NTSTATUS LdrpValidate(const UCHAR *File, SIZE_T FileSize, PLDRP_HEADERS Headers,
                             PCSTR *Defect)
{
    const IMAGE_OPTIONAL_HEADER64 *Optional = &Headers->Optional;
    IMAGE_SECTION_HEADER Section;
    IMAGE_SECTION_HEADER Other;
    NTSTATUS Status;
    ULONG Index;
    ULONG OtherIndex;

    Status = LdrpReadHeaders(File, FileSize, Headers, Defect);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    if (!LdrpIsPowerOfTwo(Optional->SectionAlignment) ||
        !LdrpIsPowerOfTwo(Optional->FileAlignment) ||
        Optional->FileAlignment > Optional->SectionAlignment) {
        *Defect = "bad section or file alignment";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if ((Optional->ImageBase & 0xFFF) != 0) {
        *Defect = "ImageBase not page aligned";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (Optional->SizeOfImage == 0 ||
        Optional->ImageBase + Optional->SizeOfImage < Optional->ImageBase) {
        *Defect = "bad SizeOfImage";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    /* The headers, section table included, are part of what gets mapped. */
    if (Optional->SizeOfHeaders <
            Headers->SectionTableOffset +
                (ULONG64)Headers->FileHeader.NumberOfSections * IMAGE_SIZEOF_SECTION_HEADER ||
        Optional->SizeOfHeaders > FileSize || Optional->SizeOfHeaders > Optional->SizeOfImage) {
        *Defect = "bad SizeOfHeaders";
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (Optional->AddressOfEntryPoint >= Optional->SizeOfImage) {
        *Defect = "entry point outside the image";
        return STATUS_INVALID_IMAGE_FORMAT;
    }

    for (Index = 0; Index < Headers->FileHeader.NumberOfSections; Index++) {
        ULONG Extent;

        LdrpReadSection(File, Headers, Index, &Section);
        Extent = LdrpSectionExtent(&Section);
        if ((Section.VirtualAddress & (Optional->SectionAlignment - 1)) != 0 ||
            Section.VirtualAddress < Optional->SizeOfHeaders) {
            *Defect = "section misaligned or inside the headers";
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        if (!LdrpRangeInside(Section.VirtualAddress, Extent, Optional->SizeOfImage)) {
            *Defect = "section outside the image (SizeOfImage)";
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        if (Section.SizeOfRawData != 0 &&
            !LdrpRangeInside(Section.PointerToRawData, Section.SizeOfRawData, FileSize)) {
            *Defect = "section outside the file";
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        if (Extent == 0) {
            continue;
        }
        for (OtherIndex = 0; OtherIndex < Index; OtherIndex++) {
            ULONG OtherExtent;

            LdrpReadSection(File, Headers, OtherIndex, &Other);
            OtherExtent = LdrpSectionExtent(&Other);
            if (OtherExtent != 0 &&
                (ULONG64)Section.VirtualAddress < (ULONG64)Other.VirtualAddress + OtherExtent &&
                (ULONG64)Other.VirtualAddress < (ULONG64)Section.VirtualAddress + Extent) {
                *Defect = "overlapping sections";
                return STATUS_INVALID_IMAGE_FORMAT;
            }
        }
    }

    for (Index = 0; Index < IMAGE_NUMBEROF_DIRECTORY_ENTRIES; Index++) {
        const IMAGE_DATA_DIRECTORY *Directory = &Optional->DataDirectory[Index];

        if (Directory->VirtualAddress == 0 && Directory->Size == 0) {
            continue;
        }
        /* The security directory holds a file offset, not an RVA. */
        if (Index == IMAGE_DIRECTORY_ENTRY_SECURITY) {
            if (!LdrpRangeInside(Directory->VirtualAddress, Directory->Size, FileSize)) {
                *Defect = "security directory outside the file";
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            continue;
        }
        if (!LdrpRangeInside(Directory->VirtualAddress, Directory->Size, Optional->SizeOfImage)) {
            *Defect = "data directory outside the image";
            return STATUS_INVALID_IMAGE_FORMAT;
        }
    }
    return STATUS_SUCCESS;
}

/* Headers of a mapped image (laid out by LdrMapImage, possibly modified
 * since): re-checked because the mapped bytes are no more trusted than the
 * file they came from. */
static NTSTATUS LdrpMappedHeaders(const VOID *Mapped, SIZE_T MappedSize, PLDRP_HEADERS Headers)
{
    PCSTR Defect;
    NTSTATUS Status;
    ULONG Index;

    Status = LdrpReadHeaders(Mapped, MappedSize, Headers, &Defect);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    if (Headers->Optional.SizeOfImage > MappedSize) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    for (Index = 0; Index < IMAGE_NUMBEROF_DIRECTORY_ENTRIES; Index++) {
        const IMAGE_DATA_DIRECTORY *Directory = &Headers->Optional.DataDirectory[Index];
        if (Index != IMAGE_DIRECTORY_ENTRY_SECURITY &&
            !LdrpRangeInside(Directory->VirtualAddress, Directory->Size,
                             Headers->Optional.SizeOfImage)) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
    }
    return STATUS_SUCCESS;
}

NTSTATUS LdrValidateImageEx(const VOID *File, SIZE_T FileSize, PLDR_IMAGE_INFO Info, PCSTR *Defect)
{
    LDRP_HEADERS Headers;
    PCSTR LocalDefect = NULL;
    const IMAGE_DATA_DIRECTORY *Relocations;
    NTSTATUS Status;

    Status = LdrpValidate(File, FileSize, &Headers, &LocalDefect);
    if (Defect != NULL) {
        *Defect = NT_SUCCESS(Status) ? NULL : LocalDefect;
    }
    if (!NT_SUCCESS(Status) || Info == NULL) {
        return Status;
    }
    Relocations = &Headers.Optional.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC];
    Info->ImageBase = Headers.Optional.ImageBase;
    Info->SizeOfImage = Headers.Optional.SizeOfImage;
    Info->SizeOfHeaders = Headers.Optional.SizeOfHeaders;
    Info->EntryPointRva = Headers.Optional.AddressOfEntryPoint;
    Info->Subsystem = Headers.Optional.Subsystem;
    Info->Characteristics = Headers.FileHeader.Characteristics;
    Info->DllCharacteristics = Headers.Optional.DllCharacteristics;
    Info->NumberOfSections = Headers.FileHeader.NumberOfSections;
    Info->HasRelocations = (Headers.FileHeader.Characteristics & IMAGE_FILE_RELOCS_STRIPPED) == 0 &&
                           Relocations->VirtualAddress != 0 &&
                           Relocations->Size >= sizeof(IMAGE_BASE_RELOCATION);
    return STATUS_SUCCESS;
}

NTSTATUS LdrValidateImage(const VOID *File, SIZE_T FileSize, PLDR_IMAGE_INFO Info)
{
    return LdrValidateImageEx(File, FileSize, Info, NULL);
}

/* TRUE when [Rva, Rva + Size) touches a data directory: such a discardable
 * section (lld marks .reloc discardable) must still be mapped. */
static BOOLEAN LdrpOverlapsDirectory(const LDRP_HEADERS *Headers, ULONG Rva, ULONG Size)
{
    ULONG Index;

    for (Index = 0; Index < IMAGE_NUMBEROF_DIRECTORY_ENTRIES; Index++) {
        const IMAGE_DATA_DIRECTORY *Directory = &Headers->Optional.DataDirectory[Index];
        if (Index == IMAGE_DIRECTORY_ENTRY_SECURITY || Directory->Size == 0) {
            continue;
        }
        if ((ULONG64)Directory->VirtualAddress < (ULONG64)Rva + Size &&
            (ULONG64)Rva < (ULONG64)Directory->VirtualAddress + Directory->Size) {
            return TRUE;
        }
    }
    return FALSE;
}

NTSTATUS LdrMapImage(const VOID *File, SIZE_T FileSize, PVOID Destination, SIZE_T DestinationSize)
{
    const UCHAR *Source = File;
    UCHAR *Target = Destination;
    LDRP_HEADERS Headers;
    IMAGE_SECTION_HEADER Section;
    PCSTR Defect;
    NTSTATUS Status;
    ULONG Index;

    Status = LdrpValidate(Source, FileSize, &Headers, &Defect);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    if (Target == NULL || DestinationSize < Headers.Optional.SizeOfImage) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    memset(Target, 0, Headers.Optional.SizeOfImage);
    memcpy(Target, Source, Headers.Optional.SizeOfHeaders);
    for (Index = 0; Index < Headers.FileHeader.NumberOfSections; Index++) {
        ULONG Extent;
        ULONG Copy;

        LdrpReadSection(Source, &Headers, Index, &Section);
        Extent = LdrpSectionExtent(&Section);
        /* Debug information (DWARF .debug_*) is discardable and stays in
         * the file, where symbol lookup reads it. */
        if ((Section.Characteristics & IMAGE_SCN_MEM_DISCARDABLE) != 0 &&
            !LdrpOverlapsDirectory(&Headers, Section.VirtualAddress, Extent)) {
            continue;
        }
        Copy = Section.SizeOfRawData < Extent ? Section.SizeOfRawData : Extent;
        if (Copy != 0) {
            memcpy(Target + Section.VirtualAddress, Source + Section.PointerToRawData, Copy);
        }
    }
    return STATUS_SUCCESS;
}

/* Walks the relocation blocks; applies them only when Apply is TRUE, so a
 * first pass can reject a bad directory before anything is modified. */
static NTSTATUS LdrpWalkRelocations(UCHAR *Image, const LDRP_HEADERS *Headers, ULONG64 Delta,
                                    BOOLEAN Apply)
{
    const IMAGE_DATA_DIRECTORY *Directory =
        &Headers->Optional.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC];
    ULONG SizeOfImage = Headers->Optional.SizeOfImage;
    ULONG64 Offset = Directory->VirtualAddress;
    ULONG64 End = (ULONG64)Directory->VirtualAddress + Directory->Size;

    while (End - Offset >= sizeof(IMAGE_BASE_RELOCATION)) {
        ULONG PageRva = LdrpRead32(Image, Offset);
        ULONG BlockSize = LdrpRead32(Image, Offset + sizeof(ULONG));
        ULONG64 Entry;

        if (BlockSize < sizeof(IMAGE_BASE_RELOCATION) || (BlockSize & 1) != 0 ||
            BlockSize > End - Offset) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        for (Entry = Offset + sizeof(IMAGE_BASE_RELOCATION); Entry < Offset + BlockSize;
             Entry += sizeof(USHORT)) {
            USHORT TypeOffset = LdrpRead16(Image, Entry);
            ULONG64 Target = (ULONG64)PageRva + (TypeOffset & 0xFFF);

            switch (TypeOffset >> 12) {
            case IMAGE_REL_BASED_ABSOLUTE:
                break;
            case IMAGE_REL_BASED_DIR64:
                if (!LdrpRangeInside(Target, sizeof(ULONG64), SizeOfImage)) {
                    return STATUS_INVALID_IMAGE_FORMAT;
                }
                if (Apply) {
                    LdrpWrite64(Image, Target, LdrpRead64(Image, Target) + Delta);
                }
                break;
            case IMAGE_REL_BASED_HIGHLOW:
                if (!LdrpRangeInside(Target, sizeof(ULONG), SizeOfImage)) {
                    return STATUS_INVALID_IMAGE_FORMAT;
                }
                if (Apply) {
                    LdrpWrite32(Image, Target, LdrpRead32(Image, Target) + (ULONG)Delta);
                }
                break;
            default:
                /* HIGH/LOW/HIGHADJ and machine-specific types never occur
                 * in x64 images. */
                return STATUS_INVALID_IMAGE_FORMAT;
            }
        }
        Offset += BlockSize;
    }
    return STATUS_SUCCESS;
}

NTSTATUS LdrRelocateImage(PVOID Mapped, SIZE_T MappedSize, ULONG64 NewBase)
{
    UCHAR *Image = Mapped;
    LDRP_HEADERS Headers;
    const IMAGE_DATA_DIRECTORY *Directory;
    ULONG64 Delta;
    NTSTATUS Status;

    Status = LdrpMappedHeaders(Mapped, MappedSize, &Headers);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    Delta = NewBase - Headers.Optional.ImageBase;
    if (Delta == 0) {
        return STATUS_SUCCESS;
    }
    if ((NewBase & 0xFFF) != 0) {
        return STATUS_INVALID_PARAMETER;
    }
    Directory = &Headers.Optional.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC];
    if ((Headers.FileHeader.Characteristics & IMAGE_FILE_RELOCS_STRIPPED) != 0 ||
        Directory->VirtualAddress == 0 || Directory->Size < sizeof(IMAGE_BASE_RELOCATION)) {
        return STATUS_CONFLICTING_ADDRESSES;
    }
    Status = LdrpWalkRelocations(Image, &Headers, Delta, FALSE);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    LdrpWalkRelocations(Image, &Headers, Delta, TRUE);
    /* The mapped header records where the image now runs, so a later
     * relocation (or a debugger) computes from the right base. */
    LdrpWrite64(Image,
                Headers.NtOffset + FIELD_OFFSET(IMAGE_NT_HEADERS64, OptionalHeader) +
                    FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, ImageBase),
                NewBase);
    return STATUS_SUCCESS;
}

NTSTATUS LdrBindImports(PVOID Mapped, SIZE_T MappedSize, LDR_IMPORT_RESOLVER *Resolver,
                        PVOID Context, PCHAR FailedDll, SIZE_T FailedDllSize, PCHAR FailedName,
                        SIZE_T FailedNameSize)
{
    UCHAR *Image = Mapped;
    LDRP_HEADERS Headers;
    const IMAGE_DATA_DIRECTORY *Directory;
    ULONG SizeOfImage;
    ULONG Descriptor;
    NTSTATUS Status;

    LdrpCopyName(FailedDll, FailedDllSize, NULL, 0);
    LdrpCopyName(FailedName, FailedNameSize, NULL, 0);
    Status = LdrpMappedHeaders(Mapped, MappedSize, &Headers);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    if (Resolver == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    SizeOfImage = Headers.Optional.SizeOfImage;
    Directory = &Headers.Optional.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
    if (Directory->VirtualAddress == 0 || Directory->Size == 0) {
        return STATUS_SUCCESS;
    }

    /* The descriptor array ends with a zeroed entry; linkers do not always
     * count it in the directory size, so the image bounds the walk. */
    for (Descriptor = 0; Descriptor < LDRP_MAX_IMPORT_DESCRIPTORS; Descriptor++) {
        IMAGE_IMPORT_DESCRIPTOR Import;
        ULONG64 DescriptorOffset =
            (ULONG64)Directory->VirtualAddress + (ULONG64)Descriptor * sizeof(Import);
        LONG_PTR DllLength;
        ULONG LookupRva;
        ULONG Thunk;

        if (!LdrpRangeInside(DescriptorOffset, sizeof(Import), SizeOfImage)) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        __builtin_memcpy(&Import, Image + DescriptorOffset, sizeof(Import));
        if (Import.Name == 0 && Import.FirstThunk == 0) {
            return STATUS_SUCCESS;
        }
        DllLength = LdrpStringLength(Image, SizeOfImage, Import.Name, LDRP_MAX_NAME);
        if (Import.Name == 0 || DllLength <= 0 || Import.FirstThunk == 0) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        LookupRva = Import.OriginalFirstThunk != 0 ? Import.OriginalFirstThunk : Import.FirstThunk;

        for (Thunk = 0; Thunk < LDRP_MAX_THUNKS; Thunk++) {
            ULONG64 LookupOffset = (ULONG64)LookupRva + (ULONG64)Thunk * sizeof(ULONG64);
            ULONG64 IatOffset = (ULONG64)Import.FirstThunk + (ULONG64)Thunk * sizeof(ULONG64);
            ULONG64 Value;
            ULONG64 Address = 0;
            PCSTR Name = NULL;
            USHORT Ordinal = 0;

            if (!LdrpRangeInside(LookupOffset, sizeof(ULONG64), SizeOfImage) ||
                !LdrpRangeInside(IatOffset, sizeof(ULONG64), SizeOfImage)) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            Value = LdrpRead64(Image, LookupOffset);
            if (Value == 0) {
                break;
            }
            if (IMAGE_SNAP_BY_ORDINAL64(Value)) {
                /* Bits 16-62 must be zero for an ordinal import. */
                if ((Value & ~(IMAGE_ORDINAL_FLAG64 | 0xFFFFULL)) != 0) {
                    return STATUS_INVALID_IMAGE_FORMAT;
                }
                Ordinal = (USHORT)IMAGE_ORDINAL64(Value);
            } else {
                ULONG64 NameOffset = Value + FIELD_OFFSET(IMAGE_IMPORT_BY_NAME, Name);
                if (Value > MAXULONG || NameOffset >= SizeOfImage ||
                    LdrpStringLength(Image, SizeOfImage, NameOffset, LDRP_MAX_NAME) <= 0) {
                    return STATUS_INVALID_IMAGE_FORMAT;
                }
                Name = (PCSTR)(Image + NameOffset);
            }
            Status = Resolver(Context, (PCSTR)(Image + Import.Name), Name, Ordinal, &Address);
            if (!NT_SUCCESS(Status)) {
                LdrpCopyName(FailedDll, FailedDllSize, (PCSTR)(Image + Import.Name),
                             (SIZE_T)DllLength);
                if (Name != NULL) {
                    LdrpCopyName(FailedName, FailedNameSize, Name, LdrpCStringLength(Name));
                } else if (FailedName != NULL && FailedNameSize != 0) {
                    /* "#<ordinal>", the way NT names ordinal imports. */
                    CHAR Text[8];
                    SIZE_T Length = 0;
                    ULONG Divisor;
                    Text[Length++] = '#';
                    for (Divisor = 10000; Divisor != 0; Divisor /= 10) {
                        if (Ordinal / Divisor != 0 || Divisor == 1 || Length > 1) {
                            Text[Length++] = (CHAR)('0' + (Ordinal / Divisor) % 10);
                        }
                    }
                    LdrpCopyName(FailedName, FailedNameSize, Text, Length);
                }
                return Status;
            }
            LdrpWrite64(Image, IatOffset, Address);
        }
        if (Thunk == LDRP_MAX_THUNKS) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
    }
    return STATUS_INVALID_IMAGE_FORMAT;
}

/* Compares the caller's Name with the NUL-terminated export name at
 * Offset (known to be terminated inside the image): <0, 0, >0. */
static int LdrpCompareName(const UCHAR *Image, ULONG64 Offset, PCSTR Name)
{
    const UCHAR *Left = (const UCHAR *)Name;
    const UCHAR *Right = Image + Offset;

    while (*Left != 0 && *Left == *Right) {
        Left++;
        Right++;
    }
    return (int)*Left - (int)*Right;
}

NTSTATUS LdrFindExport(const VOID *Mapped, SIZE_T MappedSize, PCSTR Name, PVOID *Address)
{
    const UCHAR *Image = Mapped;
    LDRP_HEADERS Headers;
    const IMAGE_DATA_DIRECTORY *Directory;
    IMAGE_EXPORT_DIRECTORY Exports;
    ULONG SizeOfImage;
    ULONG Low;
    ULONG High;
    NTSTATUS Status;

    if (Address != NULL) {
        *Address = NULL;
    }
    if (Name == NULL || Address == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    Status = LdrpMappedHeaders(Mapped, MappedSize, &Headers);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    SizeOfImage = Headers.Optional.SizeOfImage;
    Directory = &Headers.Optional.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
    if (Directory->VirtualAddress == 0 || Directory->Size < sizeof(Exports)) {
        return STATUS_ENTRYPOINT_NOT_FOUND;
    }
    __builtin_memcpy(&Exports, Image + Directory->VirtualAddress, sizeof(Exports));
    if (!LdrpRangeInside(Exports.AddressOfNames, (ULONG64)Exports.NumberOfNames * sizeof(ULONG),
                         SizeOfImage) ||
        !LdrpRangeInside(Exports.AddressOfNameOrdinals,
                         (ULONG64)Exports.NumberOfNames * sizeof(USHORT), SizeOfImage) ||
        !LdrpRangeInside(Exports.AddressOfFunctions,
                         (ULONG64)Exports.NumberOfFunctions * sizeof(ULONG), SizeOfImage)) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }

    /* The name table is sorted (the format requires it); an unsorted one
     * just makes names unfindable, never an out-of-range read. */
    Low = 0;
    High = Exports.NumberOfNames;
    while (Low < High) {
        ULONG Middle = Low + (High - Low) / 2;
        ULONG NameRva = LdrpRead32(Image, (ULONG64)Exports.AddressOfNames + Middle * 4ULL);
        int Order;

        if (LdrpStringLength(Image, SizeOfImage, NameRva, LDRP_MAX_NAME) < 0) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        Order = LdrpCompareName(Image, NameRva, Name);
        if (Order == 0) {
            USHORT Index =
                LdrpRead16(Image, (ULONG64)Exports.AddressOfNameOrdinals + Middle * 2ULL);
            ULONG FunctionRva;

            if (Index >= Exports.NumberOfFunctions) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            FunctionRva = LdrpRead32(Image, (ULONG64)Exports.AddressOfFunctions + Index * 4ULL);
            if (FunctionRva == 0) {
                return STATUS_ENTRYPOINT_NOT_FOUND;
            }
            /* An RVA inside the export directory names a forwarder
             * ("Module.Symbol"), which this loader does not follow. */
            if (FunctionRva >= Directory->VirtualAddress &&
                FunctionRva < (ULONG64)Directory->VirtualAddress + Directory->Size) {
                return STATUS_NOT_SUPPORTED;
            }
            if (FunctionRva >= SizeOfImage) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            *Address = (PVOID)(Image + FunctionRva);
            return STATUS_SUCCESS;
        }
        if (Order < 0) {
            High = Middle;
        } else {
            Low = Middle + 1;
        }
    }
    return STATUS_ENTRYPOINT_NOT_FOUND;
}

/* The name of a COFF symbol: inline (up to 8 bytes, maybe unterminated)
 * or at an offset into the string table. FALSE when it is out of range. */
static BOOLEAN LdrpSymbolName(const UCHAR *File, const IMAGE_SYMBOL *Symbol, ULONG64 StringTable,
                              ULONG64 StringTableSize, PCSTR *Name, SIZE_T *Length)
{
    if (Symbol->N.Name.Short == 0) {
        LONG_PTR NameLength;

        if (Symbol->N.Name.Long < sizeof(ULONG) || Symbol->N.Name.Long >= StringTableSize) {
            return FALSE;
        }
        NameLength = LdrpStringLength(File, StringTable + StringTableSize,
                                      StringTable + Symbol->N.Name.Long, LDRP_MAX_NAME);
        if (NameLength <= 0) {
            return FALSE;
        }
        *Name = (PCSTR)(File + StringTable + Symbol->N.Name.Long);
        *Length = (SIZE_T)NameLength;
        return TRUE;
    }
    *Name = (PCSTR)Symbol->N.ShortName;
    *Length = 0;
    while (*Length < sizeof(Symbol->N.ShortName) && Symbol->N.ShortName[*Length] != 0) {
        (*Length)++;
    }
    return TRUE;
}

BOOLEAN LdrLookupSymbol(const VOID *File, SIZE_T FileSize, ULONG Rva, PCHAR Name, SIZE_T NameSize,
                        PULONG Displacement)
{
    const UCHAR *Source = File;
    LDRP_HEADERS Headers;
    IMAGE_SECTION_HEADER Section;
    IMAGE_SYMBOL Symbol;
    IMAGE_SYMBOL BestSymbol;
    PCSTR Defect;
    PCSTR SymbolName;
    SIZE_T SymbolNameLength;
    ULONG64 SymbolTable;
    ULONG64 SymbolCount;
    ULONG64 StringTable;
    ULONG64 StringTableSize = 0;
    ULONG64 Index;
    ULONG64 Next;
    ULONG BestRva = 0;
    BOOLEAN Found = FALSE;
    BOOLEAN BestExternal = FALSE;

    if (!NT_SUCCESS(LdrpValidate(Source, FileSize, &Headers, &Defect))) {
        return FALSE;
    }
    SymbolTable = Headers.FileHeader.PointerToSymbolTable;
    SymbolCount = Headers.FileHeader.NumberOfSymbols;
    if (SymbolTable == 0 || SymbolCount == 0 ||
        !LdrpRangeInside(SymbolTable, SymbolCount * IMAGE_SIZEOF_SYMBOL, FileSize)) {
        return FALSE;
    }
    /* The string table follows the symbols; its ULONG size counts itself. */
    StringTable = SymbolTable + SymbolCount * IMAGE_SIZEOF_SYMBOL;
    if (LdrpRangeInside(StringTable, sizeof(ULONG), FileSize)) {
        StringTableSize = LdrpRead32(Source, StringTable);
        if (StringTableSize < sizeof(ULONG) ||
            !LdrpRangeInside(StringTable, StringTableSize, FileSize)) {
            StringTableSize = 0;
        }
    }

    for (Index = 0; Index < SymbolCount; Index = Next) {
        ULONG64 SymbolRva;
        BOOLEAN External;

        __builtin_memcpy(&Symbol, Source + SymbolTable + Index * IMAGE_SIZEOF_SYMBOL,
                         sizeof(Symbol));
        /* Auxiliary records belong to the symbol before them. */
        Next = Index + 1 + Symbol.NumberOfAuxSymbols;
        if (Symbol.SectionNumber <= 0 ||
            Symbol.SectionNumber > (SHORT)Headers.FileHeader.NumberOfSections) {
            continue;
        }
        if (Symbol.StorageClass != IMAGE_SYM_CLASS_EXTERNAL &&
            Symbol.StorageClass != IMAGE_SYM_CLASS_STATIC &&
            Symbol.StorageClass != IMAGE_SYM_CLASS_LABEL &&
            Symbol.StorageClass != IMAGE_SYM_CLASS_FUNCTION) {
            continue;
        }
        LdrpReadSection(Source, &Headers, (ULONG)(Symbol.SectionNumber - 1), &Section);
        if ((Section.Characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE)) == 0) {
            continue;
        }
        /* Only symbols of the section that contains Rva: a symbol of an
         * earlier section would give a meaningless displacement. */
        if (Rva < Section.VirtualAddress ||
            Rva >= (ULONG64)Section.VirtualAddress + LdrpSectionExtent(&Section)) {
            continue;
        }
        SymbolRva = (ULONG64)Section.VirtualAddress + Symbol.Value;
        if (SymbolRva > Rva) {
            continue;
        }
        /* Nearest wins; at the same address a public name beats a static. */
        External = Symbol.StorageClass == IMAGE_SYM_CLASS_EXTERNAL;
        if (Found &&
            (SymbolRva < BestRva || (SymbolRva == BestRva && (BestExternal || !External)))) {
            continue;
        }
        if (!LdrpSymbolName(Source, &Symbol, StringTable, StringTableSize, &SymbolName,
                            &SymbolNameLength) ||
            SymbolNameLength == 0) {
            continue;
        }
        /* Section symbols and assembler-local labels name no function. */
        if (SymbolName[0] == '.') {
            continue;
        }
        Found = TRUE;
        BestSymbol = Symbol;
        BestRva = (ULONG)SymbolRva;
        BestExternal = External;
    }
    if (!Found) {
        return FALSE;
    }
    LdrpSymbolName(Source, &BestSymbol, StringTable, StringTableSize, &SymbolName,
                   &SymbolNameLength);
    LdrpCopyName(Name, NameSize, SymbolName, SymbolNameLength);
    if (Displacement != NULL) {
        *Displacement = Rva - BestRva;
    }
    return TRUE;
}

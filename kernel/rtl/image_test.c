/*
 * image_test.c - ktest cases for the PE image routines (image.c): a small
 * synthetic PE32+ image built in memory (code, data with a relocated
 * pointer, imports, exports with a forwarder, a discardable .reloc, a
 * discardable .debug section and a COFF symbol table), then every kind of
 * corruption the loader must reject without touching memory it should not.
 */
#include <ntddk.h>
#include <ldr.h>
#include <ktest.h>

#define TI_BASE          0x140000000ULL
#define TI_SIZE_OF_IMAGE 0x6000
#define TI_FILE_SIZE     0x1200
#define TI_NT_OFFSET     0x40
#define TI_SECTIONS      (TI_NT_OFFSET + sizeof(IMAGE_NT_HEADERS64))
#define TI_SYMBOLS       0x1000

/* Section indexes of the synthetic image. */
enum { TiText, TiData, TiRdata, TiReloc, TiDebug, TiSectionCount };

static DECLSPEC_ALIGN(16) UCHAR TiFile[TI_FILE_SIZE];
static DECLSPEC_ALIGN(4096) UCHAR TiMapped[TI_SIZE_OF_IMAGE];

static PIMAGE_NT_HEADERS64 TiNt(VOID)
{
    return (PIMAGE_NT_HEADERS64)(TiFile + TI_NT_OFFSET);
}

static PIMAGE_SECTION_HEADER TiSection(ULONG Index)
{
    return (PIMAGE_SECTION_HEADER)(TiFile + TI_SECTIONS) + Index;
}

/* File offset of an RVA inside one of the sections laid out below. */
static UCHAR *TiAt(ULONG Rva)
{
    ULONG Index;

    for (Index = 0; Index < TiSectionCount; Index++) {
        PIMAGE_SECTION_HEADER Section = TiSection(Index);
        if (Rva >= Section->VirtualAddress &&
            Rva < Section->VirtualAddress + Section->SizeOfRawData) {
            return TiFile + Section->PointerToRawData + (Rva - Section->VirtualAddress);
        }
    }
    return NULL;
}

static VOID TiAddSection(ULONG Index, const char *Name, ULONG Rva, ULONG Raw, ULONG Size,
                         ULONG Flags)
{
    PIMAGE_SECTION_HEADER Section = TiSection(Index);

    memcpy(Section->Name, Name, strlen(Name));
    Section->Misc.VirtualSize = Size;
    Section->VirtualAddress = Rva;
    Section->SizeOfRawData = Size;
    Section->PointerToRawData = Raw;
    Section->Characteristics = Flags;
}

static VOID TiAddSymbol(ULONG Index, const char *ShortName, ULONG LongOffset, ULONG Value,
                        SHORT SectionNumber, USHORT Type, UCHAR Class, UCHAR Aux)
{
    IMAGE_SYMBOL Symbol;

    memset(&Symbol, 0, sizeof(Symbol));
    if (ShortName != NULL) {
        memcpy(Symbol.N.ShortName, ShortName, strlen(ShortName));
    } else {
        Symbol.N.Name.Long = LongOffset;
    }
    Symbol.Value = Value;
    Symbol.SectionNumber = SectionNumber;
    Symbol.Type = Type;
    Symbol.StorageClass = Class;
    Symbol.NumberOfAuxSymbols = Aux;
    memcpy(TiFile + TI_SYMBOLS + Index * IMAGE_SIZEOF_SYMBOL, &Symbol, sizeof(Symbol));
}

/* Builds the reference image:
 *   .text  0x1000  Start at +0, VeryLongFunctionName at +0x40
 *   .data  0x2000  a pointer to .text+0x10 (relocated), the IAT at +0x100
 *   .rdata 0x3000  import descriptors, names, export directory
 *   .reloc 0x4000  one DIR64 fixup (discardable, must still be mapped)
 *   .debug 0x5000  discardable, not mapped
 * then a COFF symbol table and string table at file offset 0x1000. */
static VOID TiBuild(VOID)
{
    PIMAGE_DOS_HEADER Dos = (PIMAGE_DOS_HEADER)TiFile;
    PIMAGE_NT_HEADERS64 Nt = TiNt();
    PIMAGE_IMPORT_DESCRIPTOR Import;
    PIMAGE_EXPORT_DIRECTORY Export;
    PIMAGE_BASE_RELOCATION Reloc;
    ULONG64 *Thunks;
    ULONG *Functions;
    ULONG *Names;
    USHORT *Ordinals;
    ULONG64 Pointer = TI_BASE + 0x1010;
    ULONG StringTableSize;
    static const char LongName[] = "VeryLongFunctionName";

    memset(TiFile, 0, sizeof(TiFile));
    Dos->e_magic = IMAGE_DOS_SIGNATURE;
    Dos->e_lfanew = TI_NT_OFFSET;
    Nt->Signature = IMAGE_NT_SIGNATURE;
    Nt->FileHeader.Machine = IMAGE_FILE_MACHINE_AMD64;
    Nt->FileHeader.NumberOfSections = TiSectionCount;
    Nt->FileHeader.SizeOfOptionalHeader = sizeof(IMAGE_OPTIONAL_HEADER64);
    Nt->FileHeader.Characteristics = IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_LARGE_ADDRESS_AWARE;
    Nt->FileHeader.PointerToSymbolTable = TI_SYMBOLS;
    Nt->FileHeader.NumberOfSymbols = 6;
    Nt->OptionalHeader.Magic = IMAGE_NT_OPTIONAL_HDR64_MAGIC;
    Nt->OptionalHeader.AddressOfEntryPoint = 0x1000;
    Nt->OptionalHeader.ImageBase = TI_BASE;
    Nt->OptionalHeader.SectionAlignment = 0x1000;
    Nt->OptionalHeader.FileAlignment = 0x200;
    Nt->OptionalHeader.SizeOfImage = TI_SIZE_OF_IMAGE;
    Nt->OptionalHeader.SizeOfHeaders = 0x400;
    Nt->OptionalHeader.Subsystem = IMAGE_SUBSYSTEM_NATIVE;
    Nt->OptionalHeader.DllCharacteristics = IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE;
    Nt->OptionalHeader.NumberOfRvaAndSizes = IMAGE_NUMBEROF_DIRECTORY_ENTRIES;
    Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT].VirtualAddress = 0x3000;
    Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT].Size = 40;
    Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT].VirtualAddress = 0x3200;
    Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT].Size = 0xC0;
    Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC].VirtualAddress = 0x4000;
    Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC].Size = 12;

    TiAddSection(TiText, ".text", 0x1000, 0x400, 0x200,
                 IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ);
    TiAddSection(TiData, ".data", 0x2000, 0x600, 0x200,
                 IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE);
    TiAddSection(TiRdata, ".rdata", 0x3000, 0x800, 0x400,
                 IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ);
    TiAddSection(TiReloc, ".reloc", 0x4000, 0xC00, 0x200,
                 IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_DISCARDABLE);
    TiAddSection(TiDebug, ".debug", 0x5000, 0xE00, 0x200,
                 IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_DISCARDABLE);

    memset(TiAt(0x1000), 0xC3, 0x200); /* ret */
    memcpy(TiAt(0x2000), &Pointer, sizeof(Pointer));
    memset(TiAt(0x5000), 0xDB, 0x200);

    /* Imports: ntoskrnl.exe!DbgPrint by name and ordinal 5. */
    Import = (PIMAGE_IMPORT_DESCRIPTOR)TiAt(0x3000);
    Import->OriginalFirstThunk = 0x3100;
    Import->Name = 0x3180;
    Import->FirstThunk = 0x2100;
    Thunks = (ULONG64 *)TiAt(0x3100);
    Thunks[0] = 0x3140;
    Thunks[1] = IMAGE_ORDINAL_FLAG64 | 5;
    memcpy(TiAt(0x2100), Thunks, 2 * sizeof(ULONG64));
    memcpy(TiAt(0x3142), "DbgPrint", 9);
    memcpy(TiAt(0x3180), "ntoskrnl.exe", 13);

    /* Exports: Alpha, Beta and a forwarder, names sorted. */
    Export = (PIMAGE_EXPORT_DIRECTORY)TiAt(0x3200);
    Export->Name = 0x3280;
    Export->Base = 1;
    Export->NumberOfFunctions = 3;
    Export->NumberOfNames = 3;
    Export->AddressOfFunctions = 0x3240;
    Export->AddressOfNames = 0x3250;
    Export->AddressOfNameOrdinals = 0x3260;
    Functions = (ULONG *)TiAt(0x3240);
    Functions[0] = 0x1000;
    Functions[1] = 0x1040;
    Functions[2] = 0x3290;
    Names = (ULONG *)TiAt(0x3250);
    Names[0] = 0x32A0;
    Names[1] = 0x32A8;
    Names[2] = 0x32B0;
    Ordinals = (USHORT *)TiAt(0x3260);
    Ordinals[0] = 0;
    Ordinals[1] = 1;
    Ordinals[2] = 2;
    memcpy(TiAt(0x3280), "test.sys", 9);
    memcpy(TiAt(0x3290), "ntoskrnl.Foo", 13);
    memcpy(TiAt(0x32A0), "Alpha", 6);
    memcpy(TiAt(0x32A8), "Beta", 5);
    memcpy(TiAt(0x32B0), "Fwd", 4);

    /* One relocation block: DIR64 at .data+0, then padding. */
    Reloc = (PIMAGE_BASE_RELOCATION)TiAt(0x4000);
    Reloc->VirtualAddress = 0x2000;
    Reloc->SizeOfBlock = 12;
    ((USHORT *)(Reloc + 1))[0] = (IMAGE_REL_BASED_DIR64 << 12) | 0;
    ((USHORT *)(Reloc + 1))[1] = IMAGE_REL_BASED_ABSOLUTE << 12;

    /* Symbols: a section symbol with an aux record, two functions, a data
     * symbol, a label in .text. */
    TiAddSymbol(0, ".text", 0, 0, 1, 0, IMAGE_SYM_CLASS_STATIC, 1);
    TiAddSymbol(2, "Start", 0, 0, 1, 0x20, IMAGE_SYM_CLASS_EXTERNAL, 0);
    TiAddSymbol(3, NULL, 4, 0x40, 1, 0x20, IMAGE_SYM_CLASS_EXTERNAL, 0);
    TiAddSymbol(4, "DataSym", 0, 0, 2, 0, IMAGE_SYM_CLASS_EXTERNAL, 0);
    TiAddSymbol(5, "Label8ch", 0, 0x80, 1, 0, IMAGE_SYM_CLASS_STATIC, 0);
    StringTableSize = 4 + sizeof(LongName);
    memcpy(TiFile + TI_SYMBOLS + 6 * IMAGE_SIZEOF_SYMBOL, &StringTableSize, 4);
    memcpy(TiFile + TI_SYMBOLS + 6 * IMAGE_SIZEOF_SYMBOL + 4, LongName, sizeof(LongName));
}

static NTSTATUS TiMap(VOID)
{
    return LdrMapImage(TiFile, sizeof(TiFile), TiMapped, sizeof(TiMapped));
}

KTEST(ldr_image, validate_reference_image)
{
    LDR_IMAGE_INFO Info;
    PCSTR Defect = "unset";

    TiBuild();
    KT_ASSERT_SUCCESS(LdrValidateImageEx(TiFile, sizeof(TiFile), &Info, &Defect));
    KT_EXPECT_NULL(Defect);
    KT_EXPECT_EQ(Info.ImageBase, TI_BASE);
    KT_EXPECT_EQ(Info.SizeOfImage, TI_SIZE_OF_IMAGE);
    KT_EXPECT_EQ(Info.SizeOfHeaders, 0x400);
    KT_EXPECT_EQ(Info.EntryPointRva, 0x1000);
    KT_EXPECT_EQ(Info.Subsystem, IMAGE_SUBSYSTEM_NATIVE);
    KT_EXPECT_EQ(Info.NumberOfSections, TiSectionCount);
    KT_EXPECT_TRUE(Info.HasRelocations);
    KT_EXPECT_SUCCESS(LdrValidateImage(TiFile, sizeof(TiFile), NULL));
}

KTEST(ldr_image, map_copies_sections_and_skips_debug)
{
    TiBuild();
    memset(TiMapped, 0xAA, sizeof(TiMapped));
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_EQ(memcmp(TiMapped, TiFile, 0x400), 0);
    KT_EXPECT_EQ(TiMapped[0x1000], 0xC3);
    KT_EXPECT_EQ(TiMapped[0x11FF], 0xC3);
    /* Past the raw data, the section and the gaps are zero-filled. */
    KT_EXPECT_EQ(TiMapped[0x1200], 0);
    KT_EXPECT_EQ(TiMapped[0x0FFF], 0);
    /* .reloc is discardable but holds a directory, so it is mapped. */
    KT_EXPECT_EQ(memcmp(TiMapped + 0x4000, TiAt(0x4000), 12), 0);
    /* .debug is discardable and is not. */
    KT_EXPECT_EQ(TiMapped[0x5000], 0);
    KT_EXPECT_STATUS(LdrMapImage(TiFile, sizeof(TiFile), TiMapped, TI_SIZE_OF_IMAGE - 1),
                     STATUS_BUFFER_TOO_SMALL);
}

KTEST(ldr_image, relocate_applies_dir64)
{
    ULONG64 Pointer;
    ULONG64 Base;

    TiBuild();
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_SUCCESS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE));
    memcpy(&Pointer, TiMapped + 0x2000, 8);
    KT_EXPECT_EQ(Pointer, TI_BASE + 0x1010);

    KT_EXPECT_SUCCESS(LdrRelocateImage(TiMapped, sizeof(TiMapped), 0xFFFFF80000400000ULL));
    memcpy(&Pointer, TiMapped + 0x2000, 8);
    KT_EXPECT_EQ(Pointer, 0xFFFFF80000400000ULL + 0x1010);
    /* The mapped header now records the new base... */
    memcpy(&Base,
           TiMapped + TI_NT_OFFSET + FIELD_OFFSET(IMAGE_NT_HEADERS64, OptionalHeader) +
               FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, ImageBase),
           8);
    KT_EXPECT_EQ(Base, 0xFFFFF80000400000ULL);
    /* ...so moving it back restores the original value. */
    KT_EXPECT_SUCCESS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE));
    memcpy(&Pointer, TiMapped + 0x2000, 8);
    KT_EXPECT_EQ(Pointer, TI_BASE + 0x1010);
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x123),
                     STATUS_INVALID_PARAMETER);
}

KTEST(ldr_image, relocate_without_relocations)
{
    TiBuild();
    TiNt()->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC].VirtualAddress = 0;
    TiNt()->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC].Size = 0;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_SUCCESS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE));
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x10000),
                     STATUS_CONFLICTING_ADDRESSES);

    TiBuild();
    TiNt()->FileHeader.Characteristics |= IMAGE_FILE_RELOCS_STRIPPED;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x10000),
                     STATUS_CONFLICTING_ADDRESSES);
}

KTEST(ldr_image, relocation_blocks_out_of_range)
{
    PIMAGE_BASE_RELOCATION Reloc;
    ULONG64 Pointer;

    /* A block larger than the directory. */
    TiBuild();
    Reloc = (PIMAGE_BASE_RELOCATION)TiAt(0x4000);
    Reloc->SizeOfBlock = 0x1000;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x10000),
                     STATUS_INVALID_IMAGE_FORMAT);
    /* Nothing was half-applied. */
    memcpy(&Pointer, TiMapped + 0x2000, 8);
    KT_EXPECT_EQ(Pointer, TI_BASE + 0x1010);

    /* A block smaller than its header (would never advance). */
    TiBuild();
    ((PIMAGE_BASE_RELOCATION)TiAt(0x4000))->SizeOfBlock = 0;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x10000),
                     STATUS_INVALID_IMAGE_FORMAT);

    /* A fixup target past the end of the image. */
    TiBuild();
    ((PIMAGE_BASE_RELOCATION)TiAt(0x4000))->VirtualAddress = TI_SIZE_OF_IMAGE - 0x1000;
    ((USHORT *)TiAt(0x4008))[0] = (IMAGE_REL_BASED_DIR64 << 12) | 0xFFC;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x10000),
                     STATUS_INVALID_IMAGE_FORMAT);

    /* A page RVA far outside the image. */
    TiBuild();
    ((PIMAGE_BASE_RELOCATION)TiAt(0x4000))->VirtualAddress = 0xFFFFF000;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x10000),
                     STATUS_INVALID_IMAGE_FORMAT);

    /* An unknown relocation type. */
    TiBuild();
    ((USHORT *)TiAt(0x4008))[0] = (7 << 12) | 0;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrRelocateImage(TiMapped, sizeof(TiMapped), TI_BASE + 0x10000),
                     STATUS_INVALID_IMAGE_FORMAT);
}

typedef struct _TI_RESOLVER_LOG {
    ULONG Calls;
    ULONG FailOn; /* call number that fails, 0 = none */
    CHAR LastDll[32];
    CHAR LastName[32];
    USHORT LastOrdinal;
} TI_RESOLVER_LOG;

static NTSTATUS TiResolver(PVOID Context, PCSTR DllName, PCSTR Name, USHORT Ordinal,
                           PULONG64 Address)
{
    TI_RESOLVER_LOG *Log = Context;
    SIZE_T Length;

    Log->Calls++;
    Length =
        strlen(DllName) < sizeof(Log->LastDll) - 1 ? strlen(DllName) : sizeof(Log->LastDll) - 1;
    memcpy(Log->LastDll, DllName, Length);
    Log->LastDll[Length] = 0;
    Log->LastName[0] = 0;
    if (Name != NULL) {
        Length =
            strlen(Name) < sizeof(Log->LastName) - 1 ? strlen(Name) : sizeof(Log->LastName) - 1;
        memcpy(Log->LastName, Name, Length);
        Log->LastName[Length] = 0;
    }
    Log->LastOrdinal = Ordinal;
    if (Log->Calls == Log->FailOn) {
        return STATUS_ENTRYPOINT_NOT_FOUND;
    }
    *Address = 0xFFFFF80000500000ULL + Log->Calls;
    return STATUS_SUCCESS;
}

KTEST(ldr_image, bind_imports_fills_iat)
{
    TI_RESOLVER_LOG Log;
    ULONG64 Iat[3];

    TiBuild();
    KT_ASSERT_SUCCESS(TiMap());
    memset(&Log, 0, sizeof(Log));
    KT_ASSERT_SUCCESS(
        LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, NULL, 0, NULL, 0));
    KT_EXPECT_EQ(Log.Calls, 2);
    KT_EXPECT_STREQ(Log.LastDll, "ntoskrnl.exe");
    KT_EXPECT_EQ(Log.LastOrdinal, 5);
    KT_EXPECT_STREQ(Log.LastName, "");
    memcpy(Iat, TiMapped + 0x2100, sizeof(Iat));
    KT_EXPECT_EQ(Iat[0], 0xFFFFF80000500001ULL);
    KT_EXPECT_EQ(Iat[1], 0xFFFFF80000500002ULL);
    KT_EXPECT_EQ(Iat[2], 0);
}

KTEST(ldr_image, bind_imports_reports_failure)
{
    TI_RESOLVER_LOG Log;
    CHAR Dll[8];
    CHAR Name[32];

    TiBuild();
    KT_ASSERT_SUCCESS(TiMap());
    memset(&Log, 0, sizeof(Log));
    Log.FailOn = 1;
    KT_EXPECT_STATUS(LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, Dll, sizeof(Dll),
                                    Name, sizeof(Name)),
                     STATUS_ENTRYPOINT_NOT_FOUND);
    KT_EXPECT_STREQ(Dll, "ntoskrn"); /* truncated to the buffer, terminated */
    KT_EXPECT_STREQ(Name, "DbgPrint");

    memset(&Log, 0, sizeof(Log));
    Log.FailOn = 2;
    KT_EXPECT_STATUS(
        LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, NULL, 0, Name, sizeof(Name)),
        STATUS_ENTRYPOINT_NOT_FOUND);
    KT_EXPECT_STREQ(Name, "#5");
}

KTEST(ldr_image, bind_imports_names_out_of_range)
{
    TI_RESOLVER_LOG Log;

    /* Hint/name RVA past the image. */
    TiBuild();
    ((ULONG64 *)TiAt(0x3100))[0] = TI_SIZE_OF_IMAGE - 1;
    KT_ASSERT_SUCCESS(TiMap());
    memset(&Log, 0, sizeof(Log));
    KT_EXPECT_STATUS(LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, NULL, 0, NULL, 0),
                     STATUS_INVALID_IMAGE_FORMAT);
    KT_EXPECT_EQ(Log.Calls, 0);

    /* A name that runs to the end of the image without a terminator. */
    TiBuild();
    ((ULONG64 *)TiAt(0x3100))[0] = TI_SIZE_OF_IMAGE - 0x10;
    KT_ASSERT_SUCCESS(TiMap());
    memset(TiMapped + TI_SIZE_OF_IMAGE - 0x10, 'A', 0x10);
    KT_EXPECT_STATUS(LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, NULL, 0, NULL, 0),
                     STATUS_INVALID_IMAGE_FORMAT);

    /* A huge name RVA (bit 62 set, not an ordinal). */
    TiBuild();
    ((ULONG64 *)TiAt(0x3100))[0] = 0x4000000000003140ULL;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, NULL, 0, NULL, 0),
                     STATUS_INVALID_IMAGE_FORMAT);

    /* The module name out of range. */
    TiBuild();
    ((PIMAGE_IMPORT_DESCRIPTOR)TiAt(0x3000))->Name = 0x7FFFFFFF;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, NULL, 0, NULL, 0),
                     STATUS_INVALID_IMAGE_FORMAT);

    /* The IAT out of range. */
    TiBuild();
    ((PIMAGE_IMPORT_DESCRIPTOR)TiAt(0x3000))->FirstThunk = TI_SIZE_OF_IMAGE - 4;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrBindImports(TiMapped, sizeof(TiMapped), TiResolver, &Log, NULL, 0, NULL, 0),
                     STATUS_INVALID_IMAGE_FORMAT);
}

KTEST(ldr_image, find_export)
{
    PVOID Address;

    TiBuild();
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_SUCCESS(LdrFindExport(TiMapped, sizeof(TiMapped), "Alpha", &Address));
    KT_EXPECT_EQ(Address, TiMapped + 0x1000);
    KT_EXPECT_SUCCESS(LdrFindExport(TiMapped, sizeof(TiMapped), "Beta", &Address));
    KT_EXPECT_EQ(Address, TiMapped + 0x1040);
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Fwd", &Address),
                     STATUS_NOT_SUPPORTED);
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Alph", &Address),
                     STATUS_ENTRYPOINT_NOT_FOUND);
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Alphab", &Address),
                     STATUS_ENTRYPOINT_NOT_FOUND);
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "", &Address),
                     STATUS_ENTRYPOINT_NOT_FOUND);
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Zeta", &Address),
                     STATUS_ENTRYPOINT_NOT_FOUND);
    KT_EXPECT_NULL(Address);
}

KTEST(ldr_image, find_export_out_of_range)
{
    PVOID Address;

    TiBuild();
    ((PIMAGE_EXPORT_DIRECTORY)TiAt(0x3200))->AddressOfNames = TI_SIZE_OF_IMAGE - 4;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Alpha", &Address),
                     STATUS_INVALID_IMAGE_FORMAT);

    TiBuild();
    ((PIMAGE_EXPORT_DIRECTORY)TiAt(0x3200))->NumberOfNames = 0x40000000;
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Alpha", &Address),
                     STATUS_INVALID_IMAGE_FORMAT);

    TiBuild();
    ((ULONG *)TiAt(0x3250))[1] = 0x7FFFFFF0; /* name RVA of "Beta" */
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Beta", &Address),
                     STATUS_INVALID_IMAGE_FORMAT);

    TiBuild();
    ((USHORT *)TiAt(0x3260))[0] = 3; /* ordinal index past NumberOfFunctions */
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Alpha", &Address),
                     STATUS_INVALID_IMAGE_FORMAT);

    TiBuild();
    ((ULONG *)TiAt(0x3240))[0] = TI_SIZE_OF_IMAGE; /* function RVA past the image */
    KT_ASSERT_SUCCESS(TiMap());
    KT_EXPECT_STATUS(LdrFindExport(TiMapped, sizeof(TiMapped), "Alpha", &Address),
                     STATUS_INVALID_IMAGE_FORMAT);

    /* The export directory itself outside the image fails validation. */
    TiBuild();
    TiNt()->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT].VirtualAddress =
        TI_SIZE_OF_IMAGE - 0x10;
    KT_EXPECT_STATUS(LdrValidateImage(TiFile, sizeof(TiFile), NULL), STATUS_INVALID_IMAGE_FORMAT);
    KT_EXPECT_STATUS(TiMap(), STATUS_INVALID_IMAGE_FORMAT);
}

KTEST(ldr_image, lookup_symbol)
{
    CHAR Name[64];
    ULONG Displacement = 0;

    TiBuild();
    KT_EXPECT_TRUE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1004, Name, sizeof(Name), &Displacement));
    KT_EXPECT_STREQ(Name, "Start");
    KT_EXPECT_EQ(Displacement, 4);
    KT_EXPECT_TRUE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1000, Name, sizeof(Name), &Displacement));
    KT_EXPECT_STREQ(Name, "Start");
    KT_EXPECT_EQ(Displacement, 0);
    KT_EXPECT_TRUE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1050, Name, sizeof(Name), &Displacement));
    KT_EXPECT_STREQ(Name, "VeryLongFunctionName");
    KT_EXPECT_EQ(Displacement, 0x10);
    /* An 8-character inline name has no terminator in the record. */
    KT_EXPECT_TRUE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1090, Name, sizeof(Name), &Displacement));
    KT_EXPECT_STREQ(Name, "Label8ch");
    KT_EXPECT_EQ(Displacement, 0x10);
    /* Truncation into a small buffer. */
    KT_EXPECT_TRUE(LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1050, Name, 5, &Displacement));
    KT_EXPECT_STREQ(Name, "Very");
    /* Data sections and addresses outside every section have no symbol. */
    KT_EXPECT_FALSE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x2000, Name, sizeof(Name), &Displacement));
    KT_EXPECT_FALSE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1400, Name, sizeof(Name), &Displacement));
    KT_EXPECT_FALSE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0xFFFFFFFF, Name, sizeof(Name), &Displacement));
}

KTEST(ldr_image, lookup_symbol_hostile_tables)
{
    CHAR Name[64];
    ULONG Displacement;

    /* Symbol table past the end of the file. */
    TiBuild();
    TiNt()->FileHeader.NumberOfSymbols = 0x10000000;
    KT_EXPECT_FALSE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1004, Name, sizeof(Name), &Displacement));
    TiBuild();
    TiNt()->FileHeader.PointerToSymbolTable = 0xFFFFFFF0;
    KT_EXPECT_FALSE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1004, Name, sizeof(Name), &Displacement));

    /* A long name whose offset is past the string table: that symbol is
     * skipped and the previous one is used. */
    TiBuild();
    {
        ULONG Huge = 0x7FFFFFFF;
        memcpy(TiFile + TI_SYMBOLS + 3 * IMAGE_SIZEOF_SYMBOL + 4, &Huge, 4);
    }
    KT_EXPECT_TRUE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1050, Name, sizeof(Name), &Displacement));
    KT_EXPECT_STREQ(Name, "Start");
    KT_EXPECT_EQ(Displacement, 0x50);

    /* A string table size that runs past the file. */
    TiBuild();
    {
        ULONG Huge = 0x10000;
        memcpy(TiFile + TI_SYMBOLS + 6 * IMAGE_SIZEOF_SYMBOL, &Huge, 4);
    }
    KT_EXPECT_TRUE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1050, Name, sizeof(Name), &Displacement));
    KT_EXPECT_STREQ(Name, "Start");

    /* A bogus section number. */
    TiBuild();
    TiAddSymbol(2, "Start", 0, 0, 99, 0x20, IMAGE_SYM_CLASS_EXTERNAL, 0);
    KT_EXPECT_FALSE(
        LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1004, Name, sizeof(Name), &Displacement));
}

/* One corruption of the reference image and the defect it must produce. */
static VOID TiExpectInvalid(PKTEST_CONTEXT KtContext, SIZE_T FileSize, const char *What)
{
    PCSTR Defect = NULL;
    NTSTATUS Status = LdrValidateImageEx(TiFile, FileSize, NULL, &Defect);

    KT_CHECK_(Status == STATUS_INVALID_IMAGE_FORMAT, (void)0,
              "%s: expected STATUS_INVALID_IMAGE_FORMAT, got 0x%08x", What, (unsigned)Status);
    KT_CHECK_(Defect != NULL, (void)0, "%s: no defect named", What);
    KT_CHECK_(LdrMapImage(TiFile, FileSize, TiMapped, sizeof(TiMapped)) ==
                  STATUS_INVALID_IMAGE_FORMAT,
              (void)0, "%s: LdrMapImage accepted it", What);
}

KTEST(ldr_image, rejects_corrupt_headers)
{
    TiBuild();
    TiExpectInvalid(KtContext, 0, "empty file");
    TiExpectInvalid(KtContext, 0x30, "truncated DOS header");
    TiExpectInvalid(KtContext, 0x100, "truncated NT headers");
    TiExpectInvalid(KtContext, 0x1F0, "truncated headers");
    TiExpectInvalid(KtContext, 0xF00, "truncated sections");

    TiBuild();
    ((PIMAGE_DOS_HEADER)TiFile)->e_magic = 0x4D5A;
    TiExpectInvalid(KtContext, sizeof(TiFile), "bad MZ");
    TiBuild();
    ((PIMAGE_DOS_HEADER)TiFile)->e_lfanew = 0x7FFFFFF0;
    TiExpectInvalid(KtContext, sizeof(TiFile), "e_lfanew past the end");
    TiBuild();
    ((PIMAGE_DOS_HEADER)TiFile)->e_lfanew = -64;
    TiExpectInvalid(KtContext, sizeof(TiFile), "negative e_lfanew");
    TiBuild();
    ((PIMAGE_DOS_HEADER)TiFile)->e_lfanew = TI_FILE_SIZE - 8;
    TiExpectInvalid(KtContext, sizeof(TiFile), "e_lfanew at the end");
    TiBuild();
    TiNt()->Signature = 0x00004551;
    TiExpectInvalid(KtContext, sizeof(TiFile), "bad PE signature");
    TiBuild();
    TiNt()->FileHeader.Machine = IMAGE_FILE_MACHINE_I386;
    TiExpectInvalid(KtContext, sizeof(TiFile), "i386 machine");
    TiBuild();
    TiNt()->OptionalHeader.Magic = IMAGE_NT_OPTIONAL_HDR32_MAGIC;
    TiExpectInvalid(KtContext, sizeof(TiFile), "PE32 magic");
    TiBuild();
    TiNt()->FileHeader.SizeOfOptionalHeader = 0xFFFF;
    TiExpectInvalid(KtContext, sizeof(TiFile), "huge optional header");
    TiBuild();
    TiNt()->FileHeader.SizeOfOptionalHeader = 16;
    TiExpectInvalid(KtContext, sizeof(TiFile), "tiny optional header");
    TiBuild();
    TiNt()->OptionalHeader.NumberOfRvaAndSizes = 17;
    TiExpectInvalid(KtContext, sizeof(TiFile), "17 directories");
    TiBuild();
    TiNt()->FileHeader.NumberOfSections = 0;
    TiExpectInvalid(KtContext, sizeof(TiFile), "no sections");
    TiBuild();
    TiNt()->FileHeader.NumberOfSections = 200;
    TiExpectInvalid(KtContext, sizeof(TiFile), "200 sections");
    TiBuild();
    TiNt()->OptionalHeader.SectionAlignment = 0x1001;
    TiExpectInvalid(KtContext, sizeof(TiFile), "bad alignment");
    TiBuild();
    TiNt()->OptionalHeader.SizeOfHeaders = TI_SIZE_OF_IMAGE + 0x1000;
    TiExpectInvalid(KtContext, sizeof(TiFile), "SizeOfHeaders past the image");
    TiBuild();
    TiNt()->OptionalHeader.SizeOfHeaders = 0x100;
    TiExpectInvalid(KtContext, sizeof(TiFile), "section table outside the headers");
    TiBuild();
    TiNt()->OptionalHeader.AddressOfEntryPoint = TI_SIZE_OF_IMAGE;
    TiExpectInvalid(KtContext, sizeof(TiFile), "entry point past the image");
    TiBuild();
    TiNt()->OptionalHeader.ImageBase = 0xFFFFFFFFFFFFF000ULL;
    TiExpectInvalid(KtContext, sizeof(TiFile), "image wraps the address space");
}

KTEST(ldr_image, rejects_corrupt_sections)
{
    TiBuild();
    TiSection(TiData)->PointerToRawData = TI_FILE_SIZE - 0x100;
    TiExpectInvalid(KtContext, sizeof(TiFile), "section raw data past the file");
    TiBuild();
    TiSection(TiData)->PointerToRawData = 0xFFFFFF00;
    TiExpectInvalid(KtContext, sizeof(TiFile), "section raw data offset overflows");
    TiBuild();
    TiSection(TiDebug)->Misc.VirtualSize = 0x1001;
    TiExpectInvalid(KtContext, sizeof(TiFile), "section past SizeOfImage");
    TiBuild();
    TiSection(TiDebug)->Misc.VirtualSize = 0xFFFFF000;
    TiExpectInvalid(KtContext, sizeof(TiFile), "section size overflows");
    TiBuild();
    TiSection(TiData)->VirtualAddress = 0x1000;
    TiExpectInvalid(KtContext, sizeof(TiFile), "sections overlap");
    TiBuild();
    TiSection(TiText)->Misc.VirtualSize = 0x1001;
    TiExpectInvalid(KtContext, sizeof(TiFile), "section runs into the next");
    TiBuild();
    TiSection(TiText)->VirtualAddress = 0;
    TiExpectInvalid(KtContext, sizeof(TiFile), "section over the headers");
    TiBuild();
    TiSection(TiText)->VirtualAddress = 0x1800;
    TiExpectInvalid(KtContext, sizeof(TiFile), "misaligned section");
    TiBuild();
    TiNt()->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT].Size = 0xFFFFFFFF;
    TiExpectInvalid(KtContext, sizeof(TiFile), "directory size overflows");
    TiBuild();
    TiNt()->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC].VirtualAddress =
        TI_SIZE_OF_IMAGE;
    TiExpectInvalid(KtContext, sizeof(TiFile), "relocation directory past the image");
}

static NTSTATUS TiAcceptAll(PVOID Context, PCSTR DllName, PCSTR Name, USHORT Ordinal,
                            PULONG64 Address)
{
    *Address = 0x1000;
    return STATUS_SUCCESS;
}

/* Every routine over every single-byte corruption of the headers and the
 * import/export/relocation data: whatever the result, nothing crashes and
 * (under ASan) nothing is read or written out of bounds. */
KTEST(ldr_image, survives_byte_corruption)
{
    static const ULONG Regions[][2] = {
        { 0, 0x210 },         /* headers */
        { 0x800, 0x100 },     /* import descriptors and thunks */
        { 0xA00, 0xC0 },      /* export directory */
        { 0xC00, 0x10 },      /* relocations */
        { TI_SYMBOLS, 0x90 }, /* symbols, string table */
    };
    static const UCHAR Values[] = { 0x00, 0xFF, 0x80, 0x7F };
    ULONG Region;
    ULONG Accepted = 0;

    for (Region = 0; Region < RTL_NUMBER_OF(Regions); Region++) {
        ULONG Offset;
        for (Offset = Regions[Region][0]; Offset < Regions[Region][0] + Regions[Region][1];
             Offset++) {
            ULONG Value;
            for (Value = 0; Value < RTL_NUMBER_OF(Values); Value++) {
                CHAR Name[32];
                ULONG Displacement;
                PVOID Address;

                TiBuild();
                TiFile[Offset] = Values[Value];
                LdrLookupSymbol(TiFile, sizeof(TiFile), 0x1044, Name, sizeof(Name), &Displacement);
                if (!NT_SUCCESS(TiMap())) {
                    continue;
                }
                Accepted++;
                LdrRelocateImage(TiMapped, sizeof(TiMapped), 0xFFFFF80000400000ULL);
                LdrBindImports(TiMapped, sizeof(TiMapped), TiAcceptAll, NULL, Name, sizeof(Name),
                               Name, sizeof(Name));
                LdrFindExport(TiMapped, sizeof(TiMapped), "Beta", &Address);
            }
        }
    }
    /* Most single-byte changes leave a valid image. */
    KT_EXPECT_GT(Accepted, 100);
}

KTEST(ldr_image, survives_truncation)
{
    SIZE_T Size;
    ULONG Accepted = 0;
    ULONG Expected = 0;

    TiBuild();
    for (Size = 0; Size <= sizeof(TiFile); Size += 3) {
        CHAR Name[32];
        ULONG Displacement;

        if (NT_SUCCESS(LdrValidateImage(TiFile, Size, NULL))) {
            Accepted++;
        }
        if (Size >= 0x1000) {
            Expected++;
        }
        LdrLookupSymbol(TiFile, Size, 0x1004, Name, sizeof(Name), &Displacement);
    }
    /* Only files holding every section (the last ends at 0x1000; the
     * symbols after it are optional) are valid. */
    KT_EXPECT_EQ(Accepted, Expected);
}

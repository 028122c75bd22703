/*
 * testimage.c - the synthetic PE32+ image builder and kernel-module swap
 * used by the loader tests (see testimage.h). Test code only.
 */
#include <wdm.h>
#include <ntimage.h>
#include <io.h>
#include <ex.h>
#include "testimage.h"

#define KTP_MAX_SYMBOLS 16

/* Fixed offsets inside .rdata. */
#define KTP_IMPORT_DESCRIPTORS 0x2000
#define KTP_IMPORT_LOOKUP      0x2040
#define KTP_IMPORT_ADDRESSES   0x20C0
#define KTP_IMPORT_MODULE      0x2140
#define KTP_IMPORT_NAMES       0x2160
#define KTP_IMPORT_NAMES_END   0x2600
#define KTP_EXPORT_DIRECTORY   0x2600
#define KTP_EXPORT_MODULE      0x2630
#define KTP_EXPORT_FUNCTIONS   0x2650
#define KTP_EXPORT_NAMES       0x26A0
#define KTP_EXPORT_ORDINALS    0x26F0
#define KTP_EXPORT_STRINGS     0x2720
#define KTP_EXPORT_STRINGS_END 0x3000

static VOID KtpPut(PUCHAR Buffer, SIZE_T Offset, const VOID *Data, SIZE_T Size)
{
    memcpy(Buffer + Offset, Data, Size);
}

static VOID KtpPut16(PUCHAR Buffer, SIZE_T Offset, USHORT Value)
{
    KtpPut(Buffer, Offset, &Value, sizeof(Value));
}

static VOID KtpPut32(PUCHAR Buffer, SIZE_T Offset, ULONG Value)
{
    KtpPut(Buffer, Offset, &Value, sizeof(Value));
}

static VOID KtpPut64(PUCHAR Buffer, SIZE_T Offset, ULONG64 Value)
{
    KtpPut(Buffer, Offset, &Value, sizeof(Value));
}

/* Copies a NUL-terminated string at *Offset if it fits below Limit. */
static BOOLEAN KtpPutString(PUCHAR Buffer, SIZE_T *Offset, SIZE_T Limit, PCSTR Text)
{
    SIZE_T Length = strlen(Text) + 1;

    if (*Offset + Length > Limit) {
        return FALSE;
    }
    KtpPut(Buffer, *Offset, Text, Length);
    *Offset += (Length + 1) & ~(SIZE_T)1;
    return TRUE;
}

static ULONG KtpCount(PCSTR const *List)
{
    ULONG Count = 0;

    while (List != NULL && List[Count] != NULL) {
        Count++;
    }
    return Count;
}

static VOID KtpSection(PUCHAR Buffer, SIZE_T Offset, PCSTR Name, ULONG Rva, ULONG Characteristics)
{
    IMAGE_SECTION_HEADER Section;

    memset(&Section, 0, sizeof(Section));
    memcpy(Section.Name, Name, strlen(Name));
    Section.Misc.VirtualSize = 0x1000;
    Section.VirtualAddress = Rva;
    Section.SizeOfRawData = 0x1000;
    Section.PointerToRawData = Rva;
    Section.Characteristics = Characteristics;
    KtpPut(Buffer, Offset, &Section, sizeof(Section));
}

SIZE_T KtBuildImage(const KT_IMAGE_OPTIONS *Options, PUCHAR Buffer, SIZE_T BufferSize)
{
    IMAGE_DOS_HEADER Dos;
    IMAGE_NT_HEADERS64 Nt;
    ULONG64 ImageBase = Options->ImageBase != 0 ? Options->ImageBase : 0x140000000ULL;
    ULONG ImportCount = KtpCount(Options->Imports);
    ULONG ExportCount = KtpCount(Options->Exports);
    SIZE_T Offset;
    ULONG Index;

    if (BufferSize < KT_IMAGE_SIZE || ImportCount > KTP_MAX_SYMBOLS ||
        ExportCount > KTP_MAX_SYMBOLS) {
        return 0;
    }
    memset(Buffer, 0, KT_IMAGE_SIZE);

    memset(&Dos, 0, sizeof(Dos));
    Dos.e_magic = IMAGE_DOS_SIGNATURE;
    Dos.e_lfanew = 0x40;
    KtpPut(Buffer, 0, &Dos, sizeof(Dos));

    memset(&Nt, 0, sizeof(Nt));
    Nt.Signature = IMAGE_NT_SIGNATURE;
    Nt.FileHeader.Machine = IMAGE_FILE_MACHINE_AMD64;
    Nt.FileHeader.NumberOfSections = 4;
    Nt.FileHeader.SizeOfOptionalHeader = sizeof(IMAGE_OPTIONAL_HEADER64);
    Nt.FileHeader.Characteristics = IMAGE_FILE_EXECUTABLE_IMAGE | IMAGE_FILE_LARGE_ADDRESS_AWARE;
    if (Options->NoRelocations) {
        Nt.FileHeader.Characteristics |= IMAGE_FILE_RELOCS_STRIPPED;
    }
    Nt.OptionalHeader.Magic = IMAGE_NT_OPTIONAL_HDR64_MAGIC;
    Nt.OptionalHeader.SizeOfCode = 0x1000;
    Nt.OptionalHeader.SizeOfInitializedData = 0x3000;
    Nt.OptionalHeader.AddressOfEntryPoint = Options->NoEntryPoint ? 0 : KT_IMAGE_TEXT_RVA;
    Nt.OptionalHeader.BaseOfCode = KT_IMAGE_TEXT_RVA;
    Nt.OptionalHeader.ImageBase = ImageBase;
    Nt.OptionalHeader.SectionAlignment = 0x1000;
    Nt.OptionalHeader.FileAlignment = 0x1000;
    Nt.OptionalHeader.MajorOperatingSystemVersion = 10;
    Nt.OptionalHeader.MajorSubsystemVersion = 10;
    Nt.OptionalHeader.SizeOfImage = KT_IMAGE_SIZE;
    Nt.OptionalHeader.SizeOfHeaders = 0x1000;
    Nt.OptionalHeader.Subsystem =
        Options->Subsystem != 0 ? Options->Subsystem : IMAGE_SUBSYSTEM_NATIVE;
    Nt.OptionalHeader.DllCharacteristics = IMAGE_DLLCHARACTERISTICS_NX_COMPAT;
    if (!Options->NoRelocations) {
        Nt.OptionalHeader.DllCharacteristics |= IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE;
    }
    Nt.OptionalHeader.SizeOfStackReserve = 0x40000;
    Nt.OptionalHeader.SizeOfStackCommit = 0x1000;
    Nt.OptionalHeader.NumberOfRvaAndSizes = IMAGE_NUMBEROF_DIRECTORY_ENTRIES;

    /* .text: int3 filler with a "ret" at every 16-byte slot. */
    memset(Buffer + KT_IMAGE_TEXT_RVA, 0xCC, 0x1000);
    for (Offset = 0; Offset < 0x1000; Offset += 16) {
        Buffer[KT_IMAGE_TEXT_RVA + Offset] = 0xC3;
    }

    if (Options->ImportModule != NULL) {
        IMAGE_IMPORT_DESCRIPTOR Descriptor;

        Offset = KTP_IMPORT_MODULE;
        if (!KtpPutString(Buffer, &Offset, KTP_IMPORT_NAMES, Options->ImportModule)) {
            return 0;
        }
        Offset = KTP_IMPORT_NAMES;
        for (Index = 0; Index < ImportCount; Index++) {
            SIZE_T Entry = Offset;
            KtpPut16(Buffer, Offset, (USHORT)Index); /* hint */
            Offset += 2;
            if (!KtpPutString(Buffer, &Offset, KTP_IMPORT_NAMES_END, Options->Imports[Index])) {
                return 0;
            }
            KtpPut64(Buffer, KTP_IMPORT_LOOKUP + Index * 8, Entry);
            KtpPut64(Buffer, KTP_IMPORT_ADDRESSES + Index * 8, Entry);
        }
        memset(&Descriptor, 0, sizeof(Descriptor));
        Descriptor.OriginalFirstThunk = KTP_IMPORT_LOOKUP;
        Descriptor.Name = KTP_IMPORT_MODULE;
        Descriptor.FirstThunk = KTP_IMPORT_ADDRESSES;
        KtpPut(Buffer, KTP_IMPORT_DESCRIPTORS, &Descriptor, sizeof(Descriptor));
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT].VirtualAddress =
            KTP_IMPORT_DESCRIPTORS;
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT].Size =
            2 * sizeof(IMAGE_IMPORT_DESCRIPTOR);
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IAT].VirtualAddress =
            KTP_IMPORT_ADDRESSES;
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IAT].Size = (ImportCount + 1) * 8;
    }

    if (Options->ExportModule != NULL) {
        IMAGE_EXPORT_DIRECTORY Directory;

        Offset = KTP_EXPORT_MODULE;
        if (!KtpPutString(Buffer, &Offset, KTP_EXPORT_FUNCTIONS, Options->ExportModule)) {
            return 0;
        }
        Offset = KTP_EXPORT_STRINGS;
        for (Index = 0; Index < ExportCount; Index++) {
            KtpPut32(Buffer, KTP_EXPORT_FUNCTIONS + Index * 4, KT_IMAGE_TEXT_RVA + Index * 16);
            KtpPut32(Buffer, KTP_EXPORT_NAMES + Index * 4, (ULONG)Offset);
            KtpPut16(Buffer, KTP_EXPORT_ORDINALS + Index * 2, (USHORT)Index);
            if (!KtpPutString(Buffer, &Offset, KTP_EXPORT_STRINGS_END, Options->Exports[Index])) {
                return 0;
            }
        }
        memset(&Directory, 0, sizeof(Directory));
        Directory.Name = KTP_EXPORT_MODULE;
        Directory.Base = 1;
        Directory.NumberOfFunctions = ExportCount;
        Directory.NumberOfNames = ExportCount;
        Directory.AddressOfFunctions = KTP_EXPORT_FUNCTIONS;
        Directory.AddressOfNames = KTP_EXPORT_NAMES;
        Directory.AddressOfNameOrdinals = KTP_EXPORT_ORDINALS;
        KtpPut(Buffer, KTP_EXPORT_DIRECTORY, &Directory, sizeof(Directory));
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT].VirtualAddress =
            KTP_EXPORT_DIRECTORY;
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT].Size =
            (ULONG)(Offset - KTP_EXPORT_DIRECTORY);
    }

    /* .data: one absolute pointer to .text, which relocation must move. */
    KtpPut64(Buffer, KT_IMAGE_DATA_RVA, ImageBase + KT_IMAGE_TEXT_RVA);
    if (!Options->NoRelocations && !Options->NoRelocationDirectory) {
        KtpPut32(Buffer, KT_IMAGE_RELOC_RVA, KT_IMAGE_DATA_RVA);
        KtpPut32(Buffer, KT_IMAGE_RELOC_RVA + 4, 12);
        KtpPut16(Buffer, KT_IMAGE_RELOC_RVA + 8, (USHORT)(IMAGE_REL_BASED_DIR64 << 12));
        KtpPut16(Buffer, KT_IMAGE_RELOC_RVA + 10, IMAGE_REL_BASED_ABSOLUTE << 12);
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC].VirtualAddress =
            KT_IMAGE_RELOC_RVA;
        Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_BASERELOC].Size = 12;
    }

    KtpPut(Buffer, 0x40, &Nt, sizeof(Nt));
    Offset = 0x40 + sizeof(Nt);
    KtpSection(Buffer, Offset, ".text", KT_IMAGE_TEXT_RVA,
               IMAGE_SCN_CNT_CODE | IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_MEM_READ);
    KtpSection(Buffer, Offset + 40, ".rdata", KT_IMAGE_RDATA_RVA,
               IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ);
    KtpSection(Buffer, Offset + 80, ".data", KT_IMAGE_DATA_RVA,
               IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE);
    KtpSection(Buffer, Offset + 120, ".reloc", KT_IMAGE_RELOC_RVA,
               IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_DISCARDABLE);
    return KT_IMAGE_SIZE;
}

BOOLEAN KtSwapKernelImage(PVOID Image, ULONG SizeOfImage, PKT_KERNEL_SWAP Saved)
{
    PKLDR_DATA_TABLE_ENTRY Kernel;

    if (IsListEmpty(&PsLoadedModuleList)) {
        MiInitializeLoadedModuleList(NULL, 0, NULL, 0);
    }
    Kernel = CONTAINING_RECORD(PsLoadedModuleList.Flink, KLDR_DATA_TABLE_ENTRY, InLoadOrderLinks);
    Saved->DllBase = Kernel->DllBase;
    Saved->SizeOfImage = Kernel->SizeOfImage;
    Saved->File = Kernel->File;
    Saved->FileSize = Kernel->FileSize;
    Kernel->DllBase = Image;
    Kernel->SizeOfImage = SizeOfImage;
    Kernel->File = NULL;
    Kernel->FileSize = 0;
    return TRUE;
}

VOID KtRestoreKernelImage(const KT_KERNEL_SWAP *Saved)
{
    PKLDR_DATA_TABLE_ENTRY Kernel =
        CONTAINING_RECORD(PsLoadedModuleList.Flink, KLDR_DATA_TABLE_ENTRY, InLoadOrderLinks);

    Kernel->DllBase = Saved->DllBase;
    Kernel->SizeOfImage = Saved->SizeOfImage;
    Kernel->File = Saved->File;
    Kernel->FileSize = Saved->FileSize;
}

VOID KtWarmUpAllocator(VOID)
{
    PVOID Blocks[8][8];

    for (ULONG Size = 0; Size < 8; Size++) {
        for (ULONG Index = 0; Index < 8; Index++) {
            Blocks[Size][Index] = ExpAllocateKernelMemory((SIZE_T)16 << Size);
        }
    }
    for (ULONG Size = 0; Size < 8; Size++) {
        for (ULONG Index = 0; Index < 8; Index++) {
            if (Blocks[Size][Index] != NULL) {
                ExpFreeKernelMemory(Blocks[Size][Index]);
            }
        }
    }
}

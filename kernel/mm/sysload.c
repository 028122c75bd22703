/*
 * sysload.c - the system image loader: PsLoadedModuleList (ntoskrnl.exe
 * first, then drivers in load order), loading a driver file into kernel
 * pages (validate, map, relocate, bind imports against loaded modules,
 * section protections) and unloading it, plus address-to-module lookups
 * used by stack traces.
 *
 * The PE parsing itself lives in kernel/rtl/image.c; this file owns memory,
 * the module list and the policy (what is an acceptable driver image, what
 * each section's protection is). Images are untrusted: every failure path
 * frees everything it allocated and explains itself.
 */
#include <wdm.h>
#include <io.h>
#include <ldr.h>
#include <mm.h>
#include <ex.h>
#include <rtlp.h>

/* Statically initialised so lookups are safe even before
 * MiInitializeLoadedModuleList runs (an early stop screen). */
LIST_ENTRY PsLoadedModuleList = { &PsLoadedModuleList, &PsLoadedModuleList };

/* Larger drivers than this are rejected before allocating anything. */
#define MIP_MAX_IMAGE_SIZE (64 * 1024 * 1024)

static KLDR_DATA_TABLE_ENTRY MiKernelEntry;
static WCHAR MiKernelFullName[] = L"\\SystemRoot\\System32\\ntoskrnl.exe";
#define MIP_KERNEL_BASE_NAME_OFFSET 21 /* characters before "ntoskrnl.exe" */

VOID MiInitializeLoadedModuleList(PVOID KernelBase, ULONG SizeOfImage, const VOID *File,
                                  SIZE_T FileSize)
{
    LDR_IMAGE_INFO Info;

    memset(&MiKernelEntry, 0, sizeof(MiKernelEntry));
    MiKernelEntry.DllBase = KernelBase;
    MiKernelEntry.SizeOfImage = SizeOfImage;
    MiKernelEntry.File = File;
    MiKernelEntry.FileSize = FileSize;
    if (KernelBase != NULL && File != NULL && NT_SUCCESS(LdrValidateImage(File, FileSize, &Info)) &&
        Info.EntryPointRva != 0 && Info.EntryPointRva < SizeOfImage) {
        MiKernelEntry.EntryPoint = (PUCHAR)KernelBase + Info.EntryPointRva;
    }
    MiKernelEntry.FullDllName.Buffer = MiKernelFullName;
    MiKernelEntry.FullDllName.Length = sizeof(MiKernelFullName) - sizeof(WCHAR);
    MiKernelEntry.FullDllName.MaximumLength = sizeof(MiKernelFullName);
    MiKernelEntry.BaseDllName.Buffer = MiKernelFullName + MIP_KERNEL_BASE_NAME_OFFSET;
    MiKernelEntry.BaseDllName.Length = (USHORT)(sizeof(MiKernelFullName) - sizeof(WCHAR) -
                                                MIP_KERNEL_BASE_NAME_OFFSET * sizeof(WCHAR));
    MiKernelEntry.BaseDllName.MaximumLength = MiKernelEntry.BaseDllName.Length + sizeof(WCHAR);

    /* A re-initialisation (hosted tests) starts a fresh list. */
    InitializeListHead(&PsLoadedModuleList);
    InsertTailList(&PsLoadedModuleList, &MiKernelEntry.InLoadOrderLinks);
}

/* ASCII case-insensitive comparison of a narrow name with a module name. */
static BOOLEAN MiNameMatches(PCSTR Name, PCUNICODE_STRING ModuleName)
{
    SIZE_T Count = ModuleName->Length / sizeof(WCHAR);
    SIZE_T Index;

    for (Index = 0; Index < Count; Index++) {
        WCHAR Left = (UCHAR)Name[Index];
        WCHAR Right = ModuleName->Buffer[Index];
        if (Left == 0) {
            return FALSE;
        }
        if (RtlUpcaseUnicodeChar(Left) != RtlUpcaseUnicodeChar(Right)) {
            return FALSE;
        }
    }
    return Name[Count] == '\0';
}

static PKLDR_DATA_TABLE_ENTRY MiFindModuleByName(PCSTR Name)
{
    PLIST_ENTRY Link;

    for (Link = PsLoadedModuleList.Flink; Link != &PsLoadedModuleList; Link = Link->Flink) {
        PKLDR_DATA_TABLE_ENTRY Module =
            CONTAINING_RECORD(Link, KLDR_DATA_TABLE_ENTRY, InLoadOrderLinks);
        if (Module->BaseDllName.Buffer != NULL && MiNameMatches(Name, &Module->BaseDllName)) {
            return Module;
        }
    }
    return NULL;
}

/* LDR_IMPORT_RESOLVER: a driver may import by name from any module already
 * loaded (ntoskrnl.exe, or an export driver loaded before it). */
static NTSTATUS MiResolveImport(PVOID Context, PCSTR DllName, PCSTR Name, USHORT Ordinal,
                                PULONG64 Address)
{
    PKLDR_DATA_TABLE_ENTRY Module;
    PVOID Export;
    NTSTATUS Status;

    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Ordinal);
    if (DllName == NULL || Name == NULL) {
        /* Import by ordinal: ordinals are not stable across Keel builds. */
        return STATUS_ENTRYPOINT_NOT_FOUND;
    }
    Module = MiFindModuleByName(DllName);
    if (Module == NULL || Module->DllBase == NULL) {
        return STATUS_DRIVER_ENTRYPOINT_NOT_FOUND;
    }
    Status = LdrFindExport(Module->DllBase, Module->SizeOfImage, Name, &Export);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    *Address = (ULONG64)(ULONG_PTR)Export;
    return STATUS_SUCCESS;
}

/* The section table of a mapped, validated image. Re-checked anyway: the
 * numbers are read again from memory the loader wrote. */
static BOOLEAN MiSectionTable(const UCHAR *Mapped, SIZE_T MappedSize, SIZE_T *TableOffset,
                              ULONG *Count)
{
    SIZE_T NtOffset, OptionalSize, Offset;

    if (MappedSize < sizeof(IMAGE_DOS_HEADER)) {
        return FALSE;
    }
    NtOffset = LdrpRead32(Mapped, FIELD_OFFSET(IMAGE_DOS_HEADER, e_lfanew));
    if (NtOffset > MappedSize || MappedSize - NtOffset < sizeof(IMAGE_NT_HEADERS64)) {
        return FALSE;
    }
    *Count = LdrpRead16(Mapped, NtOffset + FIELD_OFFSET(IMAGE_NT_HEADERS64, FileHeader) +
                                    FIELD_OFFSET(IMAGE_FILE_HEADER, NumberOfSections));
    OptionalSize = LdrpRead16(Mapped, NtOffset + FIELD_OFFSET(IMAGE_NT_HEADERS64, FileHeader) +
                                          FIELD_OFFSET(IMAGE_FILE_HEADER, SizeOfOptionalHeader));
    Offset = NtOffset + FIELD_OFFSET(IMAGE_NT_HEADERS64, OptionalHeader) + OptionalSize;
    if (Offset > MappedSize ||
        (MappedSize - Offset) / sizeof(IMAGE_SECTION_HEADER) < (SIZE_T)*Count) {
        return FALSE;
    }
    *TableOffset = Offset;
    return TRUE;
}

/* Records the load address in the mapped header, as relocation would. */
static NTSTATUS MiSetMappedImageBase(PUCHAR Mapped, SIZE_T MappedSize, ULONG64 NewBase)
{
    SIZE_T NtOffset;
    SIZE_T Field;

    if (MappedSize < sizeof(IMAGE_DOS_HEADER)) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    NtOffset = LdrpRead32(Mapped, FIELD_OFFSET(IMAGE_DOS_HEADER, e_lfanew));
    if (NtOffset > MappedSize || MappedSize - NtOffset < sizeof(IMAGE_NT_HEADERS64)) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    Field = NtOffset + FIELD_OFFSET(IMAGE_NT_HEADERS64, OptionalHeader) +
            FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, ImageBase);
    memcpy(Mapped + Field, &NewBase, sizeof(NewBase));
    return STATUS_SUCCESS;
}

/* Protection of one page: the union of the sections touching it (only
 * matters if sections share a page), read-only when none does. */
static ULONG MiPageProtection(const UCHAR *Mapped, SIZE_T TableOffset, ULONG Count,
                              SIZE_T PageStart)
{
    BOOLEAN Execute = FALSE, Write = FALSE;
    ULONG Index;

    for (Index = 0; Index < Count; Index++) {
        IMAGE_SECTION_HEADER Section;
        SIZE_T Start, Size;

        memcpy(&Section, Mapped + TableOffset + Index * sizeof(Section), sizeof(Section));
        Start = Section.VirtualAddress;
        Size = Section.Misc.VirtualSize > Section.SizeOfRawData ? Section.Misc.VirtualSize
                                                                : Section.SizeOfRawData;
        if (Size == 0 || PageStart + PAGE_SIZE <= Start || PageStart >= Start + Size) {
            continue;
        }
        if (Section.Characteristics & IMAGE_SCN_MEM_EXECUTE) {
            Execute = TRUE;
        }
        if (Section.Characteristics & IMAGE_SCN_MEM_WRITE) {
            Write = TRUE;
        }
    }
    if (Execute) {
        return Write ? PAGE_EXECUTE_READWRITE : PAGE_EXECUTE_READ;
    }
    return Write ? PAGE_READWRITE : PAGE_READONLY;
}

/* Applies W^X-style protections page run by page run: code read+execute,
 * data read/write, constants and headers read-only. */
static NTSTATUS MiProtectImage(PUCHAR Base, SIZE_T PageCount)
{
    SIZE_T MappedSize = PageCount * PAGE_SIZE;
    SIZE_T TableOffset;
    ULONG Count;
    SIZE_T Page = 0;

    if (!MiSectionTable(Base, MappedSize, &TableOffset, &Count)) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    while (Page < PageCount) {
        ULONG Protect = MiPageProtection(Base, TableOffset, Count, Page * PAGE_SIZE);
        SIZE_T RunEnd = Page + 1;
        NTSTATUS Status;

        while (RunEnd < PageCount &&
               MiPageProtection(Base, TableOffset, Count, RunEnd * PAGE_SIZE) == Protect) {
            RunEnd++;
        }
        Status = MiProtectKernelPages(Base + Page * PAGE_SIZE, RunEnd - Page, Protect);
        if (!NT_SUCCESS(Status)) {
            return Status;
        }
        Page = RunEnd;
    }
    return STATUS_SUCCESS;
}

static VOID MiSetReason(PCHAR Reason, SIZE_T ReasonSize, PCSTR Format, ...)
{
    va_list Arguments;

    if (Reason == NULL || ReasonSize == 0) {
        return;
    }
    va_start(Arguments, Format);
    RtlpFormatV(Reason, ReasonSize, Format, Arguments);
    va_end(Arguments);
}

/* A module entry plus its two names in one allocation: the full name as
 * given, the base name the part after the last '\' or '/'. */
static PKLDR_DATA_TABLE_ENTRY MiAllocateEntry(PCUNICODE_STRING FileName)
{
    PKLDR_DATA_TABLE_ENTRY Entry;
    SIZE_T NameLength = (FileName != NULL && FileName->Buffer != NULL) ? FileName->Length & ~1U : 0;
    PWSTR Names;
    SIZE_T Count = NameLength / sizeof(WCHAR);
    SIZE_T BaseStart = 0;
    SIZE_T Index;

    Entry = ExpAllocateKernelMemory(sizeof(*Entry) + NameLength + sizeof(WCHAR));
    if (Entry == NULL) {
        return NULL;
    }
    memset(Entry, 0, sizeof(*Entry));
    Names = (PWSTR)(Entry + 1);
    if (NameLength != 0) {
        memcpy(Names, FileName->Buffer, NameLength);
    }
    Names[Count] = 0;
    for (Index = 0; Index < Count; Index++) {
        if (Names[Index] == L'\\' || Names[Index] == L'/') {
            BaseStart = Index + 1;
        }
    }
    Entry->FullDllName.Buffer = Names;
    Entry->FullDllName.Length = (USHORT)NameLength;
    Entry->FullDllName.MaximumLength = (USHORT)(NameLength + sizeof(WCHAR));
    Entry->BaseDllName.Buffer = Names + BaseStart;
    Entry->BaseDllName.Length = (USHORT)((Count - BaseStart) * sizeof(WCHAR));
    Entry->BaseDllName.MaximumLength = (USHORT)(Entry->BaseDllName.Length + sizeof(WCHAR));
    return Entry;
}

NTSTATUS MmLoadSystemImageEx(const VOID *File, SIZE_T FileSize, PCUNICODE_STRING FileName,
                             PKLDR_DATA_TABLE_ENTRY *Entry, PCHAR Reason, SIZE_T ReasonSize)
{
    LDR_IMAGE_INFO Info;
    PCSTR Defect = NULL;
    PUCHAR Base = NULL;
    SIZE_T PageCount = 0;
    PKLDR_DATA_TABLE_ENTRY Module = NULL;
    CHAR FailedDll[64], FailedName[128];
    NTSTATUS Status;

    MiSetReason(Reason, ReasonSize, "");
    if (Entry != NULL) {
        *Entry = NULL;
    }
    if (File == NULL || FileName == NULL || Entry == NULL) {
        MiSetReason(Reason, ReasonSize, "invalid parameter");
        return STATUS_INVALID_PARAMETER;
    }
    if (FileName->Length > 512 * sizeof(WCHAR)) {
        MiSetReason(Reason, ReasonSize, "file name too long");
        return STATUS_OBJECT_NAME_INVALID;
    }

    Status = LdrValidateImageEx(File, FileSize, &Info, &Defect);
    if (!NT_SUCCESS(Status)) {
        MiSetReason(Reason, ReasonSize, "invalid image: %s",
                    Defect != NULL ? Defect : "malformed headers");
        return Status;
    }
    if (Info.Subsystem != IMAGE_SUBSYSTEM_NATIVE) {
        MiSetReason(Reason, ReasonSize, "invalid image: subsystem %u is not native",
                    (ULONG)Info.Subsystem);
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (Info.SizeOfImage == 0 || Info.SizeOfImage > MIP_MAX_IMAGE_SIZE) {
        MiSetReason(Reason, ReasonSize, "invalid image: SizeOfImage 0x%x out of range",
                    Info.SizeOfImage);
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (Info.EntryPointRva >= Info.SizeOfImage) {
        MiSetReason(Reason, ReasonSize, "invalid image: entry point outside the image");
        return STATUS_INVALID_IMAGE_FORMAT;
    }

    PageCount = BYTES_TO_PAGES((SIZE_T)Info.SizeOfImage);
    Base = MiAllocateKernelPages(PageCount);
    if (Base == NULL) {
        MiSetReason(Reason, ReasonSize, "out of memory for %u pages", (ULONG)PageCount);
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    Status = LdrMapImage(File, FileSize, Base, PageCount * PAGE_SIZE);
    if (!NT_SUCCESS(Status)) {
        MiSetReason(Reason, ReasonSize, "invalid image: cannot be mapped (status 0x%08X)",
                    (ULONG)Status);
        goto Fail;
    }
    Status = LdrRelocateImage(Base, PageCount * PAGE_SIZE, (ULONG64)(ULONG_PTR)Base);
    if (Status == STATUS_CONFLICTING_ADDRESSES &&
        (Info.Characteristics & IMAGE_FILE_RELOCS_STRIPPED) == 0) {
        /* No relocation directory, but the linker did not strip one
         * either: the image has nothing to fix up (lld-link emits no
         * .reloc for code that is all RIP-relative, as small drivers are)
         * and runs anywhere. Only the header's ImageBase changes. */
        Status = MiSetMappedImageBase(Base, PageCount * PAGE_SIZE, (ULONG64)(ULONG_PTR)Base);
    }
    if (!NT_SUCCESS(Status)) {
        if (Status == STATUS_CONFLICTING_ADDRESSES) {
            MiSetReason(Reason, ReasonSize, "invalid image: no relocations to move it to %p", Base);
        } else {
            MiSetReason(Reason, ReasonSize, "invalid image: bad base relocations");
        }
        goto Fail;
    }
    FailedDll[0] = FailedName[0] = '\0';
    Status = LdrBindImports(Base, PageCount * PAGE_SIZE, MiResolveImport, NULL, FailedDll,
                            sizeof(FailedDll), FailedName, sizeof(FailedName));
    if (!NT_SUCCESS(Status)) {
        if (FailedDll[0] != '\0') {
            MiSetReason(Reason, ReasonSize, "unresolved import %s!%s", FailedDll,
                        FailedName[0] != '\0' ? FailedName : "(by ordinal)");
        } else {
            MiSetReason(Reason, ReasonSize, "invalid image: bad import directory");
        }
        goto Fail;
    }

    Module = MiAllocateEntry(FileName);
    if (Module == NULL) {
        MiSetReason(Reason, ReasonSize, "out of memory for the module entry");
        Status = STATUS_INSUFFICIENT_RESOURCES;
        goto Fail;
    }
    Status = MiProtectImage(Base, PageCount);
    if (!NT_SUCCESS(Status)) {
        MiSetReason(Reason, ReasonSize, "cannot apply section protections (status 0x%08X)",
                    (ULONG)Status);
        goto Fail;
    }

    Module->DllBase = Base;
    Module->SizeOfImage = Info.SizeOfImage;
    Module->EntryPoint = Info.EntryPointRva != 0 ? Base + Info.EntryPointRva : NULL;
    Module->File = File;
    Module->FileSize = FileSize;
    InsertTailList(&PsLoadedModuleList, &Module->InLoadOrderLinks);
    *Entry = Module;
    return STATUS_SUCCESS;

Fail:
    if (Module != NULL) {
        ExpFreeKernelMemory(Module);
    }
    /* Pages may already be read-only: make them writable before they go
     * back to the allocator. */
    MiProtectKernelPages(Base, PageCount, PAGE_READWRITE);
    MiFreeKernelPages(Base, PageCount);
    return Status;
}

NTSTATUS MmLoadSystemImage(const VOID *File, SIZE_T FileSize, PCUNICODE_STRING FileName,
                           PKLDR_DATA_TABLE_ENTRY *Entry)
{
    return MmLoadSystemImageEx(File, FileSize, FileName, Entry, NULL, 0);
}

VOID MmUnloadSystemImage(PKLDR_DATA_TABLE_ENTRY Entry)
{
    SIZE_T PageCount;

    if (Entry == NULL || Entry == &MiKernelEntry) {
        return;
    }
    RemoveEntryList(&Entry->InLoadOrderLinks);
    PageCount = BYTES_TO_PAGES((SIZE_T)Entry->SizeOfImage);
    MiProtectKernelPages(Entry->DllBase, PageCount, PAGE_READWRITE);
    MiFreeKernelPages(Entry->DllBase, PageCount);
    ExpFreeKernelMemory(Entry);
}

PKLDR_DATA_TABLE_ENTRY LdrFindModuleByAddress(ULONG_PTR Address)
{
    PLIST_ENTRY Link;

    for (Link = PsLoadedModuleList.Flink; Link != NULL && Link != &PsLoadedModuleList;
         Link = Link->Flink) {
        PKLDR_DATA_TABLE_ENTRY Module =
            CONTAINING_RECORD(Link, KLDR_DATA_TABLE_ENTRY, InLoadOrderLinks);
        ULONG_PTR Base = (ULONG_PTR)Module->DllBase;
        if (Base != 0 && Address >= Base && Address - Base < Module->SizeOfImage) {
            return Module;
        }
    }
    return NULL;
}

/* Used on the stop screen: allocates nothing and takes no locks. */
VOID LdrFormatAddress(ULONG_PTR Address, PCHAR Buffer, SIZE_T BufferSize)
{
    PKLDR_DATA_TABLE_ENTRY Module;
    CHAR Symbol[128];
    ULONG Displacement;
    ULONG Rva;

    if (Buffer == NULL || BufferSize == 0) {
        return;
    }
    Module = LdrFindModuleByAddress(Address);
    if (Module == NULL) {
        RtlpFormat(Buffer, BufferSize, "0x%llx", (ULONGLONG)Address);
        return;
    }
    Rva = (ULONG)(Address - (ULONG_PTR)Module->DllBase);
    if (Module->File != NULL && LdrLookupSymbol(Module->File, Module->FileSize, Rva, Symbol,
                                                sizeof(Symbol), &Displacement)) {
        RtlpFormat(Buffer, BufferSize, "%wZ!%s+0x%x", &Module->BaseDllName, Symbol, Displacement);
    } else {
        RtlpFormat(Buffer, BufferSize, "%wZ+0x%x", &Module->BaseDllName, Rva);
    }
}

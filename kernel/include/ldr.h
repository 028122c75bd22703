/*
 * ldr.h - PE32+ image handling shared by the boot loader, the kernel's
 * system image loader and the hosted build (kernel/rtl/image.c), and the
 * loaded module list (PsLoadedModuleList) used for symbolized stack traces.
 *
 * Every routine treats the file as untrusted: all offsets, sizes and RVAs
 * are range-checked (overflow included) before use, and failures return an
 * NTSTATUS (STATUS_INVALID_IMAGE_FORMAT unless stated), never fault.
 */
#ifndef _LDR_
#define _LDR_

#include <ntdef.h>
#include <ntimage.h>

/* Unaligned little-endian reads of header fields at a checked offset
 * (PE fields need not be naturally aligned in a hostile file). */
static inline USHORT LdrpRead16(const UCHAR *Base, ULONG64 Offset)
{
    USHORT Value;
    __builtin_memcpy(&Value, Base + Offset, sizeof(Value));
    return Value;
}

static inline ULONG LdrpRead32(const UCHAR *Base, ULONG64 Offset)
{
    ULONG Value;
    __builtin_memcpy(&Value, Base + Offset, sizeof(Value));
    return Value;
}

static inline ULONG64 LdrpRead64(const UCHAR *Base, ULONG64 Offset)
{
    ULONG64 Value;
    __builtin_memcpy(&Value, Base + Offset, sizeof(Value));
    return Value;
}

/* What validation learned about an image file. */
typedef struct _LDR_IMAGE_INFO {
    ULONG64 ImageBase; /* preferred base (OptionalHeader.ImageBase) */
    ULONG SizeOfImage; /* bytes to reserve when mapped */
    ULONG SizeOfHeaders;
    ULONG EntryPointRva; /* 0 when none */
    USHORT Subsystem;
    USHORT Characteristics;
    USHORT DllCharacteristics;
    USHORT NumberOfSections;
    BOOLEAN HasRelocations; /* a usable base relocation directory */
} LDR_IMAGE_INFO, *PLDR_IMAGE_INFO;

/* Validates a PE32+ x64 file of FileSize bytes: DOS and NT headers,
 * section table, every section inside the file and inside SizeOfImage, no
 * overlapping sections, data directories inside the image. */
NTSTATUS LdrValidateImage(const VOID *File, SIZE_T FileSize, PLDR_IMAGE_INFO Info);

/* LdrValidateImage that also names the first defect found, for messages:
 * *Defect receives a static string such as "section outside the file"
 * (NULL on success). Defect may be NULL. */
NTSTATUS LdrValidateImageEx(const VOID *File, SIZE_T FileSize, PLDR_IMAGE_INFO Info, PCSTR *Defect);

/* Lays a validated file out at Destination (SizeOfImage bytes, which the
 * caller provides): headers and each non-discardable section copied, the
 * rest zeroed. */
NTSTATUS LdrMapImage(const VOID *File, SIZE_T FileSize, PVOID Destination, SIZE_T DestinationSize);

/* Applies base relocations to a mapped image so it runs at NewBase.
 * STATUS_CONFLICTING_ADDRESSES if it must move but has no relocations. */
NTSTATUS LdrRelocateImage(PVOID Mapped, SIZE_T MappedSize, ULONG64 NewBase);

/* Resolves one import: DllName is the imported module (e.g.
 * "ntoskrnl.exe"), Name the symbol (NULL when imported by Ordinal). */
typedef NTSTATUS LDR_IMPORT_RESOLVER(PVOID Context, PCSTR DllName, PCSTR Name, USHORT Ordinal,
                                     PULONG64 Address);

/* Walks the import directory of a mapped image and fills its IATs through
 * Resolver. On failure, if FailedDll/FailedName are given they receive the
 * module and symbol that failed (copied, NUL-terminated, truncated). */
NTSTATUS LdrBindImports(PVOID Mapped, SIZE_T MappedSize, LDR_IMPORT_RESOLVER *Resolver,
                        PVOID Context, PCHAR FailedDll, SIZE_T FailedDllSize, PCHAR FailedName,
                        SIZE_T FailedNameSize);

/* Looks Name up in the export directory of a mapped image; returns the
 * address at the image's current location (forwarders are rejected with
 * STATUS_NOT_SUPPORTED, a missing name is STATUS_ENTRYPOINT_NOT_FOUND). */
NTSTATUS LdrFindExport(const VOID *Mapped, SIZE_T MappedSize, PCSTR Name, PVOID *Address);

/* Symbolizes Rva using the COFF symbol table the linker leaves in the file
 * (lld-link /DEBUG:DWARF): the nearest function symbol at or below Rva.
 * Returns FALSE when the file has no usable symbol table. */
BOOLEAN LdrLookupSymbol(const VOID *File, SIZE_T FileSize, ULONG Rva, PCHAR Name, SIZE_T NameSize,
                        PULONG Displacement);

/* One entry of PsLoadedModuleList: ntoskrnl.exe first, then each driver in
 * load order. File/FileSize keep the original file (from the boot image)
 * for symbol lookup. */
typedef struct _KLDR_DATA_TABLE_ENTRY {
    LIST_ENTRY InLoadOrderLinks;
    PVOID DllBase;
    PVOID EntryPoint;
    ULONG SizeOfImage;
    UNICODE_STRING FullDllName;
    UNICODE_STRING BaseDllName;
    ULONG Flags;
    const VOID *File;
    SIZE_T FileSize;
} KLDR_DATA_TABLE_ENTRY, *PKLDR_DATA_TABLE_ENTRY;

extern LIST_ENTRY PsLoadedModuleList;

/* The module containing Address, or NULL. */
PKLDR_DATA_TABLE_ENTRY LdrFindModuleByAddress(ULONG_PTR Address);

/* Formats "module!symbol+0xoff" (or "module+0xoff", or "0x...") for
 * Address into Buffer. */
VOID LdrFormatAddress(ULONG_PTR Address, PCHAR Buffer, SIZE_T BufferSize);

#endif /* _LDR_ */

/*
 * testimage.h - builds small synthetic PE32+ images in memory for the
 * loader tests (kernel/mm/sysload_test.c, kernel/io/io_test.c): a driver
 * that imports from a named module, or an export-only module standing in
 * for ntoskrnl.exe. Test code only.
 */
#ifndef _TESTIMAGE_
#define _TESTIMAGE_

#include <ntdef.h>

/* File layout equals memory layout (FileAlignment == SectionAlignment), so
 * a built file can also serve as a mapped image. */
#define KT_IMAGE_SIZE      0x5000
#define KT_IMAGE_TEXT_RVA  0x1000 /* .text: RX, entry point at its start */
#define KT_IMAGE_RDATA_RVA 0x2000 /* .rdata: R, imports and exports */
#define KT_IMAGE_DATA_RVA  0x3000 /* .data: RW, a pointer to .text (relocated) */
#define KT_IMAGE_RELOC_RVA 0x4000 /* .reloc */

typedef struct _KT_IMAGE_OPTIONS {
    PCSTR ImportModule;            /* NULL: no import directory */
    PCSTR const *Imports;          /* NULL-terminated names */
    PCSTR ExportModule;            /* NULL: no export directory */
    PCSTR const *Exports;          /* NULL-terminated, sorted; export i is at .text + 16*i */
    USHORT Subsystem;              /* 0 = IMAGE_SUBSYSTEM_NATIVE */
    BOOLEAN NoRelocations;         /* relocations stripped (IMAGE_FILE_RELOCS_STRIPPED) */
    BOOLEAN NoRelocationDirectory; /* none needed: no directory, not stripped */
    BOOLEAN NoEntryPoint;
    ULONG64 ImageBase; /* 0 = 0x140000000 */
} KT_IMAGE_OPTIONS, *PKT_IMAGE_OPTIONS;

/* Writes the image to Buffer (at least KT_IMAGE_SIZE bytes). Returns its
 * size, or 0 if the options do not fit the fixed layout. */
SIZE_T KtBuildImage(const KT_IMAGE_OPTIONS *Options, PUCHAR Buffer, SIZE_T BufferSize);

/* Makes an export-only "ntoskrnl.exe" the first entry of PsLoadedModuleList
 * for the duration of a test, and restores the previous entry contents. */
typedef struct _KT_KERNEL_SWAP {
    PVOID DllBase;
    ULONG SizeOfImage;
    const VOID *File;
    SIZE_T FileSize;
} KT_KERNEL_SWAP, *PKT_KERNEL_SWAP;

BOOLEAN KtSwapKernelImage(PVOID Image, ULONG SizeOfImage, PKT_KERNEL_SWAP Saved);
VOID KtRestoreKernelImage(const KT_KERNEL_SWAP *Saved);

/* The phase-0 allocator keeps the pages it carves into small blocks; a
 * test that compares MiKernelPagesInUse() before and after calls this first
 * so only real leaks (image pages, large blocks) show. */
VOID KtWarmUpAllocator(VOID);

#endif /* _TESTIMAGE_ */

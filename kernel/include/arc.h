/*
 * arc.h - the loader parameter block: what the boot loader (ELF, SysV) hands
 * to ntoskrnl (PE, Microsoft x64). Both sides compile this header, so every
 * field has a fixed width and the layout is checked below.
 */
#ifndef _ARC_
#define _ARC_

#include <ntdef.h>

/* NT's TYPE_OF_MEMORY, same names and values. */
typedef enum _TYPE_OF_MEMORY {
    LoaderExceptionBlock = 0,
    LoaderSystemBlock,
    LoaderFree,
    LoaderBad,
    LoaderLoadedProgram,
    LoaderFirmwareTemporary,
    LoaderFirmwarePermanent,
    LoaderOsloaderHeap,
    LoaderOsloaderStack,
    LoaderSystemCode,
    LoaderHalCode,
    LoaderBootDriver,
    LoaderConsoleInDriver,
    LoaderConsoleOutDriver,
    LoaderStartupDpcStack,
    LoaderStartupKernelStack,
    LoaderStartupPanicStack,
    LoaderStartupPcrPage,
    LoaderStartupPdrPage,
    LoaderRegistryData,
    LoaderMemoryData,
    LoaderNlsData,
    LoaderSpecialMemory,
    LoaderBBTMemory,
    LoaderReserve,
    LoaderXIPRom,
    LoaderHALCachedMemory,
    LoaderLargePageFiller,
    LoaderErrorLogMemory,
    LoaderMaximum
} TYPE_OF_MEMORY;

/* One physically contiguous run of pages (4 KiB) of one type. Runs are
 * sorted by BasePage and never overlap. */
typedef struct _MEMORY_ALLOCATION_DESCRIPTOR {
    UINT32 MemoryType; /* TYPE_OF_MEMORY */
    UINT32 Reserved;
    UINT64 BasePage;
    UINT64 PageCount;
} MEMORY_ALLOCATION_DESCRIPTOR, *PMEMORY_ALLOCATION_DESCRIPTOR;

#define LOADER_BLOCK_SIGNATURE        0x4C45454Bu /* 'KEEL' */
#define LOADER_BLOCK_VERSION          1
#define LOADER_MAX_MEMORY_DESCRIPTORS 128
#define LOADER_MAX_COMMAND_LINE       512

/* Boot phase timestamps are TSC values; the kernel converts them once it
 * has calibrated the TSC. */
typedef struct _LOADER_PARAMETER_BLOCK {
    UINT32 Signature; /* LOADER_BLOCK_SIGNATURE */
    UINT32 Version;   /* LOADER_BLOCK_VERSION */
    UINT32 Size;      /* sizeof(LOADER_PARAMETER_BLOCK) */
    UINT32 MemoryDescriptorCount;

    /* ntoskrnl.exe as mapped: virtual base (after any relocation), the
     * physical base of the contiguous copy and SizeOfImage. */
    UINT64 KernelVirtualBase;
    UINT64 KernelPhysicalBase;
    UINT64 KernelImageSize;
    UINT64 KernelEntry;

    /* The boot image (cpio newc archive) as QEMU placed it in memory. */
    UINT64 BootImagePhysical;
    UINT64 BootImageSize;

    /* All of physical memory [0, PhysicalMapSize) is mapped at
     * PhysicalMapBase (read/write, no-execute) in the loader's page tables. */
    UINT64 PhysicalMapBase;
    UINT64 PhysicalMapSize;
    UINT64 PageTableRoot; /* CR3 the kernel is entered with */

    /* Boot stack the kernel starts on (virtual, grows down from Top). */
    UINT64 KernelStackTop;
    UINT64 KernelStackSize;

    UINT64 AcpiRsdpPhysical; /* 0 when the firmware gave none */

    UINT64 TscLoaderEntry; /* first instruction of the loader */
    UINT64 TscKernelJump;  /* just before jumping to the kernel */

    MEMORY_ALLOCATION_DESCRIPTOR MemoryDescriptors[LOADER_MAX_MEMORY_DESCRIPTORS];
    CHAR CommandLine[LOADER_MAX_COMMAND_LINE]; /* NUL-terminated */
} LOADER_PARAMETER_BLOCK, *PLOADER_PARAMETER_BLOCK;

_Static_assert(offsetof(LOADER_PARAMETER_BLOCK, KernelVirtualBase) == 16, "loader block layout");
_Static_assert(offsetof(LOADER_PARAMETER_BLOCK, MemoryDescriptors) == 128, "loader block layout");

#endif /* _ARC_ */

/*
 * bootp.h - internals of keelldr, the boot loader QEMU starts through the
 * PVH entry: the start-of-day structures QEMU hands over (Xen's
 * hvm_start_info ABI, version 1), and the loader's own modules (console,
 * physical memory, page tables, CPU helpers). The loader is ELF code with
 * the SysV ABI; only the loader parameter block (arc.h) crosses to the PE
 * kernel.
 */
#ifndef _BOOTP_
#define _BOOTP_

#include <ntdef.h>
#include <arc.h>

/* ---- PVH start info (xen/include/public/arch-x86/hvm/start_info.h) ---- */

#define HVM_START_MAGIC_VALUE 0x336ec578

typedef struct _HVM_START_INFO {
    UINT32 Magic;
    UINT32 Version;
    UINT32 Flags;
    UINT32 NrModules;
    UINT64 ModlistPaddr;
    UINT64 CmdlinePaddr;
    UINT64 RsdpPaddr;
    /* Version 1 and later. */
    UINT64 MemmapPaddr;
    UINT32 MemmapEntries;
    UINT32 Reserved;
} HVM_START_INFO;

typedef struct _HVM_MODLIST_ENTRY {
    UINT64 Paddr;
    UINT64 Size;
    UINT64 CmdlinePaddr;
    UINT64 Reserved;
} HVM_MODLIST_ENTRY;

/* Memory map entries use the E820 types. */
typedef struct _HVM_MEMMAP_ENTRY {
    UINT64 Address;
    UINT64 Size;
    UINT32 Type;
    UINT32 Reserved;
} HVM_MEMMAP_ENTRY;

#define E820_TYPE_RAM 1

_Static_assert(sizeof(HVM_START_INFO) == 56, "hvm_start_info layout");
_Static_assert(sizeof(HVM_MODLIST_ENTRY) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(HVM_MEMMAP_ENTRY) == 24, "hvm_memmap_table_entry layout");

#define BL_PAGE_SIZE       0x1000ULL
#define BL_LARGE_PAGE_SIZE 0x200000ULL
#define BL_PAGES(Bytes)    (((Bytes) + BL_PAGE_SIZE - 1) / BL_PAGE_SIZE)

/* Where all physical memory is mapped for the kernel. */
#define BL_PHYSICAL_MAP_BASE 0xFFFF800000000000ULL
/* Where an image that cannot use its preferred base is put instead. */
#define BL_FALLBACK_KERNEL_BASE 0xFFFFF80000400000ULL

/* ---- entry.S ---- */
extern UINT64 BlpTscAtEntry;   /* TSC read by the first instructions */
extern UCHAR BlpLoaderStart[]; /* linker script: the loader image */
extern UCHAR BlpLoaderEnd[];
DECLSPEC_NORETURN VOID BlpTransferToKernel(UINT64 Entry, UINT64 LoaderBlock, UINT64 StackPointer,
                                           UINT64 PageTableRoot);

/* ---- cpu.c ---- */
UINT64 BlpReadTsc(VOID);
VOID BlpOutByte(USHORT Port, UCHAR Value);
UCHAR BlpInByte(USHORT Port);
VOID BlpOutLong(USHORT Port, UINT32 Value);
BOOLEAN BlpCpuHasNx(VOID);

/* ---- console.c: COM1, polled ---- */
VOID BlConsoleInitialize(VOID);
VOID BlPutString(PCSTR String);
VOID BlPutHex(UINT64 Value);
VOID BlPutDecimal(UINT64 Value);
/* Prints "keelldr: error: <Message><Detail>" and exits QEMU with
 * HAL_EXIT_BUGCHECK through isa-debug-exit; never returns. */
DECLSPEC_NORETURN VOID BlFatal(PCSTR Message, PCSTR Detail);

/* ---- memory.c: the firmware memory map and page allocation ---- */
/* Copies the E820 map out of the start info (which lives in memory the
 * allocator may later hand out). */
VOID BlMemoryInitialize(const HVM_MEMMAP_ENTRY *Map, ULONG Count);
/* Marks [Base, Base + Size) as used by something the loader did not
 * allocate (the loader itself, the boot image). */
VOID BlMemoryReserve(UINT64 Base, UINT64 Size, TYPE_OF_MEMORY Type);
/* Physically contiguous, page aligned, zeroed, below 4 GiB; fatal when
 * there is no room. Returns the physical (= loader virtual) address. */
UINT64 BlAllocatePages(UINT64 PageCount, TYPE_OF_MEMORY Type);
/* The same without zeroing, for memory about to be overwritten whole. */
UINT64 BlAllocatePagesNoZero(UINT64 PageCount, TYPE_OF_MEMORY Type);
/* End of the highest RAM range. */
UINT64 BlHighestRamAddress(VOID);
BOOLEAN BlRangeHasRam(UINT64 Base, UINT64 Size);
/* Sorted, non-overlapping descriptors of all memory; returns the count. */
ULONG BlBuildMemoryDescriptors(PMEMORY_ALLOCATION_DESCRIPTOR Descriptors, ULONG Capacity);

/* ---- paging.c: the page tables the kernel is entered with ---- */
VOID BlPagingInitialize(BOOLEAN UseNx);
/* Maps [0, Size) at BL_PHYSICAL_MAP_BASE (no-execute) and identity-maps
 * it (executable, for the loader until the kernel drops it). */
VOID BlMapPhysicalMemory(UINT64 Size);
/* Maps one 4 KiB page, read/write/execute. */
VOID BlMapPage(UINT64 VirtualAddress, UINT64 PhysicalAddress);
UINT64 BlPageTableRoot(VOID);

#endif /* _BOOTP_ */

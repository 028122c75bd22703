/*
 * mm.h - the memory manager's internal interface (phase 0): the physical
 * page allocator over the loader's memory map, kernel pages, and the
 * physical-to-virtual view. Portable: the hosted HAL backs "physical
 * memory" with an mmap'd range and the same code manages it.
 */
#ifndef _MM_
#define _MM_

#include <wdm.h>
#include <arc.h>

#define PAGE_SIZE            0x1000
#define PAGE_SHIFT           12
#define BYTES_TO_PAGES(Size) (((Size) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define ROUND_TO_PAGES(Size) (((ULONG_PTR)(Size) + PAGE_SIZE - 1) & ~((ULONG_PTR)PAGE_SIZE - 1))

/* Page protections (same values as Windows). */
#define PAGE_NOACCESS          0x01
#define PAGE_READONLY          0x02
#define PAGE_READWRITE         0x04
#define PAGE_EXECUTE           0x10
#define PAGE_EXECUTE_READ      0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_NOCACHE           0x200 /* modifier: uncached (device memory) */

/* Base of the virtual view of all physical memory (set during init). */
extern ULONG_PTR MmPhysicalMapBase;

/* Builds the PFN database from the memory map: every LoaderFree run
 * becomes free pages; everything else stays in use. */
NTSTATUS MiInitializePhysicalAllocator(const MEMORY_ALLOCATION_DESCRIPTOR *Descriptors,
                                       ULONG Count);

/* One page; returns FALSE when none is left. Zeroed when Zero is TRUE. */
BOOLEAN MiAllocatePhysicalPage(PPFN_NUMBER Pfn, BOOLEAN Zero);
VOID MiFreePhysicalPage(PFN_NUMBER Pfn);
/* Count physically contiguous pages below HighestPfn (inclusive). */
BOOLEAN MiAllocateContiguousPhysicalPages(PFN_NUMBER Count, PFN_NUMBER HighestPfn,
                                          PPFN_NUMBER BasePfn);
VOID MiFreeContiguousPhysicalPages(PFN_NUMBER BasePfn, PFN_NUMBER Count);
PFN_NUMBER MiFreePhysicalPageCount(VOID);
PFN_NUMBER MiTotalPhysicalPageCount(VOID);
/* One past the highest page the PFN database describes. */
PFN_NUMBER MiPfnDatabaseSize(VOID);

/* Kernel virtual memory backed by physical pages: zeroed, read/write,
 * no-execute until MiProtectKernelPages changes it. */
PVOID MiAllocateKernelPages(SIZE_T PageCount);
VOID MiFreeKernelPages(PVOID Base, SIZE_T PageCount);
NTSTATUS MiProtectKernelPages(PVOID Base, SIZE_T PageCount, ULONG Protect);

/* Size of the physical map (bytes of physical address space mapped at
 * MmPhysicalMapBase). */
extern ULONG64 MiPhysicalMapSize;

/* Marks the pages of every descriptor of type Type that are still in use as
 * free (loader memory the kernel no longer needs). Returns the number of
 * pages freed. */
PFN_NUMBER MiFreeLoaderMemory(const MEMORY_ALLOCATION_DESCRIPTOR *Descriptors, ULONG Count,
                              ULONG Type);

/* Sets up the system VA range kernel pages come from (after the arch code
 * has set MiSystemVaStart/MiSystemVaPages, see arch.h). */
NTSTATUS MiInitializeKernelPages(VOID);
/* Pages of the system range currently allocated (guard pages included). */
SIZE_T MiKernelPagesInUse(VOID);

/* Maps device memory (uncached, read/write, no-execute) into the system
 * range; NULL when out of space. */
PVOID MiMapIoSpace(ULONG64 PhysicalAddress, SIZE_T Bytes);
VOID MiUnmapIoSpace(PVOID Base, SIZE_T Bytes);

/* Exported (real NT names). */
NTKERNELAPI PVOID NTAPI MmGetVirtualForPhysical(PHYSICAL_ADDRESS PhysicalAddress);
NTKERNELAPI PHYSICAL_ADDRESS NTAPI MmGetPhysicalAddress(PVOID BaseAddress);

#endif /* _MM_ */

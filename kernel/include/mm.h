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
/* The same between LowestPfn and HighestPfn (inclusive), not crossing a
 * multiple of BoundaryPfns (0 = no boundary). */
BOOLEAN MiAllocateContiguousPhysicalPagesEx(PFN_NUMBER Count, PFN_NUMBER LowestPfn,
                                            PFN_NUMBER HighestPfn, PFN_NUMBER BoundaryPfns,
                                            PPFN_NUMBER BasePfn);
VOID MiFreeContiguousPhysicalPages(PFN_NUMBER BasePfn, PFN_NUMBER Count);
/* Free pages, zeroed ones and pages being zeroed included. */
PFN_NUMBER MiFreePhysicalPageCount(VOID);
PFN_NUMBER MiZeroedPhysicalPageCount(VOID);
/* Moves up to MaxPages pages from the free list to the zeroed list,
 * clearing them; returns how many. The zero-page thread's work. */
PFN_NUMBER MiZeroFreePages(PFN_NUMBER MaxPages);
/* ---- Zero-page thread (zeropage.c; owner: perf) ---- */
/* Pages on the free list (not yet zeroed). */
PFN_NUMBER MiFreeListPageCount(VOID);
/* Starts the priority-0 thread that zeroes free pages while the system is
 * idle (phase 1; once). */
NTSTATUS MiStartZeroPageThread(VOID);
/* Wakes it if it sleeps (pfn.c calls this after freeing pages). */
VOID MiSignalZeroPageThread(VOID);
/* Test seam: stops the thread from zeroing (returns once no batch is in
 * progress) / lets it go on. */
VOID MiPauseZeroPageThread(BOOLEAN Pause);
/* How many times a free woke the thread (tests). */
ULONG MiQueryZeroPageWakes(VOID);
/* The thread, or NULL before MiStartZeroPageThread. */
struct _KTHREAD *MiQueryZeroPageThread(VOID);
/* MDL locks: a reference keeps an owned (Active) page from reaching the
 * free list until the last reference goes, even if its owner frees it.
 * Returns FALSE (and takes nothing) for pages the database does not own
 * (device memory, firmware). */
BOOLEAN MiReferencePhysicalPage(PFN_NUMBER Pfn);
VOID MiDereferencePhysicalPage(PFN_NUMBER Pfn);
ULONG MiPhysicalPageLockCount(PFN_NUMBER Pfn);
BOOLEAN MiIsPhysicalPageOwned(PFN_NUMBER Pfn);
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
/* The same with a protection (PAGE_READWRITE / PAGE_READONLY) and a
 * MEMORY_CACHING_TYPE (iospace.c); also used for contiguous memory. */
PVOID MiMapPhysicalRange(ULONG64 PhysicalAddress, SIZE_T Bytes, ULONG Protect, ULONG CacheType);
/* The MEMORY_CACHING_TYPE a PAGE_NOCACHE / PAGE_WRITECOMBINE protection
 * asks for; FALSE for both at once. */
BOOLEAN MiCacheTypeFromProtect(ULONG Protect, PULONG CacheType);
VOID MiUnmapPhysicalRange(PVOID Base, SIZE_T Bytes);

/* ---- System PTEs (syspte.c): kernel VA in the system range ------------ */

NTSTATUS MiInitializeSystemPtes(VOID);
/* Reserves Pages pages of VA (nothing mapped); 0 when the range is full. */
ULONG_PTR MiReserveSystemPtes(SIZE_T Pages);
/* Releases a reservation; a range that is not reserved is a bug check
 * (MEMORY_MANAGEMENT). The caller has unmapped it and flushed TLBs. */
VOID MiReleaseSystemPtes(ULONG_PTR Va, SIZE_T Pages);
/* TRUE when [Va, Va + Pages pages) lies inside the system range. */
BOOLEAN MiIsSystemPteRange(ULONG_PTR Va, SIZE_T Pages);
SIZE_T MiSystemPtesInUse(VOID);
/* The longest run of free system PTEs (fragmentation checks). */
SIZE_T MiLargestFreeSystemPteRun(VOID);

/* Backs [Va, Va + Pages pages) with fresh physical pages (zeroed when
 * Zero) mapped with Protect; on failure nothing stays mapped. */
NTSTATUS MiMapNewPages(ULONG_PTR Va, SIZE_T Pages, ULONG Protect, BOOLEAN Zero);
/* Reserves Pages + 1 pages of system VA and maps fresh zeroed read-write
 * pages on all but one guard page, left unmapped: the first when
 * GuardBelow (a stack), else the last. Returns the first mapped address;
 * 0 when out of pages or VA (a shortage of pages first gives back the
 * cached dead stacks, stack.c, and tries again). */
ULONG_PTR MiMapGuardedRun(SIZE_T Pages, BOOLEAN GuardBelow);
/* Unmaps the range, flushes every processor's TLB for it, then frees the
 * physical pages behind it (never before the flush). */
VOID MiUnmapAndFreePages(ULONG_PTR Va, SIZE_T Pages);

/* ---- TLB (tlb.c) --------------------------------------------------------- */

/* Makes every processor drop translations of the range (the local one
 * included); called after unmapping or reducing protection and before the
 * VA or the pages are reused. */
VOID MiFlushTlbRange(ULONG_PTR Va, SIZE_T Pages);
extern volatile LONGLONG MiTlbFlushCount;

/* ---- Kernel stacks (stack.c) ------------------------------------------- */

/* Maps Size bytes (rounded up to pages; 0 = KERNEL_STACK_SIZE) of stack
 * with an unmapped guard page below them: a dead stack of the size kernel
 * threads use (KI_KERNEL_STACK_SIZE) when one is cached, else fresh zeroed
 * pages. Returns the stack base (top, exclusive) and the lowest usable
 * address in *StackLimit; NULL when out of memory or VA. */
PVOID MmCreateKernelStack(SIZE_T Size, PULONG_PTR StackLimit);
/* Size must be the one passed to MmCreateKernelStack. A stack of the
 * cached size is kept mapped for the next thread while the cache has
 * room; deleting one twice is a bug check (MEMORY_MANAGEMENT). */
VOID MmDeleteKernelStack(PVOID StackBase, SIZE_T Size);
/* Frees every cached dead stack; returns the pages given back. Called
 * when memory runs short, and by tests before page-count baselines. */
SIZE_T MiFlushDeadStacks(VOID);
ULONG MiDeadStackCacheCount(VOID);

#endif /* _MM_ */

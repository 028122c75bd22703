/*
 * contig.c - physically contiguous memory for devices:
 * MmAllocateContiguousMemory(SpecifyCache), MmAllocateContiguousNodeMemory
 * and MmFreeContiguousMemory(SpecifyCache). A run of owned physical pages
 * (pfn.c, top down within the caller's limits) mapped into system PTEs
 * with the caller's caching type and a guard page after it. Each live
 * allocation has a record so a free can find its size and a bad free is
 * caught (BAD_POOL_CALLER 0x60, as NT reports it).
 */
#include <ntddk.h>
#include <arch.h>
#include <ex.h>
#include <ke.h>
#include <mm.h>

typedef struct _MI_CONTIGUOUS_BLOCK {
    struct _MI_CONTIGUOUS_BLOCK *Next;
    PVOID Base;
    PFN_NUMBER BasePfn;
    PFN_NUMBER Pages;
} MI_CONTIGUOUS_BLOCK, *PMI_CONTIGUOUS_BLOCK;

static PMI_CONTIGUOUS_BLOCK MiContiguousBlocks;
static KI_LOCK MiContiguousLock;

static PVOID MiTryAllocateContiguous(SIZE_T NumberOfBytes, ULONG64 Lowest, ULONG64 Highest,
                                     ULONG64 Boundary, ULONG Protect, ULONG CacheType)
{
    PFN_NUMBER Pages = BYTES_TO_PAGES(NumberOfBytes), BasePfn, HighestPfn;
    PMI_CONTIGUOUS_BLOCK Block;
    KIRQL OldIrql;
    PVOID Base;

    if (NumberOfBytes == 0 || Pages > MiFreePhysicalPageCount() || Highest < Lowest ||
        (Boundary & (PAGE_SIZE - 1)) != 0 || CacheType >= MmMaximumCacheType) {
        return NULL;
    }
    Block = ExpAllocateKernelMemory(sizeof(*Block));
    if (Block == NULL) {
        return NULL;
    }
    /* Only whole pages inside [Lowest, Highest] (both inclusive) qualify:
     * a device limited to 16 MiB passes 0xFFFFFF. */
    HighestPfn = Highest == ~0ull ? ~(PFN_NUMBER)0 : (PFN_NUMBER)((Highest + 1) >> PAGE_SHIFT);
    if (HighestPfn-- == 0 ||
        !MiAllocateContiguousPhysicalPagesEx(Pages, (PFN_NUMBER)BYTES_TO_PAGES(Lowest), HighestPfn,
                                             (PFN_NUMBER)(Boundary >> PAGE_SHIFT), &BasePfn)) {
        ExpFreeKernelMemory(Block);
        return NULL;
    }
    Base =
        MiMapPhysicalRange((ULONG64)BasePfn << PAGE_SHIFT, Pages * PAGE_SIZE, Protect, CacheType);
    if (Base == NULL) {
        MiFreeContiguousPhysicalPages(BasePfn, Pages);
        ExpFreeKernelMemory(Block);
        return NULL;
    }
    Block->Base = Base;
    Block->BasePfn = BasePfn;
    Block->Pages = Pages;
    OldIrql = KiAcquireLock(&MiContiguousLock);
    Block->Next = MiContiguousBlocks;
    MiContiguousBlocks = Block;
    KiReleaseLock(&MiContiguousLock, OldIrql);
    return Base;
}

static PVOID MiAllocateContiguous(SIZE_T NumberOfBytes, ULONG64 Lowest, ULONG64 Highest,
                                  ULONG64 Boundary, ULONG Protect, ULONG CacheType)
{
    PVOID Base =
        MiTryAllocateContiguous(NumberOfBytes, Lowest, Highest, Boundary, Protect, CacheType);

    /* Short of pages: the dead stacks kept for new threads go first. */
    if (Base == NULL && NumberOfBytes != 0 && MiFlushDeadStacks() != 0) {
        Base =
            MiTryAllocateContiguous(NumberOfBytes, Lowest, Highest, Boundary, Protect, CacheType);
    }
    return Base;
}

PVOID NTAPI MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
                                                   PHYSICAL_ADDRESS LowestAcceptableAddress,
                                                   PHYSICAL_ADDRESS HighestAcceptableAddress,
                                                   PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                                   MEMORY_CACHING_TYPE CacheType)
{
    return MiAllocateContiguous(NumberOfBytes, (ULONG64)LowestAcceptableAddress.QuadPart,
                                (ULONG64)HighestAcceptableAddress.QuadPart,
                                (ULONG64)BoundaryAddressMultiple.QuadPart, PAGE_READWRITE,
                                (ULONG)CacheType);
}

PVOID NTAPI MmAllocateContiguousMemory(SIZE_T NumberOfBytes,
                                       PHYSICAL_ADDRESS HighestAcceptableAddress)
{
    return MiAllocateContiguous(NumberOfBytes, 0, (ULONG64)HighestAcceptableAddress.QuadPart, 0,
                                PAGE_READWRITE, MmCached);
}

PVOID NTAPI MmAllocateContiguousNodeMemory(SIZE_T NumberOfBytes,
                                           PHYSICAL_ADDRESS LowestAcceptableAddress,
                                           PHYSICAL_ADDRESS HighestAcceptableAddress,
                                           PHYSICAL_ADDRESS BoundaryAddressMultiple, ULONG Protect,
                                           NODE_REQUIREMENT PreferredNode)
{
    ULONG Access = Protect & ~(ULONG)(PAGE_NOCACHE | PAGE_WRITECOMBINE);
    ULONG Cache;

    /* One node: any PreferredNode is satisfied by node 0. */
    (VOID) PreferredNode;
    if (Access != PAGE_READWRITE && Access != PAGE_READONLY) {
        return NULL;
    }
    if (!MiCacheTypeFromProtect(Protect, &Cache)) {
        return NULL;
    }
    return MiAllocateContiguous(NumberOfBytes, (ULONG64)LowestAcceptableAddress.QuadPart,
                                (ULONG64)HighestAcceptableAddress.QuadPart,
                                (ULONG64)BoundaryAddressMultiple.QuadPart, Access, Cache);
}

VOID NTAPI MmFreeContiguousMemory(PVOID BaseAddress)
{
    PMI_CONTIGUOUS_BLOCK *Link, Block = NULL;
    KIRQL OldIrql;

    if (BaseAddress == NULL) {
        return;
    }
    OldIrql = KiAcquireLock(&MiContiguousLock);
    for (Link = &MiContiguousBlocks; *Link != NULL; Link = &(*Link)->Next) {
        if ((*Link)->Base == BaseAddress) {
            Block = *Link;
            *Link = Block->Next;
            break;
        }
    }
    KiReleaseLock(&MiContiguousLock, OldIrql);
    if (Block == NULL) {
        KeBugCheckEx(BAD_POOL_CALLER, 0x60, (ULONG_PTR)BaseAddress, 0, 0);
    }
    /* Unmap (and shoot down TLBs) before the pages can be reused. */
    MiUnmapPhysicalRange(Block->Base, Block->Pages * PAGE_SIZE);
    MiFreeContiguousPhysicalPages(Block->BasePfn, Block->Pages);
    ExpFreeKernelMemory(Block);
}

VOID NTAPI MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes,
                                              MEMORY_CACHING_TYPE CacheType)
{
    (VOID) NumberOfBytes;
    (VOID) CacheType;
    MmFreeContiguousMemory(BaseAddress);
}

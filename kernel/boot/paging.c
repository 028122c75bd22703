/*
 * paging.c - the 4-level page tables the kernel is entered with: all
 * physical memory at BL_PHYSICAL_MAP_BASE (no-execute, 2 MiB pages,
 * uncached where the firmware map has no RAM), the same tables as an
 * identity map for the loader's last instructions (the kernel drops it),
 * and ntoskrnl.exe at its base with 4 KiB pages.
 */
#include "bootp.h"

#define PTE_PRESENT       0x1ULL
#define PTE_WRITE         0x2ULL
#define PTE_WRITE_THROUGH 0x8ULL
#define PTE_CACHE_DISABLE 0x10ULL
#define PTE_LARGE         0x80ULL
#define PTE_NO_EXECUTE    (1ULL << 63)
#define PTE_FRAME         0x000FFFFFFFFFF000ULL

#define BLP_GIB       0x40000000ULL
#define BLP_PML4_SPAN 0x8000000000ULL /* 512 GiB per PML4 entry */

static UINT64 *BlpRoot;
static UINT64 BlpNoExecute;

static UINT64 *BlpTable(UINT64 Entry)
{
    return (UINT64 *)(ULONG_PTR)(Entry & PTE_FRAME);
}

VOID BlPagingInitialize(BOOLEAN UseNx)
{
    BlpNoExecute = UseNx ? PTE_NO_EXECUTE : 0;
    BlpRoot = (UINT64 *)(ULONG_PTR)BlAllocatePages(1, LoaderMemoryData);
}

UINT64 BlPageTableRoot(VOID)
{
    return (UINT64)(ULONG_PTR)BlpRoot;
}

VOID BlMapPhysicalMemory(UINT64 Size)
{
    UINT64 *Pdpt;
    UINT64 Gib;
    ULONG Index;

    /* One PDPT covers 512 GiB, more than QEMU machines here ever get. */
    if (Size > BLP_PML4_SPAN) {
        Size = BLP_PML4_SPAN;
    }
    Pdpt = (UINT64 *)(ULONG_PTR)BlAllocatePages(1, LoaderMemoryData);
    BlpRoot[(BL_PHYSICAL_MAP_BASE >> 39) & 511] =
        (UINT64)(ULONG_PTR)Pdpt | PTE_PRESENT | PTE_WRITE | BlpNoExecute;
    BlpRoot[0] = (UINT64)(ULONG_PTR)Pdpt | PTE_PRESENT | PTE_WRITE;

    for (Gib = 0; Gib * BLP_GIB < Size; Gib++) {
        UINT64 *Pd = (UINT64 *)(ULONG_PTR)BlAllocatePages(1, LoaderMemoryData);

        Pdpt[Gib] = (UINT64)(ULONG_PTR)Pd | PTE_PRESENT | PTE_WRITE;
        for (Index = 0; Index < 512; Index++) {
            UINT64 Physical = Gib * BLP_GIB + (UINT64)Index * BL_LARGE_PAGE_SIZE;
            UINT64 Flags = PTE_PRESENT | PTE_WRITE | PTE_LARGE;

            /* Device memory (LAPIC, IOAPIC, PCI holes) must not be cached. */
            if (!BlRangeHasRam(Physical, BL_LARGE_PAGE_SIZE)) {
                Flags |= PTE_CACHE_DISABLE | PTE_WRITE_THROUGH;
            }
            Pd[Index] = Physical | Flags;
        }
    }
}

/* The next-level table under Table[Index], created if missing. */
static UINT64 *BlpNextTable(UINT64 *Table, ULONG Index)
{
    if ((Table[Index] & PTE_PRESENT) == 0) {
        Table[Index] = BlAllocatePages(1, LoaderMemoryData) | PTE_PRESENT | PTE_WRITE;
    } else if ((Table[Index] & PTE_LARGE) != 0) {
        BlFatal("kernel image overlaps a large-page mapping", NULL);
    }
    return BlpTable(Table[Index]);
}

VOID BlMapPage(UINT64 VirtualAddress, UINT64 PhysicalAddress)
{
    UINT64 *Pdpt = BlpNextTable(BlpRoot, (VirtualAddress >> 39) & 511);
    UINT64 *Pd = BlpNextTable(Pdpt, (VirtualAddress >> 30) & 511);
    UINT64 *Pt = BlpNextTable(Pd, (VirtualAddress >> 21) & 511);

    Pt[(VirtualAddress >> 12) & 511] = (PhysicalAddress & PTE_FRAME) | PTE_PRESENT | PTE_WRITE;
}

/*
 * mmu.c - the kernel's page tables on x64 (4-level paging). At boot it
 * builds a fresh PML4 holding only what the kernel needs: the physical map
 * (2 MiB pages, read/write, no-execute), ntoskrnl.exe with per-section
 * protections (.text RX, read-only data R+NX, .data/.bss RW+NX) and the
 * system range for kernel pages; the loader's identity map is dropped.
 * Then the MMU primitives of arch.h over the live tables. Page-table pages
 * come from the physical allocator and are reached through the physical
 * map.
 */
#include <ntddk.h>
#include <ntimage.h>
#include <mm.h>
#include "archp.h"

#define PTE_PRESENT 0x001ull
#define PTE_WRITE   0x002ull
#define PTE_PWT     0x008ull
#define PTE_PCD     0x010ull
#define PTE_LARGE   0x080ull
#define PTE_GLOBAL  0x100ull
#define PTE_MAPPED  0x200ull /* software: a mapping exists (even if not present) */
#define PTE_NX      (1ull << 63)
#define PTE_FRAME   0x000FFFFFFFFFF000ull

#define LARGE_PAGE_SIZE 0x200000ull

/* The system range for kernel pages: 1 GiB in its own PML4 slot, away from
 * the physical map (0xFFFF8000...) and the kernel image (0xFFFFF800...). */
#define MI_SYSTEM_VA_BASE 0xFFFFF90000000000ull
#define MI_SYSTEM_VA_SIZE (1ull << 30)

static ULONG64 MiKernelPml4; /* physical address */

static PULONG64 MiTable(ULONG64 Physical)
{
    return (PULONG64)(MmPhysicalMapBase + (Physical & PTE_FRAME));
}

static ULONG MiIndex(ULONG_PTR Va, ULONG Level)
{
    /* Level 3 = PML4, 2 = PDPT, 1 = PD, 0 = PT. */
    return (ULONG)((Va >> (12 + 9 * Level)) & 0x1FF);
}

/* Returns the entry for Va at level 0 (4 KiB pages), creating the tables
 * above it when Create is set; NULL when missing or covered by a large
 * page.
 *
 * Processors map pages of different reservations at the same time, and
 * two reservations may share a page table that does not exist yet: a new
 * table is installed with a compare-exchange, and the processor that loses
 * the race frees its page and uses the winner's. (A plain store would let
 * the last processor replace a table the first one already mapped pages
 * into, unmapping them behind their owner's back.) */
static PULONG64 MiWalk(ULONG64 Pml4, ULONG_PTR Va, BOOLEAN Create)
{
    PULONG64 Table = MiTable(Pml4);

    for (ULONG Level = 3; Level > 0; Level--) {
        PULONG64 Entry = &Table[MiIndex(Va, Level)];
        ULONG64 Value = __atomic_load_n(Entry, __ATOMIC_ACQUIRE);
        if (!(Value & PTE_PRESENT)) {
            PFN_NUMBER Pfn;
            ULONG64 New;
            if (!Create || !MiAllocatePhysicalPage(&Pfn, TRUE)) {
                return NULL;
            }
            /* Upper levels grant everything; the leaf decides. */
            New = ((ULONG64)Pfn << PAGE_SHIFT) | PTE_PRESENT | PTE_WRITE;
            if (__atomic_compare_exchange_n(Entry, &Value, New, FALSE, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                Value = New;
            } else {
                /* Another processor installed this table first. */
                MiFreePhysicalPage(Pfn);
            }
        }
        if (Value & PTE_LARGE) {
            return NULL;
        }
        Table = MiTable(Value);
    }
    return &Table[MiIndex(Va, 0)];
}

static ULONG64 MiProtectionBits(ULONG Protect)
{
    ULONG64 Bits;

    switch (Protect & ~(ULONG)PAGE_NOCACHE) {
    case PAGE_NOACCESS:
        Bits = PTE_NX;
        break;
    case PAGE_READONLY:
        Bits = PTE_PRESENT | PTE_NX;
        break;
    case PAGE_READWRITE:
        Bits = PTE_PRESENT | PTE_WRITE | PTE_NX;
        break;
    case PAGE_EXECUTE:
    case PAGE_EXECUTE_READ:
        Bits = PTE_PRESENT;
        break;
    case PAGE_EXECUTE_READWRITE:
        Bits = PTE_PRESENT | PTE_WRITE;
        break;
    default:
        return 0;
    }
    if (Protect & PAGE_NOCACHE) {
        Bits |= PTE_PCD | PTE_PWT;
    }
    return Bits | PTE_MAPPED;
}

static BOOLEAN MiInSystemRange(ULONG_PTR Va)
{
    return Va >= MiSystemVaStart && (Va - MiSystemVaStart) / PAGE_SIZE < MiSystemVaPages;
}

NTSTATUS MiArchMapPage(ULONG_PTR Va, PFN_NUMBER Pfn, ULONG Protect)
{
    ULONG64 Bits = MiProtectionBits(Protect);
    PULONG64 Pte;

    if (Bits == 0 || !MiInSystemRange(Va) || (Va & (PAGE_SIZE - 1)) != 0 || MiKernelPml4 == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    Pte = MiWalk(MiKernelPml4, Va, TRUE);
    if (Pte == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (*Pte & PTE_MAPPED) {
        return STATUS_CONFLICTING_ADDRESSES;
    }
    *Pte = ((ULONG64)Pfn << PAGE_SHIFT) | Bits;
    return STATUS_SUCCESS;
}

NTSTATUS MiArchMapIoPage(ULONG_PTR Va, PFN_NUMBER Pfn, ULONG Protect, ULONG CacheType)
{
    ULONG64 Cache;
    NTSTATUS Status;

    if (Protect != PAGE_READWRITE && Protect != PAGE_READONLY) {
        return STATUS_INVALID_PARAMETER;
    }
    /* The PAT MSR keeps its power-on value (entries 0-3: WB, WT, UC-,
     * UC), so PWT/PCD alone pick the type. Write-combining maps as UC-,
     * which lets a write-combining MTRR take effect, and is never less
     * strict than the caller asked for. */
    switch (CacheType) {
    case MmNonCached:
    case MmNonCachedUnordered:
        Cache = PTE_PCD | PTE_PWT;
        break;
    case MmWriteCombined:
    case MmUSWCCached:
        Cache = PTE_PCD;
        break;
    case MmCached:
    case MmHardwareCoherentCached:
        Cache = 0;
        break;
    default:
        return STATUS_INVALID_PARAMETER;
    }
    Status = MiArchMapPage(Va, Pfn, Protect);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    if (Cache != 0) {
        PULONG64 Pte = MiWalk(MiKernelPml4, Va, FALSE);
        *Pte |= Cache;
        KiInvalidatePage(Va);
    }
    return STATUS_SUCCESS;
}

VOID MiArchInvalidateRange(ULONG_PTR Va, SIZE_T Pages)
{
    /* Past a few dozen pages a full flush is cheaper; system range
     * mappings are never global, so reloading CR3 drops them. */
    if (Pages > 32) {
        KiWriteCr3(KiReadCr3());
        return;
    }
    for (SIZE_T i = 0; i < Pages; i++) {
        KiInvalidatePage(Va + i * PAGE_SIZE);
    }
}

BOOLEAN MiArchUnmapPage(ULONG_PTR Va, PPFN_NUMBER Pfn)
{
    PULONG64 Pte;

    if (!MiInSystemRange(Va) || MiKernelPml4 == 0) {
        return FALSE;
    }
    Pte = MiWalk(MiKernelPml4, Va, FALSE);
    if (Pte == NULL || !(*Pte & PTE_MAPPED)) {
        return FALSE;
    }
    *Pfn = (PFN_NUMBER)((*Pte & PTE_FRAME) >> PAGE_SHIFT);
    *Pte = 0;
    KiInvalidatePage(Va);
    return TRUE;
}

NTSTATUS MiArchProtectPage(ULONG_PTR Va, ULONG Protect)
{
    ULONG64 Bits = MiProtectionBits(Protect);
    PULONG64 Pte;

    if (Bits == 0 || !MiInSystemRange(Va) || MiKernelPml4 == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    Pte = MiWalk(MiKernelPml4, Va, FALSE);
    if (Pte == NULL || !(*Pte & PTE_MAPPED)) {
        return STATUS_INVALID_ADDRESS;
    }
    *Pte = (*Pte & PTE_FRAME) | Bits;
    KiInvalidatePage(Va);
    return STATUS_SUCCESS;
}

/* Walks the live tables (CR3), large pages included. */
static BOOLEAN MiLookup(ULONG_PTR Va, PULONG64 Physical, BOOLEAN RequirePresent)
{
    PULONG64 Table;
    ULONG64 Entry = 0;

    if (MmPhysicalMapBase == 0) {
        return FALSE;
    }
    Table = MiTable(KiReadCr3());
    for (ULONG Level = 3;; Level--) {
        Entry = Table[MiIndex(Va, Level)];
        if (Level == 0 || !(Entry & PTE_PRESENT)) {
            break;
        }
        if ((Entry & PTE_LARGE) && Level <= 2) {
            ULONG64 Size = 1ull << (12 + 9 * Level);
            *Physical = (Entry & PTE_FRAME & ~(Size - 1)) + (Va & (Size - 1));
            return TRUE;
        }
        Table = MiTable(Entry);
    }
    if ((Entry & PTE_PRESENT) || (!RequirePresent && (Entry & PTE_MAPPED))) {
        *Physical = (Entry & PTE_FRAME) + (Va & (PAGE_SIZE - 1));
        return TRUE;
    }
    return FALSE;
}

BOOLEAN MiArchTranslate(ULONG_PTR Va, PULONG64 PhysicalAddress)
{
    return MiLookup(Va, PhysicalAddress, FALSE);
}

VOID MiArchForgetContents(ULONG_PTR Va, SIZE_T Pages)
{
    /* Nothing is kept about a page's contents. */
    (VOID) Va;
    (VOID) Pages;
}

BOOLEAN MiArchIsAddressReadable(ULONG_PTR Va)
{
    ULONG64 Physical;
    /* Non-canonical addresses fault with #GP before any table is read. */
    if ((LONG_PTR)Va >> 47 != 0 && (LONG_PTR)Va >> 47 != -1) {
        return FALSE;
    }
    return MiLookup(Va, &Physical, TRUE);
}

/* ---- Boot: the kernel's own address space ------------------------------ */

static NTSTATUS MiMapBootPage(ULONG64 Pml4, ULONG_PTR Va, ULONG64 Physical, ULONG64 Bits)
{
    PULONG64 Pte = MiWalk(Pml4, Va, TRUE);
    if (Pte == NULL) {
        return STATUS_NO_MEMORY;
    }
    *Pte = (Physical & PTE_FRAME) | Bits | PTE_GLOBAL;
    return STATUS_SUCCESS;
}

static NTSTATUS MiMapPhysicalMap(ULONG64 Pml4, ULONG_PTR Base, ULONG64 Size)
{
    for (ULONG64 Physical = 0; Physical < Size; Physical += LARGE_PAGE_SIZE) {
        ULONG_PTR Va = Base + Physical;
        PULONG64 Table = MiTable(Pml4);
        for (ULONG Level = 3; Level > 1; Level--) {
            PULONG64 Entry = &Table[MiIndex(Va, Level)];
            if (!(*Entry & PTE_PRESENT)) {
                PFN_NUMBER Pfn;
                if (!MiAllocatePhysicalPage(&Pfn, TRUE)) {
                    return STATUS_NO_MEMORY;
                }
                *Entry = ((ULONG64)Pfn << PAGE_SHIFT) | PTE_PRESENT | PTE_WRITE;
            }
            Table = MiTable(*Entry);
        }
        Table[MiIndex(Va, 1)] =
            Physical | PTE_PRESENT | PTE_WRITE | PTE_LARGE | PTE_GLOBAL | PTE_NX;
    }
    return STATUS_SUCCESS;
}

/* Per-page protection for ntoskrnl.exe from its section table (the image
 * is the one the loader mapped; its headers are checked anyway). */
static ULONG64 MiKernelPageBits(PUCHAR Image, ULONG64 ImageSize, ULONG64 Rva)
{
    const IMAGE_DOS_HEADER *Dos = (const IMAGE_DOS_HEADER *)Image;
    const IMAGE_NT_HEADERS64 *Nt;
    const IMAGE_SECTION_HEADER *Sections;
    ULONG64 SectionTable;
    ULONG Count;

    if (ImageSize < sizeof(*Dos) || Dos->e_magic != IMAGE_DOS_SIGNATURE ||
        (ULONG64)(ULONG)Dos->e_lfanew + sizeof(IMAGE_NT_HEADERS64) > ImageSize) {
        return PTE_PRESENT | PTE_WRITE; /* unknown layout: stay permissive */
    }
    Nt = (const IMAGE_NT_HEADERS64 *)(Image + (ULONG)Dos->e_lfanew);
    Count = Nt->FileHeader.NumberOfSections;
    SectionTable = (ULONG64)(ULONG)Dos->e_lfanew + offsetof(IMAGE_NT_HEADERS64, OptionalHeader) +
                   Nt->FileHeader.SizeOfOptionalHeader;
    if (Nt->Signature != IMAGE_NT_SIGNATURE ||
        SectionTable + (ULONG64)Count * sizeof(IMAGE_SECTION_HEADER) > ImageSize) {
        return PTE_PRESENT | PTE_WRITE;
    }
    Sections = (const IMAGE_SECTION_HEADER *)(Image + SectionTable);
    for (ULONG i = 0; i < Count; i++) {
        ULONG64 Start = Sections[i].VirtualAddress;
        ULONG64 Size =
            Sections[i].Misc.VirtualSize ? Sections[i].Misc.VirtualSize : Sections[i].SizeOfRawData;
        ULONG Characteristics = Sections[i].Characteristics;
        if (Rva < Start || Rva >= ROUND_TO_PAGES(Start + Size)) {
            continue;
        }
        if (Characteristics & IMAGE_SCN_MEM_EXECUTE) {
            return PTE_PRESENT | ((Characteristics & IMAGE_SCN_MEM_WRITE) ? PTE_WRITE : 0);
        }
        if (Characteristics & IMAGE_SCN_MEM_WRITE) {
            return PTE_PRESENT | PTE_WRITE | PTE_NX;
        }
        return PTE_PRESENT | PTE_NX;
    }
    /* Headers and gaps: read-only data. */
    return PTE_PRESENT | PTE_NX;
}

NTSTATUS MiInitializeKernelAddressSpace(PLOADER_PARAMETER_BLOCK LoaderBlock)
{
    PFN_NUMBER Pml4Pfn;
    NTSTATUS Status;
    ULONG_PTR KernelBase = LoaderBlock->KernelVirtualBase;
    ULONG64 KernelSize = ROUND_TO_PAGES(LoaderBlock->KernelImageSize);

    if (!MiAllocatePhysicalPage(&Pml4Pfn, TRUE)) {
        return STATUS_NO_MEMORY;
    }
    ULONG64 Pml4 = (ULONG64)Pml4Pfn << PAGE_SHIFT;

    Status =
        MiMapPhysicalMap(Pml4, MmPhysicalMapBase, ALIGN_UP_BY(MiPhysicalMapSize, LARGE_PAGE_SIZE));
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    for (ULONG64 Rva = 0; Rva < KernelSize; Rva += PAGE_SIZE) {
        Status = MiMapBootPage(Pml4, KernelBase + Rva, LoaderBlock->KernelPhysicalBase + Rva,
                               MiKernelPageBits((PUCHAR)KernelBase, KernelSize, Rva));
        if (!NT_SUCCESS(Status)) {
            return Status;
        }
    }
    /* Pre-create the system range's PML4 entry so later mappings never
     * touch the top level. */
    if (MiWalk(Pml4, MI_SYSTEM_VA_BASE, TRUE) == NULL) {
        return STATUS_NO_MEMORY;
    }

    KiWriteCr3(Pml4);
    MiKernelPml4 = Pml4;
    MiSystemVaStart = MI_SYSTEM_VA_BASE;
    MiSystemVaPages = MI_SYSTEM_VA_SIZE / PAGE_SIZE;

    /* The loader, its stack, page tables and the original block are no
     * longer referenced (the block was copied, the stack switched). */
    MiFreeLoaderMemory(LoaderBlock->MemoryDescriptors, LoaderBlock->MemoryDescriptorCount,
                       LoaderLoadedProgram);
    MiFreeLoaderMemory(LoaderBlock->MemoryDescriptors, LoaderBlock->MemoryDescriptorCount,
                       LoaderOsloaderStack);
    MiFreeLoaderMemory(LoaderBlock->MemoryDescriptors, LoaderBlock->MemoryDescriptorCount,
                       LoaderMemoryData);
    MiFreeLoaderMemory(LoaderBlock->MemoryDescriptors, LoaderBlock->MemoryDescriptorCount,
                       LoaderFirmwareTemporary);
    return STATUS_SUCCESS;
}

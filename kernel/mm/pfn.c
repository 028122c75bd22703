/*
 * pfn.c - the physical page allocator: the PFN database (one MMPFN per
 * physical page up to the highest page of RAM) built from the loader's
 * memory map, a doubly linked free list threaded through it, and
 * contiguous allocation. Portable: pages are touched only through the
 * physical map (MmPhysicalMapBase + physical address), so the same code
 * runs on bare metal and over the hosted HAL's mmap'd "RAM".
 */
#include <ntddk.h>
#include <arc.h>
#include <ke.h>
#include <mm.h>

#define MI_PFN_NONE 0xFFFFFFFFu
/* Indices are 32 bits: 16 TiB of RAM is plenty for now. */
#define MI_MAX_PFN_COUNT 0xFFFFFFF0ull

typedef enum _MI_PFN_STATE {
    MiPfnUnusable = 0, /* not RAM, bad, or never handed to the allocator */
    MiPfnFree,
    MiPfnActive,
} MI_PFN_STATE;

typedef struct _MMPFN {
    ULONG Flink;
    ULONG Blink;
    UCHAR State;
    UCHAR LoaderType; /* TYPE_OF_MEMORY the page had at boot */
    USHORT Reserved0;
    ULONG Reserved1;
} MMPFN, *PMMPFN;

_Static_assert(sizeof(MMPFN) == 16, "MMPFN is 16 bytes");

ULONG_PTR MmPhysicalMapBase;
ULONG64 MiPhysicalMapSize;

static PMMPFN MmPfnDatabase;
static ULONG64 MiPfnCount;
static ULONG MiFreeListHead = MI_PFN_NONE;
static PFN_NUMBER MiFreePages;
static PFN_NUMBER MiTotalPages;
static KI_LOCK MiPfnLock;

/* Memory types that are RAM the kernel may eventually own. */
static BOOLEAN MiIsRamType(ULONG Type)
{
    return Type < LoaderMaximum && Type != LoaderBad && Type != LoaderFirmwarePermanent &&
           Type != LoaderSpecialMemory && Type != LoaderXIPRom && Type != LoaderReserve;
}

static BOOLEAN MiDescriptorRange(const MEMORY_ALLOCATION_DESCRIPTOR *D, PULONG64 Start,
                                 PULONG64 End)
{
    if (D->PageCount == 0 || D->BasePage >= MI_MAX_PFN_COUNT ||
        D->PageCount > MI_MAX_PFN_COUNT - D->BasePage) {
        return FALSE;
    }
    *Start = D->BasePage;
    *End = D->BasePage + D->PageCount;
    return TRUE;
}

static VOID MiInsertFree(ULONG Pfn)
{
    PMMPFN Entry = &MmPfnDatabase[Pfn];
    Entry->State = MiPfnFree;
    Entry->LoaderType = LoaderFree;
    Entry->Blink = MI_PFN_NONE;
    Entry->Flink = MiFreeListHead;
    if (MiFreeListHead != MI_PFN_NONE) {
        MmPfnDatabase[MiFreeListHead].Blink = Pfn;
    }
    MiFreeListHead = Pfn;
    MiFreePages++;
}

static VOID MiUnlinkFree(ULONG Pfn)
{
    PMMPFN Entry = &MmPfnDatabase[Pfn];
    if (Entry->Blink != MI_PFN_NONE) {
        MmPfnDatabase[Entry->Blink].Flink = Entry->Flink;
    } else {
        MiFreeListHead = Entry->Flink;
    }
    if (Entry->Flink != MI_PFN_NONE) {
        MmPfnDatabase[Entry->Flink].Blink = Entry->Blink;
    }
    Entry->Flink = Entry->Blink = MI_PFN_NONE;
    Entry->State = MiPfnActive;
    MiFreePages--;
}

static BOOLEAN MiPhysicalRangeMapped(ULONG64 StartPfn, ULONG64 EndPfn)
{
    return MiPhysicalMapSize == 0 || EndPfn <= (MiPhysicalMapSize >> PAGE_SHIFT) ||
           StartPfn >= EndPfn;
}

NTSTATUS MiInitializePhysicalAllocator(const MEMORY_ALLOCATION_DESCRIPTOR *Descriptors, ULONG Count)
{
    ULONG64 Highest = 0, DatabasePages, DatabaseBase = 0, Start, End;
    BOOLEAN Found = FALSE;

    if (Descriptors == NULL || Count == 0 || Count > LOADER_MAX_MEMORY_DESCRIPTORS ||
        MmPhysicalMapBase == 0) {
        return STATUS_INVALID_PARAMETER;
    }

    /* The database covers RAM up to its highest page (reserved ranges high
     * in the address space would otherwise make it huge). */
    for (ULONG i = 0; i < Count; i++) {
        if (MiIsRamType(Descriptors[i].MemoryType) &&
            MiDescriptorRange(&Descriptors[i], &Start, &End) && End > Highest) {
            Highest = End;
        }
    }
    if (MiPhysicalMapSize != 0 && Highest > (MiPhysicalMapSize >> PAGE_SHIFT)) {
        Highest = MiPhysicalMapSize >> PAGE_SHIFT;
    }
    if (Highest == 0) {
        return STATUS_NO_MEMORY;
    }
    DatabasePages = BYTES_TO_PAGES(Highest * sizeof(MMPFN));

    /* Place the database at the start of a free run that no other
     * descriptor overlaps (the map is untrusted). */
    for (ULONG i = 0; i < Count && !Found; i++) {
        if (Descriptors[i].MemoryType != LoaderFree ||
            !MiDescriptorRange(&Descriptors[i], &Start, &End)) {
            continue;
        }
        if (Start == 0) {
            Start = 1;
        }
        if (End > Highest || End < Start || End - Start < DatabasePages) {
            continue;
        }
        Found = TRUE;
        for (ULONG j = 0; j < Count; j++) {
            ULONG64 OStart, OEnd;
            if (j != i && MiDescriptorRange(&Descriptors[j], &OStart, &OEnd) &&
                OStart < Start + DatabasePages && Start < OEnd) {
                Found = FALSE;
            }
        }
        DatabaseBase = Start;
    }
    if (!Found || !MiPhysicalRangeMapped(DatabaseBase, DatabaseBase + DatabasePages)) {
        return STATUS_NO_MEMORY;
    }

    MmPfnDatabase = (PMMPFN)(MmPhysicalMapBase + DatabaseBase * PAGE_SIZE);
    memset(MmPfnDatabase, 0, DatabasePages * PAGE_SIZE);
    MiPfnCount = Highest;
    MiFreeListHead = MI_PFN_NONE;
    MiFreePages = 0;
    MiTotalPages = 0;

    /* In-use RAM first, so a page claimed by any non-free descriptor stays
     * in use even if a free descriptor overlaps it. */
    for (ULONG i = 0; i < Count; i++) {
        ULONG Type = Descriptors[i].MemoryType;
        if (Type == LoaderFree || !MiIsRamType(Type) ||
            !MiDescriptorRange(&Descriptors[i], &Start, &End)) {
            continue;
        }
        for (ULONG64 Pfn = Start; Pfn < End && Pfn < Highest; Pfn++) {
            if (MmPfnDatabase[Pfn].State == MiPfnUnusable) {
                MmPfnDatabase[Pfn].State = MiPfnActive;
                MmPfnDatabase[Pfn].LoaderType = (UCHAR)Type;
                MiTotalPages++;
            }
        }
    }
    for (ULONG64 Pfn = DatabaseBase; Pfn < DatabaseBase + DatabasePages; Pfn++) {
        MmPfnDatabase[Pfn].State = MiPfnActive;
        MmPfnDatabase[Pfn].LoaderType = LoaderMemoryData;
        MiTotalPages++;
    }
    /* Free runs, inserted from the top down so the list hands out low
     * pages first. Page 0 is never handed out (NULL-looking addresses). */
    for (ULONG i = Count; i-- > 0;) {
        if (Descriptors[i].MemoryType != LoaderFree ||
            !MiDescriptorRange(&Descriptors[i], &Start, &End)) {
            continue;
        }
        for (ULONG64 Pfn = (End < Highest ? End : Highest); Pfn-- > Start;) {
            if (MmPfnDatabase[Pfn].State != MiPfnUnusable) {
                continue;
            }
            MmPfnDatabase[Pfn].LoaderType = LoaderFree;
            MiTotalPages++;
            if (Pfn == 0) {
                MmPfnDatabase[Pfn].State = MiPfnActive;
            } else {
                MiInsertFree((ULONG)Pfn);
            }
        }
    }
    return STATUS_SUCCESS;
}

static PVOID MiPageAddress(PFN_NUMBER Pfn)
{
    return (PVOID)(MmPhysicalMapBase + Pfn * PAGE_SIZE);
}

BOOLEAN MiAllocatePhysicalPage(PPFN_NUMBER Pfn, BOOLEAN Zero)
{
    KIRQL OldIrql = KiAcquireLock(&MiPfnLock);
    ULONG Page = MiFreeListHead;

    if (Page != MI_PFN_NONE) {
        MiUnlinkFree(Page);
    }
    KiReleaseLock(&MiPfnLock, OldIrql);
    if (Page == MI_PFN_NONE) {
        return FALSE;
    }
    if (Zero) {
        memset(MiPageAddress(Page), 0, PAGE_SIZE);
    }
    *Pfn = Page;
    return TRUE;
}

static VOID MiReleasePageLocked(PFN_NUMBER Pfn)
{
    if (Pfn >= MiPfnCount || MmPfnDatabase[Pfn].State != MiPfnActive || Pfn == 0) {
        /* Freeing a page that is free or not RAM: the caller's bookkeeping
         * is broken (NT: PFN_LIST_CORRUPT, 0x99 = bad PFN state). */
        KeBugCheckEx(PFN_LIST_CORRUPT, 0x99, Pfn,
                     Pfn < MiPfnCount ? MmPfnDatabase[Pfn].State : 0xFF, 0);
    }
    MiInsertFree((ULONG)Pfn);
}

VOID MiFreePhysicalPage(PFN_NUMBER Pfn)
{
    KIRQL OldIrql = KiAcquireLock(&MiPfnLock);
    MiReleasePageLocked(Pfn);
    KiReleaseLock(&MiPfnLock, OldIrql);
}

BOOLEAN MiAllocateContiguousPhysicalPages(PFN_NUMBER Count, PFN_NUMBER HighestPfn,
                                          PPFN_NUMBER BasePfn)
{
    KIRQL OldIrql;
    ULONG64 Limit, Run = 0;
    BOOLEAN Found = FALSE;
    ULONG64 Base = 0;

    if (Count == 0 || BasePfn == NULL) {
        return FALSE;
    }
    OldIrql = KiAcquireLock(&MiPfnLock);
    Limit = HighestPfn < MiPfnCount ? (ULONG64)HighestPfn + 1 : MiPfnCount;
    /* Top down, as NT does, to keep low memory for devices that need it. */
    if (Count <= MiFreePages) {
        for (ULONG64 Pfn = Limit; Pfn-- > 1;) {
            Run = MmPfnDatabase[Pfn].State == MiPfnFree ? Run + 1 : 0;
            if (Run == Count) {
                Base = Pfn;
                Found = TRUE;
                break;
            }
        }
    }
    if (Found) {
        for (ULONG64 Pfn = Base; Pfn < Base + Count; Pfn++) {
            MiUnlinkFree((ULONG)Pfn);
        }
        *BasePfn = Base;
    }
    KiReleaseLock(&MiPfnLock, OldIrql);
    return Found;
}

VOID MiFreeContiguousPhysicalPages(PFN_NUMBER BasePfn, PFN_NUMBER Count)
{
    KIRQL OldIrql = KiAcquireLock(&MiPfnLock);
    for (PFN_NUMBER i = 0; i < Count; i++) {
        MiReleasePageLocked(BasePfn + i);
    }
    KiReleaseLock(&MiPfnLock, OldIrql);
}

PFN_NUMBER MiFreeLoaderMemory(const MEMORY_ALLOCATION_DESCRIPTOR *Descriptors, ULONG Count,
                              ULONG Type)
{
    PFN_NUMBER Freed = 0;
    ULONG64 Start, End;
    KIRQL OldIrql;

    if (Type == LoaderFree || !MiIsRamType(Type) || Count > LOADER_MAX_MEMORY_DESCRIPTORS) {
        return 0;
    }
    OldIrql = KiAcquireLock(&MiPfnLock);
    for (ULONG i = 0; i < Count; i++) {
        if (Descriptors[i].MemoryType != Type ||
            !MiDescriptorRange(&Descriptors[i], &Start, &End)) {
            continue;
        }
        for (ULONG64 Pfn = Start; Pfn < End && Pfn < MiPfnCount; Pfn++) {
            if (Pfn != 0 && MmPfnDatabase[Pfn].State == MiPfnActive &&
                MmPfnDatabase[Pfn].LoaderType == Type) {
                MmPfnDatabase[Pfn].LoaderType = LoaderFree;
                MiInsertFree((ULONG)Pfn);
                Freed++;
            }
        }
    }
    KiReleaseLock(&MiPfnLock, OldIrql);
    return Freed;
}

PFN_NUMBER MiFreePhysicalPageCount(VOID)
{
    return MiFreePages;
}

PFN_NUMBER MiTotalPhysicalPageCount(VOID)
{
    return MiTotalPages;
}

PFN_NUMBER MiPfnDatabaseSize(VOID)
{
    return (PFN_NUMBER)MiPfnCount;
}

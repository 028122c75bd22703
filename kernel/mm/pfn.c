/*
 * pfn.c - the physical page allocator: the PFN database (one MMPFN per
 * physical page up to the highest page of RAM) built from the loader's
 * memory map, the free list (freed pages, contents unknown) and the zeroed
 * list (pages MiZeroFreePages cleared) threaded through it, contiguous
 * allocation, and the per-page lock counts MDLs take. Portable: pages are
 * touched only through the physical map (MmPhysicalMapBase + physical
 * address), so the same code runs on bare metal and over the hosted HAL's
 * mmap'd "RAM".
 *
 * Invariants (MiPfnLock): a page is on the free list iff State == Free,
 * on the zeroed list iff State == Zeroed (and all its bytes are zero);
 * list counts equal list lengths; LockCount != 0 only on Active pages; an
 * Active page freed while locked keeps State Active with FREE_PENDING and
 * reaches the free list when its LockCount drops to 0.
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
    MiPfnFree,         /* on the free list: contents unknown */
    MiPfnZeroed,       /* on the zeroed list: all zero */
    MiPfnActive,       /* owned by someone */
    MiPfnZeroing,      /* taken off the free list by the zeroing routine */
} MI_PFN_STATE;

/* Active page freed while MDLs still hold it locked: it goes to the free
 * list when the last lock is dropped. */
#define MI_PFN_FREE_PENDING 0x0001

typedef struct _MMPFN {
    ULONG Flink;
    ULONG Blink;
    UCHAR State;
    UCHAR LoaderType; /* TYPE_OF_MEMORY the page had at boot */
    USHORT Flags;
    ULONG LockCount; /* MmProbeAndLockPages references */
} MMPFN, *PMMPFN;

_Static_assert(sizeof(MMPFN) == 16, "MMPFN is 16 bytes");

/* A page list threaded through the database by index. */
typedef struct _MI_PFN_LIST {
    ULONG Head;
    UCHAR State; /* the state of every page on the list */
    PFN_NUMBER Count;
} MI_PFN_LIST, *PMI_PFN_LIST;

ULONG_PTR MmPhysicalMapBase;
ULONG64 MiPhysicalMapSize;

static PMMPFN MmPfnDatabase;
static ULONG64 MiPfnCount;
static MI_PFN_LIST MiFreeList = { MI_PFN_NONE, MiPfnFree, 0 };
static MI_PFN_LIST MiZeroedList = { MI_PFN_NONE, MiPfnZeroed, 0 };
static PFN_NUMBER MiTotalPages;
static PFN_NUMBER MiZeroingPages;
/* Guards both lists, every MMPFN's State/Flags/LockCount and the counts.
 * An in-stack queued spin lock: processors get it in FIFO order. */
static KSPIN_LOCK MiPfnLock;

/* Also usable above DISPATCH_LEVEL (the bug check path maps pages), where
 * the IRQL is left alone. */
static VOID MiAcquirePfnLock(PKLOCK_QUEUE_HANDLE Handle)
{
    KIRQL Irql = KeGetCurrentIrql();

    if (Irql < DISPATCH_LEVEL) {
        KeAcquireInStackQueuedSpinLock(&MiPfnLock, Handle);
    } else {
        KeAcquireInStackQueuedSpinLockAtDpcLevel(&MiPfnLock, Handle);
        Handle->OldIrql = Irql;
    }
}

static VOID MiReleasePfnLock(PKLOCK_QUEUE_HANDLE Handle)
{
    if (Handle->OldIrql < DISPATCH_LEVEL) {
        KeReleaseInStackQueuedSpinLock(Handle);
    } else {
        KeReleaseInStackQueuedSpinLockFromDpcLevel(Handle);
    }
}

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

/* Pushes a page on a list (LIFO: the most recently freed page is the one
 * most likely still in the caches). */
static VOID MiInsertList(PMI_PFN_LIST List, ULONG Pfn)
{
    PMMPFN Entry = &MmPfnDatabase[Pfn];
    Entry->State = List->State;
    Entry->Flags = 0;
    Entry->LockCount = 0;
    Entry->Blink = MI_PFN_NONE;
    Entry->Flink = List->Head;
    if (List->Head != MI_PFN_NONE) {
        MmPfnDatabase[List->Head].Blink = Pfn;
    }
    List->Head = Pfn;
    List->Count++;
}

static PMI_PFN_LIST MiListOf(ULONG Pfn)
{
    return MmPfnDatabase[Pfn].State == MiPfnZeroed ? &MiZeroedList : &MiFreeList;
}

/* Takes a page off the list it is on; it becomes NewState. */
static VOID MiUnlinkPage(ULONG Pfn, UCHAR NewState)
{
    PMMPFN Entry = &MmPfnDatabase[Pfn];
    PMI_PFN_LIST List = MiListOf(Pfn);

    if (Entry->Blink != MI_PFN_NONE) {
        MmPfnDatabase[Entry->Blink].Flink = Entry->Flink;
    } else {
        List->Head = Entry->Flink;
    }
    if (Entry->Flink != MI_PFN_NONE) {
        MmPfnDatabase[Entry->Flink].Blink = Entry->Blink;
    }
    Entry->Flink = Entry->Blink = MI_PFN_NONE;
    Entry->State = NewState;
    List->Count--;
}

static VOID MiInsertFree(ULONG Pfn)
{
    MmPfnDatabase[Pfn].LoaderType = LoaderFree;
    MiInsertList(&MiFreeList, Pfn);
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
    MiFreeList.Head = MiZeroedList.Head = MI_PFN_NONE;
    MiFreeList.Count = MiZeroedList.Count = 0;
    MiZeroingPages = 0;
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
    KLOCK_QUEUE_HANDLE LockHandle;
    MiAcquirePfnLock(&LockHandle);
    /* A caller that needs zeroes takes a page the zeroing routine already
     * cleared; one that does not leaves those for callers that do. */
    PMI_PFN_LIST First = Zero ? &MiZeroedList : &MiFreeList;
    PMI_PFN_LIST Second = Zero ? &MiFreeList : &MiZeroedList;
    PMI_PFN_LIST From = First->Head != MI_PFN_NONE ? First : Second;
    ULONG Page = From->Head;

    if (Page != MI_PFN_NONE) {
        MiUnlinkPage(Page, MiPfnActive);
    }
    MiReleasePfnLock(&LockHandle);
    if (Page == MI_PFN_NONE) {
        return FALSE;
    }
    if (Zero && From == &MiFreeList) {
        memset(MiPageAddress(Page), 0, PAGE_SIZE);
    }
    *Pfn = Page;
    return TRUE;
}

static VOID MiReleasePageLocked(PFN_NUMBER Pfn)
{
    if (Pfn >= MiPfnCount || MmPfnDatabase[Pfn].State != MiPfnActive || Pfn == 0 ||
        (MmPfnDatabase[Pfn].Flags & MI_PFN_FREE_PENDING)) {
        /* Freeing a page that is free or not RAM: the caller's bookkeeping
         * is broken (NT: PFN_LIST_CORRUPT, 0x99 = bad PFN state). */
        KeBugCheckEx(PFN_LIST_CORRUPT, 0x99, Pfn,
                     Pfn < MiPfnCount ? MmPfnDatabase[Pfn].State : 0xFF, 0);
    }
    if (MmPfnDatabase[Pfn].LockCount != 0) {
        /* Still locked by an MDL: free it when the last lock goes. */
        MmPfnDatabase[Pfn].Flags |= MI_PFN_FREE_PENDING;
        return;
    }
    MiInsertFree((ULONG)Pfn);
}

VOID MiFreePhysicalPage(PFN_NUMBER Pfn)
{
    KLOCK_QUEUE_HANDLE LockHandle;
    MiAcquirePfnLock(&LockHandle);
    MiReleasePageLocked(Pfn);
    MiReleasePfnLock(&LockHandle);
    MiSignalZeroPageThread();
}

BOOLEAN MiReferencePhysicalPage(PFN_NUMBER Pfn)
{
    KLOCK_QUEUE_HANDLE LockHandle;
    MiAcquirePfnLock(&LockHandle);
    BOOLEAN Referenced = FALSE;

    /* Only pages someone owns can be locked; device memory and firmware
     * pages have no entry (or an unusable one) and are not counted. */
    if (Pfn < MiPfnCount && MmPfnDatabase[Pfn].State == MiPfnActive &&
        !(MmPfnDatabase[Pfn].Flags & MI_PFN_FREE_PENDING)) {
        if (MmPfnDatabase[Pfn].LockCount == 0xFFFFFFFFu) {
            KeBugCheckEx(MEMORY_MANAGEMENT, 0x1235, Pfn, 0, 0);
        }
        MmPfnDatabase[Pfn].LockCount++;
        Referenced = TRUE;
    }
    MiReleasePfnLock(&LockHandle);
    return Referenced;
}

VOID MiDereferencePhysicalPage(PFN_NUMBER Pfn)
{
    KLOCK_QUEUE_HANDLE LockHandle;
    MiAcquirePfnLock(&LockHandle);
    PMMPFN Entry;

    if (Pfn >= MiPfnCount || MmPfnDatabase[Pfn].State != MiPfnActive ||
        MmPfnDatabase[Pfn].LockCount == 0) {
        /* Unlocking a page that is not locked (NT: PFN_LIST_CORRUPT 0x9A
         * style misuse of MmUnlockPages). */
        KeBugCheckEx(PFN_LIST_CORRUPT, 0x9A, Pfn,
                     Pfn < MiPfnCount ? MmPfnDatabase[Pfn].State : 0xFF,
                     Pfn < MiPfnCount ? MmPfnDatabase[Pfn].LockCount : 0);
    }
    Entry = &MmPfnDatabase[Pfn];
    if (--Entry->LockCount == 0 && (Entry->Flags & MI_PFN_FREE_PENDING)) {
        Entry->Flags = 0;
        MiInsertFree((ULONG)Pfn);
    }
    MiReleasePfnLock(&LockHandle);
    MiSignalZeroPageThread();
}

ULONG MiPhysicalPageLockCount(PFN_NUMBER Pfn)
{
    return Pfn < MiPfnCount ? MmPfnDatabase[Pfn].LockCount : 0;
}

BOOLEAN MiIsPhysicalPageOwned(PFN_NUMBER Pfn)
{
    return Pfn < MiPfnCount && MmPfnDatabase[Pfn].State == MiPfnActive;
}

PFN_NUMBER MiZeroFreePages(PFN_NUMBER MaxPages)
{
    PFN_NUMBER Done = 0;
    KLOCK_QUEUE_HANDLE LockHandle;
    ULONG Page;

    /* One page per lock hold: the memset runs unlocked (and could run at
     * PASSIVE_LEVEL in the zero-page thread), so allocators never wait
     * behind it. A page being zeroed is on no list; a concurrent
     * contiguous scan skips it. */
    while (Done < MaxPages) {
        MiAcquirePfnLock(&LockHandle);
        Page = MiFreeList.Head;
        if (Page != MI_PFN_NONE) {
            MiUnlinkPage(Page, MiPfnZeroing);
            MiZeroingPages++;
        }
        MiReleasePfnLock(&LockHandle);
        if (Page == MI_PFN_NONE) {
            break;
        }
        memset(MiPageAddress(Page), 0, PAGE_SIZE);
        MiAcquirePfnLock(&LockHandle);
        MiZeroingPages--;
        MiInsertList(&MiZeroedList, Page);
        MiReleasePfnLock(&LockHandle);
        Done++;
    }
    return Done;
}

BOOLEAN MiAllocateContiguousPhysicalPagesEx(PFN_NUMBER Count, PFN_NUMBER LowestPfn,
                                            PFN_NUMBER HighestPfn, PFN_NUMBER BoundaryPfns,
                                            PPFN_NUMBER BasePfn)
{
    KLOCK_QUEUE_HANDLE LockHandle;
    ULONG64 Limit, Run = 0;
    BOOLEAN Found = FALSE;
    ULONG64 Base = 0;

    if (Count == 0 || BasePfn == NULL || (BoundaryPfns != 0 && Count > BoundaryPfns)) {
        return FALSE;
    }
    if (LowestPfn == 0) {
        LowestPfn = 1; /* page 0 is never handed out */
    }
    MiAcquirePfnLock(&LockHandle);
    Limit = HighestPfn < MiPfnCount ? (ULONG64)HighestPfn + 1 : MiPfnCount;
    /* Top down, as NT does, to keep low memory for devices that need it. */
    if (Count <= MiFreeList.Count + MiZeroedList.Count) {
        for (ULONG64 Pfn = Limit; Pfn-- > LowestPfn;) {
            UCHAR State = MmPfnDatabase[Pfn].State;
            Run = (State == MiPfnFree || State == MiPfnZeroed) ? Run + 1 : 0;
            /* A run may not cross a multiple of the boundary: restart it
             * at the boundary above Pfn. */
            if (BoundaryPfns != 0 && Run > 1 && (Pfn + 1) % BoundaryPfns == 0) {
                Run = 1;
            }
            if (Run == Count) {
                Base = Pfn;
                Found = TRUE;
                break;
            }
        }
    }
    if (Found) {
        for (ULONG64 Pfn = Base; Pfn < Base + Count; Pfn++) {
            MiUnlinkPage((ULONG)Pfn, MiPfnActive);
        }
        *BasePfn = Base;
    }
    MiReleasePfnLock(&LockHandle);
    return Found;
}

BOOLEAN MiAllocateContiguousPhysicalPages(PFN_NUMBER Count, PFN_NUMBER HighestPfn,
                                          PPFN_NUMBER BasePfn)
{
    return MiAllocateContiguousPhysicalPagesEx(Count, 0, HighestPfn, 0, BasePfn);
}

VOID MiFreeContiguousPhysicalPages(PFN_NUMBER BasePfn, PFN_NUMBER Count)
{
    KLOCK_QUEUE_HANDLE LockHandle;
    MiAcquirePfnLock(&LockHandle);
    for (PFN_NUMBER i = 0; i < Count; i++) {
        MiReleasePageLocked(BasePfn + i);
    }
    MiReleasePfnLock(&LockHandle);
    MiSignalZeroPageThread();
}

PFN_NUMBER MiFreeLoaderMemory(const MEMORY_ALLOCATION_DESCRIPTOR *Descriptors, ULONG Count,
                              ULONG Type)
{
    PFN_NUMBER Freed = 0;
    ULONG64 Start, End;
    KLOCK_QUEUE_HANDLE LockHandle;

    if (Type == LoaderFree || !MiIsRamType(Type) || Count > LOADER_MAX_MEMORY_DESCRIPTORS) {
        return 0;
    }
    MiAcquirePfnLock(&LockHandle);
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
    MiReleasePfnLock(&LockHandle);
    MiSignalZeroPageThread();
    return Freed;
}

PFN_NUMBER MiFreePhysicalPageCount(VOID)
{
    KLOCK_QUEUE_HANDLE LockHandle;
    PFN_NUMBER Free;

    /* Pages being zeroed count as free: they are only in transit. The zero
     * page thread moves a page between the three counts under the lock, so
     * an unlocked sum could catch it counted twice or not at all. */
    MiAcquirePfnLock(&LockHandle);
    Free = MiFreeList.Count + MiZeroedList.Count + MiZeroingPages;
    MiReleasePfnLock(&LockHandle);
    return Free;
}

PFN_NUMBER MiFreeListPageCount(VOID)
{
    return MiFreeList.Count;
}

PFN_NUMBER MiZeroedPhysicalPageCount(VOID)
{
    return MiZeroedList.Count;
}

PFN_NUMBER MiTotalPhysicalPageCount(VOID)
{
    return MiTotalPages;
}

PFN_NUMBER MiPfnDatabaseSize(VOID)
{
    return (PFN_NUMBER)MiPfnCount;
}

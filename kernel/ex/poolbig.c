/*
 * poolbig.c - pool blocks made of whole pages: blocks of a page or more
 * (page aligned, no header, as NT's "big pages") and special pool blocks
 * (each at the end of its own page, the memory manager's unmapped guard
 * page right after it). Both are recorded in one table keyed by page
 * address (open addressing, linear probing, deletion by backward shift,
 * grown by doubling) under a spin lock; the table gives a freed address
 * its tag, size and kind, and tells the page-fault path that an address is
 * the guard page after a special pool block.
 *
 * Freed big-page runs of up to 64 KiB are not unmapped at once but kept,
 * mapped, in a bounded cache (poolp.h), as NT keeps freed large-page runs:
 * mapping and unmapping cost microseconds, a cached run a few dozen
 * nanoseconds. The cache lives under the table's lock, which every big
 * allocation and free takes anyway: a hit costs no extra lock, and the
 * common free (the block's entry checked and removed, its run cached) is
 * one hold of the lock instead of two.
 */
#include "poolp.h"

#define EXP_BIG_MIN_CAPACITY 256

static PEXP_BIG_ENTRY ExpBigTable;
static SIZE_T ExpBigCapacity; /* a power of two, or 0 before the first use */
static SIZE_T ExpBigCount;
static KI_LOCK ExpBigLock;

/* Cached runs per pool and page count (index Pages - 1), and the pages
 * they hold; under ExpBigLock. The runs' addresses are kept here, not in
 * the runs: a stray write into a freed run cannot corrupt the cache. */
typedef struct _EXP_BIG_BUCKET {
    ULONG Count;
    PVOID Runs[EXP_BIG_CACHE_MAX_DEPTH];
} EXP_BIG_BUCKET;

static EXP_BIG_BUCKET ExpBigCache[EXP_POOLS][EXP_BIG_CACHE_MAX_RUN];
static SIZE_T ExpBigCachedPages;

static inline SIZE_T ExpBigHash(ULONG_PTR Va, SIZE_T Capacity)
{
    return (SIZE_T)(((Va >> PAGE_SHIFT) * 0x9E3779B97F4A7C15ull) >> 20) & (Capacity - 1);
}

/* Slot of Va, or the empty slot where it would go. Caller holds the lock
 * (or owns the table). */
static SIZE_T ExpBigProbe(PEXP_BIG_ENTRY Table, SIZE_T Capacity, ULONG_PTR Va)
{
    SIZE_T Slot = ExpBigHash(Va, Capacity);

    while (Table[Slot].Va != 0 && Table[Slot].Va != Va) {
        Slot = (Slot + 1) & (Capacity - 1);
    }
    return Slot;
}

/* ---- The cache of freed runs ------------------------------------------ */

static inline EXP_BIG_BUCKET *ExpBigBucket(UCHAR Flags, SIZE_T Pages)
{
    ULONG Pool = (Flags & EXP_HF_EXECUTE) ? EXP_POOL_EXECUTE
                 : (Flags & EXP_HF_PAGED) ? EXP_POOL_PAGED
                                          : EXP_POOL_NX;

    return &ExpBigCache[Pool][Pages - 1];
}

SIZE_T ExpBigPageCacheLimit(VOID)
{
    /* RAM does not change once the memory manager is up. */
    static SIZE_T Limit;
    SIZE_T Share;

    if (__builtin_expect(Limit != 0, 1)) {
        return Limit;
    }
    Share = (SIZE_T)MiTotalPhysicalPageCount() / 32;
    Limit = Share < EXP_BIG_CACHE_MAX_PAGES ? Share : EXP_BIG_CACHE_MAX_PAGES;
    return Limit;
}

/* Keeps a freed run if its bucket and the cache have room. Caller holds
 * the lock. */
static BOOLEAN ExpBigCachePush(PVOID Run, SIZE_T Pages, UCHAR Flags)
{
    EXP_BIG_BUCKET *Bucket;

    if (Pages > EXP_BIG_CACHE_MAX_RUN || ExpBigCachedPages + Pages > ExpBigPageCacheLimit()) {
        return FALSE;
    }
    Bucket = ExpBigBucket(Flags, Pages);
    if (Bucket->Count >= ExpBigCacheDepth(Pages)) {
        return FALSE;
    }
    Bucket->Runs[Bucket->Count++] = Run;
    ExpBigCachedPages += Pages;
    return TRUE;
}

/* Gives a run's pages back to the memory manager (no-execute again
 * first, as the memory manager hands them out). */
static VOID ExpBigReleaseRun(PVOID Run, SIZE_T Pages, UCHAR Flags)
{
    if (Flags & EXP_HF_EXECUTE) {
        MiProtectKernelPages(Run, Pages, PAGE_READWRITE);
    }
    MiFreeKernelPages(Run, Pages);
}

SIZE_T ExpFlushBigPageCache(VOID)
{
    PVOID Runs[EXP_BIG_CACHE_MAX_DEPTH];
    SIZE_T Freed = 0;

    for (ULONG Pool = 0; Pool < EXP_POOLS; Pool++) {
        /* ExpBigReleaseRun looks only at the executable bit. */
        UCHAR Flags = Pool == EXP_POOL_EXECUTE ? EXP_HF_EXECUTE : 0;

        for (SIZE_T Pages = 1; Pages <= EXP_BIG_CACHE_MAX_RUN; Pages++) {
            EXP_BIG_BUCKET *Bucket = &ExpBigCache[Pool][Pages - 1];
            KIRQL OldIrql = KiAcquireLock(&ExpBigLock);
            ULONG Count = Bucket->Count;

            /* Taken out under the lock, unmapped outside it. */
            memcpy(Runs, Bucket->Runs, Count * sizeof(PVOID));
            Bucket->Count = 0;
            ExpBigCachedPages -= Count * Pages;
            KiReleaseLock(&ExpBigLock, OldIrql);
            for (ULONG i = 0; i < Count; i++) {
                ExpBigReleaseRun(Runs[i], Pages, Flags);
            }
            Freed += Count * Pages;
        }
    }
    return Freed;
}

SIZE_T ExpBigPageCachePages(VOID)
{
    return __atomic_load_n(&ExpBigCachedPages, __ATOMIC_RELAXED);
}

ULONG ExpBigPageCacheRuns(UCHAR Flags, SIZE_T Pages)
{
    if (Pages == 0 || Pages > EXP_BIG_CACHE_MAX_RUN) {
        return 0;
    }
    return __atomic_load_n(&ExpBigBucket(Flags, Pages)->Count, __ATOMIC_RELAXED);
}

PVOID ExpAllocatePoolPages(SIZE_T Pages)
{
    PVOID Base = MiAllocateKernelPages(Pages);

    if (Base == NULL && ExpFlushBigPageCache() != 0) {
        Base = MiAllocateKernelPages(Pages);
    }
    return Base;
}

/* ---- The table --------------------------------------------------------- */

static SIZE_T ExpBigTablePages(SIZE_T Capacity)
{
    return BYTES_TO_PAGES(Capacity * sizeof(EXP_BIG_ENTRY));
}

/* Makes room for one more entry (the table stays at most half full).
 * Allocates outside the lock; FALSE when no memory is left. */
static BOOLEAN ExpBigReserve(VOID)
{
    for (;;) {
        KIRQL OldIrql = KiAcquireLock(&ExpBigLock);
        SIZE_T Capacity = ExpBigCapacity;
        PEXP_BIG_ENTRY Old = ExpBigTable, New;
        SIZE_T NewCapacity;

        if ((ExpBigCount + 1) * 2 <= Capacity) {
            KiReleaseLock(&ExpBigLock, OldIrql);
            return TRUE;
        }
        KiReleaseLock(&ExpBigLock, OldIrql);

        NewCapacity = Capacity == 0 ? EXP_BIG_MIN_CAPACITY : Capacity * 2;
        New = ExpAllocatePoolPages(ExpBigTablePages(NewCapacity));
        if (New == NULL) {
            return FALSE;
        }
        OldIrql = KiAcquireLock(&ExpBigLock);
        if (ExpBigCapacity != Capacity) {
            /* Someone else grew it meanwhile. */
            KiReleaseLock(&ExpBigLock, OldIrql);
            MiFreeKernelPages(New, ExpBigTablePages(NewCapacity));
            continue;
        }
        for (SIZE_T i = 0; i < Capacity; i++) {
            if (Old[i].Va != 0) {
                New[ExpBigProbe(New, NewCapacity, Old[i].Va)] = Old[i];
            }
        }
        ExpBigTable = New;
        ExpBigCapacity = NewCapacity;
        KiReleaseLock(&ExpBigLock, OldIrql);
        if (Old != NULL) {
            MiFreeKernelPages(Old, ExpBigTablePages(Capacity));
        }
    }
}

/* Enters Entry if the table has room for it (ExpBigReserve). Caller holds
 * the lock. */
static BOOLEAN ExpBigInsertLocked(const EXP_BIG_ENTRY *Entry)
{
    if ((ExpBigCount + 1) * 2 > ExpBigCapacity) {
        return FALSE;
    }
    ExpBigTable[ExpBigProbe(ExpBigTable, ExpBigCapacity, Entry->Va)] = *Entry;
    ExpBigCount++;
    return TRUE;
}

static BOOLEAN ExpBigInsert(const EXP_BIG_ENTRY *Entry)
{
    for (;;) {
        KIRQL OldIrql;
        BOOLEAN Inserted;

        if (!ExpBigReserve()) {
            return FALSE;
        }
        OldIrql = KiAcquireLock(&ExpBigLock);
        Inserted = ExpBigInsertLocked(Entry);
        KiReleaseLock(&ExpBigLock, OldIrql);
        if (Inserted) {
            return TRUE;
        }
        /* Filled up by others between the reserve and now. */
    }
}

/* Empties slot Hole. Caller holds the lock. */
static VOID ExpBigRemoveSlot(SIZE_T Hole)
{
    SIZE_T Mask = ExpBigCapacity - 1, Next;

    /* Backward shift: pull later entries of the probe run into the hole
     * when their home slot is not between the hole and them. */
    for (Next = (Hole + 1) & Mask; ExpBigTable[Next].Va != 0; Next = (Next + 1) & Mask) {
        SIZE_T Home = ExpBigHash(ExpBigTable[Next].Va, ExpBigCapacity);
        if (((Next - Home) & Mask) >= ((Next - Hole) & Mask)) {
            ExpBigTable[Hole] = ExpBigTable[Next];
            Hole = Next;
        }
    }
    ExpBigTable[Hole].Va = 0;
    ExpBigCount--;
}

/* Removes Va's entry into *Entry; FALSE when there is none. With Cached,
 * the run also goes to the cache in the same hold of the lock if there is
 * room (*Cached says whether it did). */
static BOOLEAN ExpBigRemove(ULONG_PTR Va, PEXP_BIG_ENTRY Entry, PBOOLEAN Cached)
{
    KIRQL OldIrql = KiAcquireLock(&ExpBigLock);
    SIZE_T Hole;

    if (ExpBigCapacity == 0) {
        KiReleaseLock(&ExpBigLock, OldIrql);
        return FALSE;
    }
    Hole = ExpBigProbe(ExpBigTable, ExpBigCapacity, Va);
    if (ExpBigTable[Hole].Va == 0) {
        KiReleaseLock(&ExpBigLock, OldIrql);
        return FALSE;
    }
    *Entry = ExpBigTable[Hole];
    ExpBigRemoveSlot(Hole);
    if (Cached != NULL) {
        *Cached = ExpBigCachePush((PVOID)Va, Entry->Pages, Entry->Flags);
    }
    KiReleaseLock(&ExpBigLock, OldIrql);
    return TRUE;
}

static BOOLEAN ExpBigFind(ULONG_PTR Va, PEXP_BIG_ENTRY Entry)
{
    KIRQL OldIrql = KiAcquireLock(&ExpBigLock);
    BOOLEAN Found = FALSE;

    if (ExpBigCapacity != 0) {
        SIZE_T Slot = ExpBigProbe(ExpBigTable, ExpBigCapacity, Va);
        if (ExpBigTable[Slot].Va != 0) {
            *Entry = ExpBigTable[Slot];
            Found = TRUE;
        }
    }
    KiReleaseLock(&ExpBigLock, OldIrql);
    return Found;
}

PUCHAR ExpFindGuardDamage(PUCHAR Start, PUCHAR End)
{
    for (PUCHAR Byte = Start; Byte < End; Byte++) {
        if (*Byte != EXP_GUARD_BYTE) {
            return Byte;
        }
    }
    return NULL;
}

static BOOLEAN ExpMakeExecutable(PVOID Base, SIZE_T Pages, UCHAR Flags)
{
    return !(Flags & EXP_HF_EXECUTE) ||
           NT_SUCCESS(MiProtectKernelPages(Base, Pages, PAGE_EXECUTE_READWRITE));
}

/* ---- Big pages --------------------------------------------------------- */

/* A cached run of Entry->Pages pages for Entry->Flags' pool, entered in
 * the table as Entry in the same hold of the lock; NULL when the bucket is
 * empty (or the table cannot grow). */
static PUCHAR ExpBigTakeCachedRun(PEXP_BIG_ENTRY Entry)
{
    EXP_BIG_BUCKET *Bucket = ExpBigBucket(Entry->Flags, Entry->Pages);

    for (;;) {
        KIRQL OldIrql = KiAcquireLock(&ExpBigLock);

        if (Bucket->Count == 0) {
            KiReleaseLock(&ExpBigLock, OldIrql);
            return NULL;
        }
        Entry->Va = (ULONG_PTR)Bucket->Runs[Bucket->Count - 1];
        if (ExpBigInsertLocked(Entry)) {
            Bucket->Count--;
            ExpBigCachedPages -= Entry->Pages;
            KiReleaseLock(&ExpBigLock, OldIrql);
            return (PUCHAR)Entry->Va;
        }
        KiReleaseLock(&ExpBigLock, OldIrql);
        if (!ExpBigReserve()) {
            return NULL;
        }
    }
}

PVOID ExpAllocateBigPages(SIZE_T Size, ULONG Tag, UCHAR Flags)
{
    SIZE_T Pages = BYTES_TO_PAGES(Size);
    /* Bytes after the caller's. Never a memset of zero bytes at the run's
     * end: hosted, glibc's AVX-512 memset still issues a masked store
     * there, into the unmapped guard page, which costs ~100 ns. */
    SIZE_T Tail = Pages * PAGE_SIZE - Size;
    EXP_BIG_ENTRY Entry;
    PUCHAR Block = NULL;

    Entry.Va = 0;
    Entry.Tag = Tag;
    Entry.Flags = Flags;
    Entry.Special = FALSE;
    Entry.Reserved = 0;
    Entry.Size = Size;
    Entry.Pages = Pages;
    if (Pages <= EXP_BIG_CACHE_MAX_RUN) {
        Block = ExpBigTakeCachedRun(&Entry);
        if (Block != NULL && !(Flags & EXP_HF_GUARDED) && Tail != 0) {
            /* The pool zeroes the caller's bytes unless asked not to; the
             * tail after them holds the last owner's data: clear it, as it
             * is in fresh pages (guarded blocks get the pattern below). */
            memset(Block + Size, 0, Tail);
        }
    }
    if (Block == NULL) {
        Block = ExpAllocatePoolPages(Pages);
        if (Block == NULL) {
            return NULL;
        }
        if (!ExpMakeExecutable(Block, Pages, Flags)) {
            MiFreeKernelPages(Block, Pages);
            return NULL;
        }
        Entry.Va = (ULONG_PTR)Block;
        if (!ExpBigInsert(&Entry)) {
            ExpBigReleaseRun(Block, Pages, Flags);
            return NULL;
        }
    }
    if ((Flags & EXP_HF_GUARDED) && Tail != 0) {
        memset(Block + Size, EXP_GUARD_BYTE, Tail);
    }
    return Block;
}

/* TRUE when freeing the block of Entry needs no check that could fail
 * beyond the table lookup: the tag matches (or none is given), the IRQL
 * suits its pool, and there are no guard bytes to scan. */
static inline BOOLEAN ExpBigPlainFree(const EXP_BIG_ENTRY *Entry, ULONG Tag, KIRQL Irql)
{
    return !Entry->Special && !(Entry->Flags & EXP_HF_GUARDED) && ExpTagMatches(Tag, Entry->Tag) &&
           Irql <= ((Entry->Flags & EXP_HF_PAGED) ? APC_LEVEL : DISPATCH_LEVEL);
}

VOID ExpFreeBigPages(PVOID Block, ULONG Tag, KIRQL Irql, PVOID Caller)
{
    EXP_BIG_ENTRY Entry;
    BOOLEAN Cached = FALSE;
    PUCHAR Damage;
    KIRQL OldIrql;

    /* The common case in one hold of the lock: the entry is found, needs
     * no further check, is removed, and its run cached. Anything else
     * goes through the checks below, which report what is wrong. */
    OldIrql = KiAcquireLock(&ExpBigLock);
    if (ExpBigCapacity != 0) {
        SIZE_T Slot = ExpBigProbe(ExpBigTable, ExpBigCapacity, (ULONG_PTR)Block);
        Entry = ExpBigTable[Slot];
        if (Entry.Va != 0 && ExpBigPlainFree(&Entry, Tag, Irql)) {
            ExpBigRemoveSlot(Slot);
            Cached = ExpBigCachePush(Block, Entry.Pages, Entry.Flags);
            KiReleaseLock(&ExpBigLock, OldIrql);
            goto Release;
        }
    }
    KiReleaseLock(&ExpBigLock, OldIrql);

    if (!ExpBigFind((ULONG_PTR)Block, &Entry) || Entry.Special) {
        ExpPoolViolation(BAD_POOL_HEADER, 0x22, (ULONG_PTR)Block, 0, 0, 0,
                         "free of a page-aligned address the pool does not track "
                         "(double free or never allocated)");
        return;
    }
    if (!ExpCheckFreeCaller((ULONG_PTR)Block, Tag, Entry.Tag, (Entry.Flags & EXP_HF_PAGED) != 0,
                            Irql, Caller)) {
        return;
    }
    if (Entry.Flags & EXP_HF_GUARDED) {
        Damage =
            ExpFindGuardDamage((PUCHAR)Block + Entry.Size, (PUCHAR)Block + Entry.Pages * PAGE_SIZE);
        if (Damage != NULL) {
            ExpPoolViolation(BAD_POOL_HEADER, 0x21, (ULONG_PTR)Block, Entry.Size,
                             *(PULONG64)((ULONG_PTR)Damage & ~(ULONG_PTR)7), Entry.Tag,
                             "buffer overrun: the bytes after the block were written");
            return;
        }
    }
    if (!ExpBigRemove((ULONG_PTR)Block, &Entry, &Cached)) {
        /* Freed by someone else since the lookup. */
        ExpPoolViolation(BAD_POOL_HEADER, 0x22, (ULONG_PTR)Block, 0, 0, 0,
                         "free of a page-aligned address the pool does not track "
                         "(double free or never allocated)");
        return;
    }
Release:
    /* As charged: the bytes the block held for its caller (whole pages,
     * or the request when guarded), what ExQueryPoolBlockSize reports. A
     * cached run is charged to no tag. */
    ExpReturnPoolTag(Entry.Tag, (Entry.Flags & EXP_HF_PAGED) != 0,
                     (Entry.Flags & EXP_HF_GUARDED) ? Entry.Size : Entry.Pages * PAGE_SIZE);
    if (!Cached) {
        ExpBigReleaseRun(Block, Entry.Pages, Entry.Flags);
    }
}

SIZE_T ExpQueryBigPagesSize(PVOID Block, PBOOLEAN Quota)
{
    EXP_BIG_ENTRY Entry;

    if (!ExpBigFind((ULONG_PTR)Block, &Entry) || Entry.Special) {
        return 0;
    }
    *Quota = (Entry.Flags & EXP_HF_QUOTA) != 0;
    return (Entry.Flags & EXP_HF_GUARDED) ? Entry.Size : Entry.Pages * PAGE_SIZE;
}

/* ---- Special pool ------------------------------------------------------ */

PVOID ExpAllocateSpecialPool(SIZE_T Size, ULONG Tag, UCHAR Flags)
{
    SIZE_T Rounded = ALIGN_UP_BY(Size, EXP_HEADER_SIZE);
    PEXP_POOL_HEADER Header;
    EXP_BIG_ENTRY Entry;
    PUCHAR Page, User;

    if (Rounded + EXP_HEADER_SIZE > PAGE_SIZE) {
        return NULL;
    }
    Page = ExpAllocatePoolPages(1);
    if (Page == NULL) {
        return NULL;
    }
    if (!ExpMakeExecutable(Page, 1, Flags)) {
        MiFreeKernelPages(Page, 1);
        return NULL;
    }
    User = Page + PAGE_SIZE - Rounded;
    Header = (PEXP_POOL_HEADER)User - 1;
    /* Pattern before the header and in the slack after the block: checked
     * when the block is freed. */
    memset(Page, EXP_GUARD_BYTE, (PUCHAR)Header - Page);
    memset(User + Size, EXP_GUARD_BYTE, Rounded - Size);
    Header->Class = EXP_CLASS_SPECIAL;
    Header->Flags = Flags;
    Header->State = EXP_STATE_BUSY;
    Header->Tag = Tag;
    Header->Size = (ULONG)Size;
    ExpSealHeader(Header);

    Entry.Va = (ULONG_PTR)Page;
    Entry.Tag = Tag;
    Entry.Flags = Flags;
    Entry.Special = TRUE;
    Entry.Reserved = 0;
    Entry.Size = Size;
    Entry.Pages = 1;
    if (!ExpBigInsert(&Entry)) {
        ExpBigReleaseRun(Page, 1, Flags);
        return NULL;
    }
    ExpMarkPoolPages((ULONG_PTR)Page, 1, TRUE);
    return User;
}

VOID ExpFreeSpecialPool(PEXP_POOL_HEADER Header)
{
    PUCHAR User = (PUCHAR)(Header + 1);
    PUCHAR Page = PAGE_ALIGN(Header);
    PUCHAR Damage;
    EXP_BIG_ENTRY Entry;
    if (!ExpBigFind((ULONG_PTR)Page, &Entry) || !Entry.Special || Entry.Size != Header->Size) {
        ExpPoolViolation(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)User, 0, 0, 0x20,
                         Header->Tag, "special pool free of a block it did not allocate");
        return;
    }
    Damage = ExpFindGuardDamage(User + Header->Size, Page + PAGE_SIZE);
    if (Damage == NULL) {
        Damage = ExpFindGuardDamage(Page, (PUCHAR)Header);
    }
    if (Damage != NULL) {
        ExpPoolViolation(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)User,
                         (ULONG_PTR)Damage, 0, Damage > User ? 0x24 : 0x23, Header->Tag,
                         "special pool: bytes next to the block were written");
        return;
    }
    if (!ExpBigRemove((ULONG_PTR)Page, &Entry, NULL)) {
        ExpPoolViolation(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)User, 0, 0, 0x20,
                         Header->Tag, "special pool free of a block it did not allocate");
        return;
    }
    ExpReturnPoolTag(Entry.Tag, (Entry.Flags & EXP_HF_PAGED) != 0, Entry.Size);
    ExpMarkPoolPages((ULONG_PTR)Page, 1, FALSE);
    ExpBigReleaseRun(Page, 1, Entry.Flags);
}

BOOLEAN ExpIsSpecialPoolGuardAddress(ULONG_PTR Address, PULONG Tag)
{
    ULONG_PTR Page = (Address & ~(ULONG_PTR)(PAGE_SIZE - 1)) - PAGE_SIZE;
    BOOLEAN Found = FALSE;

    /* Called from the page-fault path too: only try the lock (the fault
     * may have happened with it held), and give up if it is busy. */
    if (__atomic_exchange_n(&ExpBigLock, 1, __ATOMIC_ACQUIRE) != 0) {
        return FALSE;
    }
    if (ExpBigCapacity != 0) {
        SIZE_T Slot = ExpBigProbe(ExpBigTable, ExpBigCapacity, Page);
        if (ExpBigTable[Slot].Va == Page && ExpBigTable[Slot].Special) {
            *Tag = ExpBigTable[Slot].Tag;
            Found = TRUE;
        }
    }
    __atomic_store_n(&ExpBigLock, 0, __ATOMIC_RELEASE);
    return Found;
}

VOID ExpCheckSpecialPoolFault(ULONG_PTR FaultAddress, BOOLEAN Write, PKTRAP_FRAME TrapFrame)
{
    ULONG Tag;
    CHAR Text[5];

    if (ExpIsSpecialPoolGuardAddress(FaultAddress, &Tag)) {
        ExpFormatTag(Tag, Text);
        DbgPrint("pool: special pool: access beyond the end of the block (tag '%s')\n", Text);
        KiBugCheckTrap(PAGE_FAULT_BEYOND_END_OF_ALLOCATION, FaultAddress, Write,
                       (ULONG_PTR)TrapFrame->Rip, 0, TrapFrame);
    }
}

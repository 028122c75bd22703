/*
 * pool.c - the executive pool: ExAllocatePool2/3, ExAllocatePoolWithTag
 * and friends, ExFreePoolWithTag/ExFreePool, ExQueryPoolBlockSize, and the
 * small-block allocator behind them.
 *
 * Small blocks (up to 4080 bytes) come in 40 size classes and carry no
 * header: each small-block page holds blocks of one class and pool, an
 * 8-byte page header and one 16-bit entry per block (busy, tag slot,
 * check bits) in front of them, so a free finds everything from the
 * pointer's page. Each processor has, per pool and class, a plain singly
 * linked list of free blocks (its lookaside) plus one full batch kept
 * back, touched only by that processor at DISPATCH_LEVEL: raising the IRQL
 * pins the thread, so the fast path needs no locked instruction. Behind
 * the lookasides, per pool and class, a depot under a queued spin lock
 * holds whole batches (one lock round trip moves a batch); it grows by
 * carving fresh kernel pages, which stay in the pool. Blocks of more than
 * 4080 bytes are whole pages (poolbig.c). A page bitmap says which system
 * pages hold small blocks, so a free of a pointer the pool never returned
 * is caught before its page header is read.
 */
#include "poolp.h"

const EXP_CLASS_INFO ExpClassInfo[EXP_CLASS_COUNT] = {
    /* Size, First, Count, Batch, Reciprocal, GrowPages */
    { 16, 464, 227, 227, 0x10000000u, 1, 0 }, { 32, 256, 120, 240, 0x8000000u, 2, 0 },
    { 48, 176, 81, 162, 0x5555556u, 2, 0 },   { 64, 192, 61, 183, 0x4000000u, 3, 0 },
    { 80, 112, 49, 147, 0x3333334u, 3, 0 },   { 96, 96, 41, 164, 0x2AAAAABu, 4, 0 },
    { 112, 80, 35, 140, 0x2492493u, 4, 0 },   { 128, 128, 31, 155, 0x2000000u, 5, 0 },
    { 144, 64, 28, 140, 0x1C71C72u, 5, 0 },   { 160, 64, 25, 125, 0x199999Au, 5, 0 },
    { 176, 64, 22, 110, 0x1745D18u, 5, 0 },   { 192, 64, 21, 105, 0x1555556u, 5, 0 },
    { 208, 48, 19, 95, 0x13B13B2u, 5, 0 },    { 224, 48, 18, 90, 0x124924Au, 5, 0 },
    { 240, 48, 16, 80, 0x1111112u, 5, 0 },    { 256, 64, 15, 75, 0x1000000u, 5, 0 },
    { 288, 48, 14, 56, 0xE38E39u, 4, 0 },     { 320, 64, 12, 60, 0xCCCCCDu, 5, 0 },
    { 352, 32, 11, 55, 0xBA2E8Cu, 5, 0 },     { 384, 64, 10, 50, 0xAAAAABu, 5, 0 },
    { 416, 32, 9, 45, 0x9D89D9u, 5, 0 },      { 448, 64, 9, 36, 0x924925u, 4, 0 },
    { 480, 32, 8, 40, 0x888889u, 5, 0 },      { 512, 64, 7, 35, 0x800000u, 5, 0 },
    { 576, 64, 7, 28, 0x71C71Du, 4, 0 },      { 640, 64, 6, 30, 0x666667u, 5, 0 },
    { 704, 64, 5, 25, 0x5D1746u, 5, 0 },      { 768, 64, 5, 25, 0x555556u, 5, 0 },
    { 800, 32, 5, 20, 0x51EB86u, 4, 0 },      { 896, 64, 4, 20, 0x492493u, 5, 0 },
    { 960, 64, 4, 20, 0x444445u, 5, 0 },      { 1008, 16, 4, 16, 0x410411u, 4, 0 },
    { 1152, 64, 3, 15, 0x38E38Fu, 5, 0 },     { 1344, 64, 3, 12, 0x30C30Du, 4, 0 },
    { 1536, 64, 2, 10, 0x2AAAABu, 5, 0 },     { 1664, 64, 2, 10, 0x276277u, 5, 0 },
    { 1984, 64, 2, 8, 0x210843u, 4, 0 },      { 2032, 16, 2, 8, 0x204082u, 4, 0 },
    { 4032, 64, 1, 8, 0x104105u, 8, 0 },      { 4080, 16, 1, 8, 0x101011u, 8, 0 },
};

const UCHAR ExpSizeClass[256] = {
    0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 16, 17, 17, 18, 18, 19,
    19, 20, 20, 21, 21, 22, 22, 23, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 27, 27, 27,
    27, 28, 28, 29, 29, 29, 29, 29, 29, 30, 30, 30, 30, 31, 31, 31, 32, 32, 32, 32, 32, 32, 32, 32,
    32, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    34, 35, 35, 35, 35, 35, 35, 35, 35, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36,
    36, 36, 36, 36, 36, 37, 37, 37, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 39, 39, 39,
};

const UCHAR ExpCacheAlignedSizeClass[256] = {
    3,  3,  3,  3,  3,  7,  7,  7,  7,  11, 11, 11,  11,  15,  15, 15, 15, 17, 17, 17, 17, 19,
    19, 19, 19, 21, 21, 21, 21, 23, 23, 23, 23, 24,  24,  24,  24, 25, 25, 25, 25, 26, 26, 26,
    26, 27, 27, 27, 27, 29, 29, 29, 29, 29, 29, 29,  29,  30,  30, 30, 30, 32, 32, 32, 32, 32,
    32, 32, 32, 32, 32, 32, 32, 33, 33, 33, 33, 33,  33,  33,  33, 33, 33, 33, 33, 34, 34, 34,
    34, 34, 34, 34, 34, 34, 34, 34, 34, 35, 35, 35,  35,  35,  35, 35, 35, 36, 36, 36, 36, 36,
    36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36,  36,  36,  36, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,  38,  38,  38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,  38,  38,  38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,  38,  38,  38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,  38,  38,  38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,  38,  38,  38, 38, 38, 38, 38, 38, 38, 38,
    38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 255, 255, 255,
};

/* A processor's free blocks of one pool and class: touched only by that
 * processor at DISPATCH_LEVEL. Frees push onto Head; once it holds a
 * batch, the chain moves to Full (and a previous Full to the depot), so a
 * processor that frees much sends whole batches back, and one that
 * allocates much takes whole batches, one lock round trip each. */
typedef struct _EXP_LOOKASIDE {
    PUCHAR Head;
    PUCHAR Full;
    ULONG Count;
    ULONG FullCount;
} EXP_LOOKASIDE, *PEXP_LOOKASIDE;

typedef struct DECLSPEC_ALIGN(64) _EXP_POOL_PROCESSOR {
    EXP_LOOKASIDE Lookaside[EXP_POOLS][EXP_CLASS_COUNT];
} EXP_POOL_PROCESSOR;

/* Batches of free blocks of one pool and class, linked through the second
 * word of their first block: one chain per processor (the last one for the
 * unpinned lists), each holding the batches its processor sent. A
 * processor takes back its own batches first - blocks it freed last, still
 * in its cache - and another processor's only when it has none left: were
 * the batches shared, two processors that each overflow their lookasides
 * would swap them at every overflow, and a block taken from the other's
 * batch misses in the cache, its line last written there (pool_scaling
 * with two processors: 38% of allocations, about 1.4x the time per pair).
 * Stocked has a bit per chain that holds a batch. */
#define EXP_DEPOT_CHAINS (MAXIMUM_PROCESSORS + 1)
_Static_assert(EXP_DEPOT_CHAINS <= 128, "Stocked holds a bit per chain");

typedef struct DECLSPEC_ALIGN(64) _EXP_DEPOT {
    KSPIN_LOCK Lock;
    ULONG64 Stocked[2];
    PUCHAR Batches[EXP_DEPOT_CHAINS];
} EXP_DEPOT;

/* Processor numbers at or beyond MAXIMUM_PROCESSORS (hosted: host threads
 * that are not processors of the system) share the last set of lists,
 * under a lock. */
static EXP_POOL_PROCESSOR ExpPoolProcessors[MAXIMUM_PROCESSORS + 1];
static KSPIN_LOCK ExpUnpinnedLock;
static EXP_DEPOT ExpDepots[EXP_POOLS][EXP_CLASS_COUNT];
static volatile SIZE_T ExpSmallPages;

/* One bit per system-range page that holds small blocks: 4 GiB of range. */
#define EXP_BITMAP_PAGES (1u << 20)
static ULONG64 ExpPoolPageBitmap[EXP_BITMAP_PAGES / 64];

/* ---- Page bitmap ------------------------------------------------------- */

static inline BOOLEAN ExpPageIndex(ULONG_PTR Va, PSIZE_T Index)
{
    SIZE_T Page = (Va - MiSystemVaStart) >> PAGE_SHIFT;

    /* Below the range, Page wraps to a huge value. */
    if (Page >= MiSystemVaPages || Page >= EXP_BITMAP_PAGES) {
        return FALSE;
    }
    *Index = Page;
    return TRUE;
}

VOID ExpMarkPoolPages(ULONG_PTR Va, SIZE_T Pages, BOOLEAN Set)
{
    SIZE_T Index;

    for (SIZE_T i = 0; i < Pages; i++) {
        if (!ExpPageIndex(Va + i * PAGE_SIZE, &Index)) {
            continue;
        }
        if (Set) {
            __atomic_fetch_or(&ExpPoolPageBitmap[Index / 64], 1ull << (Index % 64),
                              __ATOMIC_RELEASE);
        } else {
            __atomic_fetch_and(&ExpPoolPageBitmap[Index / 64], ~(1ull << (Index % 64)),
                               __ATOMIC_RELEASE);
        }
    }
}

BOOLEAN ExpIsPoolPage(ULONG_PTR Va)
{
    SIZE_T Index;

    if (!ExpPageIndex(Va, &Index)) {
        return FALSE;
    }
    return (__atomic_load_n(&ExpPoolPageBitmap[Index / 64], __ATOMIC_ACQUIRE) >> (Index % 64)) & 1;
}

SIZE_T ExpPoolPagesInUse(VOID)
{
    return ExpSmallPages;
}

/* ---- IRQL -------------------------------------------------------------- */

/* The highest IRQL a pool may be used at (a table: one load on the fast
 * paths). */
static const KIRQL ExpPoolMaxIrqlTable[EXP_POOLS] = {
    [EXP_POOL_NX] = DISPATCH_LEVEL,
    [EXP_POOL_EXECUTE] = DISPATCH_LEVEL,
    [EXP_POOL_PAGED] = APC_LEVEL,
};

static inline KIRQL ExpPoolMaxIrql(ULONG Pool)
{
    return ExpPoolMaxIrqlTable[Pool];
}

/* Raises from CurrentIrql to DISPATCH_LEVEL (unless the caller is there
 * already; an interrupt always restores the IRQL it found): from then on
 * the thread cannot be preempted or migrate, so this processor's
 * lookasides and counters are ours alone. */
static inline VOID ExpRaiseToDpc(KIRQL CurrentIrql)
{
    if (CurrentIrql < DISPATCH_LEVEL) {
        KiRaiseToDispatchInline();
    }
}

/* Back to the caller's IRQL, running any DPC or reschedule that became
 * pending meanwhile. */
static inline VOID ExpLowerFromDpc(KIRQL OldIrql)
{
    if (OldIrql < DISPATCH_LEVEL) {
        KiLowerFromDispatchInline(OldIrql);
    }
}

/* ---- Depots and growth (at DISPATCH_LEVEL) ----------------------------- */

FORCEINLINE ULONG64 ExpEncodeBatch(PUCHAR Batch, PUCHAR Next, ULONG Count)
{
    ULONG_PTR Mixed = (ULONG_PTR)Next ^ ((ULONG_PTR)Count << 4);
    return ((ULONG64)(ULONG_PTR)Next & 0xFFFFFFFFFFFFull) | (ULONG64)(Count & 0xFF) << 48 |
           (ExpLinkCheck((ULONG_PTR)Batch, Mixed) & 0xFF) << 56;
}

static VOID ExpReportCorruptedFreeBlock(PVOID Block, KIRQL CallerIrql, PVOID Caller)
{
    ExpPoolViolation(DRIVER_CORRUPTED_EXPOOL, (ULONG_PTR)Block, CallerIrql, 0, (ULONG_PTR)Caller, 0,
                     "free pool block corrupted (written to after it was freed)");
}

/* Under the depot's lock: Chain's stocked bit follows whether it holds a
 * batch. */
static inline VOID ExpDepotSetChain(EXP_DEPOT *Depot, ULONG Chain, PUCHAR Batch)
{
    ULONG64 Bit = 1ull << (Chain % 64);

    Depot->Batches[Chain] = Batch;
    if (Batch != NULL) {
        Depot->Stocked[Chain / 64] |= Bit;
    } else {
        Depot->Stocked[Chain / 64] &= ~Bit;
    }
}

/* Sends a batch to the depot, on chain Chain (the sender's). */
static VOID ExpDepotPush(ULONG Pool, ULONG Class, ULONG Chain, PUCHAR Batch, ULONG Count)
{
    EXP_DEPOT *Depot = &ExpDepots[Pool][Class];
    KLOCK_QUEUE_HANDLE LockHandle;

    KeAcquireInStackQueuedSpinLockAtDpcLevel(&Depot->Lock, &LockHandle);
    ((PULONG64)Batch)[1] = ExpEncodeBatch(Batch, Depot->Batches[Chain], Count);
    ExpDepotSetChain(Depot, Chain, Batch);
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
}

/* A whole batch - from chain Chain (the caller's) if it has one, else from
 * any other - or NULL when the depot is empty. */
static PUCHAR ExpDepotPop(ULONG Pool, ULONG Class, ULONG Chain, PULONG Count, KIRQL CallerIrql)
{
    EXP_DEPOT *Depot = &ExpDepots[Pool][Class];
    KLOCK_QUEUE_HANDLE LockHandle;
    PUCHAR Batch;
    ULONG64 Word;

    KeAcquireInStackQueuedSpinLockAtDpcLevel(&Depot->Lock, &LockHandle);
    if (Depot->Batches[Chain] == NULL) {
        Chain = Depot->Stocked[0] != 0   ? (ULONG)__builtin_ctzll(Depot->Stocked[0])
                : Depot->Stocked[1] != 0 ? 64 + (ULONG)__builtin_ctzll(Depot->Stocked[1])
                                         : Chain;
    }
    Batch = Depot->Batches[Chain];
    if (Batch != NULL) {
        PUCHAR Next;

        Word = ((PULONG64)Batch)[1];
        Next = (PUCHAR)(ULONG_PTR)((LONGLONG)(Word << 16) >> 16);
        *Count = (ULONG)(Word >> 48) & 0xFF;
        if (Word != ExpEncodeBatch(Batch, Next, *Count) || *Count == 0) {
            /* The chain is lost from here on: report it once. */
            ExpDepotSetChain(Depot, Chain, NULL);
            KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
            ExpReportCorruptedFreeBlock(Batch, CallerIrql, __builtin_return_address(0));
            return NULL;
        }
        ExpDepotSetChain(Depot, Chain, Next);
    }
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
    return Batch;
}

/* Carves fresh kernel pages into free blocks of Class: a chain of *Count
 * blocks, or NULL when the memory manager has no pages left. */
static PUCHAR ExpGrowClass(ULONG Pool, ULONG Class, PULONG Count)
{
    const EXP_CLASS_INFO *Info = &ExpClassInfo[Class];
    SIZE_T Pages = Info->GrowPages;
    PUCHAR Segment, Chain = NULL;

    Segment = MiAllocateKernelPages(Pages);
    if (Segment == NULL) {
        /* One page will do; freed large runs the cache keeps are the
         * pool's own, given back before failing. */
        Pages = 1;
        Segment = ExpAllocatePoolPages(Pages);
        if (Segment == NULL) {
            return NULL;
        }
    }
    if (Pool == EXP_POOL_EXECUTE &&
        !NT_SUCCESS(MiProtectKernelPages(Segment, Pages, PAGE_EXECUTE_READWRITE))) {
        MiFreeKernelPages(Segment, Pages);
        return NULL;
    }
    /* Built from the last block back, so the chain runs in address order. */
    for (SIZE_T PageIndex = Pages; PageIndex-- > 0;) {
        PUCHAR Va = Segment + PageIndex * PAGE_SIZE;
        PEXP_PAGE Page = (PEXP_PAGE)Va;

        *(PULONG64)Page = ExpPageWord((ULONG_PTR)Va, Class, Pool);
        for (ULONG Index = Info->Count; Index-- > 0;) {
            PUCHAR Block = Va + Info->First + Index * Info->Size;

            Page->Entry[Index] = ExpMakeEntry(0, 0, Index);
            *(PULONG64)Block = ExpEncodeLink(Block, Chain);
            Chain = Block;
        }
    }
    ExpMarkPoolPages((ULONG_PTR)Segment, Pages, TRUE);
    __atomic_fetch_add(&ExpSmallPages, Pages, __ATOMIC_RELAXED);
    *Count = (ULONG)Pages * Info->Count;
    return Chain;
}

/* The depot chain of a lookaside's processor (the unpinned lists have the
 * last one). */
static inline ULONG ExpLookasideChain(PEXP_LOOKASIDE Lookaside)
{
    return (ULONG)(((PUCHAR)Lookaside - (PUCHAR)ExpPoolProcessors) / sizeof(EXP_POOL_PROCESSOR));
}

/* The lookaside is empty: the batch kept back, a batch from the depot, or
 * fresh pages. NULL when memory is exhausted. */
static __attribute__((noinline)) PUCHAR ExpRefillLookaside(PEXP_LOOKASIDE Lookaside, ULONG Pool,
                                                           ULONG Class, KIRQL CallerIrql)
{
    PUCHAR Chain;
    ULONG Count;

    if (Lookaside->Full != NULL) {
        Chain = Lookaside->Full;
        Count = Lookaside->FullCount;
        Lookaside->Full = NULL;
        Lookaside->FullCount = 0;
    } else {
        Chain = ExpDepotPop(Pool, Class, ExpLookasideChain(Lookaside), &Count, CallerIrql);
        if (Chain == NULL) {
            Chain = ExpGrowClass(Pool, Class, &Count);
            if (Chain == NULL) {
                return NULL;
            }
        }
    }
    Lookaside->Head = Chain;
    Lookaside->Count = Count;
    return Chain;
}

/* The lookaside holds a batch: it becomes the one kept back, the previous
 * one going to the depot. */
static __attribute__((noinline)) VOID ExpRotateLookaside(PEXP_LOOKASIDE Lookaside, ULONG Pool,
                                                         ULONG Class)
{
    if (Lookaside->Full != NULL) {
        ExpDepotPush(Pool, Class, ExpLookasideChain(Lookaside), Lookaside->Full,
                     Lookaside->FullCount);
    }
    Lookaside->Full = Lookaside->Head;
    Lookaside->FullCount = Lookaside->Count;
    Lookaside->Head = NULL;
    Lookaside->Count = 0;
}

/* ---- Small blocks (at DISPATCH_LEVEL) ---------------------------------- */

/* Takes a free block of Class and marks it busy with Flags and Slot;
 * NULL when memory is exhausted or the free block was corrupted (reported:
 * the rest of the lookaside is abandoned). */
FORCEINLINE PUCHAR ExpTakeBlock(PEXP_LOOKASIDE Lookaside, ULONG Pool, ULONG Class, ULONG Flags,
                                ULONG Slot, KIRQL CallerIrql)
{
    const EXP_CLASS_INFO *Info = &ExpClassInfo[Class];
    PUCHAR Block = Lookaside->Head;
    PUCHAR Next;
    PEXP_PAGE Page;
    ULONG Index;
    USHORT Entry;

    if (__builtin_expect(Block == NULL, 0)) {
        Block = ExpRefillLookaside(Lookaside, Pool, Class, CallerIrql);
        if (Block == NULL) {
            return NULL;
        }
    }
    Page = (PEXP_PAGE)PAGE_ALIGN(Block);
    Index = ExpBlockIndex(Info, (ULONG)BYTE_OFFSET(Block));
    Entry = Page->Entry[Index];
    if (__builtin_expect(!ExpDecodeLink(Block, *(PULONG64)Block, (PVOID *)&Next) ||
                             (Entry & EXP_ENTRY_BUSY) != 0 || !ExpEntryValid(Entry, Index),
                         0)) {
        Lookaside->Head = NULL;
        Lookaside->Count = 0;
        ExpReportCorruptedFreeBlock(Block, CallerIrql, __builtin_return_address(0));
        return NULL;
    }
    Lookaside->Head = Next;
    Lookaside->Count--;
    Page->Entry[Index] = ExpMakeEntry(EXP_ENTRY_BUSY | Flags, Slot, Index);
    return Block;
}

/* Marks the block free (keeping Slot for diagnostics) and pushes it. */
FORCEINLINE VOID ExpPutBlock(PEXP_LOOKASIDE Lookaside, ULONG Pool, ULONG Class, PEXP_PAGE Page,
                             ULONG Index, PUCHAR Block, ULONG Slot)
{
    Page->Entry[Index] = ExpMakeEntry(0, Slot, Index);
    if (__builtin_expect(Lookaside->Count >= ExpClassInfo[Class].Batch, 0)) {
        ExpRotateLookaside(Lookaside, Pool, Class);
    }
    *(PULONG64)Block = ExpEncodeLink(Block, Lookaside->Head);
    Lookaside->Head = Block;
    Lookaside->Count++;
}

/* For processor numbers beyond the table: the shared lists, locked. */
static __attribute__((noinline)) PUCHAR ExpTakeBlockUnpinned(ULONG Pool, ULONG Class, ULONG Flags,
                                                             ULONG Slot, KIRQL CallerIrql)
{
    KLOCK_QUEUE_HANDLE LockHandle;
    PUCHAR Block;

    KeAcquireInStackQueuedSpinLockAtDpcLevel(&ExpUnpinnedLock, &LockHandle);
    Block = ExpTakeBlock(&ExpPoolProcessors[MAXIMUM_PROCESSORS].Lookaside[Pool][Class], Pool, Class,
                         Flags, Slot, CallerIrql);
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
    return Block;
}

static __attribute__((noinline)) VOID ExpPutBlockUnpinned(ULONG Pool, ULONG Class, PEXP_PAGE Page,
                                                          ULONG Index, PUCHAR Block, ULONG Slot)
{
    KLOCK_QUEUE_HANDLE LockHandle;

    KeAcquireInStackQueuedSpinLockAtDpcLevel(&ExpUnpinnedLock, &LockHandle);
    ExpPutBlock(&ExpPoolProcessors[MAXIMUM_PROCESSORS].Lookaside[Pool][Class], Pool, Class, Page,
                Index, Block, Slot);
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
}

/* Allocates a block of Class from any IRQL up to DISPATCH_LEVEL, counting
 * Bytes for the tag in Slot: raise, this processor's lookaside and
 * counters, lower. */
FORCEINLINE PUCHAR ExpAllocateBlock(ULONG Pool, ULONG Class, ULONG Flags, ULONG Slot,
                                    ULONG CountSlot, SIZE_T Bytes, KIRQL Irql)
{
    PUCHAR Block;
    ULONG Number;

    ExpRaiseToDpc(Irql);
    Number = KiCurrentProcessorNumberInline();
    if (__builtin_expect(Number < MAXIMUM_PROCESSORS, 1)) {
        Block = ExpTakeBlock(&ExpPoolProcessors[Number].Lookaside[Pool][Class], Pool, Class, Flags,
                             Slot, Irql);
    } else {
        Block = ExpTakeBlockUnpinned(Pool, Class, Flags, Slot, Irql);
    }
    if (__builtin_expect(Block != NULL, 1)) {
        ExpCountFast(Number, CountSlot, Pool == EXP_POOL_PAGED, FALSE, (LONGLONG)Bytes);
    }
    ExpLowerFromDpc(Irql);
    return Block;
}

FORCEINLINE VOID ExpFreeBlock(ULONG Pool, ULONG Class, PEXP_PAGE Page, ULONG Index, PUCHAR Block,
                              ULONG Slot, ULONG CountSlot, SIZE_T Bytes, KIRQL Irql)
{
    ULONG Number;

    ExpRaiseToDpc(Irql);
    Number = KiCurrentProcessorNumberInline();
    if (__builtin_expect(Number < MAXIMUM_PROCESSORS, 1)) {
        ExpPutBlock(&ExpPoolProcessors[Number].Lookaside[Pool][Class], Pool, Class, Page, Index,
                    Block, Slot);
    } else {
        ExpPutBlockUnpinned(Pool, Class, Page, Index, Block, Slot);
    }
    ExpCountFast(Number, CountSlot, Pool == EXP_POOL_PAGED, TRUE, -(LONGLONG)Bytes);
    ExpLowerFromDpc(Irql);
}

/* ---- Allocation -------------------------------------------------------- */

#define EXP_OPT_ZERO          0x01
#define EXP_OPT_CACHE_ALIGNED 0x02
#define EXP_OPT_RAISE         0x04
#define EXP_OPT_SPECIAL       0x08
#define EXP_OPT_QUOTA         0x10

/* Allocations that must take the slow path whatever they ask for
 * (EXP_SLOW_*): one byte for the fast path to test. */
#define EXP_SLOW_VERIFY  0x01
#define EXP_SLOW_SPECIAL 0x02
volatile UCHAR ExpPoolSlowAllocations = DBG ? EXP_SLOW_VERIFY : 0;

static ULONG ExpSpecialPoolTag;

VOID ExpSetSpecialPoolTag(ULONG Tag)
{
    __atomic_store_n(&ExpSpecialPoolTag, Tag, __ATOMIC_RELEASE);
    if (Tag != 0) {
        __atomic_fetch_or(&ExpPoolSlowAllocations, EXP_SLOW_SPECIAL, __ATOMIC_ACQ_REL);
    } else {
        __atomic_fetch_and(&ExpPoolSlowAllocations, (UCHAR)~EXP_SLOW_SPECIAL, __ATOMIC_ACQ_REL);
    }
}

VOID ExpSetPoolVerification(BOOLEAN Enable)
{
    ExpPoolVerify = Enable;
    if (Enable) {
        __atomic_fetch_or(&ExpPoolSlowAllocations, EXP_SLOW_VERIFY, __ATOMIC_ACQ_REL);
    } else {
        __atomic_fetch_and(&ExpPoolSlowAllocations, (UCHAR)~EXP_SLOW_VERIFY, __ATOMIC_ACQ_REL);
    }
}

ULONG ExpQuerySpecialPoolTag(VOID)
{
    return __atomic_load_n(&ExpSpecialPoolTag, __ATOMIC_ACQUIRE);
}

static inline BOOLEAN ExpIsSpecialPoolTag(ULONG Tag)
{
    ULONG Special = __atomic_load_n(&ExpSpecialPoolTag, __ATOMIC_RELAXED);

    return Special != 0 && ((Tag ^ Special) & ~EXP_PROTECTED_POOL) == 0;
}

static PVOID ExpAllocationFailed(ULONG Options, ULONG PoolType, SIZE_T Size, ULONG Tag,
                                 PVOID Caller)
{
    if (Options & EXP_OPT_RAISE) {
        /* No SEH yet: an exception nobody can handle ends as NT ends an
         * unhandled kernel-mode exception. */
        ExpPoolViolation(KMODE_EXCEPTION_NOT_HANDLED,
                         (ULONG_PTR)(ULONG)STATUS_INSUFFICIENT_RESOURCES, (ULONG_PTR)Caller,
                         PoolType, Size, Tag, "pool allocation failed with raise-on-failure");
    }
    return NULL;
}

/* Bytes a wide block leaves its caller (what the tag is charged and
 * ExQueryPoolBlockSize reports). */
static inline SIZE_T ExpWideUsable(const EXP_POOL_HEADER *Header, PUCHAR User, PUCHAR BlockEnd)
{
    return (Header->Flags & EXP_HF_GUARDED) ? Header->Size : (SIZE_T)(BlockEnd - User);
}

/* Everything but the plain small block: IRQL violations, zero bytes,
 * special pool, guarded, quota and overflow-tag blocks (wide), cache
 * alignment, large blocks. */
static __attribute__((noinline)) PVOID
ExpAllocatePoolSlow(ULONG Pool, SIZE_T Size, ULONG Tag, ULONG Options, ULONG PoolType, PVOID Caller)
{
    KIRQL Irql = KiReadIrqlInline();
    BOOLEAN Paged = Pool == EXP_POOL_PAGED;
    UCHAR Flags;
    SIZE_T Need, Charge, Offset;
    ULONG Slot, Class;
    BOOLEAN Wide;
    PUCHAR Block, User, BlockEnd;
    PEXP_POOL_HEADER Header;

    if (Paged && Irql > APC_LEVEL) {
        /* Paged pool may fault: touching it above APC_LEVEL is the stop NT
         * shows for a fault at raised IRQL. */
        ExpPoolViolation(IRQL_NOT_LESS_OR_EQUAL, 0, Irql, 0, (ULONG_PTR)Caller, Tag,
                         "paged pool allocation above APC_LEVEL");
        return NULL;
    }
    if (Irql > DISPATCH_LEVEL) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x8, Irql, PoolType, Size, Tag,
                         "pool allocation above DISPATCH_LEVEL");
        return NULL;
    }
    if (Size == 0) {
        Size = 1;
    }
    if (Size > (SIZE_T)MiTotalPhysicalPageCount() * PAGE_SIZE) {
        return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
    }
    Flags = (Paged ? EXP_HF_PAGED : 0) | (Pool == EXP_POOL_EXECUTE ? EXP_HF_EXECUTE : 0) |
            ((Options & EXP_OPT_QUOTA) ? EXP_HF_QUOTA : 0);
    if (ExpPoolVerify) {
        Flags |= EXP_HF_GUARDED;
    }

    if ((Options & EXP_OPT_SPECIAL) || ExpIsSpecialPoolTag(Tag)) {
        Block = ExpAllocateSpecialPool(Size, Tag, Flags & ~EXP_HF_GUARDED);
        if (Block != NULL) {
            ExpChargePoolTag(Tag, Paged, Size);
            goto Done;
        }
    }

    Slot = ExpTagSlot(Tag);
    Wide = (Flags & (EXP_HF_GUARDED | EXP_HF_QUOTA)) != 0 || Slot == EXP_TAG_OVERFLOW;
    Need = Size + (Wide ? EXP_HEADER_SIZE : 0) + ((Flags & EXP_HF_GUARDED) ? EXP_GUARD_MIN : 0);
    Class = EXP_CLASS_NONE;
    if (Options & EXP_OPT_CACHE_ALIGNED) {
        /* A 64-byte class: its blocks are cache aligned; a wide block's
         * caller bytes start one cache line in. */
        if (Wide) {
            Need += SYSTEM_CACHE_ALIGNMENT_SIZE - EXP_HEADER_SIZE;
        }
        if (Need <= EXP_SMALL_MAX) {
            Class = ExpCacheAlignedSizeClass[(Need + 15) >> 4];
        }
    } else if (Need <= EXP_SMALL_MAX) {
        Class = ExpSizeClass[(Need + 15) >> 4];
    }

    if (Class == EXP_CLASS_NONE) {
        Block = ExpAllocateBigPages(Size, Tag, Flags);
        if (Block == NULL) {
            return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
        }
        Charge = (Flags & EXP_HF_GUARDED) ? Size : ROUND_TO_PAGES(Size);
        ExpChargePoolTag(Tag, Paged, Charge);
        goto Done;
    }

    if (!Wide) {
        Block = ExpAllocateBlock(Pool, Class, 0, Slot, Slot, ExpClassInfo[Class].Size, Irql);
        if (Block == NULL) {
            return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
        }
        goto Done;
    }
    Offset = (Options & EXP_OPT_CACHE_ALIGNED) ? SYSTEM_CACHE_ALIGNMENT_SIZE : EXP_HEADER_SIZE;
    /* What ExpWideUsable will say of the block. */
    Charge = (Flags & EXP_HF_GUARDED) ? Size : ExpClassInfo[Class].Size - Offset;
    Block = ExpAllocateBlock(Pool, Class, EXP_ENTRY_WIDE, Slot == EXP_TAG_OVERFLOW ? 0 : Slot, Slot,
                             Charge, Irql);
    if (Block == NULL) {
        return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
    }
    User = Block + Offset;
    BlockEnd = Block + ExpClassInfo[Class].Size;
    Header = (PEXP_POOL_HEADER)User - 1;
    Header->Class = (UCHAR)Class;
    Header->Flags = Flags;
    Header->State = EXP_STATE_BUSY;
    Header->Tag = Tag;
    Header->Size = (ULONG)Size;
    ExpSealHeader(Header);
    if (Flags & EXP_HF_GUARDED) {
        memset(User + Size, EXP_GUARD_BYTE, (SIZE_T)(BlockEnd - User) - Size);
    }
    Block = User;
Done:
    if (Options & EXP_OPT_ZERO) {
        memset(Block, 0, Size);
    }
    return Block;
}

/* The fast path: a plain small block (1..4080 bytes, a tag in its home
 * slot, no verification or special pool in force) from this processor's
 * lookaside, at an IRQL the pool allows. NULL when anything else is
 * needed (the lookaside is empty, the block at its head is damaged, the
 * processor has no counters yet...): the slow path then does it all, and
 * reports what is wrong. */
FORCEINLINE PUCHAR ExpTryAllocateFast(ULONG Pool, SIZE_T Size, ULONG Tag)
{
    KIRQL Irql = KiReadIrqlInline();
    const EXP_CLASS_INFO *Info;
    PEXP_TAG_COUNTERS Counters;
    PEXP_LOOKASIDE Lookaside;
    PUCHAR Block = NULL, Next;
    ULONG Class, Slot, Number, Index;
    PEXP_PAGE Page;
    ULONG64 Word;
    USHORT Entry;

    Slot = ExpTagHash(Tag);
    if (__builtin_expect(Size - 1 >= EXP_SMALL_MAX || Irql > ExpPoolMaxIrql(Pool) ||
                             ExpPoolSlowAllocations != 0 ||
                             __atomic_load_n(&ExpTagKeys[Slot], __ATOMIC_RELAXED) != Tag,
                         0)) {
        return NULL;
    }
    Class = ExpSizeClass[(Size + 15) >> 4];
    Info = &ExpClassInfo[Class];
    ExpRaiseToDpc(Irql);
    Number = KiCurrentProcessorNumberInline();
    if (__builtin_expect(Number >= MAXIMUM_PROCESSORS, 0)) {
        goto Lower;
    }
    Counters = ExpTagCounters[Number];
    Lookaside = &ExpPoolProcessors[Number].Lookaside[Pool][Class];
    Block = Lookaside->Head;
    if (__builtin_expect(Block == NULL || Counters == NULL, 0)) {
        Block = NULL;
        goto Lower;
    }
    Word = *(PULONG64)Block;
    Page = (PEXP_PAGE)PAGE_ALIGN(Block);
    Index = ExpBlockIndex(Info, (ULONG)BYTE_OFFSET(Block));
    Entry = Page->Entry[Index];
    /* A busy entry on a free block means the lists are damaged; a free
     * entry's other bits are rewritten here whole (the free path checks
     * them). */
    if (__builtin_expect(
            !ExpDecodeLink(Block, Word, (PVOID *)&Next) || (Entry & EXP_ENTRY_BUSY) != 0, 0)) {
        Block = NULL;
        goto Lower;
    }
    Lookaside->Head = Next;
    Lookaside->Count--;
    Page->Entry[Index] = ExpMakeEntry(EXP_ENTRY_BUSY, Slot, Index);
    ExpBumpTagCounters(Counters, Slot, Pool == EXP_POOL_PAGED, FALSE, Info->Size);
Lower:
    ExpLowerFromDpc(Irql);
    return Block;
}

/* The common path of every allocation routine. PoolType is what the
 * caller asked for (reported in stop codes). */
FORCEINLINE PVOID ExpAllocatePool(ULONG Pool, SIZE_T Size, ULONG Tag, ULONG Options, ULONG PoolType,
                                  PVOID Caller)
{
    if ((Options & (EXP_OPT_CACHE_ALIGNED | EXP_OPT_SPECIAL | EXP_OPT_QUOTA)) == 0) {
        PUCHAR Block = ExpTryAllocateFast(Pool, Size, Tag);
        if (__builtin_expect(Block != NULL, 1)) {
            if (Options & EXP_OPT_ZERO) {
                memset(Block, 0, Size);
            }
            return Block;
        }
    }
    return ExpAllocatePoolSlow(Pool, Size, Tag, Options, PoolType, Caller);
}

/* ---- Free -------------------------------------------------------------- */

BOOLEAN ExpCheckFreeCaller(ULONG_PTR Va, ULONG Tag, ULONG BlockTag, BOOLEAN Paged, KIRQL Irql,
                           PVOID Caller)
{
    if (!ExpTagMatches(Tag, BlockTag)) {
        ExpPoolViolation(BAD_POOL_CALLER, 0xA, Va, BlockTag, Tag, BlockTag,
                         "free with the wrong tag");
        return FALSE;
    }
    if (Paged && Irql > APC_LEVEL) {
        ExpPoolViolation(IRQL_NOT_LESS_OR_EQUAL, Va, Irql, 1, (ULONG_PTR)Caller, BlockTag,
                         "paged pool freed above APC_LEVEL");
        return FALSE;
    }
    if (Irql > DISPATCH_LEVEL) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x9, Irql, Paged ? PagedPool : NonPagedPool, Va, BlockTag,
                         "pool freed above DISPATCH_LEVEL");
        return FALSE;
    }
    return TRUE;
}

/* The header of the busy special pool block P, on a page that is not a
 * small-block page (the caller checked); NULL when P is not one. */
static PEXP_POOL_HEADER ExpSpecialPoolHeader(PVOID P)
{
    PEXP_POOL_HEADER Header = (PEXP_POOL_HEADER)P - 1;

    if (BYTE_OFFSET(P) >= EXP_HEADER_SIZE && Header->Class == EXP_CLASS_SPECIAL &&
        Header->State == EXP_STATE_BUSY && ExpHeaderSealed(Header)) {
        return Header;
    }
    return NULL;
}

/* Frees P with every check the free and checked builds make, reporting
 * what is wrong. */
static __attribute__((noinline)) VOID ExpFreePoolSlow(PVOID P, ULONG Tag, PVOID Caller)
{
    KIRQL Irql = KiReadIrqlInline();
    ULONG_PTR Va = (ULONG_PTR)P;
    const EXP_CLASS_INFO *Info;
    PEXP_POOL_HEADER Header = NULL;
    PEXP_PAGE Page;
    PUCHAR BlockStart, BlockEnd;
    ULONG Class, Pool, Index, Offset, Slot, BlockTag;
    SIZE_T Charge;
    ULONG64 Word;
    USHORT Entry;

    if ((Va & (EXP_HEADER_SIZE - 1)) != 0 || P == NULL) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x46, Va, 0, 0, 0, "free of an invalid pool address");
        return;
    }
    if (BYTE_OFFSET(Va) == 0) {
        ExpFreeBigPages(P, Tag, Irql, Caller);
        return;
    }
    if (!ExpIsPoolPage(Va)) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x46, Va, 0, 0, 0, "free of an address outside the pool");
        return;
    }
    Page = (PEXP_PAGE)PAGE_ALIGN(P);
    Word = *(volatile ULONG64 *)Page;
    if (!ExpPageWordValid((ULONG_PTR)Page, Word)) {
        /* Not a small-block page: a special pool block, or a page header
         * that was overwritten. */
        Header = ExpSpecialPoolHeader(P);
        if (Header != NULL) {
            if (ExpCheckFreeCaller(Va, Tag, Header->Tag, (Header->Flags & EXP_HF_PAGED) != 0, Irql,
                                   Caller)) {
                ExpFreeSpecialPool(Header);
            }
            return;
        }
        ExpPoolViolation(BAD_POOL_HEADER, 0x7, 0, (ULONG_PTR)Word, (ULONG_PTR)Page, 0,
                         "pool page header corrupted");
        return;
    }
    Class = (UCHAR)(Word >> 32);
    Pool = (UCHAR)(Word >> 40);
    Info = &ExpClassInfo[Class];
    Offset = (ULONG)BYTE_OFFSET(Va);
    Index = Offset >= Info->First ? ExpBlockIndex(Info, Offset) : Info->Count;
    if (Index >= Info->Count) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x99, Va, 0, 0, 0,
                         "free of an address that is not a pool block");
        return;
    }
    BlockStart = (PUCHAR)Page + Info->First + Index * Info->Size;
    BlockEnd = BlockStart + Info->Size;
    Entry = Page->Entry[Index];
    if (!ExpEntryValid(Entry, Index)) {
        ExpPoolViolation(BAD_POOL_HEADER, 0x7, 0, Entry, (ULONG_PTR)&Page->Entry[Index], 0,
                         "pool block entry corrupted");
        return;
    }
    if ((Entry & EXP_ENTRY_BUSY) == 0) {
        /* Any address the block may have been handed out at. */
        if ((PUCHAR)P == BlockStart || (PUCHAR)P == BlockStart + EXP_HEADER_SIZE ||
            (PUCHAR)P == BlockStart + SYSTEM_CACHE_ALIGNMENT_SIZE) {
            ExpPoolViolation(BAD_POOL_CALLER, 0x7, 0, Entry, Va, ExpTagKeys[ExpEntrySlot(Entry)],
                             "double free (block already free)");
        } else {
            ExpPoolViolation(BAD_POOL_CALLER, 0x99, Va, 0, 0, 0,
                             "free of an address that is not a pool block");
        }
        return;
    }
    if (Entry & EXP_ENTRY_WIDE) {
        Header = (PEXP_POOL_HEADER)P - 1;
        if ((PUCHAR)P != BlockStart + EXP_HEADER_SIZE &&
            (PUCHAR)P != BlockStart + SYSTEM_CACHE_ALIGNMENT_SIZE) {
            ExpPoolViolation(BAD_POOL_CALLER, 0x99, Va, 0, 0, 0,
                             "free of an address that is not a pool block");
            return;
        }
        if (Header->State != EXP_STATE_BUSY || Header->Class != Class || !ExpHeaderSealed(Header) ||
            Header->Size > (ULONG)(BlockEnd - (PUCHAR)P)) {
            if ((PUCHAR)P != BlockStart + EXP_HEADER_SIZE) {
                /* A cache-aligned address inside a block that has its
                 * header at the start. */
                ExpPoolViolation(BAD_POOL_CALLER, 0x99, Va, 0, 0, 0,
                                 "free of an address that is not a pool block");
                return;
            }
            ExpPoolViolation(BAD_POOL_HEADER, 0x7, 0, *(PULONG64)Header, (ULONG_PTR)Header,
                             Header->Tag, "pool block header corrupted");
            return;
        }
        BlockTag = Header->Tag;
        Slot = ExpTagSlot(BlockTag);
        Charge = ExpWideUsable(Header, (PUCHAR)P, BlockEnd);
    } else {
        if ((PUCHAR)P != BlockStart) {
            ExpPoolViolation(BAD_POOL_CALLER, 0x99, Va, 0, 0, 0,
                             "free of an address that is not a pool block");
            return;
        }
        Slot = ExpEntrySlot(Entry);
        BlockTag = ExpTagKeys[Slot];
        Charge = Info->Size;
    }
    if (!ExpCheckFreeCaller(Va, Tag, BlockTag, Pool == EXP_POOL_PAGED, Irql, Caller)) {
        return;
    }
    if (Header != NULL && (Header->Flags & EXP_HF_GUARDED)) {
        PUCHAR Damage = ExpFindGuardDamage((PUCHAR)P + Header->Size, BlockEnd);
        if (Damage != NULL) {
            ExpPoolViolation(BAD_POOL_HEADER, 0x21, Va, Header->Size,
                             *(PULONG64)((ULONG_PTR)Damage & ~(ULONG_PTR)7), BlockTag,
                             "buffer overrun: the bytes after the block were written");
            return;
        }
    }
    if (Header != NULL) {
        Header->State = EXP_STATE_FREE;
        ExpSealHeader(Header);
    }
    /* The free entry keeps a slot for the double-free report. */
    ExpFreeBlock(Pool, Class, Page, Index, BlockStart, Slot == EXP_TAG_OVERFLOW ? 0 : Slot, Slot,
                 Charge, Irql);
}

/* The fast path: a busy plain small block freed with its tag (or 0) at an
 * IRQL its pool allows, onto this processor's lookaside. FALSE when
 * anything else is needed: the slow path then does it all, finding and
 * reporting what is wrong. */
FORCEINLINE BOOLEAN ExpTryFreeFast(PVOID P, ULONG Tag)
{
    KIRQL Irql = KiReadIrqlInline();
    ULONG_PTR Va = (ULONG_PTR)P;
    SIZE_T PageNumber = (Va - MiSystemVaStart) >> PAGE_SHIFT;
    const EXP_CLASS_INFO *Info;
    PEXP_TAG_COUNTERS Counters;
    PEXP_LOOKASIDE Lookaside;
    ULONG Class, Pool, Offset, Index, Slot, Number;
    BOOLEAN Done = FALSE;
    PEXP_PAGE Page;
    ULONG64 Word;
    USHORT Entry;

    /* No bit is set outside the system range: the bitmap's bound will do. */
    if (__builtin_expect((Va & (EXP_HEADER_SIZE - 1)) != 0 || BYTE_OFFSET(Va) == 0 ||
                             PageNumber >= EXP_BITMAP_PAGES ||
                             ((ExpPoolPageBitmap[PageNumber / 64] >> (PageNumber % 64)) & 1) == 0,
                         0)) {
        return FALSE;
    }
    Page = (PEXP_PAGE)PAGE_ALIGN(Va);
    Word = *(volatile ULONG64 *)Page;
    if (__builtin_expect(!ExpPageWordValid((ULONG_PTR)Page, Word), 0)) {
        return FALSE;
    }
    Class = (UCHAR)(Word >> 32);
    Pool = (UCHAR)(Word >> 40);
    Info = &ExpClassInfo[Class];
    Offset = (ULONG)BYTE_OFFSET(Va);
    Index = ExpBlockIndex(Info, Offset);
    /* An offset before the first block wraps to an index far beyond
     * Count (the reciprocal is at least 2^32 / 4080). */
    if (__builtin_expect(Index >= Info->Count || Index * Info->Size != Offset - Info->First, 0)) {
        return FALSE;
    }
    Entry = Page->Entry[Index];
    Slot = ExpEntrySlot(Entry);
    if (__builtin_expect((Entry & (EXP_ENTRY_BUSY | EXP_ENTRY_WIDE)) != EXP_ENTRY_BUSY ||
                             !ExpEntryValid(Entry, Index) ||
                             !ExpTagMatches(Tag, ExpTagKeys[Slot]) || Irql > ExpPoolMaxIrql(Pool),
                         0)) {
        return FALSE;
    }
    ExpRaiseToDpc(Irql);
    Number = KiCurrentProcessorNumberInline();
    if (__builtin_expect(Number < MAXIMUM_PROCESSORS, 1)) {
        Counters = ExpTagCounters[Number];
        Lookaside = &ExpPoolProcessors[Number].Lookaside[Pool][Class];
        if (__builtin_expect(Counters != NULL && Lookaside->Count < Info->Batch, 1)) {
            Page->Entry[Index] = Entry & ~EXP_ENTRY_BUSY;
            *(PULONG64)P = ExpEncodeLink(P, Lookaside->Head);
            Lookaside->Head = P;
            Lookaside->Count++;
            ExpBumpTagCounters(Counters, Slot, Pool == EXP_POOL_PAGED, TRUE, -(LONGLONG)Info->Size);
            Done = TRUE;
        }
    }
    ExpLowerFromDpc(Irql);
    return Done;
}

/* ---- Block queries ----------------------------------------------------- */

BOOLEAN ExpQuerySmallBlock(PVOID Block, PEXP_BLOCK_INFO Info)
{
    ULONG_PTR Va = (ULONG_PTR)Block;
    const EXP_CLASS_INFO *Class;
    PEXP_PAGE Page;
    ULONG64 Word;
    ULONG Index, Offset;
    PUCHAR Start;
    USHORT Entry;

    if ((Va & (EXP_HEADER_SIZE - 1)) != 0 || BYTE_OFFSET(Va) == 0 || !ExpIsPoolPage(Va)) {
        return FALSE;
    }
    Page = (PEXP_PAGE)PAGE_ALIGN(Va);
    Word = *(volatile ULONG64 *)Page;
    if (!ExpPageWordValid((ULONG_PTR)Page, Word)) {
        return FALSE;
    }
    Class = &ExpClassInfo[(UCHAR)(Word >> 32)];
    Offset = (ULONG)BYTE_OFFSET(Va);
    if (Offset < Class->First) {
        return FALSE;
    }
    Index = ExpBlockIndex(Class, Offset);
    if (Index >= Class->Count) {
        return FALSE;
    }
    Start = (PUCHAR)Page + Class->First + Index * Class->Size;
    Entry = Page->Entry[Index];
    if (!ExpEntryValid(Entry, Index) || !(Entry & EXP_ENTRY_BUSY)) {
        return FALSE;
    }
    Info->Class = (UCHAR)(Word >> 32);
    Info->Pool = (UCHAR)(Word >> 40);
    Info->Wide = (Entry & EXP_ENTRY_WIDE) != 0;
    Info->Slot = ExpEntrySlot(Entry);
    Info->Entry = &Page->Entry[Index];
    Info->BlockStart = Start;
    if (Info->Wide) {
        PEXP_POOL_HEADER Header = (PEXP_POOL_HEADER)Block - 1;
        if ((PUCHAR)Block != Start + EXP_HEADER_SIZE &&
            (PUCHAR)Block != Start + SYSTEM_CACHE_ALIGNMENT_SIZE) {
            return FALSE;
        }
        if (Header->State != EXP_STATE_BUSY || !ExpHeaderSealed(Header)) {
            return FALSE;
        }
        Info->Tag = Header->Tag;
    } else {
        if ((PUCHAR)Block != Start) {
            return FALSE;
        }
        Info->Tag = ExpTagKeys[Info->Slot];
    }
    return TRUE;
}

/* ---- Exported routines ------------------------------------------------- */

#define EXP_KNOWN_REQUIRED_FLAGS                                                                   \
    (POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_CACHE_ALIGNED |                     \
     POOL_FLAG_RAISE_ON_FAILURE | POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE |              \
     POOL_FLAG_PAGED)

static __attribute__((noinline)) PVOID
ExpAllocatePoolFlags(POOL_FLAGS Flags, SIZE_T Size, ULONG Tag, BOOLEAN Special, PVOID Caller)
{
    POOL_FLAGS Type = Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    ULONG Options = 0;
    ULONG Pool = EXP_POOL_NX;
    ULONG PoolType;

    if (Type == POOL_FLAG_PAGED) {
        Pool = EXP_POOL_PAGED;
        PoolType = PagedPool;
    } else if (Type == POOL_FLAG_NON_PAGED_EXECUTE) {
        Pool = EXP_POOL_EXECUTE;
        PoolType = NonPagedPoolExecute;
    } else {
        PoolType = NonPagedPoolNx;
    }
    if (!(Flags & POOL_FLAG_UNINITIALIZED)) {
        Options |= EXP_OPT_ZERO;
    }
    if (Flags & POOL_FLAG_CACHE_ALIGNED) {
        Options |= EXP_OPT_CACHE_ALIGNED;
    }
    if (Flags & POOL_FLAG_RAISE_ON_FAILURE) {
        Options |= EXP_OPT_RAISE;
    }
    if (Flags & POOL_FLAG_USE_QUOTA) {
        Options |= EXP_OPT_QUOTA;
    }
    if (Special || (Flags & POOL_FLAG_SPECIAL_POOL)) {
        Options |= EXP_OPT_SPECIAL;
    }
    /* Exactly one pool type; every required flag known; session pool does
     * not exist here; tag 0 is invalid. */
    if ((Type != POOL_FLAG_PAGED && Type != POOL_FLAG_NON_PAGED &&
         Type != POOL_FLAG_NON_PAGED_EXECUTE) ||
        (Flags & (POOL_FLAG_REQUIRED_END | (POOL_FLAG_REQUIRED_END - 1)) &
         ~EXP_KNOWN_REQUIRED_FLAGS) != 0 ||
        Tag == 0) {
        return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
    }
    return ExpAllocatePool(Pool, Size, Tag, Options, PoolType, Caller);
}

/* The flags the fast path tells apart: the required ones (but
 * POOL_FLAG_UNINITIALIZED) and special pool. */
#define EXP_FAST_FLAGS_MASK                                                                        \
    ((POOL_FLAG_REQUIRED_END | (POOL_FLAG_REQUIRED_END - 1) | POOL_FLAG_SPECIAL_POOL) &            \
     ~POOL_FLAG_UNINITIALIZED)

PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    POOL_FLAGS Plain = Flags & EXP_FAST_FLAGS_MASK;
    ULONG Pool;
    PUCHAR Block;

    /* One pool type and nothing else that matters: the fast path. */
    if (Plain == POOL_FLAG_NON_PAGED) {
        Pool = EXP_POOL_NX;
    } else if (Plain == POOL_FLAG_PAGED) {
        Pool = EXP_POOL_PAGED;
    } else if (Plain == POOL_FLAG_NON_PAGED_EXECUTE) {
        Pool = EXP_POOL_EXECUTE;
    } else {
        Pool = EXP_POOLS;
    }
    if (__builtin_expect(Pool < EXP_POOLS && Tag != 0, 1)) {
        Block = ExpTryAllocateFast(Pool, NumberOfBytes, Tag);
        if (__builtin_expect(Block != NULL, 1)) {
            if (!(Flags & POOL_FLAG_UNINITIALIZED)) {
                memset(Block, 0, NumberOfBytes);
            }
            return Block;
        }
    }
    return ExpAllocatePoolFlags(Flags, NumberOfBytes, Tag, FALSE, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                            PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                            ULONG ExtendedParametersCount)
{
    PVOID Caller = __builtin_return_address(0);
    BOOLEAN Special = FALSE;

    if (ExtendedParametersCount != 0 && ExtendedParameters == NULL) {
        return ExpAllocatePoolFlags(Flags | POOL_FLAG_SESSION, NumberOfBytes, Tag, FALSE, Caller);
    }
    for (ULONG i = 0; i < ExtendedParametersCount; i++) {
        switch (ExtendedParameters[i].Type) {
        case PoolExtendedParameterPriority:
            /* One priority: the pool does not ration memory by priority. */
            if ((ExtendedParameters[i].Priority & 8) != 0) {
                Special = TRUE;
            }
            break;
        case PoolExtendedParameterNumaNode:
            /* One node. */
            break;
        default:
            /* Secure pool and unknown parameters: fail unless optional. */
            if (!ExtendedParameters[i].Optional) {
                return ExpAllocatePoolFlags(Flags | POOL_FLAG_SESSION, NumberOfBytes, Tag, FALSE,
                                            Caller);
            }
            break;
        }
    }
    return ExpAllocatePoolFlags(Flags, NumberOfBytes, Tag, Special, Caller);
}

/* The POOL_TYPE routines: uninitialized memory unless POOL_ZERO_ALLOCATION. */
static __attribute__((noinline)) PVOID ExpAllocatePoolType(POOL_TYPE PoolType, SIZE_T Size,
                                                           ULONG Tag, ULONG Options, PVOID Caller)
{
    ULONG Type = (ULONG)PoolType;
    ULONG Pool = (Type & 1)                    ? EXP_POOL_PAGED
                 : (Type & POOL_NX_ALLOCATION) ? EXP_POOL_NX
                                               : EXP_POOL_EXECUTE;

    if (Tag == 0) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x9B, Type, Size, (ULONG_PTR)Caller, 0,
                         "pool allocation with tag 0");
        return NULL;
    }
    if ((Type & 2) != 0 && (Type & 1) == 0) {
        /* NonPagedPoolMustSucceed is gone from NT. */
        ExpPoolViolation(BAD_POOL_CALLER, 0x9A, Type, Size, Tag, Tag,
                         "must-succeed pool is not supported");
        return NULL;
    }
    if (Type & 4) {
        Options |= EXP_OPT_CACHE_ALIGNED;
    }
    if (Type & POOL_RAISE_IF_ALLOCATION_FAILURE) {
        Options |= EXP_OPT_RAISE;
    }
    if (Type & POOL_ZERO_ALLOCATION) {
        Options |= EXP_OPT_ZERO;
    }
    if ((Options & EXP_OPT_QUOTA) && !(Type & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE)) {
        Options |= EXP_OPT_RAISE;
    }
    return ExpAllocatePool(Pool, Size, Tag, Options, Type, Caller);
}

PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    ULONG Pool;
    PUCHAR Block;

    /* The three plain pool types: the fast path. */
    if (PoolType == NonPagedPoolNx) {
        Pool = EXP_POOL_NX;
    } else if (PoolType == PagedPool) {
        Pool = EXP_POOL_PAGED;
    } else if (PoolType == NonPagedPool) {
        Pool = EXP_POOL_EXECUTE;
    } else {
        goto General;
    }
    if (__builtin_expect(Tag != 0, 1)) {
        Block = ExpTryAllocateFast(Pool, NumberOfBytes, Tag);
        if (__builtin_expect(Block != NULL, 1)) {
            return Block;
        }
    }
General:
    return ExpAllocatePoolType(PoolType, NumberOfBytes, Tag, 0, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePoolType(PoolType, NumberOfBytes, Tag, EXP_OPT_QUOTA,
                               __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                          EX_POOL_PRIORITY Priority)
{
    /* The *SpecialPoolOverrun priorities ask for special pool. */
    if ((Priority & 8) != 0 && NumberOfBytes < PAGE_SIZE) {
        ULONG Type = (ULONG)PoolType;
        PVOID Block =
            ExAllocatePool2(((Type & 1)                    ? POOL_FLAG_PAGED
                             : (Type & POOL_NX_ALLOCATION) ? POOL_FLAG_NON_PAGED
                                                           : POOL_FLAG_NON_PAGED_EXECUTE) |
                                POOL_FLAG_UNINITIALIZED | POOL_FLAG_SPECIAL_POOL,
                            NumberOfBytes, Tag);
        if (Block != NULL) {
            return Block;
        }
    }
    return ExpAllocatePoolType(PoolType, NumberOfBytes, Tag, 0, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return ExpAllocatePoolType(PoolType, NumberOfBytes, 'enoN', 0, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePoolWithQuota(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return ExpAllocatePoolType(PoolType, NumberOfBytes, 'enoN', EXP_OPT_QUOTA,
                               __builtin_return_address(0));
}

VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    if (__builtin_expect(!ExpTryFreeFast(P, Tag), 0)) {
        ExpFreePoolSlow(P, Tag, __builtin_return_address(0));
    }
}

VOID NTAPI ExFreePool(PVOID P)
{
    if (__builtin_expect(!ExpTryFreeFast(P, 0), 0)) {
        ExpFreePoolSlow(P, 0, __builtin_return_address(0));
    }
}

VOID NTAPI ExFreePool2(PVOID P, ULONG Tag, PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                       ULONG ExtendedParametersCount)
{
    UNREFERENCED_PARAMETER(ExtendedParameters);
    UNREFERENCED_PARAMETER(ExtendedParametersCount);
    if (!ExpTryFreeFast(P, Tag)) {
        ExpFreePoolSlow(P, Tag, __builtin_return_address(0));
    }
}

SIZE_T NTAPI ExQueryPoolBlockSize(PVOID PoolBlock, PBOOLEAN QuotaCharged)
{
    EXP_BLOCK_INFO Info;
    BOOLEAN Quota = FALSE;
    SIZE_T Size = 0;

    if (BYTE_OFFSET(PoolBlock) == 0) {
        Size = ExpQueryBigPagesSize(PoolBlock, &Quota);
    } else if (ExpQuerySmallBlock(PoolBlock, &Info)) {
        PUCHAR BlockEnd = Info.BlockStart + ExpClassInfo[Info.Class].Size;
        if (Info.Wide) {
            PEXP_POOL_HEADER Header = (PEXP_POOL_HEADER)PoolBlock - 1;
            Quota = (Header->Flags & EXP_HF_QUOTA) != 0;
            Size = ExpWideUsable(Header, PoolBlock, BlockEnd);
        } else {
            Size = ExpClassInfo[Info.Class].Size;
        }
    } else if (((ULONG_PTR)PoolBlock & (EXP_HEADER_SIZE - 1)) == 0 &&
               ExpIsPoolPage((ULONG_PTR)PoolBlock)) {
        /* A special pool block: its header precedes it. */
        PEXP_POOL_HEADER Header = ExpSpecialPoolHeader(PoolBlock);
        if (Header != NULL) {
            Quota = (Header->Flags & EXP_HF_QUOTA) != 0;
            Size = Header->Size;
        }
    }
    if (QuotaCharged != NULL) {
        *QuotaCharged = Quota;
    }
    return Size;
}

/*
 * poolp.h - the executive pool's private layout, shared by kernel/ex/pool*.c
 * and their tests: small-block pages (a page header and one 16-bit entry
 * per block, no header in front of a block), the size classes, the
 * encoded free-list links, the wide header of blocks that need more than
 * the page knows, the page bitmap, the big-page table, the tag table and
 * the verifier's reporting routine. docs/pool.md describes the design.
 */
#ifndef _POOLP_
#define _POOLP_

#include <ntddk.h>
#include <arch.h>
#include <ex.h>
#include <ke.h>
#include <mm.h>

#ifndef MAXIMUM_PROCESSORS
#define MAXIMUM_PROCESSORS 64
#endif

/* ---- Pools and size classes -------------------------------------------- */

/* Small-block pages belong to one pool: nonpaged no-execute
 * (NonPagedPoolNx), nonpaged executable (NonPagedPool,
 * NonPagedPoolExecute), or paged (PagedPool: no-execute, and nonpaged
 * memory until the memory manager pages). */
#define EXP_POOL_NX      0
#define EXP_POOL_EXECUTE 1
#define EXP_POOL_PAGED   2
#define EXP_POOLS        3

/* 40 classes of block sizes (the caller's bytes; there is no per-block
 * header): 16..256 in 16-byte steps, 288..512 in 32-byte steps, then sizes
 * that fill a page well, up to 4080 (one block per page). Classes that are
 * multiples of 64 start at a 64-byte boundary, so their blocks are cache
 * aligned. */
#define EXP_CLASS_COUNT   40
#define EXP_SMALL_MAX     4080 /* the largest small block */
#define EXP_CLASS_NONE    0xFF
#define EXP_CLASS_SPECIAL 0xFE /* a wide header's class: special pool block */

typedef struct _EXP_CLASS_INFO {
    USHORT Size;      /* block bytes */
    USHORT First;     /* page offset of the first block */
    USHORT Count;     /* blocks per page */
    USHORT Batch;     /* blocks a lookaside moves at once (>= a growth step) */
    ULONG Reciprocal; /* ceil(2^32 / Size): offset / Size as a multiply */
    USHORT GrowPages; /* pages carved at once */
    USHORT Reserved;
} EXP_CLASS_INFO;

extern const EXP_CLASS_INFO ExpClassInfo[EXP_CLASS_COUNT];
/* Class by (bytes + 15) / 16, for 1..EXP_SMALL_MAX bytes; the second
 * table gives a class whose blocks are 64-byte aligned (EXP_CLASS_NONE
 * when there is none: the request becomes a page). */
extern const UCHAR ExpSizeClass[256];
extern const UCHAR ExpCacheAlignedSizeClass[256];

/* ---- Small-block pages ------------------------------------------------- */

/* Every small-block page starts with this 8-byte header; one 16-bit entry
 * per block follows it, then (at ExpClassInfo[Class].First) the blocks. */
typedef struct _EXP_PAGE {
    ULONG Check; /* ExpPageCheck: the page's address, class and pool */
    UCHAR Class;
    UCHAR Pool;
    USHORT Signature; /* EXP_PAGE_SIGNATURE */
    USHORT Entry[];   /* EXP_ENTRY_* per block */
} EXP_PAGE, *PEXP_PAGE;

#define EXP_PAGE_HEADER    8
#define EXP_PAGE_SIGNATURE 0xB10C

/* The page header's first 8 bytes as one word: a corrupted header (an
 * overrun off the previous page, a stray write) or a page that was never a
 * small-block page does not validate. */
FORCEINLINE ULONG ExpPageCheck(ULONG_PTR Page, ULONG64 Word)
{
    /* 32-bit arithmetic: immediates, no 64-bit constants on the fast path. */
    return ((ULONG)(Page >> PAGE_SHIFT) ^ (ULONG)(Word >> 32)) * 0x9E3779B1u ^ 0x5A17C0DEu;
}

FORCEINLINE ULONG64 ExpPageWord(ULONG_PTR Page, ULONG Class, ULONG Pool)
{
    ULONG64 High = (ULONG64)Class | (ULONG64)Pool << 8 | (ULONG64)EXP_PAGE_SIGNATURE << 16;
    return High << 32 | ExpPageCheck(Page, High << 32);
}

FORCEINLINE BOOLEAN ExpPageWordValid(ULONG_PTR Page, ULONG64 Word)
{
    /* Signature and pool in one compare (bits 40..63), then the class. */
    return (ULONG)Word == ExpPageCheck(Page, Word) &&
           (Word >> 40) - ((ULONG64)EXP_PAGE_SIGNATURE << 8) < EXP_POOLS &&
           (UCHAR)(Word >> 32) < EXP_CLASS_COUNT;
}

/* A block's entry: busy or free, wide (a header precedes the caller's
 * bytes, see below), the tag's slot in the tag table (a free block keeps
 * its last one, so a double free can name the tag), and 4 check bits over
 * the rest but the busy bit, and the block's index (a stray write into the
 * entries is found when the block is freed). Leaving the busy bit out
 * lets a free clear it with the check bits unchanged. */
#define EXP_ENTRY_BUSY       0x8000
#define EXP_ENTRY_WIDE       0x4000
#define EXP_ENTRY_SLOT_SHIFT 4
#define EXP_ENTRY_SLOT_MASK  0x3FF

FORCEINLINE USHORT ExpEntryCheck(ULONG Value, ULONG Index)
{
    return (USHORT)((((Value & ~EXP_ENTRY_BUSY) | Index << 16) * 0x9E3779B1u) >> 28);
}

FORCEINLINE USHORT ExpMakeEntry(ULONG Flags, ULONG Slot, ULONG Index)
{
    ULONG Value = Flags | Slot << EXP_ENTRY_SLOT_SHIFT;
    return (USHORT)(Value | ExpEntryCheck(Value, Index));
}

FORCEINLINE BOOLEAN ExpEntryValid(USHORT Entry, ULONG Index)
{
    return (Entry & 0xF) == ExpEntryCheck(Entry & 0xFFF0u, Index);
}

FORCEINLINE ULONG ExpEntrySlot(USHORT Entry)
{
    return (Entry >> EXP_ENTRY_SLOT_SHIFT) & EXP_ENTRY_SLOT_MASK;
}

/* The index of the block at page offset Offset (which must be at or after
 * the class's first block); the block starts there only if Index * Size
 * == Offset - First. */
FORCEINLINE ULONG ExpBlockIndex(const EXP_CLASS_INFO *Info, ULONG Offset)
{
    return (ULONG)(((ULONG64)(Offset - Info->First) * Info->Reciprocal) >> 32);
}

/* ---- Free blocks ------------------------------------------------------- */

/* A free block's first 8 bytes link it to the next one: the next block's
 * address (48 bits, sign-extended back) and 16 check bits over both
 * addresses. A write into a freed block is found when the block is
 * allocated again (DRIVER_CORRUPTED_EXPOOL). The first block of a batch in
 * a depot also links to the next batch in its second 8 bytes (48 bits of
 * address, the batch's block count, 8 check bits). */
#define EXP_LINK_SECRET 0x4F6CDD1Du

FORCEINLINE ULONG64 ExpLinkCheck(ULONG_PTR Block, ULONG_PTR Next)
{
    /* Both addresses are 16-byte aligned; 32 bits of each (the range a
     * block and its successor share) are mixed, 16 bits kept. */
    return (((ULONG)(Block >> 4) * 0x9E3779B1u) ^ (ULONG)(Next >> 4) ^ EXP_LINK_SECRET) *
               0x85EBCA6Bu >>
           16;
}

FORCEINLINE ULONG64 ExpEncodeLink(PVOID Block, PVOID Next)
{
    return ((ULONG64)(ULONG_PTR)Next & 0xFFFFFFFFFFFFull) |
           ExpLinkCheck((ULONG_PTR)Block, (ULONG_PTR)Next) << 48;
}

/* FALSE when the link was overwritten. */
FORCEINLINE BOOLEAN ExpDecodeLink(PVOID Block, ULONG64 Word, PVOID *Next)
{
    ULONG_PTR Address = (ULONG_PTR)((LONGLONG)(Word << 16) >> 16);

    *Next = (PVOID)Address;
    return (Word >> 48) == ExpLinkCheck((ULONG_PTR)Block, Address);
}

/* ---- Wide blocks and special pool -------------------------------------- */

/* A block that needs more than its entry records (the verifier's guard
 * bytes, a quota charge, a tag the tag table had no slot for) carries this
 * header right before the caller's bytes, inside the block; special pool
 * blocks carry it too (Class EXP_CLASS_SPECIAL). */
typedef struct _EXP_POOL_HEADER {
    UCHAR Class;  /* the page's class, or EXP_CLASS_SPECIAL */
    UCHAR Flags;  /* EXP_HF_* */
    USHORT State; /* EXP_STATE_* */
    ULONG Tag;
    ULONG Size;  /* bytes requested */
    ULONG Check; /* ExpHeaderCheck */
} EXP_POOL_HEADER, *PEXP_POOL_HEADER;

#define EXP_HEADER_SIZE 16
_Static_assert(sizeof(EXP_POOL_HEADER) == EXP_HEADER_SIZE, "pool header is 16 bytes");

#define EXP_STATE_BUSY 0xB5B5
#define EXP_STATE_FREE 0xF4F4

/* Header.Flags (and the big-page table's). */
#define EXP_HF_PAGED   0x01 /* allocated as paged pool */
#define EXP_HF_EXECUTE 0x02 /* executable pool */
#define EXP_HF_GUARDED 0x04 /* a guard pattern follows the caller's bytes */
#define EXP_HF_QUOTA   0x08 /* quota was requested (not charged yet) */

/* Verification: the guard pattern and the minimum guard after a block. */
#define EXP_GUARD_BYTE 0xA5
#define EXP_GUARD_MIN  16

/* The tag bit NT reserves for "protected" pool; ignored when comparing. */
#define EXP_PROTECTED_POOL 0x80000000u

/* A free's Tag fits the block's: the same tag, or 0 (no check). */
FORCEINLINE BOOLEAN ExpTagMatches(ULONG Tag, ULONG BlockTag)
{
    return Tag == 0 || ((Tag ^ BlockTag) & ~EXP_PROTECTED_POOL) == 0;
}

/* A check word over every header field and the header's own address (so a
 * header copied elsewhere does not validate). */
FORCEINLINE ULONG ExpHeaderCheck(const EXP_POOL_HEADER *Header)
{
    ULONG64 X =
        (ULONG64)(ULONG_PTR)Header ^ ((ULONG64)Header->Class | (ULONG64)Header->Flags << 8 |
                                      (ULONG64)Header->State << 16 | (ULONG64)Header->Tag << 32);
    X ^= (ULONG64)Header->Size * 0x9E3779B97F4A7C15ull;
    X *= 0xFF51AFD7ED558CCDull;
    X ^= X >> 33;
    return (ULONG)X ^ 0x5A17C0DEu;
}

FORCEINLINE VOID ExpSealHeader(PEXP_POOL_HEADER Header)
{
    Header->Check = ExpHeaderCheck(Header);
}

FORCEINLINE BOOLEAN ExpHeaderSealed(const EXP_POOL_HEADER *Header)
{
    return Header->Check == ExpHeaderCheck(Header);
}

/* ---- Pages (pool.c) ---------------------------------------------------- */

/* Marks system-range pages as holding pool blocks whose metadata may be
 * read (small-block pages and special pool pages). */
VOID ExpMarkPoolPages(ULONG_PTR Va, SIZE_T Pages, BOOLEAN Set);
BOOLEAN ExpIsPoolPage(ULONG_PTR Va);

/* What the pool knows about a small block (tests and diagnostics): FALSE
 * when Block is not the caller's pointer of a busy small block. */
typedef struct _EXP_BLOCK_INFO {
    ULONG Class;
    ULONG Pool;
    ULONG Tag;
    ULONG Slot;
    BOOLEAN Wide;
    PUSHORT Entry;     /* the block's entry in its page */
    PUCHAR BlockStart; /* where the class's block begins */
} EXP_BLOCK_INFO, *PEXP_BLOCK_INFO;

BOOLEAN ExpQuerySmallBlock(PVOID Block, PEXP_BLOCK_INFO Info);

/* The caller's side of freeing the block at Va (tag BlockTag, paged or
 * not) at Irql: the tag given matches and the IRQL suits the pool.
 * Reports the misuse and returns FALSE otherwise. */
BOOLEAN ExpCheckFreeCaller(ULONG_PTR Va, ULONG Tag, ULONG BlockTag, BOOLEAN Paged, KIRQL Irql,
                           PVOID Caller);

/* ---- Big pages and special pool (poolbig.c) ---------------------------- */

typedef struct _EXP_BIG_ENTRY {
    ULONG_PTR Va; /* page aligned; 0 = empty slot */
    ULONG Tag;
    UCHAR Flags;   /* EXP_HF_* */
    UCHAR Special; /* a special pool page (Va is the page before the guard) */
    USHORT Reserved;
    SIZE_T Size; /* bytes requested */
    SIZE_T Pages;
} EXP_BIG_ENTRY, *PEXP_BIG_ENTRY;

/* Fresh kernel pages for the pool; when the memory manager has none left,
 * the big-page cache's runs go back to it and the request is tried once
 * more. */
PVOID ExpAllocatePoolPages(SIZE_T Pages);
/* Whole pages for a block of Size bytes (page aligned, no header). */
PVOID ExpAllocateBigPages(SIZE_T Size, ULONG Tag, UCHAR Flags);
/* Frees a page-aligned block, with every check; reports misuse. */
VOID ExpFreeBigPages(PVOID Block, ULONG Tag, KIRQL Irql, PVOID Caller);
/* Size the caller may use of a page-aligned block, or 0 if unknown. */
SIZE_T ExpQueryBigPagesSize(PVOID Block, PBOOLEAN Quota);

/* The cache of freed runs: a freed block of up to EXP_BIG_CACHE_MAX_RUN
 * pages keeps its mapping (and its executable protection) in a bucket of
 * its pool (EXP_POOL_*) and page count, and is handed out again, LIFO, to
 * the next request of that pool and page count. A bucket holds at most
 * ExpBigCacheDepth(Pages) runs; all buckets together at most
 * EXP_BIG_CACHE_MAX_PAGES pages, and no more than 1/32 of RAM. Cached runs
 * are out of the big-page table: freeing one again is a double free. The
 * pages stay taken from the memory manager: a page count sees them in
 * use until ExpFlushBigPageCache. */
#define EXP_BIG_CACHE_MAX_RUN   16   /* pages (64 KiB) */
#define EXP_BIG_CACHE_MAX_DEPTH 32   /* runs in the one-page buckets */
#define EXP_BIG_CACHE_MAX_PAGES 1024 /* 4 MiB */

/* 32 runs of one page, 16 of 2-3, 8 of 4-7, 4 of 8-16 pages: at most 64
 * pages a bucket (a shift, not a division, on the free path). */
FORCEINLINE ULONG ExpBigCacheDepth(SIZE_T Pages)
{
    ULONG Depth = EXP_BIG_CACHE_MAX_DEPTH >> (63 - __builtin_clzll((ULONG64)Pages));

    return Depth < 4 ? 4 : Depth;
}

/* Unmaps every cached run (tests before a page-count baseline, and the
 * allocator itself when the memory manager has no pages left). Returns
 * the pages given back. IRQL <= DISPATCH_LEVEL. */
SIZE_T ExpFlushBigPageCache(VOID);
/* Pages the cache holds, and its bound on this machine. */
SIZE_T ExpBigPageCachePages(VOID);
SIZE_T ExpBigPageCacheLimit(VOID);
/* Runs cached for blocks of Pages pages with these EXP_HF_* flags. */
ULONG ExpBigPageCacheRuns(UCHAR Flags, SIZE_T Pages);

/* A block at the end of its own page, an unmapped guard page right after:
 * NULL when Size does not fit one page (the caller uses normal pool). */
PVOID ExpAllocateSpecialPool(SIZE_T Size, ULONG Tag, UCHAR Flags);
VOID ExpFreeSpecialPool(PEXP_POOL_HEADER Header);
/* TRUE when Address lies in the guard page after a special pool block;
 * *Tag receives the block's tag. */
BOOLEAN ExpIsSpecialPoolGuardAddress(ULONG_PTR Address, PULONG Tag);

/* Bytes of [Start, End) that differ from the guard pattern: the address of
 * the first one, or NULL when intact. */
PUCHAR ExpFindGuardDamage(PUCHAR Start, PUCHAR End);

/* ---- Tags (pooltag.c) -------------------------------------------------- */

/* Tags map to slots of a global table (claimed once, never released, read
 * without a lock); EXP_TAG_OVERFLOW counts the tags that found no slot.
 * Counters live per processor (ExpTagCounters[Number]) and are written
 * only by their processor at DISPATCH_LEVEL with plain loads and stores. */
#define EXP_TAG_SLOTS    1024 /* a power of two; slots fit EXP_ENTRY_SLOT_MASK */
#define EXP_TAG_OVERFLOW EXP_TAG_SLOTS

typedef struct _EXP_TAG_COUNTERS {
    LONGLONG Allocs[2]; /* [0] nonpaged, [1] paged */
    LONGLONG Frees[2];
    LONGLONG Bytes[2];
} EXP_TAG_COUNTERS, *PEXP_TAG_COUNTERS;

extern ULONG ExpTagKeys[EXP_TAG_SLOTS];
extern PEXP_TAG_COUNTERS ExpTagCounters[MAXIMUM_PROCESSORS];

FORCEINLINE ULONG ExpTagHash(ULONG Tag)
{
    return (Tag * 0x9E3779B1u) >> 22;
}

/* Tag's slot, claiming one if needed; EXP_TAG_OVERFLOW when the table is
 * full (or Tag is 0). Any IRQL. */
ULONG ExpTagSlot(ULONG Tag);

/* Counts one allocation (Free FALSE) or free of Bytes in Slot, at
 * DISPATCH_LEVEL on processor Number. */
VOID ExpCountPoolTagAtDpc(ULONG Number, ULONG Slot, BOOLEAN Paged, BOOLEAN Free, LONGLONG Bytes);

/* A plain add to a counter only this processor writes (other processors
 * only read it, in queries): no locked instruction. */
FORCEINLINE VOID ExpBumpCounter(LONGLONG *Counter, LONGLONG Delta)
{
    __atomic_store_n(Counter, __atomic_load_n(Counter, __ATOMIC_RELAXED) + Delta, __ATOMIC_RELAXED);
}

/* Counts one allocation (Free FALSE) or free of Bytes in a processor's
 * own Counters. */
FORCEINLINE VOID ExpBumpTagCounters(PEXP_TAG_COUNTERS Counters, ULONG Slot, BOOLEAN Paged,
                                    BOOLEAN Free, LONGLONG Bytes)
{
    ExpBumpCounter(Free ? &Counters[Slot].Frees[Paged] : &Counters[Slot].Allocs[Paged], 1);
    ExpBumpCounter(&Counters[Slot].Bytes[Paged], Bytes);
}

FORCEINLINE VOID ExpCountFast(ULONG Number, ULONG Slot, BOOLEAN Paged, BOOLEAN Free, LONGLONG Bytes)
{
    PEXP_TAG_COUNTERS Counters = Number < MAXIMUM_PROCESSORS ? ExpTagCounters[Number] : NULL;

    if (__builtin_expect(Counters != NULL, 1)) {
        ExpBumpTagCounters(Counters, Slot, Paged, Free, Bytes);
    } else {
        ExpCountPoolTagAtDpc(Number, Slot, Paged, Free, Bytes);
    }
}

/* Any IRQL up to DISPATCH_LEVEL (they raise to it). */
VOID ExpChargePoolTag(ULONG Tag, BOOLEAN Paged, SIZE_T Bytes);
VOID ExpReturnPoolTag(ULONG Tag, BOOLEAN Paged, SIZE_T Bytes);

/* ---- Verification (poolverify.c) --------------------------------------- */

extern BOOLEAN ExpPoolVerify;

/* Reports a misuse: prints a line naming the tag, then bug checks with
 * Code/P1..P4 (or calls the test hook and returns). */
VOID ExpPoolViolation(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4, ULONG Tag,
                      PCSTR What);

/* Formats a tag as its four characters ('.' for unprintable ones). */
VOID ExpFormatTag(ULONG Tag, CHAR Text[5]);

#endif /* _POOLP_ */

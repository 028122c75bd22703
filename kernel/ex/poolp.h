/*
 * poolp.h - the executive pool's private layout, shared by kernel/ex/pool*.c
 * and their tests: the 16-byte header in front of every small block, the
 * size classes, the page bitmap, the big-page table and the verifier's
 * reporting routine. docs/pool.md describes the design.
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

/* ---- Block header ------------------------------------------------------ */

#define EXP_HEADER_SIZE 16

/* Size classes: blocks (header included) of 32..256 bytes in 16-byte steps,
 * then 32-, 64- and 128-byte steps up to 2 KiB, and one class of a whole
 * page (header + up to 4080 bytes). A block never crosses a page. */
#define EXP_CLASS_COUNT   40
#define EXP_CLASS_ALIAS   0xFD /* header in front of a cache-aligned block */
#define EXP_CLASS_SPECIAL 0xFE /* special pool block (its own page) */

/* Two kinds of pool memory: no-execute (NonPagedPoolNx, PagedPool) and
 * executable (NonPagedPool, NonPagedPoolExecute). */
#define EXP_KIND_NX      0
#define EXP_KIND_EXECUTE 1
#define EXP_KINDS        2

/* Header.State: busy or free; anything else is not a pool block. */
#define EXP_STATE_BUSY 0xB5B5
#define EXP_STATE_FREE 0xF4F4

/* Header.Flags. */
#define EXP_HF_PAGED   0x01 /* allocated as paged pool */
#define EXP_HF_EXECUTE 0x02 /* executable pool (EXP_KIND_EXECUTE) */
#define EXP_HF_GUARDED 0x04 /* a guard pattern follows the caller's bytes */
#define EXP_HF_QUOTA   0x08 /* quota was requested (not charged yet) */

/* Verification: the guard pattern and the minimum guard after a block. */
#define EXP_GUARD_BYTE 0xA5
#define EXP_GUARD_MIN  16

/* The tag bit NT reserves for "protected" pool; ignored when comparing. */
#define EXP_PROTECTED_POOL 0x80000000u

/* Every small block starts with this; the caller's bytes follow it, so a
 * block is 16-byte aligned. While a block is free, its first caller bytes
 * hold the SLIST_ENTRY that links it. */
typedef struct _EXP_POOL_HEADER {
    UCHAR Class;  /* size class, EXP_CLASS_ALIAS or EXP_CLASS_SPECIAL */
    UCHAR Flags;  /* EXP_HF_* */
    USHORT State; /* EXP_STATE_* */
    ULONG Tag;
    ULONG Size;  /* bytes requested (alias: distance back to the real header) */
    ULONG Check; /* ExpHeaderCheck: catches a corrupted header */
} EXP_POOL_HEADER, *PEXP_POOL_HEADER;

_Static_assert(sizeof(EXP_POOL_HEADER) == EXP_HEADER_SIZE, "pool header is 16 bytes");

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

/* Block size (header included) of a class. */
extern const USHORT ExpClassSize[EXP_CLASS_COUNT];

/* The class that holds BlockBytes (header included, 1..PAGE_SIZE). */
FORCEINLINE ULONG ExpSizeToClass(SIZE_T BlockBytes)
{
    if (BlockBytes <= 32) {
        return 0;
    }
    if (BlockBytes <= 256) {
        return (ULONG)((BlockBytes + 15) / 16) - 2;
    }
    if (BlockBytes <= 512) {
        return 15 + (ULONG)((BlockBytes - 256 + 31) / 32) - 1;
    }
    if (BlockBytes <= 1024) {
        return 23 + (ULONG)((BlockBytes - 512 + 63) / 64) - 1;
    }
    if (BlockBytes <= 2048) {
        return 31 + (ULONG)((BlockBytes - 1024 + 127) / 128) - 1;
    }
    return EXP_CLASS_COUNT - 1;
}

/* ---- Pages (pool.c) ---------------------------------------------------- */

/* Marks system-range pages as holding pool blocks whose headers may be
 * read (small-block segments and special pool pages). */
VOID ExpMarkPoolPages(ULONG_PTR Va, SIZE_T Pages, BOOLEAN Set);
BOOLEAN ExpIsPoolPage(ULONG_PTR Va);

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

/* Whole pages for a block of Size bytes (page aligned, no header). */
PVOID ExpAllocateBigPages(SIZE_T Size, ULONG Tag, UCHAR Flags);
/* Frees a page-aligned block, with every check; reports misuse. */
VOID ExpFreeBigPages(PVOID Block, ULONG Tag, KIRQL Irql, PVOID Caller);
/* Size the caller may use of a page-aligned block, or 0 if unknown. */
SIZE_T ExpQueryBigPagesSize(PVOID Block, PBOOLEAN Quota);

/* A block at the end of its own page, an unmapped guard page right after:
 * NULL when Size does not fit one page (the caller uses normal pool). */
PVOID ExpAllocateSpecialPool(SIZE_T Size, ULONG Tag, UCHAR Flags);
VOID ExpFreeSpecialPool(PEXP_POOL_HEADER Header, ULONG Tag);
/* TRUE when Address lies in the guard page after a special pool block;
 * *Tag receives the block's tag. */
BOOLEAN ExpIsSpecialPoolGuardAddress(ULONG_PTR Address, PULONG Tag);

/* Bytes of [Start, End) that differ from the guard pattern: the address of
 * the first one, or NULL when intact. */
PUCHAR ExpFindGuardDamage(PUCHAR Start, PUCHAR End);

/* ---- Tags (pooltag.c) -------------------------------------------------- */

/* Any IRQL up to DISPATCH_LEVEL (they raise to it). */
VOID ExpChargePoolTag(ULONG Tag, BOOLEAN Paged, SIZE_T Bytes);
VOID ExpReturnPoolTag(ULONG Tag, BOOLEAN Paged, SIZE_T Bytes);
/* The fast path's: at DISPATCH_LEVEL on processor Number, plain stores to
 * that processor's counters. */
VOID ExpChargePoolTagAtDpc(ULONG Number, ULONG Tag, BOOLEAN Paged, SIZE_T Bytes);
VOID ExpReturnPoolTagAtDpc(ULONG Number, ULONG Tag, BOOLEAN Paged, SIZE_T Bytes);

/* ---- Verification (poolverify.c) --------------------------------------- */

extern BOOLEAN ExpPoolVerify;

/* Reports a misuse: prints a line naming the tag, then bug checks with
 * Code/P1..P4 (or calls the test hook and returns). */
VOID ExpPoolViolation(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4, ULONG Tag,
                      PCSTR What);

/* Formats a tag as its four characters ('.' for unprintable ones). */
VOID ExpFormatTag(ULONG Tag, CHAR Text[5]);

#endif /* _POOLP_ */

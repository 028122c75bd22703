/*
 * slist.c - interlocked sequenced singly linked lists (SLIST_HEADER): push,
 * pop, flush and depth, lock-free with cmpxchg16b on the 16-byte x64
 * header. The header packs the depth, a sequence number bumped by every
 * change (so a pop racing with pop-push of the same entry fails its
 * compare: no ABA) and the first entry's address >> 4. x86-64 only, which
 * both the bare-metal kernel and the hosted build are.
 *
 * A pop reads the first entry's Next before its compare-exchange; that
 * entry may have been popped and reused meanwhile (the compare then fails
 * and the pop retries), so an entry's memory must stay mapped while it may
 * be on a list. The pool never unmaps pages that hold small blocks.
 */
#include <ntddk.h>

typedef struct DECLSPEC_ALIGN(16) _EXP_SLIST_VALUE {
    ULONG64 Low;  /* Depth:16, Sequence:48 */
    ULONG64 High; /* Reserved:4, NextEntry:60 */
} EXP_SLIST_VALUE;

#define EXP_DEPTH_MASK     0xFFFFull
#define EXP_SEQUENCE_ONE   0x10000ull
#define EXP_ENTRY_OF(High) ((PSLIST_ENTRY)(ULONG_PTR)((High) & ~0xFull))

/* Atomically replaces *Header with New if it still equals *Expected;
 * otherwise loads the current value into *Expected. */
static inline BOOLEAN ExpCompareExchange128(PSLIST_HEADER Header, EXP_SLIST_VALUE *Expected,
                                            const EXP_SLIST_VALUE *New)
{
    BOOLEAN Equal;

    __asm__ volatile("lock cmpxchg16b %1"
                     : "=@ccz"(Equal), "+m"(*Header), "+a"(Expected->Low), "+d"(Expected->High)
                     : "b"(New->Low), "c"(New->High)
                     : "memory");
    return Equal;
}

/* A first guess of the header; the two halves may tear, in which case the
 * compare-exchange fails and hands back the real value. */
static inline VOID ExpReadHeader(PSLIST_HEADER Header, EXP_SLIST_VALUE *Value)
{
    Value->Low = __atomic_load_n(&Header->Alignment, __ATOMIC_ACQUIRE);
    Value->High = __atomic_load_n(&Header->Region, __ATOMIC_ACQUIRE);
}

PSLIST_ENTRY NTAPI ExpInterlockedPushEntrySList(PSLIST_HEADER SListHead, PSLIST_ENTRY SListEntry)
{
    EXP_SLIST_VALUE Old, New;

    ExpReadHeader(SListHead, &Old);
    do {
        SListEntry->Next = EXP_ENTRY_OF(Old.High);
        New.Low = ((Old.Low & ~EXP_DEPTH_MASK) + EXP_SEQUENCE_ONE) |
                  (((Old.Low & EXP_DEPTH_MASK) + 1) & EXP_DEPTH_MASK);
        New.High = (ULONG64)(ULONG_PTR)SListEntry | (Old.High & 0xFull);
    } while (!ExpCompareExchange128(SListHead, &Old, &New));
    return EXP_ENTRY_OF(Old.High);
}

PSLIST_ENTRY NTAPI ExpInterlockedPopEntrySList(PSLIST_HEADER SListHead)
{
    EXP_SLIST_VALUE Old, New;
    PSLIST_ENTRY First;

    ExpReadHeader(SListHead, &Old);
    for (;;) {
        First = EXP_ENTRY_OF(Old.High);
        if (First == NULL) {
            return NULL;
        }
        /* May read a stale Next if First was popped meanwhile; the
         * sequence number then makes the exchange fail. */
        New.High = (ULONG64)(ULONG_PTR)__atomic_load_n(&First->Next, __ATOMIC_RELAXED) |
                   (Old.High & 0xFull);
        New.Low = ((Old.Low & ~EXP_DEPTH_MASK) + EXP_SEQUENCE_ONE) |
                  (((Old.Low & EXP_DEPTH_MASK) - 1) & EXP_DEPTH_MASK);
        if (ExpCompareExchange128(SListHead, &Old, &New)) {
            return First;
        }
    }
}

PSLIST_ENTRY NTAPI ExpInterlockedFlushSList(PSLIST_HEADER SListHead)
{
    EXP_SLIST_VALUE Old, New;

    ExpReadHeader(SListHead, &Old);
    do {
        if (EXP_ENTRY_OF(Old.High) == NULL) {
            return NULL;
        }
        New.Low = (Old.Low & ~EXP_DEPTH_MASK) + EXP_SEQUENCE_ONE;
        New.High = Old.High & 0xFull;
    } while (!ExpCompareExchange128(SListHead, &Old, &New));
    return EXP_ENTRY_OF(Old.High);
}

USHORT NTAPI ExQueryDepthSList(PSLIST_HEADER SListHead)
{
    return (USHORT)(__atomic_load_n(&SListHead->Alignment, __ATOMIC_RELAXED) & EXP_DEPTH_MASK);
}

/*
 * syspte.c - system PTEs: the allocator of kernel virtual address space in
 * the system range (arch.h: MiSystemVaStart/MiSystemVaPages). Pool pages,
 * kernel stacks, I/O space and MDL mappings all take their VA here and map
 * it themselves. A bitmap (one bit per page) records reserved pages; the
 * search is first fit from a roving hint, skipping full 64-page words, so
 * freed holes are reused before the range grows. Failures return 0: NT
 * reserves NO_MORE_SYSTEM_PTES for paths that cannot fail, and none of
 * ours are such paths yet.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <mm.h>

/* The bitmap is static so it exists before any allocator does: 1 GiB of
 * system range at most. */
#define MI_MAX_SYSTEM_VA_PAGES (1u << 18)

ULONG_PTR MiSystemVaStart;
SIZE_T MiSystemVaPages;

static ULONG64 MiSystemPteBitmap[MI_MAX_SYSTEM_VA_PAGES / 64];
static SIZE_T MiSystemPteHint;
static SIZE_T MiSystemPtesUsed;
static KI_LOCK MiSystemPteLock;

static BOOLEAN MiTestBit(SIZE_T Index)
{
    return (MiSystemPteBitmap[Index / 64] >> (Index % 64)) & 1;
}

static VOID MiSetBits(SIZE_T Index, SIZE_T Count, BOOLEAN Set)
{
    for (SIZE_T i = Index; i < Index + Count; i++) {
        if (Set) {
            MiSystemPteBitmap[i / 64] |= 1ull << (i % 64);
        } else {
            MiSystemPteBitmap[i / 64] &= ~(1ull << (i % 64));
        }
    }
    MiSystemPtesUsed = Set ? MiSystemPtesUsed + Count : MiSystemPtesUsed - Count;
}

NTSTATUS MiInitializeSystemPtes(VOID)
{
    if (MiSystemVaStart == 0 || (MiSystemVaStart & (PAGE_SIZE - 1)) != 0 || MiSystemVaPages == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    if (MiSystemVaPages > MI_MAX_SYSTEM_VA_PAGES) {
        MiSystemVaPages = MI_MAX_SYSTEM_VA_PAGES;
    }
    memset(MiSystemPteBitmap, 0, sizeof(MiSystemPteBitmap));
    MiSystemPteHint = 0;
    MiSystemPtesUsed = 0;
    return STATUS_SUCCESS;
}

/* First fit from the hint, wrapping once. Returns the first page index or
 * MiSystemVaPages when no run is free. Caller holds the lock. */
static SIZE_T MiFindFreeRun(SIZE_T Count)
{
    for (int Pass = 0; Pass < 2; Pass++) {
        SIZE_T Start = Pass == 0 ? MiSystemPteHint : 0;
        SIZE_T End = Pass == 0 ? MiSystemVaPages : MiSystemPteHint + Count;
        SIZE_T Run = 0;
        if (End > MiSystemVaPages) {
            End = MiSystemVaPages;
        }
        for (SIZE_T i = Start; i < End; i++) {
            /* Skip whole used words quickly. */
            if (Run == 0 && (i % 64) == 0 && MiSystemPteBitmap[i / 64] == ~0ull) {
                i += 63;
                continue;
            }
            Run = MiTestBit(i) ? 0 : Run + 1;
            if (Run == Count) {
                return i + 1 - Count;
            }
        }
    }
    return MiSystemVaPages;
}

ULONG_PTR MiReserveSystemPtes(SIZE_T Pages)
{
    KIRQL OldIrql;
    SIZE_T Index;

    if (Pages == 0 || Pages > MiSystemVaPages) {
        return 0;
    }
    OldIrql = KiAcquireLock(&MiSystemPteLock);
    Index = MiFindFreeRun(Pages);
    if (Index < MiSystemVaPages) {
        MiSetBits(Index, Pages, TRUE);
        MiSystemPteHint = Index + Pages;
    }
    KiReleaseLock(&MiSystemPteLock, OldIrql);
    return Index < MiSystemVaPages ? MiSystemVaStart + Index * PAGE_SIZE : 0;
}

/* A release that does not match a reservation is a caller bug that would
 * otherwise hand a live range to someone else. */
static SIZE_T MiCheckSystemPtesLocked(ULONG_PTR Va, SIZE_T Pages)
{
    SIZE_T Index;

    if (Va < MiSystemVaStart || (Va & (PAGE_SIZE - 1)) != 0 || Pages == 0 ||
        (Va - MiSystemVaStart) / PAGE_SIZE >= MiSystemVaPages ||
        Pages > MiSystemVaPages - (Va - MiSystemVaStart) / PAGE_SIZE) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41790, Va, Pages, 0);
    }
    Index = (Va - MiSystemVaStart) / PAGE_SIZE;
    for (SIZE_T i = Index; i < Index + Pages; i++) {
        if (!MiTestBit(i)) {
            KeBugCheckEx(MEMORY_MANAGEMENT, 0x41791, Va, Pages, i - Index);
        }
    }
    return Index;
}

VOID MiReleaseSystemPtes(ULONG_PTR Va, SIZE_T Pages)
{
    KIRQL OldIrql = KiAcquireLock(&MiSystemPteLock);
    SIZE_T Index = MiCheckSystemPtesLocked(Va, Pages);

    MiSetBits(Index, Pages, FALSE);
    if (Index < MiSystemPteHint) {
        MiSystemPteHint = Index;
    }
    KiReleaseLock(&MiSystemPteLock, OldIrql);
}

BOOLEAN MiIsSystemPteRange(ULONG_PTR Va, SIZE_T Pages)
{
    return Va >= MiSystemVaStart && (Va & (PAGE_SIZE - 1)) == 0 && Pages != 0 &&
           (Va - MiSystemVaStart) / PAGE_SIZE < MiSystemVaPages &&
           Pages <= MiSystemVaPages - (Va - MiSystemVaStart) / PAGE_SIZE;
}

SIZE_T MiSystemPtesInUse(VOID)
{
    return MiSystemPtesUsed;
}

SIZE_T MiLargestFreeSystemPteRun(VOID)
{
    KIRQL OldIrql = KiAcquireLock(&MiSystemPteLock);
    SIZE_T Best = 0, Run = 0;

    for (SIZE_T i = 0; i < MiSystemVaPages; i++) {
        Run = MiTestBit(i) ? 0 : Run + 1;
        if (Run > Best) {
            Best = Run;
        }
    }
    KiReleaseLock(&MiSystemPteLock, OldIrql);
    return Best;
}

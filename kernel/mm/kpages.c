/*
 * kpages.c - kernel pages: page-granular kernel virtual memory in the
 * system range (arch.h: MiSystemVaStart/MiSystemVaPages), each page backed
 * by a physical page from pfn.c and mapped through the arch MMU
 * primitives. A bitmap tracks the range; every allocation is followed by an
 * unmapped guard page so a run off the end faults instead of corrupting a
 * neighbour. Also maps device memory (MiMapIoSpace) and translates
 * addresses (MmGetPhysicalAddress / MmGetVirtualForPhysical).
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

static ULONG64 MiSystemVaBitmap[MI_MAX_SYSTEM_VA_PAGES / 64];
static SIZE_T MiSystemVaHint;
static SIZE_T MiSystemVaUsed;
static KI_LOCK MiSystemVaLock;

static BOOLEAN MiTestBit(SIZE_T Index)
{
    return (MiSystemVaBitmap[Index / 64] >> (Index % 64)) & 1;
}

static VOID MiSetBits(SIZE_T Index, SIZE_T Count, BOOLEAN Set)
{
    for (SIZE_T i = Index; i < Index + Count; i++) {
        if (Set) {
            MiSystemVaBitmap[i / 64] |= 1ull << (i % 64);
        } else {
            MiSystemVaBitmap[i / 64] &= ~(1ull << (i % 64));
        }
    }
    MiSystemVaUsed = Set ? MiSystemVaUsed + Count : MiSystemVaUsed - Count;
}

NTSTATUS MiInitializeKernelPages(VOID)
{
    if (MiSystemVaStart == 0 || (MiSystemVaStart & (PAGE_SIZE - 1)) != 0 || MiSystemVaPages == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    if (MiSystemVaPages > MI_MAX_SYSTEM_VA_PAGES) {
        MiSystemVaPages = MI_MAX_SYSTEM_VA_PAGES;
    }
    memset(MiSystemVaBitmap, 0, sizeof(MiSystemVaBitmap));
    MiSystemVaHint = 0;
    MiSystemVaUsed = 0;
    return STATUS_SUCCESS;
}

/* First fit from the hint, wrapping once. Returns the first page index or
 * MiSystemVaPages when no run is free. Caller holds the lock. */
static SIZE_T MiFindFreeRun(SIZE_T Count)
{
    for (int Pass = 0; Pass < 2; Pass++) {
        SIZE_T Start = Pass == 0 ? MiSystemVaHint : 0;
        SIZE_T End = Pass == 0 ? MiSystemVaPages : MiSystemVaHint + Count;
        SIZE_T Run = 0;
        if (End > MiSystemVaPages) {
            End = MiSystemVaPages;
        }
        for (SIZE_T i = Start; i < End; i++) {
            /* Skip whole used words quickly. */
            if (Run == 0 && (i % 64) == 0 && MiSystemVaBitmap[i / 64] == ~0ull) {
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

static ULONG_PTR MiReserveSystemVa(SIZE_T Pages)
{
    KIRQL OldIrql;
    SIZE_T Index;

    if (Pages == 0 || Pages > MiSystemVaPages) {
        return 0;
    }
    OldIrql = KiAcquireLock(&MiSystemVaLock);
    Index = MiFindFreeRun(Pages);
    if (Index < MiSystemVaPages) {
        MiSetBits(Index, Pages, TRUE);
        MiSystemVaHint = Index + Pages;
    }
    KiReleaseLock(&MiSystemVaLock, OldIrql);
    return Index < MiSystemVaPages ? MiSystemVaStart + Index * PAGE_SIZE : 0;
}

/* Validates that [Base, Base + Pages) is a reserved run of the system
 * range; any mismatch is a caller bug. */
static SIZE_T MiCheckSystemVa(PVOID Base, SIZE_T Pages)
{
    ULONG_PTR Va = (ULONG_PTR)Base;
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

static VOID MiReleaseSystemVa(SIZE_T Index, SIZE_T Pages)
{
    KIRQL OldIrql = KiAcquireLock(&MiSystemVaLock);
    MiSetBits(Index, Pages, FALSE);
    if (Index < MiSystemVaHint) {
        MiSystemVaHint = Index;
    }
    KiReleaseLock(&MiSystemVaLock, OldIrql);
}

static VOID MiUnmapAndFree(ULONG_PTR Va, SIZE_T Pages)
{
    PFN_NUMBER Pfn;
    for (SIZE_T i = 0; i < Pages; i++) {
        if (MiArchUnmapPage(Va + i * PAGE_SIZE, &Pfn)) {
            MiFreePhysicalPage(Pfn);
        }
    }
}

PVOID MiAllocateKernelPages(SIZE_T PageCount)
{
    ULONG_PTR Va;
    PFN_NUMBER Pfn;

    if (PageCount == 0 || PageCount >= MiSystemVaPages || PageCount > MiFreePhysicalPageCount()) {
        return NULL;
    }
    /* One more page of VA: the guard page stays unmapped. */
    Va = MiReserveSystemVa(PageCount + 1);
    if (Va == 0) {
        return NULL;
    }
    for (SIZE_T i = 0; i < PageCount; i++) {
        if (!MiAllocatePhysicalPage(&Pfn, TRUE)) {
            MiUnmapAndFree(Va, i);
            MiReleaseSystemVa((Va - MiSystemVaStart) / PAGE_SIZE, PageCount + 1);
            return NULL;
        }
        if (!NT_SUCCESS(MiArchMapPage(Va + i * PAGE_SIZE, Pfn, PAGE_READWRITE))) {
            MiFreePhysicalPage(Pfn);
            MiUnmapAndFree(Va, i);
            MiReleaseSystemVa((Va - MiSystemVaStart) / PAGE_SIZE, PageCount + 1);
            return NULL;
        }
    }
    return (PVOID)Va;
}

VOID MiFreeKernelPages(PVOID Base, SIZE_T PageCount)
{
    SIZE_T Index;
    ULONG64 Physical;

    if (Base == NULL) {
        return;
    }
    Index = MiCheckSystemVa(Base, PageCount + 1);
    /* The page after the run must be this allocation's guard: a wrong
     * PageCount would otherwise free a neighbour's pages. */
    if (MiArchTranslate((ULONG_PTR)Base + PageCount * PAGE_SIZE, &Physical)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41792, (ULONG_PTR)Base, PageCount, 0);
    }
    MiUnmapAndFree((ULONG_PTR)Base, PageCount);
    MiReleaseSystemVa(Index, PageCount + 1);
}

NTSTATUS MiProtectKernelPages(PVOID Base, SIZE_T PageCount, ULONG Protect)
{
    ULONG_PTR Va = (ULONG_PTR)Base;
    NTSTATUS Status;

    if (Va < MiSystemVaStart || (Va & (PAGE_SIZE - 1)) != 0 || PageCount == 0 ||
        (Va - MiSystemVaStart) / PAGE_SIZE >= MiSystemVaPages ||
        PageCount > MiSystemVaPages - (Va - MiSystemVaStart) / PAGE_SIZE) {
        return STATUS_INVALID_PARAMETER;
    }
    switch (Protect) {
    case PAGE_NOACCESS:
    case PAGE_READONLY:
    case PAGE_READWRITE:
    case PAGE_EXECUTE:
    case PAGE_EXECUTE_READ:
    case PAGE_EXECUTE_READWRITE:
        break;
    default:
        return STATUS_INVALID_PARAMETER;
    }
    for (SIZE_T i = 0; i < PageCount; i++) {
        Status = MiArchProtectPage(Va + i * PAGE_SIZE, Protect);
        if (!NT_SUCCESS(Status)) {
            return Status;
        }
    }
    return STATUS_SUCCESS;
}

SIZE_T MiKernelPagesInUse(VOID)
{
    return MiSystemVaUsed;
}

PVOID MiMapIoSpace(ULONG64 PhysicalAddress, SIZE_T Bytes)
{
    ULONG64 Offset = PhysicalAddress & (PAGE_SIZE - 1);
    SIZE_T Pages;
    ULONG_PTR Va;

    if (Bytes == 0 || Bytes > MiSystemVaPages * PAGE_SIZE) {
        return NULL;
    }
    Pages = BYTES_TO_PAGES(Offset + Bytes);
    Va = MiReserveSystemVa(Pages + 1);
    if (Va == 0) {
        return NULL;
    }
    for (SIZE_T i = 0; i < Pages; i++) {
        PFN_NUMBER Pfn = (PFN_NUMBER)((PhysicalAddress >> PAGE_SHIFT) + i);
        if (!NT_SUCCESS(MiArchMapPage(Va + i * PAGE_SIZE, Pfn, PAGE_READWRITE | PAGE_NOCACHE))) {
            for (SIZE_T j = 0; j < i; j++) {
                MiArchUnmapPage(Va + j * PAGE_SIZE, &Pfn);
            }
            MiReleaseSystemVa((Va - MiSystemVaStart) / PAGE_SIZE, Pages + 1);
            return NULL;
        }
    }
    return (PVOID)(Va + Offset);
}

VOID MiUnmapIoSpace(PVOID Base, SIZE_T Bytes)
{
    ULONG_PTR Va = (ULONG_PTR)Base & ~(ULONG_PTR)(PAGE_SIZE - 1);
    SIZE_T Pages = BYTES_TO_PAGES(((ULONG_PTR)Base & (PAGE_SIZE - 1)) + Bytes);
    PFN_NUMBER Pfn;
    SIZE_T Index = MiCheckSystemVa((PVOID)Va, Pages + 1);

    /* Device pages are not RAM the allocator owns: unmap only. */
    for (SIZE_T i = 0; i < Pages; i++) {
        MiArchUnmapPage(Va + i * PAGE_SIZE, &Pfn);
    }
    MiReleaseSystemVa(Index, Pages + 1);
}

PVOID NTAPI MmGetVirtualForPhysical(PHYSICAL_ADDRESS PhysicalAddress)
{
    ULONG64 Pa = (ULONG64)PhysicalAddress.QuadPart;
    if (MmPhysicalMapBase == 0 || Pa >= MiPhysicalMapSize) {
        return NULL;
    }
    return (PVOID)(MmPhysicalMapBase + Pa);
}

PHYSICAL_ADDRESS NTAPI MmGetPhysicalAddress(PVOID BaseAddress)
{
    PHYSICAL_ADDRESS Result;
    ULONG64 Pa;

    Result.QuadPart = 0;
    if (MiArchTranslate((ULONG_PTR)BaseAddress, &Pa)) {
        Result.QuadPart = (LONGLONG)Pa;
    }
    return Result;
}

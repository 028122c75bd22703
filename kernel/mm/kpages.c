/*
 * kpages.c - kernel pages: page-granular kernel virtual memory backed by
 * physical pages, the building block under the phase-0 allocator, the pool
 * and loaded images. VA comes from the system PTEs (syspte.c); every
 * allocation is followed by an unmapped guard page so a run off the end
 * faults instead of corrupting a neighbour. Also the shared helpers that
 * back a reserved range with fresh pages and tear it down again (kernel
 * stacks use them with their guard page below instead).
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <mm.h>

NTSTATUS MiInitializeKernelPages(VOID)
{
    return MiInitializeSystemPtes();
}

/* Pages unmapped per shootdown (their PFNs wait on the stack meanwhile). */
#define MI_UNMAP_BATCH 128

VOID MiUnmapAndFreePages(ULONG_PTR Va, SIZE_T Pages)
{
    /* A page is freed only once no processor can still reach it through a
     * cached translation (as NT flushes before freeing): otherwise a write
     * through a stale entry, after a use-after-free, would land in whoever
     * got the page next instead of faulting. */
    while (Pages != 0) {
        PFN_NUMBER Pfns[MI_UNMAP_BATCH];
        SIZE_T Batch = Pages < MI_UNMAP_BATCH ? Pages : MI_UNMAP_BATCH;
        SIZE_T Count = 0;

        for (SIZE_T i = 0; i < Batch; i++) {
            if (MiArchUnmapPage(Va + i * PAGE_SIZE, &Pfns[Count])) {
                Count++;
            }
        }
        MiFlushTlbRange(Va, Batch);
        for (SIZE_T i = 0; i < Count; i++) {
            MiFreePhysicalPage(Pfns[i]);
        }
        Va += Batch * PAGE_SIZE;
        Pages -= Batch;
    }
}

NTSTATUS MiMapNewPages(ULONG_PTR Va, SIZE_T Pages, ULONG Protect, BOOLEAN Zero)
{
    PFN_NUMBER Pfn;
    NTSTATUS Status;

    for (SIZE_T i = 0; i < Pages; i++) {
        if (!MiAllocatePhysicalPage(&Pfn, Zero)) {
            MiUnmapAndFreePages(Va, i);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        Status = MiArchMapPage(Va + i * PAGE_SIZE, Pfn, Protect);
        if (!NT_SUCCESS(Status)) {
            MiFreePhysicalPage(Pfn);
            MiUnmapAndFreePages(Va, i);
            return Status;
        }
    }
    return STATUS_SUCCESS;
}

static ULONG_PTR MiTryMapGuardedRun(SIZE_T Pages, BOOLEAN GuardBelow)
{
    ULONG_PTR Va;

    if (Pages > MiFreePhysicalPageCount()) {
        return 0;
    }
    Va = MiReserveSystemPtes(Pages + 1);
    if (Va == 0) {
        return 0;
    }
    if (GuardBelow) {
        Va += PAGE_SIZE;
    }
    /* Zeroed: fresh pages may hold anything their last owner left. */
    if (!NT_SUCCESS(MiMapNewPages(Va, Pages, PAGE_READWRITE, TRUE))) {
        MiReleaseSystemPtes(GuardBelow ? Va - PAGE_SIZE : Va, Pages + 1);
        return 0;
    }
    return Va;
}

ULONG_PTR MiMapGuardedRun(SIZE_T Pages, BOOLEAN GuardBelow)
{
    ULONG_PTR Va;

    if (Pages == 0 || Pages >= MiSystemVaPages) {
        return 0;
    }
    Va = MiTryMapGuardedRun(Pages, GuardBelow);
    /* Short of pages: the dead stacks kept for new threads go first. */
    if (Va == 0 && MiFlushDeadStacks() != 0) {
        Va = MiTryMapGuardedRun(Pages, GuardBelow);
    }
    return Va;
}

PVOID MiAllocateKernelPages(SIZE_T PageCount)
{
    /* The guard page after the run stays unmapped. */
    return (PVOID)MiMapGuardedRun(PageCount, FALSE);
}

VOID MiFreeKernelPages(PVOID Base, SIZE_T PageCount)
{
    ULONG64 Physical;

    if (Base == NULL) {
        return;
    }
    if (!MiIsSystemPteRange((ULONG_PTR)Base, PageCount + 1)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41790, (ULONG_PTR)Base, PageCount + 1, 0);
    }
    /* The page after the run must be this allocation's guard: a wrong
     * PageCount would otherwise free a neighbour's pages. */
    if (MiArchTranslate((ULONG_PTR)Base + PageCount * PAGE_SIZE, &Physical)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41792, (ULONG_PTR)Base, PageCount, 0);
    }
    MiUnmapAndFreePages((ULONG_PTR)Base, PageCount);
    MiReleaseSystemPtes((ULONG_PTR)Base, PageCount + 1);
}

NTSTATUS MiProtectKernelPages(PVOID Base, SIZE_T PageCount, ULONG Protect)
{
    ULONG_PTR Va = (ULONG_PTR)Base;
    NTSTATUS Status;

    if (!MiIsSystemPteRange(Va, PageCount)) {
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
    /* Reducing access must reach every processor's TLB. */
    MiFlushTlbRange(Va, PageCount);
    return STATUS_SUCCESS;
}

SIZE_T MiKernelPagesInUse(VOID)
{
    return MiSystemPtesInUse();
}

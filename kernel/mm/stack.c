/*
 * stack.c - kernel stacks: KERNEL_STACK_SIZE (or larger) runs of system
 * PTEs with one unmapped guard page BELOW the usable range, so a stack
 * overflow faults (on x64 the fault cannot be delivered on the overflowed
 * stack and ends as a double fault on its IST stack, the stop NT shows for
 * a kernel stack overflow) instead of silently corrupting whatever lies
 * below. Layout of one stack, low to high:
 *   [guard page][StackLimit ... StackBase)
 *
 * Dead stacks. Mapping a stack page by page and unmapping it when its
 * thread dies is most of what creating a thread costs (hosted, every page
 * is an mmap). As NT keeps MmDeadStackSListHead, a deleted stack of the
 * size the kernel's threads use (KI_KERNEL_STACK_SIZE) stays mapped, its
 * guard page intact, in a small cache the next MmCreateKernelStack of that
 * size takes it from. A reused stack is not cleared: only kernel threads
 * ever wrote it (fresh pages are zeroed because they may hold anything a
 * former owner left, a user process's data included). The cache is bounded
 * (MI_MAXIMUM_DEAD_STACKS, and 1/64 of physical memory) and given back
 * whenever the memory manager runs short (MiFlushDeadStacks).
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <mm.h>

#define MI_MAXIMUM_DEAD_STACKS 16
#define MI_DEAD_STACK_PAGES    BYTES_TO_PAGES(KI_KERNEL_STACK_SIZE)

/* Bases (StackBase) of the cached stacks, guarded by MiDeadStackLock. */
static ULONG_PTR MiDeadStacks[MI_MAXIMUM_DEAD_STACKS];
static volatile ULONG MiDeadStackCount;
static KI_LOCK MiDeadStackLock;

static SIZE_T MiStackPages(SIZE_T Size)
{
    return BYTES_TO_PAGES(Size != 0 ? Size : KERNEL_STACK_SIZE);
}

/* A cached stack when there is one of this size, else 0. */
static ULONG_PTR MiTakeDeadStack(SIZE_T Pages)
{
    ULONG_PTR Base = 0;
    KIRQL OldIrql;

    if (Pages != MI_DEAD_STACK_PAGES || __atomic_load_n(&MiDeadStackCount, __ATOMIC_RELAXED) == 0) {
        return 0;
    }
    OldIrql = KiAcquireLock(&MiDeadStackLock);
    if (MiDeadStackCount != 0) {
        Base = MiDeadStacks[--MiDeadStackCount];
    }
    KiReleaseLock(&MiDeadStackLock, OldIrql);
    return Base;
}

/* Keeps the stack at Base (of the cached size) for reuse; FALSE when the
 * cache is full (the caller frees it). Deleting a stack that is already
 * cached is a bug check: two threads would get it. */
static BOOLEAN MiKeepDeadStack(ULONG_PTR Base, SIZE_T Size)
{
    /* Never more than 1/64 of memory. */
    ULONG Limit = (ULONG)(MiTotalPhysicalPageCount() / 64 / MI_DEAD_STACK_PAGES);
    BOOLEAN Kept = FALSE;
    KIRQL OldIrql;

    if (Limit > MI_MAXIMUM_DEAD_STACKS) {
        Limit = MI_MAXIMUM_DEAD_STACKS;
    }
    /* What the dead thread left in the pages' bookkeeping (hosted: ASan's
     * poison of frames that never returned) goes first, as an unmap would
     * take it: the next creator may take the stack at once. */
    MiArchForgetContents(Base - MI_DEAD_STACK_PAGES * PAGE_SIZE, MI_DEAD_STACK_PAGES);
    OldIrql = KiAcquireLock(&MiDeadStackLock);
    for (ULONG i = 0; i < MiDeadStackCount; i++) {
        if (MiDeadStacks[i] == Base) {
            KiReleaseLock(&MiDeadStackLock, OldIrql);
            KeBugCheckEx(MEMORY_MANAGEMENT, 0x41795, Base, Size, 0);
        }
    }
    if (MiDeadStackCount < Limit) {
        MiDeadStacks[MiDeadStackCount++] = Base;
        Kept = TRUE;
    }
    KiReleaseLock(&MiDeadStackLock, OldIrql);
    return Kept;
}

static VOID MiFreeStack(ULONG_PTR Base, SIZE_T Pages)
{
    ULONG_PTR Guard = Base - (Pages + 1) * PAGE_SIZE;

    MiUnmapAndFreePages(Guard + PAGE_SIZE, Pages);
    MiReleaseSystemPtes(Guard, Pages + 1);
}

SIZE_T MiFlushDeadStacks(VOID)
{
    ULONG_PTR Bases[MI_MAXIMUM_DEAD_STACKS];
    KIRQL OldIrql = KiAcquireLock(&MiDeadStackLock);
    ULONG Count = MiDeadStackCount;

    /* Taken out under the lock, unmapped outside it. */
    memcpy(Bases, MiDeadStacks, Count * sizeof(ULONG_PTR));
    MiDeadStackCount = 0;
    KiReleaseLock(&MiDeadStackLock, OldIrql);
    for (ULONG i = 0; i < Count; i++) {
        MiFreeStack(Bases[i], MI_DEAD_STACK_PAGES);
    }
    return Count * MI_DEAD_STACK_PAGES;
}

ULONG MiDeadStackCacheCount(VOID)
{
    return __atomic_load_n(&MiDeadStackCount, __ATOMIC_RELAXED);
}

PVOID MmCreateKernelStack(SIZE_T Size, PULONG_PTR StackLimit)
{
    SIZE_T Pages = MiStackPages(Size);
    ULONG_PTR Base, Limit;

    if (StackLimit == NULL) {
        return NULL;
    }
    Base = MiTakeDeadStack(Pages);
    if (Base != 0) {
        *StackLimit = Base - Pages * PAGE_SIZE;
        return (PVOID)Base;
    }
    Limit = MiMapGuardedRun(Pages, TRUE);
    if (Limit == 0) {
        return NULL;
    }
    *StackLimit = Limit;
    return (PVOID)(Limit + Pages * PAGE_SIZE);
}

VOID MmDeleteKernelStack(PVOID StackBase, SIZE_T Size)
{
    SIZE_T Pages = MiStackPages(Size);
    ULONG_PTR Base = (ULONG_PTR)StackBase;
    ULONG_PTR Guard;
    ULONG64 Physical;

    if (StackBase == NULL) {
        return;
    }
    Guard = Base - (Pages + 1) * PAGE_SIZE;
    if ((Base & (PAGE_SIZE - 1)) != 0 || Base < (Pages + 1) * PAGE_SIZE ||
        !MiIsSystemPteRange(Guard, Pages + 1)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41793, Base, Size, 0);
    }
    /* A wrong Size would free a neighbour's pages: the page below the
     * stack must be its unmapped guard. */
    if (MiArchTranslate(Guard, &Physical)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41794, Base, Size, Physical);
    }
    if (Pages == MI_DEAD_STACK_PAGES && MiKeepDeadStack(Base, Size)) {
        return;
    }
    MiFreeStack(Base, Pages);
}

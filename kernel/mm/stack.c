/*
 * stack.c - kernel stacks: KERNEL_STACK_SIZE (or larger) runs of system
 * PTEs with one unmapped guard page BELOW the usable range, so a stack
 * overflow faults (on x64 the fault cannot be delivered on the overflowed
 * stack and ends as a double fault on its IST stack, the stop NT shows for
 * a kernel stack overflow) instead of silently corrupting whatever lies
 * below. Layout of one stack, low to high:
 *   [guard page][StackLimit ... StackBase)
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <mm.h>

PVOID MmCreateKernelStack(SIZE_T Size, PULONG_PTR StackLimit)
{
    SIZE_T Pages = BYTES_TO_PAGES(Size != 0 ? Size : KERNEL_STACK_SIZE);
    ULONG_PTR Va;

    if (StackLimit == NULL || Pages >= MiSystemVaPages || Pages > MiFreePhysicalPageCount()) {
        return NULL;
    }
    Va = MiReserveSystemPtes(Pages + 1);
    if (Va == 0) {
        return NULL;
    }
    /* Zeroed: a new thread must not see an old thread's stack contents. */
    if (!NT_SUCCESS(MiMapNewPages(Va + PAGE_SIZE, Pages, PAGE_READWRITE, TRUE))) {
        MiReleaseSystemPtes(Va, Pages + 1);
        return NULL;
    }
    *StackLimit = Va + PAGE_SIZE;
    return (PVOID)(Va + (Pages + 1) * PAGE_SIZE);
}

VOID MmDeleteKernelStack(PVOID StackBase, SIZE_T Size)
{
    SIZE_T Pages = BYTES_TO_PAGES(Size != 0 ? Size : KERNEL_STACK_SIZE);
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
    MiUnmapAndFreePages(Guard + PAGE_SIZE, Pages);
    MiReleaseSystemPtes(Guard, Pages + 1);
}

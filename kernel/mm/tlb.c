/*
 * tlb.c - TLB consistency for the system range. The arch unmap/protect
 * primitives invalidate the current processor's entry (invlpg); this file
 * owns the one place that makes every other processor drop stale
 * translations before a page or a VA range is reused, so switching the
 * shootdown mechanism is a change here only.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <mm.h>

/* Shootdowns requested (a range unmapped or its protection reduced). */
volatile LONGLONG MiTlbFlushCount;

VOID MiFlushTlbRange(ULONG_PTR Va, SIZE_T Pages)
{
    if (Pages == 0) {
        return;
    }
    __atomic_add_fetch(&MiTlbFlushCount, 1, __ATOMIC_RELAXED);
    /* Local: the arch primitives already invalidated each page they
     * changed. Remote: a packet IPI runs MiArchInvalidateRange(Va, Pages)
     * on every other active processor and waits for all of them. */
    KiIpiFlushTlb(Va, Pages);
}

/*
 * tlb.c - TLB consistency for the system range. The arch unmap/protect
 * primitives invalidate the entry of the processor they run on (invlpg);
 * this file owns the one place that makes every processor, the caller's
 * included, drop stale translations before a page or a VA range is
 * reused, so switching the shootdown mechanism is a change here only.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <mm.h>

/* Shootdowns requested (a range unmapped or its protection reduced). */
volatile LONGLONG MiTlbFlushCount;

VOID MiFlushTlbRange(ULONG_PTR Va, SIZE_T Pages)
{
    KIRQL OldIrql = KeGetCurrentIrql();

    if (Pages == 0) {
        return;
    }
    __atomic_add_fetch(&MiTlbFlushCount, 1, __ATOMIC_RELAXED);
    /* The arch primitives invalidated each page they changed, but on the
     * processor they ran on: a caller preempted since then may resume
     * here, on a processor that still caches the old translations (and
     * KiIpiFlushTlb skips the sender). Pinned at DISPATCH_LEVEL, the range
     * is dropped here and, by a packet IPI that runs
     * MiArchInvalidateRange(Va, Pages), on every other active processor:
     * together, everywhere. */
    if (OldIrql < DISPATCH_LEVEL) {
        KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    }
    MiArchInvalidateRange(Va, Pages);
    if (MI_ARCH_REMOTE_TLBS) {
        KiIpiFlushTlb(Va, Pages);
    }
    if (OldIrql < DISPATCH_LEVEL) {
        KeLowerIrql(OldIrql);
    }
}

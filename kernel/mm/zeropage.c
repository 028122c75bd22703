/*
 * zeropage.c - the zero-page thread: the one thread at priority 0, so it
 * runs only when a processor has nothing else to do. It moves pages from
 * the free list to the zeroed list (MiZeroFreePages), a batch at a time,
 * and sleeps on an event when the free list is empty; pfn.c wakes it when
 * pages are freed. Callers that need zeroed pages then take one from the
 * zeroed list without a memset.
 *
 * Wake protocol (no lost wake-up, no KeSetEvent per freed page): the
 * thread sets MiZeroPageWaiting, re-checks the free list, then waits on a
 * synchronization event; a free that finds the flag set clears it with an
 * exchange and sets the event (MiSignalZeroPageThread, which pfn.c calls
 * after dropping the PFN lock). As NT, a free wakes the thread only once the free
 * list holds MI_MINIMUM_FREE_PAGES_TO_ZERO pages: waking it for every page
 * made each page free cost a thread wake-up and an IPI to the idle
 * processor that runs it (and PFN lock contention with that processor).
 */
#include <ntddk.h>
#include <ketypes.h>
#include <ke.h>
#include <mm.h>

/* Pages zeroed between two checks for other work; small, so a batch costs
 * well under a clock tick (the thread is preemptible anyway). */
#define MI_ZERO_BATCH 16

/* Free-list length that makes a free wake the thread (NT uses 8 too). */
#define MI_MINIMUM_FREE_PAGES_TO_ZERO 8

static KEVENT MiZeroPageEvent;
static volatile LONG MiZeroPageWaiting;
/* Test seam: while Paused, the thread starts no batch; Busy is set around
 * a batch (Dekker-style with Paused, both sequentially consistent). */
static volatile LONG MiZeroPagePaused;
static volatile LONG MiZeroPageBusy;
static PKTHREAD MiZeroPageThread;
static volatile LONG MiZeroPageWakes;

VOID MiSignalZeroPageThread(VOID)
{
    /* (A free at raised IRQL past DISPATCH_LEVEL, on the bug check path,
     * wakes nobody.) */
    if (KeGetCurrentIrql() <= DISPATCH_LEVEL &&
        __atomic_load_n(&MiZeroPageWaiting, __ATOMIC_RELAXED) != 0 &&
        MiFreeListPageCount() >= MI_MINIMUM_FREE_PAGES_TO_ZERO &&
        __atomic_exchange_n(&MiZeroPageWaiting, 0, __ATOMIC_ACQ_REL) != 0) {
        __atomic_fetch_add(&MiZeroPageWakes, 1, __ATOMIC_RELAXED);
        KeSetEvent(&MiZeroPageEvent, IO_NO_INCREMENT, FALSE);
    }
}

static VOID NTAPI MiZeroPageThreadRoutine(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (;;) {
        PFN_NUMBER Done = 0;

        __atomic_store_n(&MiZeroPageBusy, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&MiZeroPagePaused, __ATOMIC_SEQ_CST)) {
            Done = MiZeroFreePages(MI_ZERO_BATCH);
        }
        __atomic_store_n(&MiZeroPageBusy, 0, __ATOMIC_SEQ_CST);
        if (Done != 0) {
            continue;
        }
        __atomic_store_n(&MiZeroPageWaiting, 1, __ATOMIC_SEQ_CST);
        /* Pages freed before the flag was visible are seen here (the same
         * threshold as the waker's, so none is left waiting for a wake). */
        if (MiFreeListPageCount() >= MI_MINIMUM_FREE_PAGES_TO_ZERO &&
            !__atomic_load_n(&MiZeroPagePaused, __ATOMIC_SEQ_CST)) {
            __atomic_store_n(&MiZeroPageWaiting, 0, __ATOMIC_RELAXED);
            continue;
        }
        KeWaitForSingleObject(&MiZeroPageEvent, Executive, KernelMode, FALSE, NULL);
    }
}

VOID MiPauseZeroPageThread(BOOLEAN Pause)
{
    __atomic_store_n(&MiZeroPagePaused, Pause ? 1 : 0, __ATOMIC_SEQ_CST);
    if (Pause) {
        /* A batch already started finishes first; sleeping (not
         * spinning) lets the priority-0 thread run on one processor. */
        while (__atomic_load_n(&MiZeroPageBusy, __ATOMIC_SEQ_CST) != 0) {
            LARGE_INTEGER Interval = { .QuadPart = -10000 };
            KeDelayExecutionThread(KernelMode, FALSE, &Interval);
        }
    } else if (MiZeroPageThread != NULL) {
        __atomic_store_n(&MiZeroPageWaiting, 0, __ATOMIC_SEQ_CST);
        KeSetEvent(&MiZeroPageEvent, IO_NO_INCREMENT, FALSE);
    }
}

ULONG MiQueryZeroPageWakes(VOID)
{
    return (ULONG)__atomic_load_n(&MiZeroPageWakes, __ATOMIC_RELAXED);
}

struct _KTHREAD *MiQueryZeroPageThread(VOID)
{
    return MiZeroPageThread;
}

NTSTATUS MiStartZeroPageThread(VOID)
{
    PKTHREAD Thread;
    NTSTATUS Status;

    if (MiZeroPageThread != NULL) {
        return STATUS_SUCCESS;
    }
    KeInitializeEvent(&MiZeroPageEvent, SynchronizationEvent, FALSE);
    /* KiCreateThread refuses priority 0 (reserved for this thread): make
     * it at 1 and lower it before it is ever ready, so no queue holds it. */
    Status = KiCreateThread(MiZeroPageThreadRoutine, NULL, LOW_PRIORITY + 1, &Thread);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    Thread->Priority = LOW_PRIORITY;
    Thread->BasePriority = LOW_PRIORITY;
    Thread->NormalPriority = LOW_PRIORITY;
    MiZeroPageThread = Thread;
    KiStartThread(Thread);
    return STATUS_SUCCESS;
}

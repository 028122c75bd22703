/*
 * exsyncp.h - private interface of the executive synchronization objects
 * (kernel/ex: fastmut.c, resource.c, pushlock.c, rundown.c, worker.c): the
 * seams to the kernel's ownership boost and APC-disable regions, the
 * worker-thread start-up, and test hooks. See docs/ex-sync.md.
 */
#ifndef _EXSYNCP_
#define _EXSYNCP_

#include <ntddk.h>
#include <ex.h>
#include <ke.h>
#include <ketypes.h>

/* Ownership boost (priority inheritance, docs/scheduler.md): a thread about
 * to wait for a lock raises the lock's owner to its own priority; the owner
 * drops the boost when it releases. These two wrappers are the only place
 * the executive locks touch the scheduler's boost routines. */
VOID ExpBoostOwner(PKTHREAD Owner, KPRIORITY Priority);
VOID ExpRemoveOwnerBoost(PKTHREAD Thread);

/* Guarded regions (special kernel APCs disabled), used by the guarded
 * mutex. */
VOID ExpEnterGuardedRegion(VOID);
VOID ExpLeaveGuardedRegion(VOID);

/* The owner-boost spin lock (fastmut.c): taken by a waiter to read a lock's
 * owner and boost it, and by a releasing owner that has waiters before it
 * drops its boost, so a waiter never boosts a thread that already left (or
 * was freed). A leaf lock. */
KIRQL ExpAcquireBoostLock(VOID);
VOID ExpReleaseBoostLock(KIRQL OldIrql);

/* Runs Initialize once, the first time any thread gets here; the others
 * spin until it has run. *State starts at 0 (1 while initializing, 2
 * once done). */
FORCEINLINE VOID ExpInitializeOnce(volatile LONG *State, VOID (*Initialize)(VOID))
{
    LONG Expected = 0;

    if (__builtin_expect(__atomic_load_n(State, __ATOMIC_ACQUIRE) == 2, 1)) {
        return;
    }
    if (__atomic_compare_exchange_n(State, &Expected, 1, FALSE, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED)) {
        Initialize();
        __atomic_store_n(State, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(State, __ATOMIC_ACQUIRE) != 2) {
        KiArchSpinWait();
    }
}

/* Worker threads started (all queues) and work items run so far. */
ULONG ExpQueryWorkerThreadCount(VOID);
ULONG64 ExpQueryWorkItemsRun(VOID);

#endif /* _EXSYNCP_ */

/*
 * irql_bugcheck_test.c - KTEST_BUGCHECK cases for dispatcher misuse: IRQL
 * moved the wrong way, waiting at DISPATCH_LEVEL, releasing a mutex the
 * caller does not own, spin locks at the wrong IRQL or acquired twice.
 * Each must end in the stop code NT uses; returning means the check is
 * gone. They run alone (bugcheck=NAME, ktest_hosted --bugcheck).
 */
#include <ntddk.h>
#include <ktest.h>
#include <ke.h>

/* KeLowerIrql to a level above the current one. */
KTEST_BUGCHECK(ke_misuse, lower_irql_raises, IRQL_NOT_LESS_OR_EQUAL)
{
    KT_ASSERT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KeLowerIrql(DISPATCH_LEVEL);
}

/* KeRaiseIrql (KfRaiseIrql) to a level below the current one. */
KTEST_BUGCHECK(ke_misuse, raise_irql_lowers, IRQL_NOT_GREATER_OR_EQUAL)
{
    KIRQL OldIrql;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KfRaiseIrql(APC_LEVEL);
    KeLowerIrql(OldIrql);
}

/* A wait that could block, at DISPATCH_LEVEL (a zero timeout is allowed). */
KTEST_BUGCHECK(ke_misuse, wait_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static KEVENT Event;
    LARGE_INTEGER Timeout = { .QuadPart = -10 * 10000 }; /* 10 ms */
    KIRQL OldIrql;

    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Timeout);
    KeLowerIrql(OldIrql);
}

/* Without a timeout (KeWaitForSingleObject's own path for that case). */
KTEST_BUGCHECK(ke_misuse, wait_at_dispatch_without_timeout, IRQL_NOT_LESS_OR_EQUAL)
{
    static KEVENT Event;
    KIRQL OldIrql;

    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL);
    KeLowerIrql(OldIrql);
}

/* Above DISPATCH_LEVEL even a zero timeout is refused. */
KTEST_BUGCHECK(ke_misuse, wait_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static KEVENT Event;
    LARGE_INTEGER Zero = { .QuadPart = 0 };
    KIRQL OldIrql;

    KeInitializeEvent(&Event, NotificationEvent, TRUE);
    KeRaiseIrql(HIGH_LEVEL, &OldIrql);
    KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &Zero);
    KeLowerIrql(OldIrql);
}

/* KeSetEvent(..., Wait = TRUE) called at DISPATCH_LEVEL, then a wait that
 * may block: the wait's IRQL is the caller's, DISPATCH_LEVEL. */
KTEST_BUGCHECK(ke_misuse, wait_next_from_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static KEVENT Event, Other;
    LARGE_INTEGER Timeout = { .QuadPart = -10 * 10000 }; /* 10 ms */
    KIRQL OldIrql;

    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    KeInitializeEvent(&Other, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KeSetEvent(&Event, IO_NO_INCREMENT, TRUE);
    KeWaitForSingleObject(&Other, Executive, KernelMode, FALSE, &Timeout);
    KeLowerIrql(OldIrql);
}

/* KeReleaseMutex on a mutex nobody owns. */
KTEST_BUGCHECK(ke_misuse, release_mutex_not_owned, THREAD_NOT_MUTEX_OWNER)
{
    static KMUTEX Mutex;

    KeInitializeMutex(&Mutex, 0);
    KeReleaseMutex(&Mutex, FALSE);
}

/* The AtDpcLevel acquire from PASSIVE_LEVEL. */
KTEST_BUGCHECK(ke_misuse, spinlock_at_dpc_level_from_passive, IRQL_NOT_GREATER_OR_EQUAL)
{
    static KSPIN_LOCK Lock;

    KeInitializeSpinLock(&Lock);
    KeAcquireSpinLockAtDpcLevel(&Lock);
    KeReleaseSpinLockFromDpcLevel(&Lock);
}

/* KeAcquireSpinLock above DISPATCH_LEVEL. */
KTEST_BUGCHECK(ke_misuse, spinlock_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static KSPIN_LOCK Lock;
    KIRQL OldIrql, LockIrql;

    KeInitializeSpinLock(&Lock);
    KeRaiseIrql(HIGH_LEVEL, &OldIrql);
    KeAcquireSpinLock(&Lock, &LockIrql);
    KeReleaseSpinLock(&Lock, LockIrql);
    KeLowerIrql(OldIrql);
}

/* The same processor acquiring a lock it holds would spin forever. */
KTEST_BUGCHECK(ke_misuse, spinlock_acquired_twice, SPIN_LOCK_ALREADY_OWNED)
{
    static KSPIN_LOCK Lock;
    KIRQL OldIrql;

    KeInitializeSpinLock(&Lock);
    KeAcquireSpinLock(&Lock, &OldIrql);
    KeAcquireSpinLockAtDpcLevel(&Lock);
    KeReleaseSpinLockFromDpcLevel(&Lock);
    KeReleaseSpinLock(&Lock, OldIrql);
}

/* Releasing a lock that is not held. */
KTEST_BUGCHECK(ke_misuse, spinlock_release_not_owned, SPIN_LOCK_NOT_OWNED)
{
    static KSPIN_LOCK Lock;
    KIRQL OldIrql;

    KeInitializeSpinLock(&Lock);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KeReleaseSpinLockFromDpcLevel(&Lock);
    KeLowerIrql(OldIrql);
}

/*
 * rundown.c - rundown protection (EX_RUNDOWN_REF).
 *
 * Count holds the reference count in units of 2 while bit 0 is clear.
 * ExWaitForRundownProtectionRelease swaps in the address of a wait block on
 * its stack with bit 0 set: from then on acquires fail, and releases count
 * down the block's copy of the references; the last one sets its event.
 * The waiter cannot return while a releaser still holds a reference, so
 * the block outlives every access. After the wait, Count is 1 (rundown
 * completed: acquires keep failing until ExReInitializeRundownProtection).
 */
#include "exsyncp.h"

#define EXP_RUNDOWN_ACTIVE    ((ULONG_PTR)0x1)
#define EXP_RUNDOWN_COUNT_INC ((ULONG_PTR)0x2)

typedef struct _EXP_RUNDOWN_WAIT {
    volatile ULONG_PTR Count;
    KEVENT Event;
} EXP_RUNDOWN_WAIT;

_Static_assert(_Alignof(EXP_RUNDOWN_WAIT) >= 2, "bit 0 of the block address is free");

static BOOLEAN ExpCasRundown(PEX_RUNDOWN_REF RunRef, ULONG_PTR Old, ULONG_PTR New)
{
    return __atomic_compare_exchange_n(&RunRef->Count, &Old, New, FALSE, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

VOID FASTCALL ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_RELEASE);
}

VOID FASTCALL ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_RELEASE);
}

BOOLEAN FASTCALL ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    ULONG_PTR Add = (ULONG_PTR)Count * EXP_RUNDOWN_COUNT_INC;

    for (;;) {
        ULONG_PTR Value = __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST);
        if (Value & EXP_RUNDOWN_ACTIVE) {
            return FALSE;
        }
        if (ExpCasRundown(RunRef, Value, Value + Add)) {
            return TRUE;
        }
    }
}

BOOLEAN FASTCALL ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    return ExAcquireRundownProtectionEx(RunRef, 1);
}

VOID FASTCALL ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    ULONG_PTR Sub = (ULONG_PTR)Count * EXP_RUNDOWN_COUNT_INC;

    for (;;) {
        ULONG_PTR Value = __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST);
        if (Value & EXP_RUNDOWN_ACTIVE) {
            /* A rundown is waiting: count down its block. */
            EXP_RUNDOWN_WAIT *Wait = (EXP_RUNDOWN_WAIT *)(Value & ~EXP_RUNDOWN_ACTIVE);
            if (__atomic_sub_fetch(&Wait->Count, Count, __ATOMIC_SEQ_CST) == 0) {
                KeSetEvent(&Wait->Event, EVENT_INCREMENT, FALSE);
            }
            return;
        }
        if (ExpCasRundown(RunRef, Value, Value - Sub)) {
            return;
        }
    }
}

VOID FASTCALL ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    ExReleaseRundownProtectionEx(RunRef, 1);
}

VOID FASTCALL ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef)
{
    EXP_RUNDOWN_WAIT Wait;
    ULONG_PTR Value;

    KeInitializeEvent(&Wait.Event, NotificationEvent, FALSE);
    for (;;) {
        Value = __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST);
        if (Value & EXP_RUNDOWN_ACTIVE) {
            return; /* already run down */
        }
        if (Value == 0) {
            if (ExpCasRundown(RunRef, 0, EXP_RUNDOWN_ACTIVE)) {
                return;
            }
            continue;
        }
        Wait.Count = Value / EXP_RUNDOWN_COUNT_INC;
        if (ExpCasRundown(RunRef, Value, (ULONG_PTR)&Wait | EXP_RUNDOWN_ACTIVE)) {
            break;
        }
    }
    KeWaitForSingleObject(&Wait.Event, WrRundown, KernelMode, FALSE, NULL);
    __atomic_store_n(&RunRef->Count, EXP_RUNDOWN_ACTIVE, __ATOMIC_RELEASE);
}

VOID FASTCALL ExRundownCompleted(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, EXP_RUNDOWN_ACTIVE, __ATOMIC_RELEASE);
}

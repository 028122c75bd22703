/*
 * irql.c - IRQL: KeGetCurrentIrql/KfRaiseIrql/KeLowerIrql/
 * KeRaiseIrqlToDpcLevel with NT's checks (raising to a lower IRQL or
 * lowering to a higher one is a bug check), over the arch's raw IRQL
 * storage (CR8 on x64), plus the phase-0 spin lock. Lowering below a
 * pending software interrupt's level runs it (softint.c).
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>

KIRQL NTAPI KeGetCurrentIrql(VOID)
{
    return KiReadIrql();
}

KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql)
{
    KIRQL OldIrql = KiReadIrql();

    if (NewIrql < OldIrql || NewIrql > HIGH_LEVEL) {
        /* NT: "raise" below the current level. */
        KiWriteIrql(HIGH_LEVEL);
        KeBugCheckEx(IRQL_NOT_GREATER_OR_EQUAL, OldIrql, NewIrql, 0, 0);
    }
    KiWriteIrql(NewIrql);
    return OldIrql;
}

VOID NTAPI KeLowerIrql(KIRQL NewIrql)
{
    KIRQL OldIrql = KiReadIrql();

    if (NewIrql > OldIrql) {
        KiWriteIrql(HIGH_LEVEL);
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, OldIrql, NewIrql, 0, 0);
    }
    KiWriteIrql(NewIrql);
    /* Software interrupts requested above the new level run now. */
    if (NewIrql < DISPATCH_LEVEL &&
        (KeGetCurrentPrcb()->SoftwareInterruptPending & ~((2u << NewIrql) - 1)) != 0) {
        KiCheckSoftwareInterrupts();
    }
}

KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID)
{
    return KfRaiseIrql(DISPATCH_LEVEL);
}

KIRQL KiAcquireLock(KI_LOCK *Lock)
{
    KIRQL OldIrql = KiReadIrql();

    /* Callers above DISPATCH_LEVEL (the bug check path) keep their level. */
    if (OldIrql < DISPATCH_LEVEL) {
        KiWriteIrql(DISPATCH_LEVEL);
    }
    while (__atomic_exchange_n(Lock, 1, __ATOMIC_ACQUIRE) != 0) {
        while (__atomic_load_n(Lock, __ATOMIC_RELAXED) != 0) {
            KiArchSpinWait();
        }
    }
    return OldIrql;
}

VOID KiReleaseLock(KI_LOCK *Lock, KIRQL OldIrql)
{
    __atomic_store_n(Lock, 0, __ATOMIC_RELEASE);
    if (OldIrql < DISPATCH_LEVEL) {
        KiWriteIrql(OldIrql);
    }
}

/*
 * irql_test.c - ktest cases for IRQL raise/lower.
 */
#include <ntddk.h>
#include <ktest.h>
#include <ke.h>

KTEST(ke_irql, starts_at_passive)
{
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

KTEST(ke_irql, raise_and_lower)
{
    KIRQL Old, Older;

    KeRaiseIrql(APC_LEVEL, &Older);
    KT_EXPECT_EQ(Older, PASSIVE_LEVEL);
    KT_EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeRaiseIrql(DISPATCH_LEVEL, &Old);
    KT_EXPECT_EQ(Old, APC_LEVEL);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    /* Raising to the current level is allowed. */
    KT_EXPECT_EQ(KfRaiseIrql(DISPATCH_LEVEL), DISPATCH_LEVEL);
    KeLowerIrql(Old);
    KT_EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(Older);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

KTEST(ke_irql, raise_to_high_and_back)
{
    KIRQL Old;

    KeRaiseIrql(HIGH_LEVEL, &Old);
    KT_EXPECT_EQ(KeGetCurrentIrql(), HIGH_LEVEL);
    KeLowerIrql(Old);
    KT_EXPECT_EQ(KeGetCurrentIrql(), Old);
}

KTEST(ke_irql, raise_to_dpc_level)
{
    KIRQL Old = KeRaiseIrqlToDpcLevel();
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(Old);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

KTEST(ke_irql, phase0_lock_raises_and_restores)
{
    static KI_LOCK Lock;
    KIRQL Old = KiAcquireLock(&Lock);

    KT_EXPECT_EQ(Old, PASSIVE_LEVEL);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KT_EXPECT_EQ(Lock, 1);
    KiReleaseLock(&Lock, Old);
    KT_EXPECT_EQ(Lock, 0);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

KTEST(ke_irql, prcb_reachable)
{
    PKPCR Pcr = KeGetPcr();
    KT_ASSERT_NOT_NULL(Pcr);
    KT_EXPECT_EQ((ULONG_PTR)Pcr->Self, (ULONG_PTR)Pcr);
    KT_EXPECT_EQ((ULONG_PTR)KeGetCurrentPrcb(), (ULONG_PTR)&Pcr->Prcb);
}

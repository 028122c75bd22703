/*
 * poolverify_test.c - ktest cases for pool misuse detection. A stop code
 * cannot be taken in-process, so each case installs the pool's violation
 * hook (ExpSetPoolViolationHook), provokes the misuse and checks the stop
 * code and parameters the pool would have bug checked with; the pool call
 * returns without touching the block, which the test then frees properly.
 * The end-to-end stop screens are the ex_pool_misuse bug check cases.
 */
#include "poolp.h"
#include <ktest.h>

#define VERIFY_TAG 'ireV' /* "Veri" */

typedef struct _PV_REPORT {
    ULONG Count;
    ULONG Code;
    ULONG_PTR P[4];
    ULONG Tag;
} PV_REPORT;

static PV_REPORT PvReport;

static VOID PvHook(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4, ULONG Tag)
{
    PvReport.Count++;
    PvReport.Code = Code;
    PvReport.P[0] = P1;
    PvReport.P[1] = P2;
    PvReport.P[2] = P3;
    PvReport.P[3] = P4;
    PvReport.Tag = Tag;
}

static PEXP_POOL_VIOLATION_HOOK PvBegin(VOID)
{
    memset(&PvReport, 0, sizeof(PvReport));
    return ExpSetPoolViolationHook(PvHook);
}

static VOID PvEnd(PEXP_POOL_VIOLATION_HOOK Previous)
{
    ExpSetPoolViolationHook(Previous);
}

KTEST(ex_pool_verify, double_free_is_bad_pool_caller_7)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, VERIFY_TAG);
    PUCHAR Again;

    KT_ASSERT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, VERIFY_TAG);
    Previous = PvBegin();
    ExFreePoolWithTag(Block, VERIFY_TAG);
    PvEnd(Previous);
    KT_EXPECT_EQ(PvReport.Count, 1);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_CALLER);
    KT_EXPECT_EQ(PvReport.P[0], 0x7);
    KT_EXPECT_EQ(PvReport.P[3], (ULONG_PTR)Block);
    KT_EXPECT_EQ(PvReport.Tag, VERIFY_TAG);
    /* The free list is intact: allocation still works. */
    Again = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, VERIFY_TAG);
    KT_ASSERT_NOT_NULL(Again);
    ExFreePoolWithTag(Again, VERIFY_TAG);
}

KTEST(ex_pool_verify, large_block_double_free_is_bad_pool_header_22)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    PVOID Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE, VERIFY_TAG);

    KT_ASSERT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, VERIFY_TAG);
    Previous = PvBegin();
    ExFreePoolWithTag(Block, VERIFY_TAG);
    PvEnd(Previous);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_HEADER);
    KT_EXPECT_EQ(PvReport.P[0], 0x22);
    KT_EXPECT_EQ(PvReport.P[1], (ULONG_PTR)Block);
}

KTEST(ex_pool_verify, wrong_tag_is_bad_pool_caller_a)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    PVOID Small = ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, VERIFY_TAG);
    PVOID Large = ExAllocatePool2(POOL_FLAG_NON_PAGED, 3 * PAGE_SIZE, VERIFY_TAG);

    KT_ASSERT_NOT_NULL(Small);
    KT_ASSERT_NOT_NULL(Large);
    Previous = PvBegin();
    ExFreePoolWithTag(Small, 'gnrW');
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_CALLER);
    KT_EXPECT_EQ(PvReport.P[0], 0xA);
    KT_EXPECT_EQ(PvReport.P[1], (ULONG_PTR)Small);
    KT_EXPECT_EQ(PvReport.P[2], VERIFY_TAG);
    KT_EXPECT_EQ(PvReport.P[3], 'gnrW');
    ExFreePoolWithTag(Large, 'gnrW');
    KT_EXPECT_EQ(PvReport.Count, 2);
    KT_EXPECT_EQ(PvReport.P[0], 0xA);
    KT_EXPECT_EQ(PvReport.P[1], (ULONG_PTR)Large);
    PvEnd(Previous);
    /* The protected-pool bit is ignored; tag 0 skips the check. */
    ExFreePoolWithTag(Small, VERIFY_TAG | EXP_PROTECTED_POOL);
    ExFreePool(Large);
}

KTEST(ex_pool_verify, never_allocated_pointers)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    ULONG64 Local[4] = { 0, 0, 0, 0 };
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 256, VERIFY_TAG);
    PUCHAR Pages = MiAllocateKernelPages(1);

    KT_ASSERT_NOT_NULL(Block);
    KT_ASSERT_NOT_NULL(Pages);
    Previous = PvBegin();
    /* Not in the system range at all (a stack variable). */
    ExFreePool(&Local[2]);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_CALLER);
    KT_EXPECT_EQ(PvReport.P[0], 0x46);
    /* Kernel pages that are not pool. */
    ExFreePool(Pages + 64);
    KT_EXPECT_EQ(PvReport.Count, 2);
    KT_EXPECT_EQ(PvReport.P[0], 0x46);
    KT_EXPECT_EQ(PvReport.P[1], (ULONG_PTR)(Pages + 64));
    /* Inside a pool block (zeroed memory where a header would be). */
    ExFreePool(Block + 64);
    KT_EXPECT_EQ(PvReport.Count, 3);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_CALLER);
    KT_EXPECT_EQ(PvReport.P[0], 0x99);
    /* Misaligned and NULL. */
    ExFreePool(Block + 1);
    KT_EXPECT_EQ(PvReport.P[0], 0x46);
    ExFreePool(NULL);
    KT_EXPECT_EQ(PvReport.Count, 5);
    KT_EXPECT_EQ(PvReport.P[0], 0x46);
    PvEnd(Previous);
    ExFreePoolWithTag(Block, VERIFY_TAG);
    MiFreeKernelPages(Pages, 1);
}

/* Blocks have no header: a page's header and its per-block entries are
 * what an overrun or a stray write can damage. */
KTEST(ex_pool_verify, corrupted_entry_is_bad_pool_header_7)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 48, VERIFY_TAG);
    EXP_BLOCK_INFO Info;
    USHORT Entry;

    KT_ASSERT_NOT_NULL(Block);
    KT_ASSERT_TRUE(ExpQuerySmallBlock(Block, &Info));
    /* A stray write flips bits of the block's entry (its tag slot). */
    Entry = *Info.Entry;
    *Info.Entry = (USHORT)(Entry ^ 0x0150);
    Previous = PvBegin();
    ExFreePoolWithTag(Block, VERIFY_TAG);
    PvEnd(Previous);
    KT_EXPECT_EQ(PvReport.Count, 1);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_HEADER);
    KT_EXPECT_EQ(PvReport.P[0], 0x7);
    KT_EXPECT_EQ(PvReport.P[2], (USHORT)(Entry ^ 0x0150));
    KT_EXPECT_EQ(PvReport.P[3], (ULONG_PTR)Info.Entry);
    *Info.Entry = Entry;
    ExFreePoolWithTag(Block, VERIFY_TAG);
}

KTEST(ex_pool_verify, corrupted_page_header_is_bad_pool_header_7)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 200, VERIFY_TAG);
    volatile ULONG *Check;
    ULONG Saved;

    KT_ASSERT_NOT_NULL(Block);
    /* An overrun off the end of the page before lands in this page's
     * header. */
    Check = (volatile ULONG *)PAGE_ALIGN(Block);
    Saved = *Check;
    *Check = Saved ^ 0xA5A5A5A5u;
    Previous = PvBegin();
    ExFreePoolWithTag(Block, VERIFY_TAG);
    PvEnd(Previous);
    KT_EXPECT_EQ(PvReport.Count, 1);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_HEADER);
    KT_EXPECT_EQ(PvReport.P[0], 0x7);
    KT_EXPECT_EQ(PvReport.P[3], (ULONG_PTR)PAGE_ALIGN(Block));
    *Check = Saved;
    ExFreePoolWithTag(Block, VERIFY_TAG);
}

KTEST(ex_pool_verify, corrupted_free_block_is_driver_corrupted_expool)
{
    /* Words a driver might leave in a freed block: each must be caught when
     * the block is taken again. At DISPATCH_LEVEL the thread stays on one
     * processor, so the allocation comes from the list the free pushed to. */
    static const struct {
        ULONG Offset;
        ULONG64 Value;
    } Writes[] = {
        { 4, 0x5A5A },             /* a small number over the link's upper half */
        { 0, 0 },                  /* zeroed */
        { 0, 0x1000 },             /* a small number */
        { 0, 0xFFFF800000001000 }, /* a kernel pointer */
    };

    for (ULONG i = 0; i < RTL_NUMBER_OF(Writes); i++) {
        PEXP_POOL_VIOLATION_HOOK Previous;
        PUCHAR Block, Again;
        EXP_BLOCK_INFO Info;
        KIRQL OldIrql;

        BOOLEAN Small;

        KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
        Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 1000, VERIFY_TAG);
        Small = Block != NULL && ExpQuerySmallBlock(Block, &Info);
        if (!Small) {
            KeLowerIrql(OldIrql);
        }
        KT_ASSERT_TRUE(Small);
        ExFreePoolWithTag(Block, VERIFY_TAG);
        /* A write into freed pool (a use after free). */
        if (Writes[i].Offset == 4) {
            ((volatile ULONG *)Info.BlockStart)[1] ^= (ULONG)Writes[i].Value;
        } else {
            *(volatile ULONG64 *)Info.BlockStart = Writes[i].Value;
        }
        Previous = PvBegin();
        Again = ExAllocatePool2(POOL_FLAG_NON_PAGED, 1000, VERIFY_TAG);
        PvEnd(Previous);
        KeLowerIrql(OldIrql);
        KT_EXPECT_NULL(Again);
        KT_EXPECT_EQ(PvReport.Code, DRIVER_CORRUPTED_EXPOOL);
        KT_EXPECT_EQ(PvReport.P[0], (ULONG_PTR)Info.BlockStart);
    }
}

KTEST(ex_pool_verify, overrun_caught_on_free)
{
    BOOLEAN Verify = ExpPoolVerify;
    PEXP_POOL_VIOLATION_HOOK Previous;
    PUCHAR Small, Large;

    ExpSetPoolVerification(TRUE);
    Small = ExAllocatePool2(POOL_FLAG_NON_PAGED, 40, VERIFY_TAG);
    Large = ExAllocatePool2(POOL_FLAG_PAGED, PAGE_SIZE + 100, VERIFY_TAG);
    ExpSetPoolVerification(Verify);
    KT_ASSERT_NOT_NULL(Small);
    KT_ASSERT_NOT_NULL(Large);
    KT_EXPECT_EQ(ExQueryPoolBlockSize(Small, NULL), 40);

    Small[40] = 0x11;
    Large[PAGE_SIZE + 100 + 7] = 0x22;
    Previous = PvBegin();
    ExFreePoolWithTag(Small, VERIFY_TAG);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_HEADER);
    KT_EXPECT_EQ(PvReport.P[0], 0x21);
    KT_EXPECT_EQ(PvReport.P[1], (ULONG_PTR)Small);
    KT_EXPECT_EQ(PvReport.P[2], 40);
    KT_EXPECT_EQ(PvReport.Tag, VERIFY_TAG);
    ExFreePoolWithTag(Large, VERIFY_TAG);
    KT_EXPECT_EQ(PvReport.Count, 2);
    KT_EXPECT_EQ(PvReport.P[0], 0x21);
    KT_EXPECT_EQ(PvReport.P[1], (ULONG_PTR)Large);
    PvEnd(Previous);

    /* Repaired, both free cleanly. */
    Small[40] = EXP_GUARD_BYTE;
    Large[PAGE_SIZE + 100 + 7] = EXP_GUARD_BYTE;
    Previous = PvBegin();
    ExFreePoolWithTag(Small, VERIFY_TAG);
    ExFreePoolWithTag(Large, VERIFY_TAG);
    PvEnd(Previous);
    KT_EXPECT_EQ(PvReport.Count, 0);
}

KTEST(ex_pool_verify, irql_rules)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    PVOID Paged = ExAllocatePool2(POOL_FLAG_PAGED, 64, VERIFY_TAG);
    PVOID Block;
    KIRQL OldIrql, DispatchIrql;

    KT_ASSERT_NOT_NULL(Paged);
    Previous = PvBegin();
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    /* Nonpaged pool is fine at DISPATCH_LEVEL. */
    Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, VERIFY_TAG);
    KT_EXPECT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, VERIFY_TAG);
    KT_EXPECT_EQ(PvReport.Count, 0);
    /* Paged pool is not. */
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_PAGED, 64, VERIFY_TAG));
    KT_EXPECT_EQ(PvReport.Code, IRQL_NOT_LESS_OR_EQUAL);
    KT_EXPECT_EQ(PvReport.P[1], DISPATCH_LEVEL);
    ExFreePoolWithTag(Paged, VERIFY_TAG);
    KT_EXPECT_EQ(PvReport.Count, 2);
    KT_EXPECT_EQ(PvReport.Code, IRQL_NOT_LESS_OR_EQUAL);
    KT_EXPECT_EQ(PvReport.P[0], (ULONG_PTR)Paged);
    /* Nothing above DISPATCH_LEVEL. */
    KeRaiseIrql(HIGH_LEVEL, &DispatchIrql);
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, VERIFY_TAG));
    KeLowerIrql(DispatchIrql);
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_CALLER);
    KT_EXPECT_EQ(PvReport.P[0], 0x8);
    KT_EXPECT_EQ(PvReport.P[1], HIGH_LEVEL);
    KeLowerIrql(OldIrql);
    PvEnd(Previous);
    ExFreePoolWithTag(Paged, VERIFY_TAG);
}

KTEST(ex_pool_verify, bad_requests)
{
    PEXP_POOL_VIOLATION_HOOK Previous = PvBegin();

    /* Tag 0 and must-succeed pool are refused as NT refuses them. */
    KT_EXPECT_NULL(ExAllocatePoolWithTag(NonPagedPoolNx, 16, 0));
    KT_EXPECT_EQ(PvReport.Code, BAD_POOL_CALLER);
    KT_EXPECT_EQ(PvReport.P[0], 0x9B);
    KT_EXPECT_NULL(ExAllocatePoolWithTag(NonPagedPoolMustSucceed, 16, VERIFY_TAG));
    KT_EXPECT_EQ(PvReport.P[0], 0x9A);
    /* Raise-on-failure with no SEH yet: the unhandled-exception stop. */
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE,
                                   (SIZE_T)1 << 46, VERIFY_TAG));
    KT_EXPECT_EQ(PvReport.Code, KMODE_EXCEPTION_NOT_HANDLED);
    KT_EXPECT_EQ(PvReport.P[0], (ULONG_PTR)(ULONG)STATUS_INSUFFICIENT_RESOURCES);
    KT_EXPECT_EQ(PvReport.Count, 3);
    PvEnd(Previous);
}

KTEST(ex_pool_verify, special_pool_guard_page)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    ULONG OldTag = ExpQuerySpecialPoolTag();
    SIZE_T Pages = MiKernelPagesInUse();
    SYSTEM_POOLTAG Info;
    PUCHAR Block, Flagged;
    ULONG Tag = 0;

    ExpSetSpecialPoolTag(VERIFY_TAG);
    Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 40, VERIFY_TAG);
    Flagged = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_SPECIAL_POOL, 100, 'rehO');
    ExpSetSpecialPoolTag(OldTag);
    KT_ASSERT_NOT_NULL(Block);
    KT_ASSERT_NOT_NULL(Flagged);
    KT_EXPECT_EQ(((PEXP_POOL_HEADER)Block - 1)->Class, EXP_CLASS_SPECIAL);
    KT_EXPECT_EQ(((PEXP_POOL_HEADER)Flagged - 1)->Class, EXP_CLASS_SPECIAL);
    /* The block ends at its page's end (rounded to 16 bytes); the next
     * page is the guard. */
    KT_EXPECT_EQ(((ULONG_PTR)Block + 48) & (PAGE_SIZE - 1), 0);
    KT_EXPECT_TRUE(ExpIsSpecialPoolGuardAddress((ULONG_PTR)Block + 48, &Tag));
    KT_EXPECT_EQ(Tag, VERIFY_TAG);
    KT_EXPECT_FALSE(MiArchIsAddressReadable((ULONG_PTR)Block + 48));
    KT_EXPECT_FALSE(ExpIsSpecialPoolGuardAddress((ULONG_PTR)Block, &Tag));
    KT_EXPECT_TRUE(ExpIsSpecialPoolGuardAddress((ULONG_PTR)Flagged + 112, &Tag));
    KT_EXPECT_EQ(Tag, 'rehO');
    KT_EXPECT_TRUE(ExpQueryPoolTag(VERIFY_TAG, &Info));
    memset(Block, 0x77, 40);

    /* A write into the slack before the page end is caught on free. */
    Block[44] = 0;
    Previous = PvBegin();
    ExFreePoolWithTag(Block, VERIFY_TAG);
    PvEnd(Previous);
    KT_EXPECT_EQ(PvReport.Code, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION);
    KT_EXPECT_EQ(PvReport.P[0], (ULONG_PTR)Block);
    KT_EXPECT_EQ(PvReport.P[1], (ULONG_PTR)Block + 44);
    KT_EXPECT_EQ(PvReport.P[3], 0x24);
    Block[44] = EXP_GUARD_BYTE;

    Previous = PvBegin();
    ExFreePoolWithTag(Block, VERIFY_TAG);
    ExFreePoolWithTag(Flagged, 'rehO');
    PvEnd(Previous);
    KT_EXPECT_EQ(PvReport.Count, 0);
    KT_EXPECT_FALSE(ExpIsSpecialPoolGuardAddress((ULONG_PTR)Flagged + 112, &Tag));
    /* Each special block's page went back to the memory manager. */
    KT_EXPECT_LE(MiKernelPagesInUse(), Pages);
}

/*
 * pool_bugcheck_test.c - KTEST_BUGCHECK cases for pool misuse, each ending
 * in the stop code (and P1 subtype) NT uses: double free and wrong tag
 * (BAD_POOL_CALLER 7 / 0xA), a free of memory the pool never handed out
 * (BAD_POOL_CALLER 0x46), a page header overwritten by an overrun
 * (BAD_POOL_HEADER 7), an overrun into the checked guard bytes
 * (BAD_POOL_HEADER 0x21), an overrun into special pool's guard page
 * (PAGE_FAULT_BEYOND_END_OF_ALLOCATION), paged pool above APC_LEVEL
 * (IRQL_NOT_LESS_OR_EQUAL). docs/pool.md lists the checks.
 */
#include <ntddk.h>
#include <ex.h>
#include <ktest.h>
#include <ldr.h>

#define KT_TAG 'cbtK' /* "Ktbc" */

KTEST_BUGCHECK_P1(ex_pool_misuse, double_free, BAD_POOL_CALLER, 0x7)
{
    PVOID Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, KT_TAG);

    KT_ASSERT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, KT_TAG);
    ExFreePoolWithTag(Block, KT_TAG);
}

KTEST_BUGCHECK_P1(ex_pool_misuse, free_wrong_tag, BAD_POOL_CALLER, 0xA)
{
    PVOID Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, KT_TAG);

    KT_ASSERT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, 'gaTX');
}

KTEST_BUGCHECK_P1(ex_pool_misuse, free_never_allocated, BAD_POOL_CALLER, 0x46)
{
    static __attribute__((aligned(64))) UCHAR NotPool[128];

    ExFreePoolWithTag(&NotPool[64], KT_TAG);
}

/* Small blocks have no header; their page has one: an overrun off the end
 * of the page before lands in its check word. */
KTEST_BUGCHECK_P1(ex_pool_misuse, header_corrupted, BAD_POOL_HEADER, 0x7)
{
    PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, KT_TAG);

    KT_ASSERT_NOT_NULL(Block);
    *(volatile ULONG *)PAGE_ALIGN(Block) ^= 0xA5A5A5A5u;
    ExFreePoolWithTag(Block, KT_TAG);
}

/* Verification on (the checked build's default): guard bytes after the
 * block, checked on free. */
KTEST_BUGCHECK_P1(ex_pool_misuse, overrun_guard_bytes, BAD_POOL_HEADER, 0x21)
{
    PUCHAR Block;

    ExpSetPoolVerification(TRUE);
    Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 40, KT_TAG);
    KT_ASSERT_NOT_NULL(Block);
    ((volatile UCHAR *)Block)[40] = 0;
    ExFreePoolWithTag(Block, KT_TAG);
}

/* Special pool for the tag: the byte after the block is on a guard page. */
KTEST_BUGCHECK(ex_pool_misuse, overrun_special_pool, PAGE_FAULT_BEYOND_END_OF_ALLOCATION)
{
    PUCHAR Block;

    if (LdrFindModuleByAddress((ULONG_PTR)&ExpSetSpecialPoolTag) == NULL) {
        KT_SKIP("hosted build: a guard page fault is a host SIGSEGV, not a kernel trap");
    }
    ExpSetSpecialPoolTag(KT_TAG);
    Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 48, KT_TAG);
    KT_ASSERT_NOT_NULL(Block);
    ((volatile UCHAR *)Block)[48] = 0;
    ExFreePoolWithTag(Block, KT_TAG);
}

KTEST_BUGCHECK_P1(ex_pool_misuse, paged_alloc_at_dispatch, IRQL_NOT_LESS_OR_EQUAL, 0)
{
    KIRQL OldIrql;
    PVOID Block;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Block = ExAllocatePool2(POOL_FLAG_PAGED, 64, KT_TAG);
    KeLowerIrql(OldIrql);
    if (Block != NULL) {
        ExFreePoolWithTag(Block, KT_TAG);
    }
}

KTEST_BUGCHECK(ex_pool_misuse, paged_free_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static PVOID KtPagedBlock;
    KIRQL OldIrql;

    KtPagedBlock = ExAllocatePool2(POOL_FLAG_PAGED, 64, KT_TAG);
    KT_ASSERT_NOT_NULL(KtPagedBlock);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    ExFreePoolWithTag(KtPagedBlock, KT_TAG);
    KeLowerIrql(OldIrql);
}

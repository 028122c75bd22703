/*
 * lookaside_test.c - ktest cases for driver lookaside lists: the WDK
 * inline allocate/free routines over NPAGED_LOOKASIDE_LIST,
 * PAGED_LOOKASIDE_LIST and LOOKASIDE_LIST_EX, their counters, the depth
 * limit, custom allocate/free routines, and pool tags back at their
 * baseline after the lists are deleted.
 */
#include "poolp.h"
#include <ktest.h>

#define LOOK_TAG 'kooL' /* "Look" */

static SYSTEM_POOLTAG LtQueryTag(ULONG Tag)
{
    SYSTEM_POOLTAG Info;

    if (!ExpQueryPoolTag(Tag, &Info)) {
        memset(&Info, 0, sizeof(Info));
    }
    return Info;
}

KTEST(ex_lookaside, npaged_list_caches_blocks)
{
    static NPAGED_LOOKASIDE_LIST List;
    SYSTEM_POOLTAG Before = LtQueryTag(LOOK_TAG), After;
    PVOID Blocks[10];

    KT_EXPECT_EQ((ULONG_PTR)&List & 63, 0);
    ExInitializeNPagedLookasideList(&List, NULL, NULL, POOL_NX_ALLOCATION, 200, LOOK_TAG, 0);
    KT_EXPECT_EQ(List.L.Size, 200);
    KT_EXPECT_EQ(List.L.Tag, LOOK_TAG);
    KT_EXPECT_EQ(List.L.Type, NonPagedPoolNx);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        Blocks[i] = ExAllocateFromNPagedLookasideList(&List);
        KT_ASSERT_NOT_NULL(Blocks[i]);
        memset(Blocks[i], (int)i, 200);
    }
    KT_EXPECT_EQ(List.L.TotalAllocates, 10);
    KT_EXPECT_EQ(List.L.AllocateMisses, 10);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        ExFreeToNPagedLookasideList(&List, Blocks[i]);
    }
    KT_EXPECT_EQ(ExQueryDepthSList(&List.L.ListHead), 10);
    KT_EXPECT_EQ(List.L.FreeMisses, 0);
    /* Served from the list now: the most recently freed first. */
    KT_EXPECT_EQ(ExAllocateFromNPagedLookasideList(&List), Blocks[9]);
    KT_EXPECT_EQ(List.L.AllocateMisses, 10);
    ExFreeToNPagedLookasideList(&List, Blocks[9]);
    ExDeleteNPagedLookasideList(&List);
    After = LtQueryTag(LOOK_TAG);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs, 10);
    KT_EXPECT_EQ(After.NonPagedFrees - Before.NonPagedFrees, 10);
}

KTEST(ex_lookaside, depth_limit_frees_to_pool)
{
    static NPAGED_LOOKASIDE_LIST List;
    static PVOID Blocks[EX_MAXIMUM_LOOKASIDE_DEPTH_BASE + 8];
    SYSTEM_POOLTAG Before = LtQueryTag(LOOK_TAG), After;

    ExInitializeNPagedLookasideList(&List, NULL, NULL, 0, 32, LOOK_TAG, 0);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        Blocks[i] = ExAllocateFromNPagedLookasideList(&List);
        KT_ASSERT_NOT_NULL(Blocks[i]);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        ExFreeToNPagedLookasideList(&List, Blocks[i]);
    }
    KT_EXPECT_EQ(ExQueryDepthSList(&List.L.ListHead), List.L.Depth);
    KT_EXPECT_EQ(List.L.FreeMisses, RTL_NUMBER_OF(Blocks) - List.L.Depth);
    ExDeleteNPagedLookasideList(&List);
    After = LtQueryTag(LOOK_TAG);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
}

static ULONG LtAllocations, LtFrees;

static PVOID NTAPI LtAllocate(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    LtAllocations++;
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static VOID NTAPI LtFree(PVOID Buffer)
{
    LtFrees++;
    ExFreePoolWithTag(Buffer, LOOK_TAG);
}

KTEST(ex_lookaside, paged_list_with_custom_routines)
{
    static PAGED_LOOKASIDE_LIST List;
    SYSTEM_POOLTAG Before = LtQueryTag(LOOK_TAG), After;
    PVOID A, B;

    LtAllocations = LtFrees = 0;
    ExInitializePagedLookasideList(&List, LtAllocate, LtFree, 0, 1, LOOK_TAG, 0);
    /* Blocks must at least hold the list link. */
    KT_EXPECT_GE(List.L.Size, sizeof(SLIST_ENTRY));
    A = ExAllocateFromPagedLookasideList(&List);
    B = ExAllocateFromPagedLookasideList(&List);
    KT_ASSERT_NOT_NULL(A);
    KT_ASSERT_NOT_NULL(B);
    KT_EXPECT_EQ(LtAllocations, 2);
    ExFreeToPagedLookasideList(&List, A);
    ExFreeToPagedLookasideList(&List, B);
    KT_EXPECT_EQ(LtFrees, 0);
    KT_EXPECT_EQ(ExAllocateFromPagedLookasideList(&List), B);
    KT_EXPECT_EQ(LtAllocations, 2);
    ExFreeToPagedLookasideList(&List, B);
    ExDeletePagedLookasideList(&List);
    KT_EXPECT_EQ(LtFrees, 2);
    After = LtQueryTag(LOOK_TAG);
    KT_EXPECT_EQ(After.PagedUsed, Before.PagedUsed);
    KT_EXPECT_EQ(After.PagedAllocs - Before.PagedAllocs, 2);
}

static PLOOKASIDE_LIST_EX LtSeenList;

static PVOID NTAPI LtAllocateEx(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                PLOOKASIDE_LIST_EX Lookaside)
{
    LtSeenList = Lookaside;
    LtAllocations++;
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static VOID NTAPI LtFreeEx(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside)
{
    LtSeenList = Lookaside;
    LtFrees++;
    ExFreePoolWithTag(Buffer, LOOK_TAG);
}

KTEST(ex_lookaside, list_ex)
{
    static LOOKASIDE_LIST_EX List;
    SYSTEM_POOLTAG Before = LtQueryTag(LOOK_TAG), After;
    PUCHAR Blocks[4];

    KT_EXPECT_STATUS(ExInitializeLookasideListEx(&List, NULL, NULL, NonPagedPoolNx,
                                                 EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL |
                                                     EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE,
                                                 64, LOOK_TAG, 0),
                     STATUS_INVALID_PARAMETER);
    KT_EXPECT_STATUS(
        ExInitializeLookasideListEx(&List, NULL, NULL, NonPagedPoolNx, 0x80, 64, LOOK_TAG, 0),
        STATUS_INVALID_PARAMETER);
    LtAllocations = LtFrees = 0;
    KT_ASSERT_SUCCESS(ExInitializeLookasideListEx(&List, LtAllocateEx, LtFreeEx, NonPagedPoolNx, 0,
                                                  300, LOOK_TAG, 0));
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        Blocks[i] = ExAllocateFromLookasideListEx(&List);
        KT_ASSERT_NOT_NULL(Blocks[i]);
        memset(Blocks[i], 0xE0 + (int)i, 300);
    }
    KT_EXPECT_EQ(LtSeenList, &List);
    KT_EXPECT_EQ(LtAllocations, 4);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        ExFreeToLookasideListEx(&List, Blocks[i]);
    }
    KT_EXPECT_EQ(List.L.TotalFrees, 4);
    ExFlushLookasideListEx(&List);
    KT_EXPECT_EQ(LtFrees, 4);
    KT_EXPECT_EQ(ExQueryDepthSList(&List.L.ListHead), 0);
    /* Still usable after a flush. */
    Blocks[0] = ExAllocateFromLookasideListEx(&List);
    KT_ASSERT_NOT_NULL(Blocks[0]);
    ExFreeToLookasideListEx(&List, Blocks[0]);
    ExDeleteLookasideListEx(&List);
    KT_EXPECT_EQ(LtFrees, 5);
    After = LtQueryTag(LOOK_TAG);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);

    /* Default routines. */
    KT_ASSERT_SUCCESS(
        ExInitializeLookasideListEx(&List, NULL, NULL, PagedPool, 0, 5000, LOOK_TAG, 0));
    Blocks[0] = ExAllocateFromLookasideListEx(&List);
    KT_ASSERT_NOT_NULL(Blocks[0]);
    KT_EXPECT_EQ((ULONG_PTR)Blocks[0] & (PAGE_SIZE - 1), 0);
    ExFreeToLookasideListEx(&List, Blocks[0]);
    ExDeleteLookasideListEx(&List);
    After = LtQueryTag(LOOK_TAG);
    KT_EXPECT_EQ(After.PagedUsed, Before.PagedUsed);
}

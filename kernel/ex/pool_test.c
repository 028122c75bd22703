/*
 * pool_test.c - ktest cases for the executive pool's normal operation:
 * every size class, zeroing, alignment (16 bytes, cache lines, pages),
 * pool types and kinds, ExAllocatePool2 flag rules, large blocks, per-tag
 * accounting back at its baseline after storms that verify block contents,
 * and the interlocked lists underneath.
 */
#include "poolp.h"
#include <ktest.h>

#define TEST_TAG  'tloP' /* "Polt" */
#define STORM_TAG 'mrtS' /* "Strm" */

static SYSTEM_POOLTAG PtQueryTag(ULONG Tag)
{
    SYSTEM_POOLTAG Info;

    if (!ExpQueryPoolTag(Tag, &Info)) {
        memset(&Info, 0, sizeof(Info));
        Info.TagUlong = Tag;
    }
    return Info;
}

static BOOLEAN PtAllBytes(const UCHAR *Block, SIZE_T Size, UCHAR Value)
{
    for (SIZE_T i = 0; i < Size; i++) {
        if (Block[i] != Value) {
            return FALSE;
        }
    }
    return TRUE;
}

/* A cheap deterministic generator for the storms. */
static ULONG PtNext(PULONG Seed)
{
    *Seed = *Seed * 1103515245u + 12345u;
    return *Seed >> 8;
}

/* The largest request class Class serves (a wide block gives up its
 * header and, guarded, at least EXP_GUARD_MIN bytes). */
static SIZE_T PtLargestRequest(ULONG Class)
{
    SIZE_T Extra = ExpPoolVerify ? EXP_HEADER_SIZE + EXP_GUARD_MIN : 0;

    /* 0: the class serves no request (too small for the extras). */
    return ExpClassInfo[Class].Size > Extra ? ExpClassInfo[Class].Size - Extra : 0;
}

KTEST(ex_pool, class_table_invariants)
{
    for (ULONG Class = 0; Class < EXP_CLASS_COUNT; Class++) {
        const EXP_CLASS_INFO *Info = &ExpClassInfo[Class];
        ULONG Align = Info->Size % 64 == 0 ? 64 : 16;

        KT_EXPECT_EQ(Info->Size % 16, 0);
        KT_EXPECT_EQ(Info->First % Align, 0);
        /* Header and entries fit before the first block; the blocks fit
         * in the page, and one more would not. */
        KT_EXPECT_GE(Info->First, EXP_PAGE_HEADER + 2 * Info->Count);
        KT_EXPECT_LE(Info->First + Info->Count * Info->Size, PAGE_SIZE);
        KT_EXPECT_GT(ALIGN_UP_BY(EXP_PAGE_HEADER + 2 * (Info->Count + 1), Align) +
                         (Info->Count + 1) * Info->Size,
                     PAGE_SIZE);
        KT_EXPECT_GE(Info->Batch, 1);
        KT_EXPECT_LE(Info->Batch, 255);
        KT_EXPECT_LE(Info->GrowPages * Info->Count, Info->Batch);
        if (Class > 0) {
            KT_EXPECT_GT(Info->Size, ExpClassInfo[Class - 1].Size);
        }
        /* The reciprocal divides every offset in the page exactly. */
        for (ULONG Offset = Info->First; Offset < PAGE_SIZE; Offset += 16) {
            if (ExpBlockIndex(Info, Offset) != (Offset - Info->First) / Info->Size) {
                KT_EXPECT_EQ(ExpBlockIndex(Info, Offset), (Offset - Info->First) / Info->Size);
            }
        }
    }
    /* The size tables give the smallest class that holds the request
     * (with 64-byte alignment for the second). */
    for (SIZE_T Size = 1; Size <= EXP_SMALL_MAX; Size++) {
        ULONG Class = ExpSizeClass[(Size + 15) >> 4];
        ULONG Aligned = ExpCacheAlignedSizeClass[(Size + 15) >> 4];

        KT_ASSERT_TRUE(Class < EXP_CLASS_COUNT);
        KT_EXPECT_GE(ExpClassInfo[Class].Size, Size);
        if (Class > 0) {
            KT_EXPECT_LT(ExpClassInfo[Class - 1].Size, Size);
        }
        if (Aligned != EXP_CLASS_NONE) {
            KT_EXPECT_GE(ExpClassInfo[Aligned].Size, Size);
            KT_EXPECT_EQ(ExpClassInfo[Aligned].Size % 64, 0);
        } else {
            KT_EXPECT_GT(Size, 4032);
        }
    }
}

KTEST(ex_pool, every_size_class)
{
    SYSTEM_POOLTAG Before = PtQueryTag(TEST_TAG), After;

    for (ULONG Class = 0; Class < EXP_CLASS_COUNT; Class++) {
        /* The largest and smallest request each class serves. */
        SIZE_T Largest = PtLargestRequest(Class);
        SIZE_T Smallest = 1;
        SIZE_T Sizes[2];

        for (ULONG Below = Class; Below-- > 0;) {
            if (PtLargestRequest(Below) != 0) {
                Smallest = PtLargestRequest(Below) + 1;
                break;
            }
        }
        Sizes[0] = Smallest;
        Sizes[1] = Largest;

        if (Largest == 0 || Smallest > Largest) {
            continue;
        }
        for (ULONG i = 0; i < 2; i++) {
            PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, Sizes[i], TEST_TAG);
            EXP_BLOCK_INFO Info;

            KT_ASSERT_NOT_NULL(Block);
            KT_ASSERT_TRUE(ExpQuerySmallBlock(Block, &Info));
            KT_EXPECT_EQ((ULONG_PTR)Block & 15, 0);
            KT_EXPECT_EQ(Info.Class, Class);
            KT_EXPECT_EQ(Info.Tag, TEST_TAG);
            KT_EXPECT_EQ(Info.Pool, EXP_POOL_NX);
            KT_EXPECT_EQ(Info.Wide, ExpPoolVerify);
            /* A block never crosses a page. */
            KT_EXPECT_EQ(PAGE_ALIGN(Block), PAGE_ALIGN(Block + Sizes[i] - 1));
            KT_EXPECT_TRUE(PtAllBytes(Block, Sizes[i], 0));
            KT_EXPECT_GE(ExQueryPoolBlockSize(Block, NULL), Sizes[i]);
            memset(Block, 0x5A, Sizes[i]);
            ExFreePoolWithTag(Block, TEST_TAG);
        }
    }
    After = PtQueryTag(TEST_TAG);
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs,
                 After.NonPagedFrees - Before.NonPagedFrees);
    KT_EXPECT_GE(After.NonPagedAllocs - Before.NonPagedAllocs, 2 * EXP_CLASS_COUNT - 4);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
}

/* Issue 4's memory target: at most 1.25 bytes of pool pages per byte
 * requested for 16..256-byte blocks (page header, entries and rounding
 * included; pages the lookasides already held only lower the figure). */
KTEST(ex_pool, small_block_overhead)
{
    enum { Blocks = 2048 };
    static const SIZE_T Sizes[] = { 16, 32, 48, 64, 128, 256 };
    PVOID *Held = ExAllocatePool2(POOL_FLAG_NON_PAGED, Blocks * sizeof(PVOID), TEST_TAG);

    KT_ASSERT_NOT_NULL(Held);
    if (ExpPoolVerify) {
        ExFreePoolWithTag(Held, TEST_TAG);
        KT_SKIP("verification adds a header and guard bytes to every block");
    }
    for (ULONG s = 0; s < RTL_NUMBER_OF(Sizes); s++) {
        SIZE_T Pages = ExpPoolPagesInUse();
        SIZE_T Reserved;

        for (ULONG i = 0; i < Blocks; i++) {
            Held[i] = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_UNINITIALIZED, Sizes[s], 'dhvO');
            KT_ASSERT_NOT_NULL(Held[i]);
        }
        Reserved = (ExpPoolPagesInUse() - Pages) * PAGE_SIZE;
        for (ULONG i = 0; i < Blocks; i++) {
            ExFreePoolWithTag(Held[i], 'dhvO');
        }
        /* One growth step may be carved beyond what the blocks need. */
        KT_EXPECT_LE(Reserved * 100,
                     125 * Blocks * Sizes[s] +
                         100 * ExpClassInfo[ExpSizeClass[Sizes[s] / 16]].GrowPages * PAGE_SIZE);
    }
    ExFreePoolWithTag(Held, TEST_TAG);
}

KTEST(ex_pool, zeroed_unless_uninitialized)
{
    for (SIZE_T Size = 24; Size <= 3000; Size = Size * 3 + 1) {
        PUCHAR Dirty =
            ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, Size, TEST_TAG);
        PUCHAR Clean;

        KT_ASSERT_NOT_NULL(Dirty);
        memset(Dirty, 0xCC, Size);
        ExFreePoolWithTag(Dirty, TEST_TAG);
        /* Usually the same block again (this processor's list is LIFO). */
        Clean = ExAllocatePool2(POOL_FLAG_NON_PAGED, Size, TEST_TAG);
        KT_ASSERT_NOT_NULL(Clean);
        KT_EXPECT_TRUE(PtAllBytes(Clean, Size, 0));
        ExFreePoolWithTag(Clean, TEST_TAG);

        Clean = ExAllocatePoolZero(NonPagedPoolNx, Size, TEST_TAG);
        KT_ASSERT_NOT_NULL(Clean);
        KT_EXPECT_TRUE(PtAllBytes(Clean, Size, 0));
        ExFreePool(Clean);
    }
}

KTEST(ex_pool, cache_aligned)
{
    SYSTEM_POOLTAG Before = PtQueryTag(TEST_TAG), After;
    PUCHAR Blocks[64];

    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        SIZE_T Size = 1 + (i * 97) % 3900;
        Blocks[i] =
            i % 2 ? ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED, Size, TEST_TAG)
                  : ExAllocatePoolWithTag(NonPagedPoolNxCacheAligned, Size, TEST_TAG);
        KT_ASSERT_NOT_NULL(Blocks[i]);
        KT_EXPECT_EQ((ULONG_PTR)Blocks[i] & (SYSTEM_CACHE_ALIGNMENT_SIZE - 1), 0);
        KT_EXPECT_GE(ExQueryPoolBlockSize(Blocks[i], NULL), Size);
        memset(Blocks[i], (int)i, Size);
    }
    for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
        KT_EXPECT_EQ(Blocks[i][0], (UCHAR)i);
        ExFreePoolWithTag(Blocks[i], TEST_TAG);
    }
    After = PtQueryTag(TEST_TAG);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs,
                 After.NonPagedFrees - Before.NonPagedFrees);
}

KTEST(ex_pool, large_blocks_are_whole_pages)
{
    static const SIZE_T Sizes[] = { PAGE_SIZE, PAGE_SIZE + 1, 3 * PAGE_SIZE + 5, 64 * 1024 };
    SIZE_T PagesBefore;

    /* Freed runs stay mapped in the big-page cache until it is flushed:
     * every count below is taken with it empty. */
    ExpFlushBigPageCache();
    PagesBefore = MiKernelPagesInUse();

    for (ULONG i = 0; i < RTL_NUMBER_OF(Sizes); i++) {
        PUCHAR Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, Sizes[i], TEST_TAG);
        BOOLEAN Quota = TRUE;

        KT_ASSERT_NOT_NULL(Block);
        KT_EXPECT_EQ((ULONG_PTR)Block & (PAGE_SIZE - 1), 0);
        KT_EXPECT_TRUE(PtAllBytes(Block, Sizes[i], 0));
        KT_EXPECT_GE(ExQueryPoolBlockSize(Block, &Quota), Sizes[i]);
        KT_EXPECT_FALSE(Quota);
        Block[0] = 1;
        Block[Sizes[i] - 1] = 2;
        ExFreePoolWithTag(Block, TEST_TAG);
    }
    /* Large blocks go back to the memory manager (the tracking table may
     * have grown once, and stays). */
    ExpFlushBigPageCache();
    KT_EXPECT_LE(MiKernelPagesInUse(), PagesBefore + 16);
    PagesBefore = MiKernelPagesInUse();
    for (ULONG i = 0; i < 10; i++) {
        PVOID Block = ExAllocatePool2(POOL_FLAG_PAGED, 5 * PAGE_SIZE, TEST_TAG);
        KT_ASSERT_NOT_NULL(Block);
        ExFreePoolWithTag(Block, TEST_TAG);
    }
    /* One run served all ten, from the cache after the first. */
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore + 6);
    KT_EXPECT_EQ(ExpFlushBigPageCache(), 5);
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore);
}

KTEST(ex_pool, pool_types_are_accounted_apart)
{
    const ULONG Tag = 'pyTP';
    SYSTEM_POOLTAG Before = PtQueryTag(Tag), During, After;
    PVOID Paged = ExAllocatePoolWithTag(PagedPool, 100, Tag);
    PVOID PagedBig = ExAllocatePool2(POOL_FLAG_PAGED, 2 * PAGE_SIZE, Tag);
    PVOID Nx = ExAllocatePoolWithTag(NonPagedPoolNx, 200, Tag);
    PVOID Exec = ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE, 300, Tag);

    KT_ASSERT_NOT_NULL(Paged);
    KT_ASSERT_NOT_NULL(PagedBig);
    KT_ASSERT_NOT_NULL(Nx);
    KT_ASSERT_NOT_NULL(Exec);
    During = PtQueryTag(Tag);
    /* A tag is charged the bytes each block holds for its caller (the
     * class size, whole pages), as ExQueryPoolBlockSize reports them. */
    KT_EXPECT_EQ(During.PagedAllocs - Before.PagedAllocs, 2);
    KT_EXPECT_EQ(During.PagedUsed - Before.PagedUsed,
                 ExQueryPoolBlockSize(Paged, NULL) + ExQueryPoolBlockSize(PagedBig, NULL));
    KT_EXPECT_GE(During.PagedUsed - Before.PagedUsed, 100 + 2 * PAGE_SIZE);
    KT_EXPECT_EQ(During.NonPagedAllocs - Before.NonPagedAllocs, 2);
    KT_EXPECT_EQ(During.NonPagedUsed - Before.NonPagedUsed,
                 ExQueryPoolBlockSize(Nx, NULL) + ExQueryPoolBlockSize(Exec, NULL));
    KT_EXPECT_GE(During.NonPagedUsed - Before.NonPagedUsed, 500);
    {
        EXP_BLOCK_INFO Info;
        KT_ASSERT_TRUE(ExpQuerySmallBlock(Exec, &Info));
        KT_EXPECT_EQ(Info.Pool, EXP_POOL_EXECUTE);
        KT_ASSERT_TRUE(ExpQuerySmallBlock(Nx, &Info));
        KT_EXPECT_EQ(Info.Pool, EXP_POOL_NX);
        KT_ASSERT_TRUE(ExpQuerySmallBlock(Paged, &Info));
        KT_EXPECT_EQ(Info.Pool, EXP_POOL_PAGED);
    }
    ExFreePoolWithTag(Paged, Tag);
    ExFreePoolWithTag(PagedBig, Tag);
    ExFreePoolWithTag(Nx, Tag);
    ExFreePoolWithTag(Exec, Tag);
    After = PtQueryTag(Tag);
    KT_EXPECT_EQ(After.PagedUsed, Before.PagedUsed);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
    KT_EXPECT_EQ(After.PagedFrees - Before.PagedFrees, 2);
    KT_EXPECT_EQ(After.NonPagedFrees - Before.NonPagedFrees, 2);
}

KTEST(ex_pool, executable_pool_runs_code)
{
    /* mov eax, 0x2A; ret */
    static const UCHAR Code[] = { 0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3 };
    PUCHAR Small = ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE, sizeof(Code), TEST_TAG);
    PUCHAR Large = ExAllocatePoolWithTag(NonPagedPool, 2 * PAGE_SIZE, TEST_TAG);
    ULONG (*Routine)(VOID);

    KT_ASSERT_NOT_NULL(Small);
    KT_ASSERT_NOT_NULL(Large);
    memcpy(Small, Code, sizeof(Code));
    memcpy(Large + PAGE_SIZE, Code, sizeof(Code));
    Routine = (ULONG(*)(VOID))(ULONG_PTR)Small;
    KT_EXPECT_EQ(Routine(), 0x2A);
    Routine = (ULONG(*)(VOID))(ULONG_PTR)(Large + PAGE_SIZE);
    KT_EXPECT_EQ(Routine(), 0x2A);
    ExFreePoolWithTag(Small, TEST_TAG);
    ExFreePoolWithTag(Large, TEST_TAG);
}

KTEST(ex_pool, allocate_pool2_flag_rules)
{
    PVOID Block;

    /* Tag 0, no pool type, two pool types, session pool, an unknown
     * required flag: NULL. */
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 0));
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_UNINITIALIZED, 16, TEST_TAG));
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 16, TEST_TAG));
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_SESSION, 16, TEST_TAG));
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x800, 16, TEST_TAG));
    /* Unknown optional flags are ignored. */
    Block = ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x4000000000000000ull, 16, TEST_TAG);
    KT_EXPECT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, TEST_TAG);
    /* Too large for the machine: NULL, not a crash. */
    KT_EXPECT_NULL(ExAllocatePool2(POOL_FLAG_NON_PAGED, (SIZE_T)1 << 46, TEST_TAG));
    /* Zero bytes still gives a block that can be freed. */
    Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 0, TEST_TAG);
    KT_EXPECT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, TEST_TAG);
}

KTEST(ex_pool, allocate_pool3_and_legacy_routines)
{
    POOL_EXTENDED_PARAMETER Parameter;
    SYSTEM_POOLTAG Before = PtQueryTag('enoN'), After;
    PVOID Block;

    memset(&Parameter, 0, sizeof(Parameter));
    Parameter.Type = PoolExtendedParameterPriority;
    Parameter.Priority = HighPoolPriority;
    Block = ExAllocatePool3(POOL_FLAG_NON_PAGED, 64, TEST_TAG, &Parameter, 1);
    KT_EXPECT_NOT_NULL(Block);
    ExFreePool2(Block, TEST_TAG, NULL, 0);
    Parameter.Type = PoolExtendedParameterSecurePool;
    KT_EXPECT_NULL(ExAllocatePool3(POOL_FLAG_NON_PAGED, 64, TEST_TAG, &Parameter, 1));

    /* ExAllocatePool charges 'None'. */
    Block = ExAllocatePool(NonPagedPoolNx, 48);
    KT_ASSERT_NOT_NULL(Block);
    {
        EXP_BLOCK_INFO Info;
        KT_ASSERT_TRUE(ExpQuerySmallBlock(Block, &Info));
        KT_EXPECT_EQ(Info.Tag, 'enoN');
    }
    After = PtQueryTag('enoN');
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs, 1);
    ExFreePool(Block);
    Block = ExAllocatePoolWithTagPriority(NonPagedPoolNx, 48, TEST_TAG, NormalPoolPriority);
    KT_EXPECT_NOT_NULL(Block);
    ExFreePoolWithTag(Block, TEST_TAG);
    Block = ExAllocatePoolQuotaZero(PagedPool, 48, TEST_TAG);
    KT_ASSERT_NOT_NULL(Block);
    {
        BOOLEAN Quota = FALSE;
        KT_EXPECT_GE(ExQueryPoolBlockSize(Block, &Quota), 48);
        KT_EXPECT_TRUE(Quota);
    }
    ExFreePoolWithTag(Block, TEST_TAG);
}

KTEST(ex_pool, multi_character_tags_reported)
{
    const ULONG Tag = 'lleH'; /* shows as "Hell" */
    PSYSTEM_POOLTAG_INFORMATION Info;
    ULONG Needed = 0, Found = 0;
    PVOID Block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 32, Tag);

    KT_ASSERT_NOT_NULL(Block);
    KT_EXPECT_STATUS(ExQueryPoolTagInformation(NULL, 0, &Needed), STATUS_INFO_LENGTH_MISMATCH);
    KT_EXPECT_GT(Needed, sizeof(SYSTEM_POOLTAG));
    Info = ExAllocatePool2(POOL_FLAG_NON_PAGED, Needed + 16 * sizeof(SYSTEM_POOLTAG), TEST_TAG);
    KT_ASSERT_NOT_NULL(Info);
    KT_EXPECT_SUCCESS(
        ExQueryPoolTagInformation(Info, Needed + 16 * sizeof(SYSTEM_POOLTAG), &Needed));
    for (ULONG i = 0; i < Info->Count; i++) {
        if (Info->TagInfo[i].TagUlong == Tag) {
            Found++;
            KT_EXPECT_EQ(memcmp(Info->TagInfo[i].Tag, "Hell", 4), 0);
            KT_EXPECT_GE(Info->TagInfo[i].NonPagedUsed, 32);
        }
    }
    KT_EXPECT_EQ(Found, 1);
    ExFreePoolWithTag(Info, TEST_TAG);
    ExFreePoolWithTag(Block, Tag);
}

/* Random sizes from 1 byte to 3 pages, each block filled with a pattern
 * derived from its slot and checked before it is freed; the tag's counters
 * must come back to where they were. */
KTEST(ex_pool, storm_verifies_contents_and_counters)
{
    enum { Slots = 256, Rounds = 6000 };
    static PUCHAR Blocks[Slots];
    static SIZE_T Sizes[Slots];
    SYSTEM_POOLTAG Before = PtQueryTag(STORM_TAG), After;
    SIZE_T PoolPages = ExpPoolPagesInUse();
    ULONG Seed = 12345, Allocations = 0;

    for (ULONG Round = 0; Round < Rounds; Round++) {
        ULONG Slot = PtNext(&Seed) % Slots;
        if (Blocks[Slot] != NULL) {
            UCHAR Expected = (UCHAR)(Slot * 7 + Sizes[Slot]);
            KT_EXPECT_TRUE(PtAllBytes(Blocks[Slot], Sizes[Slot], Expected));
            ExFreePoolWithTag(Blocks[Slot], STORM_TAG);
            Blocks[Slot] = NULL;
        } else {
            ULONG Pick = PtNext(&Seed);
            SIZE_T Size = (Pick & 7) == 0 ? 1 + Pick % (3 * PAGE_SIZE) : 1 + Pick % 512;
            POOL_FLAGS Flags = (Pick & 0x100) ? POOL_FLAG_PAGED : POOL_FLAG_NON_PAGED;
            Blocks[Slot] = ExAllocatePool2(Flags | POOL_FLAG_UNINITIALIZED, Size, STORM_TAG);
            KT_ASSERT_NOT_NULL(Blocks[Slot]);
            Sizes[Slot] = Size;
            memset(Blocks[Slot], (UCHAR)(Slot * 7 + Size), Size);
            Allocations++;
        }
    }
    for (ULONG Slot = 0; Slot < Slots; Slot++) {
        if (Blocks[Slot] != NULL) {
            UCHAR Expected = (UCHAR)(Slot * 7 + Sizes[Slot]);
            KT_EXPECT_TRUE(PtAllBytes(Blocks[Slot], Sizes[Slot], Expected));
            ExFreePoolWithTag(Blocks[Slot], STORM_TAG);
            Blocks[Slot] = NULL;
        }
    }
    After = PtQueryTag(STORM_TAG);
    KT_EXPECT_EQ((After.PagedAllocs - Before.PagedAllocs) +
                     (After.NonPagedAllocs - Before.NonPagedAllocs),
                 Allocations);
    KT_EXPECT_EQ(After.PagedAllocs - Before.PagedAllocs, After.PagedFrees - Before.PagedFrees);
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs,
                 After.NonPagedFrees - Before.NonPagedFrees);
    KT_EXPECT_EQ(After.PagedUsed, Before.PagedUsed);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
    /* Small-block pages are cached, bounded by what the storm held. */
    KT_EXPECT_LE(ExpPoolPagesInUse() - PoolPages, 256);
}

/* ---- SLISTs ------------------------------------------------------------ */

KTEST(ex_slist, push_pop_flush_depth)
{
    static SLIST_ENTRY Entries[5];
    SLIST_HEADER Head;
    PSLIST_ENTRY Entry;

    InitializeSListHead(&Head);
    KT_EXPECT_EQ(ExQueryDepthSList(&Head), 0);
    KT_EXPECT_NULL(InterlockedPopEntrySList(&Head));
    for (ULONG i = 0; i < 5; i++) {
        Entry = InterlockedPushEntrySList(&Head, &Entries[i]);
        KT_EXPECT_EQ(Entry, i == 0 ? NULL : &Entries[i - 1]);
    }
    KT_EXPECT_EQ(QueryDepthSList(&Head), 5);
    /* Last in, first out. */
    KT_EXPECT_EQ(InterlockedPopEntrySList(&Head), &Entries[4]);
    KT_EXPECT_EQ(InterlockedPopEntrySList(&Head), &Entries[3]);
    KT_EXPECT_EQ(ExQueryDepthSList(&Head), 3);
    Entry = InterlockedFlushSList(&Head);
    KT_EXPECT_EQ(Entry, &Entries[2]);
    KT_EXPECT_EQ(Entry->Next, &Entries[1]);
    KT_EXPECT_EQ(Entry->Next->Next, &Entries[0]);
    KT_EXPECT_NULL(Entry->Next->Next->Next);
    KT_EXPECT_EQ(ExQueryDepthSList(&Head), 0);
    KT_EXPECT_NULL(InterlockedPopEntrySList(&Head));
    KT_EXPECT_NULL(InterlockedFlushSList(&Head));
    /* The sequence number moves on every change (the ABA guard). */
    {
        ULONG64 Sequence = Head.HeaderX64.Sequence;
        InterlockedPushEntrySList(&Head, &Entries[0]);
        InterlockedPopEntrySList(&Head);
        KT_EXPECT_EQ(Head.HeaderX64.Sequence, Sequence + 2);
    }
}

KTEST(ex_slist, kernel_addresses_round_trip)
{
    /* Pool blocks live in the kernel's upper half on bare metal: the header
     * keeps the whole address. */
    PSLIST_ENTRY Entry = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(SLIST_ENTRY), TEST_TAG);
    SLIST_HEADER Head;

    KT_ASSERT_NOT_NULL(Entry);
    InitializeSListHead(&Head);
    InterlockedPushEntrySList(&Head, Entry);
    KT_EXPECT_EQ(InterlockedPopEntrySList(&Head), Entry);
    ExFreePoolWithTag(Entry, TEST_TAG);
}

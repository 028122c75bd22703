/*
 * poolbig_test.c - ktest cases for the cache of freed big-page runs
 * (poolbig.c): a freed run is handed out again, the bounds hold, a flush
 * gives the pages back, a reused run is zeroed as fresh pages are, a
 * double free of a cached run is still caught, executable and
 * non-executable (and paged) runs never mix, and an allocation the memory
 * manager cannot serve flushes the cache and succeeds. Each case starts
 * from an empty cache and leaves it empty.
 */
#include "poolp.h"
#include <ktest.h>
#include <ktestpages.h>
#include <ktestthreads.h>

#define BIG_TAG 'cgiB' /* "Bigc" */

/* The bucket of a ExAllocatePool2 pool type: EXP_HF_* flags. */
#define BIG_NX    0
#define BIG_EXEC  EXP_HF_EXECUTE
#define BIG_PAGED EXP_HF_PAGED

static const struct {
    POOL_FLAGS PoolFlags;
    UCHAR Flags;
} BigPools[EXP_POOLS] = {
    { POOL_FLAG_NON_PAGED, BIG_NX },
    { POOL_FLAG_NON_PAGED_EXECUTE, BIG_EXEC },
    { POOL_FLAG_PAGED, BIG_PAGED },
};

static PUCHAR BigAllocate(POOL_FLAGS Flags, SIZE_T Size)
{
    return ExAllocatePool2(Flags, Size, BIG_TAG);
}

static VOID BigFree(PVOID Block)
{
    ExFreePoolWithTag(Block, BIG_TAG);
}

static BOOLEAN BigAllBytes(const UCHAR *Bytes, SIZE_T Count, UCHAR Value)
{
    for (SIZE_T i = 0; i < Count; i++) {
        if (Bytes[i] != Value) {
            return FALSE;
        }
    }
    return TRUE;
}

KTEST(ex_pool_bigcache, freed_run_is_reused)
{
    SYSTEM_POOLTAG Before, During, After;
    PUCHAR Block, Again;

    ExpFlushBigPageCache();
    if (!ExpQueryPoolTag(BIG_TAG, &Before)) {
        memset(&Before, 0, sizeof(Before));
    }
    Block = BigAllocate(POOL_FLAG_NON_PAGED, 3 * PAGE_SIZE + 100);
    KT_ASSERT_NOT_NULL(Block);
    BigFree(Block);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 4), 1);
    KT_EXPECT_EQ(ExpBigPageCachePages(), 4);
    /* Cached, the run is no block: charged to no tag, of no size. */
    KT_ASSERT_TRUE(ExpQueryPoolTag(BIG_TAG, &After));
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
    KT_EXPECT_EQ(After.NonPagedFrees - Before.NonPagedFrees, 1);

    /* Another size of the same page count takes it. */
    Again = BigAllocate(POOL_FLAG_NON_PAGED, 4 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Again);
    KT_EXPECT_EQ((ULONG_PTR)Again, (ULONG_PTR)Block);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 4), 0);
    KT_EXPECT_EQ(ExpBigPageCachePages(), 0);
    KT_EXPECT_EQ(ExQueryPoolBlockSize(Again, NULL), 4 * PAGE_SIZE);
    KT_ASSERT_TRUE(ExpQueryPoolTag(BIG_TAG, &During));
    KT_EXPECT_EQ(During.NonPagedUsed - Before.NonPagedUsed, 4 * PAGE_SIZE);
    KT_EXPECT_EQ(During.NonPagedAllocs - Before.NonPagedAllocs, 2);
    BigFree(Again);
    KT_ASSERT_TRUE(ExpQueryPoolTag(BIG_TAG, &After));
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
    KT_EXPECT_EQ(After.NonPagedFrees - Before.NonPagedFrees, 2);
    KT_EXPECT_EQ(ExpFlushBigPageCache(), 4);
}

/* Every pool and page count offered more runs than its bucket takes, and
 * all of them together more pages than the cache may hold. */
KTEST(ex_pool_bigcache, bounds_hold)
{
    enum { Extra = 2 };
    PUCHAR Blocks[EXP_BIG_CACHE_MAX_DEPTH + Extra];
    SIZE_T Limit = ExpBigPageCacheLimit(), Offered = 0, Cached;
    ULONG Over = 0;

    KT_EXPECT_GT(Limit, 0);
    KT_EXPECT_LE(Limit, EXP_BIG_CACHE_MAX_PAGES);
    KT_EXPECT_LE(Limit, (SIZE_T)MiTotalPhysicalPageCount() / 32);
    ExpFlushBigPageCache();
    for (ULONG Pool = 0; Pool < EXP_POOLS; Pool++) {
        for (SIZE_T Pages = 1; Pages <= EXP_BIG_CACHE_MAX_RUN; Pages++) {
            ULONG Count = ExpBigCacheDepth(Pages) + Extra;

            KT_ASSERT_TRUE(Count <= RTL_NUMBER_OF(Blocks));
            for (ULONG i = 0; i < Count; i++) {
                Blocks[i] = BigAllocate(BigPools[Pool].PoolFlags, Pages * PAGE_SIZE);
                KT_ASSERT_NOT_NULL(Blocks[i]);
            }
            for (ULONG i = 0; i < Count; i++) {
                BigFree(Blocks[i]);
            }
            Offered += Count * Pages;
            Over += ExpBigPageCacheRuns(BigPools[Pool].Flags, Pages) > ExpBigCacheDepth(Pages);
            Over += ExpBigPageCachePages() > Limit;
        }
    }
    Cached = ExpBigPageCachePages();
    KT_EXPECT_EQ(Over, 0);
    KT_EXPECT_GT(Offered, Limit);
    KT_EXPECT_LE(Cached, Limit);
    /* Filled up: only a run too big for the room left was turned away. */
    KT_EXPECT_GT(Cached + EXP_BIG_CACHE_MAX_RUN, Limit);

    /* Runs longer than the largest bucket are never cached. */
    ExpFlushBigPageCache();
    Blocks[0] = BigAllocate(POOL_FLAG_NON_PAGED, (EXP_BIG_CACHE_MAX_RUN + 1) * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Blocks[0]);
    BigFree(Blocks[0]);
    KT_EXPECT_EQ(ExpBigPageCachePages(), 0);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, EXP_BIG_CACHE_MAX_RUN + 1), 0);
}

KTEST(ex_pool_bigcache, flush_returns_pages)
{
    PUCHAR Blocks[3];
    PFN_NUMBER Free = 0;

    /* Idle threads free dead threads' stacks at any time; and the first
     * runs may need page-table pages, which stay: warm up, then count. */
    if (KtCanRunThreads()) {
        KiSettleTerminatedThreads();
    }
    for (ULONG Round = 0; Round < 2; Round++) {
        ExpFlushBigPageCache();
        Free = MiFreePhysicalPageCount();
        for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
            Blocks[i] = BigAllocate(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 5 * PAGE_SIZE);
            KT_ASSERT_NOT_NULL(Blocks[i]);
            Blocks[i][5 * PAGE_SIZE - 1] = 1;
        }
        for (ULONG i = 0; i < RTL_NUMBER_OF(Blocks); i++) {
            BigFree(Blocks[i]);
        }
    }
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 5), 3);
    KT_EXPECT_EQ(ExpBigPageCachePages(), 15);
    /* The cached runs are still taken from the memory manager... */
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 15);
    /* ...until the flush. */
    KT_EXPECT_EQ(ExpFlushBigPageCache(), 15);
    KT_EXPECT_EQ(ExpBigPageCachePages(), 0);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 5), 0);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(ExpFlushBigPageCache(), 0);
}

/* A run that held another block comes back zeroed unless the caller said
 * POOL_FLAG_UNINITIALIZED; past the request it is clear either way, as in
 * fresh pages (or, under verification, the guard pattern). */
KTEST(ex_pool_bigcache, reused_run_is_zeroed)
{
    const SIZE_T Size = 2 * PAGE_SIZE + 300, Run = 3 * PAGE_SIZE;

    ExpFlushBigPageCache();
    for (ULONG Pool = 0; Pool < EXP_POOLS; Pool++) {
        POOL_FLAGS Flags = BigPools[Pool].PoolFlags;
        PUCHAR Block = BigAllocate(Flags, Size), Again;
        SIZE_T Usable;

        KT_ASSERT_NOT_NULL(Block);
        KT_EXPECT_TRUE(BigAllBytes(Block, Size, 0));
        Usable = ExQueryPoolBlockSize(Block, NULL);
        KT_EXPECT_EQ(Usable, ExpPoolVerify ? Size : Run);
        memset(Block, 0xCC, Usable);
        BigFree(Block);

        Again = BigAllocate(Flags, Size);
        KT_ASSERT_NOT_NULL(Again);
        KT_EXPECT_EQ((ULONG_PTR)Again, (ULONG_PTR)Block);
        KT_EXPECT_TRUE(BigAllBytes(Again, Size, 0));
        KT_EXPECT_TRUE(BigAllBytes(Again + Size, Run - Size, ExpPoolVerify ? EXP_GUARD_BYTE : 0));
        memset(Again, 0xCC, Usable);
        BigFree(Again);

        /* Uninitialized: the caller's bytes are the last owner's. */
        Again = BigAllocate(Flags | POOL_FLAG_UNINITIALIZED, Size);
        KT_ASSERT_NOT_NULL(Again);
        KT_EXPECT_EQ((ULONG_PTR)Again, (ULONG_PTR)Block);
        KT_EXPECT_TRUE(BigAllBytes(Again + Size, Run - Size, ExpPoolVerify ? EXP_GUARD_BYTE : 0));
        BigFree(Again);
    }
    ExpFlushBigPageCache();
}

typedef struct _BIG_REPORT {
    ULONG Count;
    ULONG Code;
    ULONG_PTR P[4];
} BIG_REPORT;

static BIG_REPORT BigReport;

static VOID BigHook(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4, ULONG Tag)
{
    UNREFERENCED_PARAMETER(Tag);
    BigReport.Count++;
    BigReport.Code = Code;
    BigReport.P[0] = P1;
    BigReport.P[1] = P2;
    BigReport.P[2] = P3;
    BigReport.P[3] = P4;
}

KTEST(ex_pool_bigcache, double_free_of_cached_run_is_caught)
{
    PEXP_POOL_VIOLATION_HOOK Previous;
    PUCHAR Block, First, Second;

    ExpFlushBigPageCache();
    Block = BigAllocate(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Block);
    BigFree(Block);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 2), 1);

    memset(&BigReport, 0, sizeof(BigReport));
    Previous = ExpSetPoolViolationHook(BigHook);
    BigFree(Block);
    ExFreePool(Block);
    ExpSetPoolViolationHook(Previous);
    KT_EXPECT_EQ(BigReport.Count, 2);
    KT_EXPECT_EQ(BigReport.Code, BAD_POOL_HEADER);
    KT_EXPECT_EQ(BigReport.P[0], 0x22);
    KT_EXPECT_EQ(BigReport.P[1], (ULONG_PTR)Block);
    /* Not cached twice: it is handed out once. */
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 2), 1);
    KT_EXPECT_EQ(ExpBigPageCachePages(), 2);
    First = BigAllocate(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE);
    Second = BigAllocate(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(First);
    KT_ASSERT_NOT_NULL(Second);
    KT_EXPECT_EQ((ULONG_PTR)First, (ULONG_PTR)Block);
    KT_EXPECT_NE((ULONG_PTR)Second, (ULONG_PTR)Block);
    BigFree(First);
    BigFree(Second);
    ExpFlushBigPageCache();
}

/* The same misuse to the end: the stop screen NT shows for a free of a
 * page-aligned address the pool does not track. */
KTEST_BUGCHECK_P1(ex_pool_misuse, double_free_cached_run, BAD_POOL_HEADER, 0x22)
{
    PUCHAR Block = BigAllocate(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE);

    KT_ASSERT_NOT_NULL(Block);
    BigFree(Block);
    KT_ASSERT_EQ(ExpBigPageCacheRuns(BIG_NX, 2), 1);
    BigFree(Block);
}

/* mov eax, 0x2A; ret */
static const UCHAR BigCode[] = { 0xB8, 0x2A, 0x00, 0x00, 0x00, 0xC3 };

static ULONG BigRun(PUCHAR Block)
{
    ULONG (*Routine)(VOID) = (ULONG(*)(VOID))(ULONG_PTR)Block;

    memcpy(Block, BigCode, sizeof(BigCode));
    return Routine();
}

KTEST(ex_pool_bigcache, executable_and_nx_never_mix)
{
    PUCHAR Exec, Nx, Paged, Again;

    ExpFlushBigPageCache();
    Exec = BigAllocate(POOL_FLAG_NON_PAGED_EXECUTE, 2 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Exec);
    KT_EXPECT_EQ(BigRun(Exec + PAGE_SIZE), 0x2A);
    BigFree(Exec);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_EXEC, 2), 1);

    /* The executable run stays out of no-execute and paged requests. */
    Nx = BigAllocate(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE);
    Paged = BigAllocate(POOL_FLAG_PAGED, 2 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Nx);
    KT_ASSERT_NOT_NULL(Paged);
    KT_EXPECT_NE((ULONG_PTR)Nx, (ULONG_PTR)Exec);
    KT_EXPECT_NE((ULONG_PTR)Paged, (ULONG_PTR)Exec);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_EXEC, 2), 1);

    /* An executable request gets it back, still executable. */
    Again = BigAllocate(POOL_FLAG_NON_PAGED_EXECUTE, 2 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Again);
    KT_EXPECT_EQ((ULONG_PTR)Again, (ULONG_PTR)Exec);
    KT_EXPECT_TRUE(BigAllBytes(Again, 2 * PAGE_SIZE, 0));
    KT_EXPECT_EQ(BigRun(Again), 0x2A);

    /* And the other way round: no-execute and paged runs stay out of
     * executable requests (and out of each other's). */
    BigFree(Nx);
    BigFree(Paged);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 2), 1);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_PAGED, 2), 1);
    Exec = BigAllocate(POOL_FLAG_NON_PAGED_EXECUTE, 2 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Exec);
    KT_EXPECT_NE((ULONG_PTR)Exec, (ULONG_PTR)Nx);
    KT_EXPECT_NE((ULONG_PTR)Exec, (ULONG_PTR)Paged);
    KT_EXPECT_EQ(BigRun(Exec), 0x2A);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_NX, 2), 1);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_PAGED, 2), 1);
    Nx = BigAllocate(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE);
    KT_ASSERT_NOT_NULL(Nx);
    KT_EXPECT_NE((ULONG_PTR)Nx, (ULONG_PTR)Paged);
    KT_EXPECT_EQ(ExpBigPageCacheRuns(BIG_PAGED, 2), 1);
    BigFree(Nx);
    BigFree(Exec);
    BigFree(Again);
    /* Flushed, executable runs go back to the memory manager no-execute
     * (mm's own tests check what it hands out). */
    ExpFlushBigPageCache();
}

/* Empties the cache, then leaves one freed run of 8 pages in it. */
static BOOLEAN BigCacheOneRun(VOID)
{
    PUCHAR Held;

    ExpFlushBigPageCache();
    Held = BigAllocate(POOL_FLAG_NON_PAGED, 8 * PAGE_SIZE);
    if (Held == NULL) {
        return FALSE;
    }
    BigFree(Held);
    return ExpBigPageCachePages() == 8;
}

/* With no free page left, an allocation whose bucket is empty gets its
 * pages from the runs the cache held. */
KTEST(ex_pool_bigcache, low_memory_flushes_and_retries)
{
    PFN_NUMBER Head, Count, FreeDrained;
    PUCHAR Block;
    SIZE_T CachedAfter;

    KT_ASSERT_TRUE(BigCacheOneRun());

    Head = KtDrainFreePages(&Count, TRUE);
    FreeDrained = MiFreePhysicalPageCount();
    Block = BigAllocate(POOL_FLAG_NON_PAGED, 5 * PAGE_SIZE);
    CachedAfter = ExpBigPageCachePages();
    KtReturnPages(Head, Count);

    KT_EXPECT_EQ(FreeDrained, 0);
    KT_ASSERT_NOT_NULL(Block);
    KT_EXPECT_EQ(CachedAfter, 0);
    KT_EXPECT_TRUE(BigAllBytes(Block, 5 * PAGE_SIZE, 0));
    BigFree(Block);
    ExpFlushBigPageCache();
}

/* Small blocks grow their class from fresh pages (pool.c): with none left,
 * the cached runs are given back first. Blocks of the largest class are
 * taken until the pool has nothing left; by then the cache must be empty. */
KTEST(ex_pool_bigcache, small_block_growth_flushes_the_cache)
{
    PFN_NUMBER Head, Count;
    PUCHAR Chain = NULL;
    SIZE_T CachedAfter;
    ULONG Taken = 0;

    KT_ASSERT_TRUE(BigCacheOneRun());

    Head = KtDrainFreePages(&Count, TRUE);
    for (; Taken < 65536; Taken++) {
        PUCHAR Block =
            ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 4000, BIG_TAG);
        if (Block == NULL) {
            break;
        }
        *(PUCHAR *)Block = Chain;
        Chain = Block;
    }
    CachedAfter = ExpBigPageCachePages();
    while (Chain != NULL) {
        PUCHAR Next = *(PUCHAR *)Chain;
        BigFree(Chain);
        Chain = Next;
    }
    KtReturnPages(Head, Count);

    KT_EXPECT_GT(Taken, 0);
    KT_EXPECT_EQ(CachedAfter, 0);
    ExpFlushBigPageCache();
}

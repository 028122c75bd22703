/*
 * kpagesmp_test.c - ktest cases for kernel pages under concurrency: the
 * MMU and TLB invariants the pool (and everything else built on kernel
 * pages) relies on when several processors map and unmap at once.
 *
 * - Processors that map pages at the same moment into a 2 MiB region that
 *   has no page table yet must all keep their mappings (the page table is
 *   created once, not once per racing processor with the last write
 *   winning).
 * - MiFlushTlbRange must drop the range from every processor's TLB,
 *   including the one it runs on when the caller migrated there after
 *   unmapping on another processor.
 *
 * Hosted, the MMU is mmap based and there is no TLB: the cases run and
 * pass trivially there. Skipped with fewer than two processors.
 */
#include <ntddk.h>
#include <arch.h>
#include <ktest.h>
#include <ktestthreads.h>
#include <mm.h>

#define KP_LARGE_PAGES  512 /* pages one page table maps (2 MiB) */
#define KP_MAX_THREADS  8
#define KP_MAX_REGIONS  64
#define KP_SPIN_TIMEOUT 5000 /* ms */

static struct {
    ULONG_PTR Base; /* first region, 2 MiB aligned */
    ULONG Regions;
    ULONG Threads;
    volatile LONG Arrived;
    volatile LONG Generation;
    volatile LONG Failures;
    PFN_NUMBER Pfn[KP_MAX_REGIONS][KP_MAX_THREADS];
    BOOLEAN Mapped[KP_MAX_REGIONS][KP_MAX_THREADS];
} KpRace;

static ULONG_PTR KpRacePage(ULONG Region, ULONG Index)
{
    /* Spread over the region: no two threads share a page. */
    return KpRace.Base + ((ULONG_PTR)Region * KP_LARGE_PAGES + 1 + Index * 37) * PAGE_SIZE;
}

/* A spinning barrier: every thread leaves together, as close in time as
 * the processors allow. FALSE when a thread never came. */
static BOOLEAN KpBarrier(VOID)
{
    LONG Generation = __atomic_load_n(&KpRace.Generation, __ATOMIC_ACQUIRE);
    ULONG64 Deadline = KtNowMs() + KP_SPIN_TIMEOUT;

    if (__atomic_add_fetch(&KpRace.Arrived, 1, __ATOMIC_ACQ_REL) == (LONG)KpRace.Threads) {
        __atomic_store_n(&KpRace.Arrived, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&KpRace.Generation, Generation + 1, __ATOMIC_RELEASE);
        return TRUE;
    }
    while (__atomic_load_n(&KpRace.Generation, __ATOMIC_ACQUIRE) == Generation) {
        __builtin_ia32_pause();
        if (KtNowMs() > Deadline) {
            return FALSE;
        }
    }
    return TRUE;
}

static VOID NTAPI KpRaceWorker(PVOID Context)
{
    ULONG Index = (ULONG)(ULONG_PTR)Context;

    for (ULONG Region = 0; Region < KpRace.Regions; Region++) {
        ULONG_PTR Va = KpRacePage(Region, Index);
        PFN_NUMBER Pfn;

        if (!KpBarrier()) {
            __atomic_fetch_add(&KpRace.Failures, 1, __ATOMIC_RELAXED);
            break;
        }
        if (!MiAllocatePhysicalPage(&Pfn, TRUE)) {
            __atomic_fetch_add(&KpRace.Failures, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (!NT_SUCCESS(MiArchMapPage(Va, Pfn, PAGE_READWRITE))) {
            MiFreePhysicalPage(Pfn);
            __atomic_fetch_add(&KpRace.Failures, 1, __ATOMIC_RELAXED);
            continue;
        }
        KpRace.Pfn[Region][Index] = Pfn;
        KpRace.Mapped[Region][Index] = TRUE;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(mm_kpages_smp, racing_maps_into_a_new_page_table_all_stay)
{
    PKTHREAD Threads[KP_MAX_THREADS];
    ULONG Processors = KeQueryActiveProcessorCount(NULL);
    ULONG Started = 0, Lost = 0;
    SIZE_T Reserved;
    ULONG_PTR Va;

    KT_REQUIRE_THREADS();
    if (Processors < 2) {
        KT_SKIP("needs two processors");
    }
    memset(&KpRace, 0, sizeof(KpRace));
    KpRace.Threads = Processors < KP_MAX_THREADS ? Processors : KP_MAX_THREADS;
    /* Fresh 2 MiB regions: a reservation this large lands past the VA in
     * use so far, where no page table exists yet (page tables are never
     * freed, so a rerun may find some: those regions just cannot race). */
    KpRace.Regions = KP_MAX_REGIONS;
    while (KpRace.Regions > 4 &&
           (SIZE_T)(KpRace.Regions + 1) * KP_LARGE_PAGES > MiSystemVaPages / 2) {
        KpRace.Regions /= 2;
    }
    Reserved = (SIZE_T)(KpRace.Regions + 1) * KP_LARGE_PAGES;
    Va = MiReserveSystemPtes(Reserved);
    KT_ASSERT_NE(Va, 0);
    KpRace.Base = ALIGN_UP_BY(Va, (ULONG_PTR)KP_LARGE_PAGES * PAGE_SIZE);

    for (ULONG i = 0; i < KpRace.Threads; i++) {
        Threads[Started] = KtStartThread(KpRaceWorker, (PVOID)(ULONG_PTR)i, KI_DEFAULT_PRIORITY,
                                         (KAFFINITY)1 << i);
        if (Threads[Started] != NULL) {
            Started++;
        }
    }
    for (ULONG i = 0; i < Started; i++) {
        KT_EXPECT_SUCCESS(KtJoin(Threads[i]));
    }

    /* Every page a thread mapped must still be mapped, to its own page. */
    for (ULONG Region = 0; Region < KpRace.Regions; Region++) {
        for (ULONG i = 0; i < KpRace.Threads; i++) {
            ULONG64 Physical;
            PFN_NUMBER Pfn;

            if (!KpRace.Mapped[Region][i]) {
                continue;
            }
            if (!MiArchTranslate(KpRacePage(Region, i), &Physical) ||
                Physical != (ULONG64)KpRace.Pfn[Region][i] << PAGE_SHIFT) {
                Lost++;
                /* Its page table was replaced: the page is unreachable. */
                MiFreePhysicalPage(KpRace.Pfn[Region][i]);
                continue;
            }
            KT_EXPECT_TRUE(MiArchUnmapPage(KpRacePage(Region, i), &Pfn));
            KT_EXPECT_EQ(Pfn, KpRace.Pfn[Region][i]);
            MiFreePhysicalPage(Pfn);
        }
    }
    MiFlushTlbRange(KpRace.Base, (SIZE_T)KpRace.Regions * KP_LARGE_PAGES);
    MiReleaseSystemPtes(Va, Reserved);
    KT_EXPECT_EQ(Started, KpRace.Threads);
    KT_EXPECT_EQ(KpRace.Failures, 0);
    KT_EXPECT_EQ(Lost, 0u);
}

/* The interleaving of MiUnmapAndFreePages when its thread is preempted
 * between the unmap (which invalidates only the processor it runs on) and
 * the flush, and resumes on another processor, one that still caches the
 * old translation. */
KTEST(mm_kpages_smp, flush_reaches_the_callers_processor_after_migration)
{
    ULONG Processors = KeQueryActiveProcessorCount(NULL);
    ULONG Stale = 0;

    KT_REQUIRE_THREADS();
    if (Processors < 2) {
        KT_SKIP("needs two processors");
    }
    for (ULONG Round = 0; Round < 8; Round++) {
        PFN_NUMBER OldPfn, NewPfn, Pfn;
        PHYSICAL_ADDRESS Pa;
        volatile ULONG64 *Page;
        ULONG64 Seen;

        /* Processor 0 touches the page: its TLB caches the translation. */
        KeSetSystemAffinityThreadEx(1);
        Page = MiAllocateKernelPages(1);
        KT_ASSERT_NOT_NULL((PVOID)Page);
        *Page = 0x1111111111111111ull;
        KT_EXPECT_EQ(*Page, 0x1111111111111111ull);

        /* Unmapped on processor 1 (only its TLB entry is invalidated)... */
        KeSetSystemAffinityThreadEx(2);
        KT_ASSERT_TRUE(MiArchUnmapPage((ULONG_PTR)Page, &OldPfn));
        /* ...and flushed after moving back to processor 0. */
        KeSetSystemAffinityThreadEx(1);
        MiFlushTlbRange((ULONG_PTR)Page, 1);

        /* Reuse the VA for another page: processor 0 must see it. */
        KT_ASSERT_TRUE(MiAllocatePhysicalPage(&NewPfn, TRUE));
        Pa.QuadPart = (LONGLONG)NewPfn << PAGE_SHIFT;
        *(volatile ULONG64 *)MmGetVirtualForPhysical(Pa) = 0x2222222222222222ull;
        KT_ASSERT_SUCCESS(MiArchMapPage((ULONG_PTR)Page, NewPfn, PAGE_READWRITE));
        Seen = *Page;
        if (Seen != 0x2222222222222222ull) {
            Stale++;
        }

        KT_EXPECT_TRUE(MiArchUnmapPage((ULONG_PTR)Page, &Pfn));
        KT_EXPECT_EQ(Pfn, NewPfn);
        MiFlushTlbRange((ULONG_PTR)Page, 1);
        MiFreePhysicalPage(NewPfn);
        MiFreePhysicalPage(OldPfn);
        /* The page and its guard page of VA. */
        MiReleaseSystemPtes((ULONG_PTR)Page, 2);
    }
    KeRevertToUserAffinityThreadEx(0);
    KT_EXPECT_EQ(Stale, 0u);
}

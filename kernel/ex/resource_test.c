/*
 * resource_test.c - ktest cases for ERESOURCE: shared/exclusive
 * compatibility, Wait FALSE, recursion rules, conversion, waiter counts, no
 * starvation of a waiting exclusive request by a stream of shared
 * acquirers, the starve-exclusive variant, mutual exclusion under
 * contention, owner boost, and release by a non-owner.
 */
#include <ktestthreads.h>
#include "exsyncp.h"

typedef struct _KT_RES_PROBE {
    PERESOURCE Resource;
    BOOLEAN Exclusive;
    BOOLEAN Result;
} KT_RES_PROBE;

static VOID NTAPI KtTryAcquire(PVOID Context)
{
    KT_RES_PROBE *Probe = Context;

    KeEnterCriticalRegion();
    Probe->Result = Probe->Exclusive ? ExAcquireResourceExclusiveLite(Probe->Resource, FALSE)
                                     : ExAcquireResourceSharedLite(Probe->Resource, FALSE);
    if (Probe->Result) {
        ExReleaseResourceLite(Probe->Resource);
    }
    KeLeaveCriticalRegion();
}

/* Whether another thread could acquire Resource right now (Wait FALSE). */
static BOOLEAN KtOtherCanAcquire(PERESOURCE Resource, BOOLEAN Exclusive)
{
    KT_RES_PROBE Probe = { Resource, Exclusive, FALSE };
    PKTHREAD Thread = KtStartThread(KtTryAcquire, &Probe, 8, 0);
    if (Thread == NULL) {
        return FALSE;
    }
    KtJoin(Thread);
    return Probe.Result;
}

KTEST(ex_resource, layout)
{
    KT_EXPECT_EQ(sizeof(ERESOURCE), 0x68);
    KT_EXPECT_EQ(sizeof(OWNER_ENTRY), 0x10);
}

KTEST(ex_resource, compatibility_and_recursion)
{
    static ERESOURCE Resource;

    KT_REQUIRE_THREADS();
    KT_ASSERT_SUCCESS(ExInitializeResourceLite(&Resource));
    KeEnterCriticalRegion();

    /* Shared: others may share, not take it exclusively. */
    KT_EXPECT_TRUE(ExAcquireResourceSharedLite(&Resource, TRUE));
    KT_EXPECT_EQ(ExIsResourceAcquiredSharedLite(&Resource), 1);
    KT_EXPECT_FALSE(ExIsResourceAcquiredExclusiveLite(&Resource));
    KT_EXPECT_TRUE(KtOtherCanAcquire(&Resource, FALSE));
    KT_EXPECT_FALSE(KtOtherCanAcquire(&Resource, TRUE));
    KT_EXPECT_TRUE(ExAcquireResourceSharedLite(&Resource, FALSE)); /* recursion */
    KT_EXPECT_EQ(ExIsResourceAcquiredSharedLite(&Resource), 2);
    ExReleaseResourceLite(&Resource);
    ExReleaseResourceLite(&Resource);
    KT_EXPECT_EQ(ExIsResourceAcquiredSharedLite(&Resource), 0);
    KT_EXPECT_EQ(Resource.ActiveEntries, 0);

    /* Exclusive: nobody else; the owner may re-acquire either way. */
    KT_EXPECT_TRUE(ExAcquireResourceExclusiveLite(&Resource, TRUE));
    KT_EXPECT_TRUE(ExIsResourceAcquiredExclusiveLite(&Resource));
    KT_EXPECT_FALSE(KtOtherCanAcquire(&Resource, FALSE));
    KT_EXPECT_FALSE(KtOtherCanAcquire(&Resource, TRUE));
    KT_EXPECT_TRUE(ExAcquireResourceExclusiveLite(&Resource, FALSE));
    KT_EXPECT_TRUE(ExAcquireResourceSharedLite(&Resource, FALSE));
    KT_EXPECT_EQ(ExIsResourceAcquiredSharedLite(&Resource), 3);
    ExReleaseResourceLite(&Resource);
    ExReleaseResourceLite(&Resource);
    KT_EXPECT_TRUE(ExIsResourceAcquiredExclusiveLite(&Resource));

    /* Conversion: the owner keeps its access, now shared. */
    ExConvertExclusiveToSharedLite(&Resource);
    KT_EXPECT_FALSE(ExIsResourceAcquiredExclusiveLite(&Resource));
    KT_EXPECT_EQ(ExIsResourceAcquiredSharedLite(&Resource), 1);
    KT_EXPECT_TRUE(KtOtherCanAcquire(&Resource, FALSE));
    KT_EXPECT_FALSE(KtOtherCanAcquire(&Resource, TRUE));
    ExReleaseResourceLite(&Resource);
    KT_EXPECT_TRUE(KtOtherCanAcquire(&Resource, TRUE));

    KeLeaveCriticalRegion();
    KT_EXPECT_SUCCESS(ExDeleteResourceLite(&Resource));
}

/* ---- no starvation ---- */

typedef struct _KT_RES_STARVE {
    ERESOURCE Resource;
    volatile BOOLEAN Stop;
    volatile BOOLEAN ExclusiveDone;
    volatile LONG SharedAcquires;
    volatile LONG SharedAfterExclusiveQueued;
    volatile BOOLEAN ExclusiveQueued;
    volatile LONG StarveGranted;
} KT_RES_STARVE;

static VOID NTAPI KtSharedStream(PVOID Context)
{
    KT_RES_STARVE *S = Context;

    while (!S->Stop) {
        KeEnterCriticalRegion();
        ExAcquireResourceSharedLite(&S->Resource, TRUE);
        __atomic_add_fetch(&S->SharedAcquires, 1, __ATOMIC_RELAXED);
        KtSpinMs(1); /* overlapping holds: the resource is never free */
        ExReleaseResourceLite(&S->Resource);
        KeLeaveCriticalRegion();
    }
}

static VOID NTAPI KtExclusiveRequest(PVOID Context)
{
    KT_RES_STARVE *S = Context;

    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(&S->Resource, TRUE);
    S->ExclusiveDone = TRUE;
    ExReleaseResourceLite(&S->Resource);
    KeLeaveCriticalRegion();
}

KTEST(ex_resource, exclusive_not_starved_by_shared_stream)
{
    static KT_RES_STARVE S;
    PKTHREAD Readers[3];
    PKTHREAD Writer;
    ULONG64 Deadline;

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&S, sizeof(S));
    ExInitializeResourceLite(&S.Resource);
    KeEnterCriticalRegion();
    /* Hold it shared ourselves so the stream always overlaps. */
    ExAcquireResourceSharedLite(&S.Resource, TRUE);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Readers); i++) {
        Readers[i] = KtStartThread(KtSharedStream, &S, 8, 0);
        KT_ASSERT_NOT_NULL(Readers[i]);
    }
    KtSleepMs(5);
    Writer = KtStartThread(KtExclusiveRequest, &S, 8, 0);
    KT_ASSERT_NOT_NULL(Writer);
    for (ULONG i = 0; i < 1000 && ExGetExclusiveWaiterCount(&S.Resource) == 0; i++) {
        KtSleepMs(1);
    }
    KT_EXPECT_EQ(ExGetExclusiveWaiterCount(&S.Resource), 1);

    /* With an exclusive waiter, a new shared request fails (Wait FALSE),
     * the starve-exclusive form and a recursive owner still get in. */
    KT_EXPECT_FALSE(KtOtherCanAcquire(&S.Resource, FALSE));
    KT_EXPECT_TRUE(ExAcquireResourceSharedLite(&S.Resource, FALSE));
    ExReleaseResourceLite(&S.Resource);
    ExReleaseResourceLite(&S.Resource); /* our own hold: readers drain */
    KeLeaveCriticalRegion();

    Deadline = KtNowMs() + 5000;
    while (!S.ExclusiveDone && KtNowMs() < Deadline) {
        KtSleepMs(1);
    }
    KT_EXPECT_TRUE(S.ExclusiveDone);
    S.Stop = TRUE;
    KtJoin(Writer);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Readers); i++) {
        KtJoin(Readers[i]);
    }
    KT_EXPECT_GT(S.SharedAcquires, 0);
    KT_EXPECT_EQ(ExGetExclusiveWaiterCount(&S.Resource), 0);
    KT_EXPECT_EQ(ExGetSharedWaiterCount(&S.Resource), 0);
    KT_EXPECT_EQ(S.Resource.ActiveEntries, 0);
    ExDeleteResourceLite(&S.Resource);
}

static VOID NTAPI KtStarveExclusive(PVOID Context)
{
    KT_RES_STARVE *S = Context;

    KeEnterCriticalRegion();
    if (ExAcquireSharedStarveExclusive(&S->Resource, FALSE)) {
        S->StarveGranted = 1;
        ExReleaseResourceLite(&S->Resource);
    }
    if (ExAcquireSharedWaitForExclusive(&S->Resource, FALSE)) {
        S->StarveGranted |= 2;
        ExReleaseResourceLite(&S->Resource);
    }
    KeLeaveCriticalRegion();
}

KTEST(ex_resource, starve_exclusive_variant)
{
    static KT_RES_STARVE S;
    PKTHREAD Writer, Other;

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&S, sizeof(S));
    ExInitializeResourceLite(&S.Resource);
    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(&S.Resource, TRUE);
    Writer = KtStartThread(KtExclusiveRequest, &S, 8, 0);
    KT_ASSERT_NOT_NULL(Writer);
    for (ULONG i = 0; i < 1000 && ExGetExclusiveWaiterCount(&S.Resource) == 0; i++) {
        KtSleepMs(1);
    }
    Other = KtStartThread(KtStarveExclusive, &S, 8, 0);
    KT_ASSERT_NOT_NULL(Other);
    KtJoin(Other);
    KT_EXPECT_EQ(S.StarveGranted, 1); /* starve: yes; wait-for-exclusive: no */
    ExReleaseResourceLite(&S.Resource);
    KeLeaveCriticalRegion();
    KtJoin(Writer);
    KT_EXPECT_TRUE(S.ExclusiveDone);
    ExDeleteResourceLite(&S.Resource);
}

/* ---- shared waiters queued behind an exclusive owner, then converted ---- */

static VOID NTAPI KtSharedWaiter(PVOID Context)
{
    KT_RES_STARVE *S = Context;

    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(&S->Resource, TRUE);
    __atomic_add_fetch(&S->SharedAcquires, 1, __ATOMIC_SEQ_CST);
    while (!S->Stop) {
        KtSleepMs(1);
    }
    ExReleaseResourceLite(&S->Resource);
    KeLeaveCriticalRegion();
}

KTEST(ex_resource, convert_wakes_shared_waiters)
{
    static KT_RES_STARVE S;
    PKTHREAD Waiters[3];

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&S, sizeof(S));
    ExInitializeResourceLite(&S.Resource);
    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(&S.Resource, TRUE);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Waiters); i++) {
        Waiters[i] = KtStartThread(KtSharedWaiter, &S, 8, 0);
        KT_ASSERT_NOT_NULL(Waiters[i]);
    }
    for (ULONG i = 0; i < 1000 && ExGetSharedWaiterCount(&S.Resource) < 3; i++) {
        KtSleepMs(1);
    }
    KT_EXPECT_EQ(ExGetSharedWaiterCount(&S.Resource), 3);
    KT_EXPECT_EQ(S.SharedAcquires, 0);
    ExConvertExclusiveToSharedLite(&S.Resource);
    for (ULONG i = 0; i < 1000 && S.SharedAcquires < 3; i++) {
        KtSleepMs(1);
    }
    KT_EXPECT_EQ(S.SharedAcquires, 3);
    KT_EXPECT_EQ(ExGetSharedWaiterCount(&S.Resource), 0);
    KT_EXPECT_EQ(S.Resource.ActiveEntries, 4);
    ExReleaseResourceLite(&S.Resource);
    KeLeaveCriticalRegion();
    S.Stop = TRUE;
    for (ULONG i = 0; i < RTL_NUMBER_OF(Waiters); i++) {
        KtJoin(Waiters[i]);
    }
    KT_EXPECT_EQ(S.Resource.ActiveEntries, 0);
    ExDeleteResourceLite(&S.Resource);
}

/* ---- contention: exclusive writers and shared readers ---- */

#define KT_RES_THREADS    4
#define KT_RES_ITERATIONS 1500

typedef struct _KT_RES_COUNT {
    ERESOURCE Resource;
    volatile ULONG64 Counter;
    volatile LONG Writers;
    volatile LONG Readers;
    volatile LONG Violations;
} KT_RES_COUNT;

static VOID NTAPI KtResourceWorker(PVOID Context)
{
    KT_RES_COUNT *C = Context;

    for (ULONG i = 0; i < KT_RES_ITERATIONS; i++) {
        KeEnterCriticalRegion();
        if (i % 4 != 0) {
            ExAcquireResourceExclusiveLite(&C->Resource, TRUE);
            if (__atomic_add_fetch(&C->Writers, 1, __ATOMIC_SEQ_CST) != 1 || C->Readers != 0) {
                __atomic_add_fetch(&C->Violations, 1, __ATOMIC_RELAXED);
            }
            ULONG64 Value = C->Counter;
            C->Counter = Value + 1;
            __atomic_sub_fetch(&C->Writers, 1, __ATOMIC_SEQ_CST);
        } else {
            ExAcquireResourceSharedLite(&C->Resource, TRUE);
            __atomic_add_fetch(&C->Readers, 1, __ATOMIC_SEQ_CST);
            if (C->Writers != 0) {
                __atomic_add_fetch(&C->Violations, 1, __ATOMIC_RELAXED);
            }
            __atomic_sub_fetch(&C->Readers, 1, __ATOMIC_SEQ_CST);
        }
        ExReleaseResourceLite(&C->Resource);
        KeLeaveCriticalRegion();
    }
}

KTEST(ex_resource, mutual_exclusion_4_threads)
{
    static KT_RES_COUNT C;
    PKTHREAD Threads[KT_RES_THREADS];
    ULONG Writes = 0;

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&C, sizeof(C));
    ExInitializeResourceLite(&C.Resource);
    for (ULONG i = 0; i < KT_RES_THREADS; i++) {
        Threads[i] = KtStartThread(KtResourceWorker, &C, 8, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    for (ULONG i = 0; i < KT_RES_THREADS; i++) {
        KtJoin(Threads[i]);
    }
    for (ULONG i = 0; i < KT_RES_ITERATIONS; i++) {
        Writes += (i % 4 != 0);
    }
    KT_EXPECT_EQ(C.Counter, (ULONG64)Writes * KT_RES_THREADS);
    KT_EXPECT_EQ(C.Violations, 0);
    KT_EXPECT_EQ(C.Resource.ActiveEntries, 0);
    KT_EXPECT_EQ(ExGetExclusiveWaiterCount(&C.Resource), 0);
    KT_EXPECT_EQ(ExGetSharedWaiterCount(&C.Resource), 0);
    ExDeleteResourceLite(&C.Resource);
}

/* ---- owner boost: every shared owner raised to the waiter ---- */

typedef struct _KT_RES_BOOST {
    ERESOURCE Resource;
    KEVENT Owned;
    KEVENT Release;
    volatile LONG OwnersIn;
    volatile KPRIORITY Seen[2];
} KT_RES_BOOST;

static VOID NTAPI KtResBoostOwner(PVOID Context)
{
    KT_RES_BOOST *B = Context;
    LONG Index;

    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(&B->Resource, TRUE);
    Index = __atomic_add_fetch(&B->OwnersIn, 1, __ATOMIC_SEQ_CST) - 1;
    if (Index == 1) {
        KeSetEvent(&B->Owned, 0, FALSE);
    }
    KeWaitForSingleObject(&B->Release, Executive, KernelMode, FALSE, NULL);
    B->Seen[Index] = KeQueryPriorityThread(KeGetCurrentThread());
    ExReleaseResourceLite(&B->Resource);
    KeLeaveCriticalRegion();
}

static VOID NTAPI KtResBoostWaiter(PVOID Context)
{
    KT_RES_BOOST *B = Context;

    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(&B->Resource, TRUE);
    ExReleaseResourceLite(&B->Resource);
    KeLeaveCriticalRegion();
}

KTEST(ex_resource, owners_boosted_to_waiter)
{
    static KT_RES_BOOST B;
    PKTHREAD Owners[2], Waiter;

    KT_REQUIRE_THREADS();
    RtlZeroMemory(&B, sizeof(B));
    ExInitializeResourceLite(&B.Resource);
    KeInitializeEvent(&B.Owned, NotificationEvent, FALSE);
    KeInitializeEvent(&B.Release, NotificationEvent, FALSE);
    Owners[0] = KtStartThread(KtResBoostOwner, &B, 4, 0);
    Owners[1] = KtStartThread(KtResBoostOwner, &B, 5, 0);
    KT_ASSERT_NOT_NULL(Owners[0]);
    KT_ASSERT_NOT_NULL(Owners[1]);
    KeWaitForSingleObject(&B.Owned, Executive, KernelMode, FALSE, NULL);
    Waiter = KtStartThread(KtResBoostWaiter, &B, 13, 0);
    KT_ASSERT_NOT_NULL(Waiter);
    for (ULONG i = 0; i < 1000 && ExGetExclusiveWaiterCount(&B.Resource) == 0; i++) {
        KtSleepMs(1);
    }
    KtSleepMs(5);
    KT_EXPECT_GE(KeQueryPriorityThread(Owners[0]), 13);
    KT_EXPECT_GE(KeQueryPriorityThread(Owners[1]), 13);
    KeSetEvent(&B.Release, 0, FALSE);
    KtJoin(Owners[0]);
    KtJoin(Owners[1]);
    KtJoin(Waiter);
    KT_EXPECT_GE(B.Seen[0], 13);
    KT_EXPECT_GE(B.Seen[1], 13);
    KT_EXPECT_EQ(B.Resource.ActiveEntries, 0);
    ExDeleteResourceLite(&B.Resource);
}

KTEST_BUGCHECK(ex_resource_misuse, release_not_owned, RESOURCE_NOT_OWNED)
{
    static ERESOURCE Resource;

    ExInitializeResourceLite(&Resource);
    ExReleaseResourceLite(&Resource);
}

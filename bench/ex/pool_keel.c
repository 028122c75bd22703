/*
 * pool_keel.c - keel_bench_ex's side of pool_bench.h: the executive pool
 * of the hosted kernel (the real kernel/ex code, tag accounting always on)
 * and teams of kernel system threads. The bodies (pool_bodies.c) run in
 * the harness's system thread, bound to processor 0, with every host
 * processor online (bench/harness/kernel_main.c).
 *
 * Only the pool's public interface is used - ExAllocatePool2 with
 * POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, ExFreePoolWithTag - so
 * the figures are what a driver sees, whatever the pool does inside.
 */
#include <ntddk.h>
#include <ex.h>
#include <ke.h>
#include <mm.h>

#include "keelbench.h"
#include "pool_bench.h"

#define POOL_BENCH_TAG 'hcnB' /* "Bnch" */

__attribute__((noinline)) void *PoolBenchAllocate(size_t Size)
{
    return ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, Size, POOL_BENCH_TAG);
}

__attribute__((noinline)) void PoolBenchFree(void *Block)
{
    ExFreePoolWithTag(Block, POOL_BENCH_TAG);
}

/*
 * What the pool holds from the memory manager: physical pages taken from
 * the free list (total - free), in bytes. That is every page the pool
 * reserves for the blocks - the small-block segments (ExpPoolPagesInUse),
 * the whole pages of blocks over a page, the big-page table's growth and
 * the page tables mapping them - and it changes only when the pool takes
 * or returns pages. Freed runs the big-page cache keeps mapped count as
 * reserved (their pages are off the free list, as a peer's cached spans
 * count in its statistic); pool_overhead allocates past them before its
 * first growth point, so they add nothing to the measured steps and are
 * not flushed. Nothing else allocates pages while the measure runs:
 * the benchmark thread is the only one at work (pages being zeroed by the
 * zero-page thread count as free either way).
 */
int PoolBenchReservedBytes(uint64_t *Bytes)
{
    *Bytes = (uint64_t)(MiTotalPhysicalPageCount() - MiFreePhysicalPageCount()) * PAGE_SIZE;
    return 0;
}

/* The workers of earlier benchmarks have terminated, but the idle loop
 * frees their stacks later; those pages would show as the pool giving
 * memory back. */
void PoolBenchSettle(void)
{
    KiSettleTerminatedThreads();
}

/* ---- Teams of system threads ----------------------------------------- */

/*
 * Rounds are released through two notification events used in turn: round
 * r opens Go[r % 2] after resetting the other one, which no worker can be
 * waiting for (each has finished round r - 1, which was Go[(r + 1) % 2],
 * and now waits for Go[r % 2]). Woken, the workers meet at a spinning
 * start barrier (PoolBenchStartTogether), then each stamps its start;
 * the last one to finish stamps the end and sets Done (a synchronization
 * event).
 */
struct POOL_BENCH_TEAM {
    POOL_BENCH_WORK *Work;
    void *Context;
    unsigned Count;
    unsigned Round;
    BOOLEAN Stop;
    volatile LONG Remaining;
    volatile LONG Misplaced;
    volatile unsigned Arrived; /* the round's start barrier */
    uint64_t EndNs;
    uint64_t StartNs[POOL_BENCH_MAX_WORKERS];
    KEVENT Go[2];
    KEVENT Done;
    HANDLE Handles[POOL_BENCH_MAX_WORKERS];
    PVOID Threads[POOL_BENCH_MAX_WORKERS];
};

static POOL_BENCH_TEAM PoolBenchTeam;
static KWAIT_BLOCK PoolBenchWaitBlocks[POOL_BENCH_MAX_WORKERS];

/* pool_keel_host.c: pins processor Processor's host thread (the caller's)
 * to host processor Processor (zero on success), and gives it back the
 * affinity it had. */
int PoolKeelPinHostThread(unsigned Processor);
void PoolKeelReleaseHostThread(unsigned Processor);

static VOID PoolBenchFinish(POOL_BENCH_TEAM *Team)
{
    if (__atomic_sub_fetch(&Team->Remaining, 1, __ATOMIC_ACQ_REL) == 0) {
        Team->EndNs = KeelBenchNowNs();
        KeSetEvent(&Team->Done, IO_NO_INCREMENT, FALSE);
    }
}

static VOID NTAPI PoolBenchWorker(PVOID Context)
{
    POOL_BENCH_TEAM *Team = &PoolBenchTeam;
    unsigned Index = (unsigned)(ULONG_PTR)Context;
    BOOLEAN Pinned;

    KeSetSystemAffinityThreadEx((KAFFINITY)1 << Index);
    Pinned = KeGetCurrentProcessorNumber() == Index && PoolKeelPinHostThread(Index) == 0;
    if (!Pinned) {
        __atomic_add_fetch(&Team->Misplaced, 1, __ATOMIC_RELAXED);
    }
    Team->Threads[Index] = KeGetCurrentThread();
    PoolBenchFinish(Team);
    for (unsigned Round = 0;; Round++) {
        KeWaitForSingleObject(&Team->Go[Round % 2], Executive, KernelMode, FALSE, NULL);
        if (Team->Stop) {
            break;
        }
        PoolBenchStartTogether(&Team->Arrived, Team->Count);
        Team->StartNs[Index] = KeelBenchNowNs();
        Team->Work(Team->Context, Index);
        PoolBenchFinish(Team);
    }
    if (Pinned) {
        PoolKeelReleaseHostThread(Index);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Opens the next round (or, with Stop set, the way out). */
static VOID PoolBenchRelease(POOL_BENCH_TEAM *Team)
{
    unsigned Round = Team->Round++;

    KeResetEvent(&Team->Go[(Round + 1) % 2]);
    KeSetEvent(&Team->Go[Round % 2], IO_NO_INCREMENT, FALSE);
}

static VOID PoolBenchJoin(POOL_BENCH_TEAM *Team, unsigned Started)
{
    Team->Stop = TRUE;
    PoolBenchRelease(Team);
    /* The handles hold a reference: the thread objects outlive the wait. */
    KeWaitForMultipleObjects(Started, Team->Threads, WaitAll, Executive, KernelMode, FALSE, NULL,
                             PoolBenchWaitBlocks);
    for (unsigned i = 0; i < Started; i++) {
        ZwClose(Team->Handles[i]);
    }
}

POOL_BENCH_TEAM *PoolBenchTeamStart(unsigned Count, POOL_BENCH_WORK *Work, void *Context)
{
    POOL_BENCH_TEAM *Team = &PoolBenchTeam;
    unsigned Started = 0;

    if (Count == 0 || Count > POOL_BENCH_MAX_WORKERS ||
        Count > KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS)) {
        return NULL;
    }
    RtlZeroMemory(Team, sizeof(*Team));
    Team->Work = Work;
    Team->Context = Context;
    Team->Count = Count;
    Team->Remaining = (LONG)Count;
    KeInitializeEvent(&Team->Go[0], NotificationEvent, FALSE);
    KeInitializeEvent(&Team->Go[1], NotificationEvent, FALSE);
    KeInitializeEvent(&Team->Done, SynchronizationEvent, FALSE);
    for (; Started < Count; Started++) {
        if (!NT_SUCCESS(PsCreateSystemThread(&Team->Handles[Started], THREAD_ALL_ACCESS, NULL, NULL,
                                             NULL, PoolBenchWorker, (PVOID)(ULONG_PTR)Started))) {
            break;
        }
    }
    if (Started < Count) {
        /* The ones started count down Remaining from Count: add the
         * missing ones so the start-up wait still ends. */
        if (__atomic_sub_fetch(&Team->Remaining, (LONG)(Count - Started), __ATOMIC_ACQ_REL) == 0) {
            KeSetEvent(&Team->Done, IO_NO_INCREMENT, FALSE);
        }
    }
    KeWaitForSingleObject(&Team->Done, Executive, KernelMode, FALSE, NULL);
    if (Started < Count || Team->Misplaced != 0) {
        if (Started > 0) {
            PoolBenchJoin(Team, Started);
        }
        return NULL;
    }
    return Team;
}

uint64_t PoolBenchTeamRound(POOL_BENCH_TEAM *Team)
{
    uint64_t StartNs = UINT64_MAX;

    Team->Remaining = (LONG)Team->Count;
    Team->Arrived = 0;
    PoolBenchRelease(Team);
    KeWaitForSingleObject(&Team->Done, Executive, KernelMode, FALSE, NULL);
    for (unsigned i = 0; i < Team->Count; i++) {
        StartNs = Team->StartNs[i] < StartNs ? Team->StartNs[i] : StartNs;
    }
    return Team->EndNs - StartNs;
}

void PoolBenchTeamStop(POOL_BENCH_TEAM *Team)
{
    PoolBenchJoin(Team, Team->Count);
}

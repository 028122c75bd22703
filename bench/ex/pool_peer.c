/*
 * pool_peer.c - the peers' side of pool_bench.h, shared by every
 * keel_bench_peer_<impl> binary: malloc/free (served by whichever allocator
 * the binary links - it replaces them for the whole process, as users
 * deploy jemalloc, mimalloc and tcmalloc), teams of pinned pthreads and the
 * main() hook that checks the allocator is the one
 * the binary is named after before anything is measured. The allocator's
 * own part is peer_<impl>.c (pool_peer.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keelbench.h"
#include "pool_bench.h"
#include "pool_peer.h"

__attribute__((noinline)) void *PoolBenchAllocate(size_t Size)
{
    return malloc(Size);
}

__attribute__((noinline)) void PoolBenchFree(void *Block)
{
    free(Block);
}

void PoolBenchSettle(void)
{
    PoolPeerSettle();
}

/* ---- Teams of pthreads ------------------------------------------------- */

/* Rounds: the caller bumps Generation and broadcasts Go; the woken workers
 * meet at a spinning start barrier (PoolBenchStartTogether), each stamps
 * its start, the last one to finish stamps the end and signals Done. */
struct POOL_BENCH_TEAM {
    POOL_BENCH_WORK *Work;
    void *Context;
    unsigned Count;
    unsigned Started;
    pthread_mutex_t Lock;
    pthread_cond_t Go;
    pthread_cond_t Done;
    unsigned Generation;
    int Stop;
    int Finished;
    int Misplaced;
    unsigned Remaining;
    volatile unsigned Arrived; /* the round's start barrier */
    uint64_t EndNs;
    uint64_t StartNs[POOL_BENCH_MAX_WORKERS];
    pthread_t Threads[POOL_BENCH_MAX_WORKERS];
};

static POOL_BENCH_TEAM PoolPeerTeam;

static void PoolPeerFinish(POOL_BENCH_TEAM *Team)
{
    if (__atomic_sub_fetch(&Team->Remaining, 1, __ATOMIC_ACQ_REL) == 0) {
        uint64_t Now = KeelBenchNowNs();
        pthread_mutex_lock(&Team->Lock);
        Team->EndNs = Now;
        Team->Finished = 1;
        pthread_cond_signal(&Team->Done);
        pthread_mutex_unlock(&Team->Lock);
    }
}

static void *PoolPeerWorker(void *Context)
{
    POOL_BENCH_TEAM *Team = &PoolPeerTeam;
    unsigned Index = (unsigned)(uintptr_t)Context;
    unsigned Seen;

    if (sched_getcpu() != (int)Index) {
        __atomic_add_fetch(&Team->Misplaced, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_lock(&Team->Lock);
    Seen = Team->Generation;
    pthread_mutex_unlock(&Team->Lock);
    PoolPeerFinish(Team);
    for (;;) {
        pthread_mutex_lock(&Team->Lock);
        while (Team->Generation == Seen && !Team->Stop) {
            pthread_cond_wait(&Team->Go, &Team->Lock);
        }
        Seen = Team->Generation;
        if (Team->Stop) {
            pthread_mutex_unlock(&Team->Lock);
            break;
        }
        pthread_mutex_unlock(&Team->Lock);
        PoolBenchStartTogether(&Team->Arrived, Team->Count);
        Team->StartNs[Index] = KeelBenchNowNs();
        Team->Work(Team->Context, Index);
        PoolPeerFinish(Team);
    }
    return NULL;
}

static void PoolPeerWaitDone(POOL_BENCH_TEAM *Team)
{
    pthread_mutex_lock(&Team->Lock);
    while (!Team->Finished) {
        pthread_cond_wait(&Team->Done, &Team->Lock);
    }
    Team->Finished = 0;
    pthread_mutex_unlock(&Team->Lock);
}

static void PoolPeerJoin(POOL_BENCH_TEAM *Team)
{
    pthread_mutex_lock(&Team->Lock);
    Team->Stop = 1;
    pthread_cond_broadcast(&Team->Go);
    pthread_mutex_unlock(&Team->Lock);
    for (unsigned i = 0; i < Team->Started; i++) {
        pthread_join(Team->Threads[i], NULL);
    }
    pthread_cond_destroy(&Team->Go);
    pthread_cond_destroy(&Team->Done);
    pthread_mutex_destroy(&Team->Lock);
}

POOL_BENCH_TEAM *PoolBenchTeamStart(unsigned Count, POOL_BENCH_WORK *Work, void *Context)
{
    POOL_BENCH_TEAM *Team = &PoolPeerTeam;
    pthread_attr_t Attributes;

    if (Count == 0 || Count > POOL_BENCH_MAX_WORKERS || (int)Count > KeelBenchProcessorCount()) {
        return NULL;
    }
    *Team = (POOL_BENCH_TEAM){ .Work = Work, .Context = Context, .Count = Count };
    pthread_mutex_init(&Team->Lock, NULL);
    pthread_cond_init(&Team->Go, NULL);
    pthread_cond_init(&Team->Done, NULL);
    Team->Remaining = Count;
    pthread_attr_init(&Attributes);
    for (; Team->Started < Count; Team->Started++) {
        cpu_set_t Set;
        CPU_ZERO(&Set);
        CPU_SET(Team->Started, &Set);
        /* Pinned from its first instruction, so it never runs elsewhere. */
        if (pthread_attr_setaffinity_np(&Attributes, sizeof(Set), &Set) != 0 ||
            pthread_create(&Team->Threads[Team->Started], &Attributes, PoolPeerWorker,
                           (void *)(uintptr_t)Team->Started) != 0) {
            break;
        }
    }
    pthread_attr_destroy(&Attributes);
    if (Team->Started < Count &&
        __atomic_sub_fetch(&Team->Remaining, Count - Team->Started, __ATOMIC_ACQ_REL) == 0) {
        pthread_mutex_lock(&Team->Lock);
        Team->Finished = 1;
        pthread_mutex_unlock(&Team->Lock);
    }
    PoolPeerWaitDone(Team);
    if (Team->Started < Count || Team->Misplaced != 0) {
        PoolPeerJoin(Team);
        return NULL;
    }
    return Team;
}

uint64_t PoolBenchTeamRound(POOL_BENCH_TEAM *Team)
{
    uint64_t StartNs = UINT64_MAX;

    __atomic_store_n(&Team->Remaining, Team->Count, __ATOMIC_RELAXED);
    __atomic_store_n(&Team->Arrived, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&Team->Lock);
    Team->Generation++;
    pthread_cond_broadcast(&Team->Go);
    pthread_mutex_unlock(&Team->Lock);
    PoolPeerWaitDone(Team);
    for (unsigned i = 0; i < Team->Count; i++) {
        StartNs = Team->StartNs[i] < StartNs ? Team->StartNs[i] : StartNs;
    }
    return Team->EndNs - StartNs;
}

void PoolBenchTeamStop(POOL_BENCH_TEAM *Team)
{
    PoolPeerJoin(Team);
}

/* ---- main() ------------------------------------------------------------ */

/* The process's malloc and free (what every caller, the C++ runtime and
 * Google Benchmark included, binds to) must both come from the shared
 * object the binary is named after: nothing preloaded in front of it. */
static int PoolPeerCheckBinding(char *Message, size_t Length)
{
    static const char *const Routines[] = { "malloc", "free" };

    for (unsigned i = 0; i < 2; i++) {
        Dl_info Info;
        void *Address = dlsym(RTLD_DEFAULT, Routines[i]);
        if (Address == NULL || dladdr(Address, &Info) == 0 || Info.dli_fname == NULL) {
            snprintf(Message, Length, "cannot find which object defines %s", Routines[i]);
            return 1;
        }
        if (strstr(Info.dli_fname, PoolPeerLibrary) == NULL) {
            snprintf(Message, Length, "%s comes from %s, not %s", Routines[i], Info.dli_fname,
                     PoolPeerLibrary);
            return 1;
        }
    }
    return 0;
}

/* Replaces the harness's default: the allocator is checked before the
 * benchmarks run (on the main thread, which floats as Keel's processor 0
 * does; only the workers of a team are pinned, on both sides). */
int KeelBenchMain(KEEL_BENCH_RUN_ALL *RunAll)
{
    char Message[256];

    if (PoolPeerCheckBinding(Message, sizeof(Message)) != 0 ||
        PoolPeerVerify(Message, sizeof(Message)) != 0) {
        fprintf(stderr, "FATAL: %s: malloc is not served by %s: %s\n", PoolPeerName, PoolPeerName,
                Message);
        return 2;
    }
    fprintf(stderr, "%s: %s\n", PoolPeerName, Message);
    return RunAll();
}

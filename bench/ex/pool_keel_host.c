/*
 * pool_keel_host.c - the host calls keel_bench_ex's workers make: while a
 * team runs, the host thread that is worker i's kernel processor is pinned
 * to the host processor of the same number, and released when the worker
 * ends. The hosted HAL leaves its processor threads to the host scheduler,
 * which may stack two of them on one host processor; a producer and a
 * consumer "on two processors" would then only meet at host time slices.
 * The peers' workers are pinned the same way (pthread_setaffinity_np), so
 * both sides measure processors that really run at once. Outside teams
 * the processors float, as the peers' main thread does. Kept apart from
 * the kernel headers.
 */
#define _GNU_SOURCE
#include <sched.h>

#include "pool_bench.h"

/* The affinity each processor's host thread had before it was pinned. */
static cpu_set_t PoolKeelSavedAffinity[POOL_BENCH_MAX_WORKERS];

int PoolKeelPinHostThread(unsigned Processor)
{
    cpu_set_t Set;

    if (Processor >= POOL_BENCH_MAX_WORKERS ||
        sched_getaffinity(0, sizeof(PoolKeelSavedAffinity[Processor]),
                          &PoolKeelSavedAffinity[Processor]) != 0) {
        return -1;
    }
    CPU_ZERO(&Set);
    CPU_SET(Processor, &Set);
    /* The calling host thread: the kernel processor this thread runs on. */
    return sched_setaffinity(0, sizeof(Set), &Set);
}

void PoolKeelReleaseHostThread(unsigned Processor)
{
    if (Processor < POOL_BENCH_MAX_WORKERS) {
        sched_setaffinity(0, sizeof(PoolKeelSavedAffinity[Processor]),
                          &PoolKeelSavedAffinity[Processor]);
    }
}

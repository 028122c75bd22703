/*
 * locked_pair.c - sched_locked_pair: one uncontended acquire and release
 * of a spin lock the way the dispatcher lock is taken (kisched.h: a locked
 * compare-exchange, then a release store), on a line no other processor
 * touches. It is what each of the four dispatcher-lock acquisitions of a
 * ping-pong round trip costs at least, measured in the same run as the
 * switch (benchreport.py puts four of them and the register swap beside
 * the switch target). Built into keel_bench_ke and keel_bench_peer_linux
 * alike: it uses no kernel.
 */
#include <stdint.h>

#include "keelbench.h"

KEEL_BENCHMARK(sched_locked_pair)
{
    /* Its own cache line, as the dispatcher lock sits on one. */
    static volatile uintptr_t Lock __attribute__((aligned(64)));
    uintptr_t Owner = (uintptr_t)&Lock | 1;
    int64_t Failed = 0;

    while (KeelBenchKeepRunning(State)) {
        uintptr_t Expected = 0;
        if (!__atomic_compare_exchange_n(&Lock, &Expected, Owner, 0, __ATOMIC_ACQUIRE,
                                         __ATOMIC_RELAXED)) {
            Failed++;
        }
        __atomic_store_n(&Lock, 0, __ATOMIC_RELEASE);
    }
    if (Failed != 0) {
        KeelBenchSkipWithError(State, "the lock was found held");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

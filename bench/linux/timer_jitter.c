/*
 * timer_jitter.c - sched_timer_jitter on the host Linux: clock_nanosleep
 * on CLOCK_MONOTONIC for 1 ms (relative), one per iteration; counters
 * late_mean_us / late_max_us are how far past 1 ms the thread was running
 * again. Mirrors bench/ke/timer_jitter.c. Linux's default timer slack
 * (50 us for a normal thread) is part of what it measures.
 */
#include "peer_threads.h"

#include "keelbench.h"

#define TIMER_INTERVAL_NS 1000000ull

KEEL_BENCHMARK_EX(sched_timer_jitter, .RealTime = 1, .Unit = KEEL_BENCH_US)
{
    const struct timespec Interval = { .tv_sec = 0, .tv_nsec = (long)TIMER_INTERVAL_NS };
    KEEL_BENCH_LATENESS Lateness = { 0 };

    while (KeelBenchKeepRunning(State)) {
        uint64_t Start = PeerNowNs();

        clock_nanosleep(CLOCK_MONOTONIC, 0, &Interval, NULL);
        KeelBenchLatenessAdd(&Lateness, PeerNowNs() - Start, TIMER_INTERVAL_NS);
    }
    KeelBenchLatenessReport(State, &Lateness, "a 1 ms sleep ended early");
}

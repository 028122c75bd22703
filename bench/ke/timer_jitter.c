/*
 * timer_jitter.c - sched_timer_jitter: KeDelayExecutionThread for 1 ms
 * (relative), one per iteration; the time is the whole wait, and the
 * counters late_mean_us / late_max_us are how far past the due time the
 * thread was running again (performance counter before the call and after
 * it returns, minus 1 ms). Timers expire on the 1 ms clock tick, so up to
 * one tick of lateness is the design, not noise.
 *
 * Same name in keel_bench_peer_linux (clock_nanosleep 1 ms relative).
 */
#include <ntddk.h>

#include "bench_threads.h"
#include "keelbench.h"

#define TIMER_INTERVAL_NS 1000000ull

KEEL_BENCHMARK_EX(sched_timer_jitter, .RealTime = 1, .Unit = KEEL_BENCH_US)
{
    LARGE_INTEGER Interval = { .QuadPart = -(LONGLONG)(TIMER_INTERVAL_NS / 100) };
    KEEL_BENCH_LATENESS Lateness = { 0 };

    while (KeelBenchKeepRunning(State)) {
        ULONG64 Start = BenchNowNs();

        KeDelayExecutionThread(KernelMode, FALSE, &Interval);
        KeelBenchLatenessAdd(&Lateness, BenchNowNs() - Start, TIMER_INTERVAL_NS);
    }
    KeelBenchLatenessReport(State, &Lateness, "a 1 ms delay ended early");
}

/*
 * keelbench.h - Keel's C interface to Google Benchmark. A benchmark is a C
 * function registered with KEEL_BENCHMARK; bench/harness/adapter.cc (the
 * only C++ in the tree) hands it to Google Benchmark and provides main(),
 * which accepts every --benchmark_* flag.
 *
 *   KEEL_BENCHMARK(mm_alloc_free_page)
 *   {
 *       // setup here is not timed
 *       while (KeelBenchKeepRunning(State)) {
 *           ...the timed body...
 *       }
 *   }
 *
 *   // Run once per argument: 1, 8, 64, 512 (KeelBenchRange(State, 0)).
 *   KEEL_BENCHMARK_RANGE(mm_contiguous, 1, 512, 8) { ... }
 *   // Run once per listed argument.
 *   KEEL_BENCHMARK_ARGS(mm_contiguous_list, 1, 3, 17) { ... }
 *
 * A benchmark may call KeelBenchSetLabel(State, "vs other_name"): the
 * `keel bench` table then also reports its time as a ratio to
 * other_name's, measured side by side in the same run.
 */
#ifndef KEELBENCH_H
#define KEELBENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque: wraps benchmark::State. */
typedef struct KEEL_BENCH_STATE KEEL_BENCH_STATE;

typedef void KEEL_BENCH_ROUTINE(KEEL_BENCH_STATE *State);

#define KEEL_BENCH_MAX_ARGS 16

typedef struct KEEL_BENCH_DEFINITION {
    const char *Name;
    KEEL_BENCH_ROUTINE *Routine;
    /* Either a range (RangeLow..RangeHigh, growing by RangeMultiplier) or
     * an explicit argument list; neither for a plain benchmark. */
    int HasRange;
    int64_t RangeLow;
    int64_t RangeHigh;
    int RangeMultiplier;
    int ArgCount;
    int64_t Args[KEEL_BENCH_MAX_ARGS];
} KEEL_BENCH_DEFINITION;

/* Called before main() by the registration macros. */
void KeelBenchRegister(const KEEL_BENCH_DEFINITION *Definition);

/* Nonzero while the benchmark should run another iteration; the time
 * between the first call and the last one is what is measured. */
int KeelBenchKeepRunning(KEEL_BENCH_STATE *State);

/* The Index-th argument of this run (0 when the benchmark has none). */
int64_t KeelBenchRange(KEEL_BENCH_STATE *State, unsigned Index);

/* Iterations completed so far (the final count after the loop). */
int64_t KeelBenchIterations(KEEL_BENCH_STATE *State);

/* Exclude setup or teardown work inside the loop from the measurement. */
void KeelBenchPauseTiming(KEEL_BENCH_STATE *State);
void KeelBenchResumeTiming(KEEL_BENCH_STATE *State);

/* Counter flags (combinable). */
#define KEEL_COUNTER_DEFAULT       0x0
#define KEEL_COUNTER_RATE          0x1 /* divide by the elapsed seconds */
#define KEEL_COUNTER_PER_ITERATION 0x2 /* divide by the iteration count */
#define KEEL_COUNTER_INVERT        0x4 /* report 1/value (e.g. seconds per item) */

/* A named value reported beside the time (JSON and table). */
void KeelBenchSetCounter(KEEL_BENCH_STATE *State, const char *Name, double Value, unsigned Flags);
/* Throughput: items/s and bytes/s columns. */
void KeelBenchSetItemsProcessed(KEEL_BENCH_STATE *State, int64_t Items);
void KeelBenchSetBytesProcessed(KEEL_BENCH_STATE *State, int64_t Bytes);
void KeelBenchSetLabel(KEEL_BENCH_STATE *State, const char *Label);
/* Marks the run as failed (reported as an error, the loop stops). */
void KeelBenchSkipWithError(KEEL_BENCH_STATE *State, const char *Message);

/* Keeps the compiler from optimising a value away. */
#define KeelBenchDoNotOptimize(Value) __asm__ volatile("" : : "r,m"(Value) : "memory")
#define KeelBenchClobberMemory()      __asm__ volatile("" : : : "memory")

#define KEEL_BENCH_DEFINE_(name, ...)                                                              \
    static void KeelBenchRoutine_##name(KEEL_BENCH_STATE *State);                                  \
    __attribute__((constructor)) static void KeelBenchRegister_##name(void)                        \
    {                                                                                              \
        static const KEEL_BENCH_DEFINITION Definition = { .Name = #name,                           \
                                                          .Routine = KeelBenchRoutine_##name,      \
                                                          __VA_ARGS__ };                           \
        KeelBenchRegister(&Definition);                                                            \
    }                                                                                              \
    static void KeelBenchRoutine_##name(KEEL_BENCH_STATE *State)

#define KEEL_BENCHMARK(name) KEEL_BENCH_DEFINE_(name, .HasRange = 0)

#define KEEL_BENCHMARK_RANGE(name, low, high, multiplier)                                          \
    KEEL_BENCH_DEFINE_(name, .HasRange = 1, .RangeLow = (low), .RangeHigh = (high),                \
                       .RangeMultiplier = (multiplier))

#define KEEL_BENCHMARK_ARGS(name, ...)                                                             \
    KEEL_BENCH_DEFINE_(name, .ArgCount = sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t),     \
                       .Args = { __VA_ARGS__ })

#ifdef __cplusplus
}
#endif

#endif /* KEELBENCH_H */

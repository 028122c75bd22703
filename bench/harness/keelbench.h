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
 * KEEL_BENCHMARK_EX takes any fields of KEEL_BENCH_DEFINITION: several
 * arguments, thread counts, manual timing (cross-thread measures).
 *
 * `keel bench` compares a measure across implementations by name: the
 * same benchmark name registered by Keel's binary and by a peer's
 * (docs/benchmarks.md); a label "vs other_name" also reports a ratio to
 * other_name in the same binary.
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

#define KEEL_BENCH_MAX_ARGS    16 /* argument values (or tuples) per benchmark */
#define KEEL_BENCH_MAX_DIMS    4  /* arguments per run */
#define KEEL_BENCH_MAX_THREADS 8  /* thread counts per benchmark */

/* In Threads[]: as many threads as the host has processors. */
#define KEEL_BENCH_ALL_PROCESSORS (-1)

/* Time unit of the reported times (default nanoseconds). */
#define KEEL_BENCH_NS 0
#define KEEL_BENCH_US 1
#define KEEL_BENCH_MS 2

typedef struct KEEL_BENCH_RANGE {
    int64_t Low;
    int64_t High;
} KEEL_BENCH_RANGE;

/*
 * How a benchmark is run. Arguments come from at most one of: a range
 * product (every combination of Ranges[0..RangeCount), each range
 * Low, Low*RangeMultiplier, ..., High), a list of single values (Args), or
 * a list of tuples (Tuples, TupleDims values each). Every argument
 * combination runs once per entry of Threads (1 thread when empty).
 */
typedef struct KEEL_BENCH_DEFINITION {
    const char *Name;
    KEEL_BENCH_ROUTINE *Routine;
    int RangeMultiplier; /* 8 when 0 */
    int RangeCount;
    KEEL_BENCH_RANGE Ranges[KEEL_BENCH_MAX_DIMS];
    int ArgCount;
    int64_t Args[KEEL_BENCH_MAX_ARGS];
    int TupleCount;
    int TupleDims;
    int64_t Tuples[KEEL_BENCH_MAX_ARGS][KEEL_BENCH_MAX_DIMS];
    /* Names of the arguments, shown in the benchmark's name ("size:16"). */
    const char *ArgNames[KEEL_BENCH_MAX_DIMS];
    /* Concurrent threads running the routine (each with its own State);
     * KEEL_BENCH_ALL_PROCESSORS for the host's processor count. */
    int ThreadCount;
    int Threads[KEEL_BENCH_MAX_THREADS];
    /* The routine reports each iteration's time (KeelBenchSetIterationTime)
     * instead of the harness timing the loop: cross-thread measures. */
    int ManualTime;
    /* Report wall-clock time (the default for ManualTime). */
    int RealTime;
    /* Fixed iteration count instead of Google Benchmark's calibration. */
    int64_t Iterations;
    /* Minimum run time in seconds (0: the --benchmark_min_time default). */
    double MinTime;
    /* Runs of the benchmark (0: the --benchmark_repetitions default); 1 for
     * a measure a second run in the same process would not reproduce. */
    int Repetitions;
    int Unit;
} KEEL_BENCH_DEFINITION;

/* Called before main() by the registration macros. */
void KeelBenchRegister(const KEEL_BENCH_DEFINITION *Definition);

/* Nonzero while the benchmark should run another iteration; the time
 * between the first call and the last one is what is measured. In a
 * multi-threaded run every thread's first call waits for all of them. */
int KeelBenchKeepRunning(KEEL_BENCH_STATE *State);

/* The Index-th argument of this run (0 when the benchmark has fewer). */
int64_t KeelBenchRange(KEEL_BENCH_STATE *State, unsigned Index);

/* Iterations completed so far (the final count after the loop). */
int64_t KeelBenchIterations(KEEL_BENCH_STATE *State);

/* This thread's index (0..count-1) and the run's thread count. Thread 0
 * does shared setup before its first KeelBenchKeepRunning call. */
int KeelBenchThreadIndex(KEEL_BENCH_STATE *State);
int KeelBenchThreadCount(KEEL_BENCH_STATE *State);

/* The host's processor count (what KEEL_BENCH_ALL_PROCESSORS means). */
int KeelBenchProcessorCount(void);

/* ManualTime benchmarks: the time of the iteration just run. */
void KeelBenchSetIterationTime(KEEL_BENCH_STATE *State, double Seconds);

/* Exclude setup or teardown work inside the loop from the measurement. */
void KeelBenchPauseTiming(KEEL_BENCH_STATE *State);
void KeelBenchResumeTiming(KEEL_BENCH_STATE *State);

/* Counter flags (combinable). */
#define KEEL_COUNTER_DEFAULT       0x0
#define KEEL_COUNTER_RATE          0x1 /* divide by the elapsed seconds */
#define KEEL_COUNTER_PER_ITERATION 0x2 /* divide by the iteration count */
#define KEEL_COUNTER_INVERT        0x4 /* report 1/value (e.g. seconds per item) */
#define KEEL_COUNTER_THREAD_AVG    0x8 /* average over the run's threads (default: sum) */

/* A named value reported beside the time (JSON and table). In a
 * multi-threaded run each thread's values are summed (or averaged). */
void KeelBenchSetCounter(KEEL_BENCH_STATE *State, const char *Name, double Value, unsigned Flags);
/* Throughput: items/s and bytes/s columns. */
void KeelBenchSetItemsProcessed(KEEL_BENCH_STATE *State, int64_t Items);
void KeelBenchSetBytesProcessed(KEEL_BENCH_STATE *State, int64_t Bytes);
void KeelBenchSetLabel(KEEL_BENCH_STATE *State, const char *Label);
/* Marks the run as failed (reported as an error, the loop stops). */
void KeelBenchSkipWithError(KEEL_BENCH_STATE *State, const char *Message);

/* Monotonic wall clock in nanoseconds (for ManualTime measures). */
uint64_t KeelBenchNowNs(void);

/*
 * Where the benchmarks run. The harness's main() parses the flags, then
 * calls KeelBenchMain(KeelBenchRunAll) and exits with its result. The
 * default KeelBenchMain calls it on the main thread; a binary can define
 * its own (strong) KeelBenchMain to run them elsewhere - the hosted kernel
 * benchmarks run them in a kernel system thread (bench/harness/kernel_main.c).
 */
typedef int KEEL_BENCH_RUN_ALL(void);
int KeelBenchRunAll(void);
int KeelBenchMain(KEEL_BENCH_RUN_ALL *RunAll);

/* Lateness of timed waits (timer benchmarks, Keel's and the peers'): add
 * each wait's elapsed time against its due time, then report
 * late_mean_us / late_max_us, or an error when a wait ended early. */
typedef struct KEEL_BENCH_LATENESS {
    uint64_t SumNs;
    uint64_t MaxNs;
    uint64_t Waits;
    uint64_t Early;
} KEEL_BENCH_LATENESS;

static inline void KeelBenchLatenessAdd(KEEL_BENCH_LATENESS *Lateness, uint64_t ElapsedNs,
                                        uint64_t DueNs)
{
    if (ElapsedNs < DueNs) {
        Lateness->Early++;
        return;
    }
    Lateness->SumNs += ElapsedNs - DueNs;
    if (ElapsedNs - DueNs > Lateness->MaxNs) {
        Lateness->MaxNs = ElapsedNs - DueNs;
    }
    Lateness->Waits++;
}

static inline void KeelBenchLatenessReport(KEEL_BENCH_STATE *State,
                                           const KEEL_BENCH_LATENESS *Lateness,
                                           const char *EarlyMessage)
{
    if (Lateness->Early != 0) {
        KeelBenchSkipWithError(State, EarlyMessage);
        return;
    }
    if (Lateness->Waits != 0) {
        KeelBenchSetCounter(State, "late_mean_us",
                            (double)Lateness->SumNs / 1e3 / (double)Lateness->Waits,
                            KEEL_COUNTER_DEFAULT);
        KeelBenchSetCounter(State, "late_max_us", (double)Lateness->MaxNs / 1e3,
                            KEEL_COUNTER_DEFAULT);
    }
}

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

#define KEEL_BENCHMARK(name) KEEL_BENCH_DEFINE_(name, )

#define KEEL_BENCHMARK_RANGE(name, low, high, multiplier)                                          \
    KEEL_BENCH_DEFINE_(name, .RangeCount = 1, .Ranges = { { (low), (high) } },                     \
                       .RangeMultiplier = (multiplier))

#define KEEL_BENCHMARK_ARGS(name, ...)                                                             \
    KEEL_BENCH_DEFINE_(name, .ArgCount = sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t),     \
                       .Args = { __VA_ARGS__ })

/* Any combination of the definition's fields, as designated initializers:
 *   KEEL_BENCHMARK_EX(pool_scaling, .ArgCount = 1, .Args = { 64 },
 *                     .ThreadCount = 3, .Threads = { 1, 2, KEEL_BENCH_ALL_PROCESSORS },
 *                     .ManualTime = 1, .ArgNames = { "size" }) { ... } */
#define KEEL_BENCHMARK_EX(name, ...) KEEL_BENCH_DEFINE_(name, __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#endif /* KEELBENCH_H */

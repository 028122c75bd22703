/*
 * adapter.cc - the C++ side of keelbench.h (the only C++ in the tree): keeps
 * the benchmarks that C files register before main(), hands them to Google
 * Benchmark, and provides main(), which passes every --benchmark_* flag
 * through (--benchmark_filter, --benchmark_min_time, --benchmark_out ...).
 */
#include <benchmark/benchmark.h>

#include <stdio.h>

#include <string>
#include <thread>
#include <time.h>
#include <vector>

#include "keelbench.h"

struct KEEL_BENCH_STATE {
    benchmark::State *State;
    unsigned ArgCount; /* State::range() asserts beyond this */
};

namespace
{

/* A function-local static: C constructors may register before any
 * namespace-scope object of this file is initialised. */
std::vector<const KEEL_BENCH_DEFINITION *> &Registry()
{
    static std::vector<const KEEL_BENCH_DEFINITION *> Definitions;
    return Definitions;
}

std::vector<int64_t> RangeValues(int64_t Low, int64_t High, int Multiplier)
{
    std::vector<int64_t> Values;
    for (int64_t Value = Low; Value < High; Value *= Multiplier) {
        Values.push_back(Value);
        if (Value <= 0) {
            break;
        }
    }
    Values.push_back(High);
    return Values;
}

unsigned ArgumentCount(const KEEL_BENCH_DEFINITION *Definition)
{
    if (Definition->ArgCount > 0) {
        return 1;
    }
    if (Definition->RangeCount > 0) {
        return static_cast<unsigned>(Definition->RangeCount);
    }
    if (Definition->TupleCount > 0) {
        return static_cast<unsigned>(Definition->TupleDims);
    }
    return 0;
}

void Configure(benchmark::internal::Benchmark *Bench, const KEEL_BENCH_DEFINITION *Definition)
{
    int Multiplier = Definition->RangeMultiplier > 1 ? Definition->RangeMultiplier : 8;

    if (Definition->RangeCount > 0) {
        std::vector<std::vector<int64_t>> Product;
        for (int i = 0; i < Definition->RangeCount && i < KEEL_BENCH_MAX_DIMS; i++) {
            Product.push_back(
                RangeValues(Definition->Ranges[i].Low, Definition->Ranges[i].High, Multiplier));
        }
        Bench->ArgsProduct(Product);
    }
    for (int i = 0; i < Definition->ArgCount && i < KEEL_BENCH_MAX_ARGS; i++) {
        Bench->Arg(Definition->Args[i]);
    }
    for (int i = 0; i < Definition->TupleCount && i < KEEL_BENCH_MAX_ARGS; i++) {
        std::vector<int64_t> Tuple(Definition->Tuples[i],
                                   Definition->Tuples[i] + Definition->TupleDims);
        Bench->Args(Tuple);
    }
    std::vector<std::string> Names;
    for (unsigned i = 0; i < ArgumentCount(Definition) && Definition->ArgNames[i] != nullptr; i++) {
        Names.push_back(Definition->ArgNames[i]);
    }
    if (!Names.empty()) {
        Bench->ArgNames(Names);
    }
    for (int i = 0; i < Definition->ThreadCount && i < KEEL_BENCH_MAX_THREADS; i++) {
        int Threads = Definition->Threads[i];
        Bench->Threads(Threads == KEEL_BENCH_ALL_PROCESSORS ? KeelBenchProcessorCount() : Threads);
    }
    if (Definition->ManualTime) {
        Bench->UseManualTime();
    } else if (Definition->RealTime) {
        Bench->UseRealTime();
    }
    if (Definition->Iterations > 0) {
        Bench->Iterations(Definition->Iterations);
    }
    if (Definition->MinTime > 0) {
        Bench->MinTime(Definition->MinTime);
    }
    if (Definition->Repetitions > 0) {
        Bench->Repetitions(Definition->Repetitions);
    }
    switch (Definition->Unit) {
    case KEEL_BENCH_US:
        Bench->Unit(benchmark::kMicrosecond);
        break;
    case KEEL_BENCH_MS:
        Bench->Unit(benchmark::kMillisecond);
        break;
    default:
        Bench->Unit(benchmark::kNanosecond);
        break;
    }
}

void RegisterAll()
{
    for (const KEEL_BENCH_DEFINITION *Definition : Registry()) {
        unsigned Count = ArgumentCount(Definition);
        benchmark::internal::Benchmark *Bench = benchmark::RegisterBenchmark(
            Definition->Name, [Definition, Count](benchmark::State &State) {
                KEEL_BENCH_STATE Wrapper = { &State, Count };
                Definition->Routine(&Wrapper);
            });
        Configure(Bench, Definition);
    }
}

} // namespace

extern "C" {

void KeelBenchRegister(const KEEL_BENCH_DEFINITION *Definition)
{
    Registry().push_back(Definition);
}

int KeelBenchKeepRunning(KEEL_BENCH_STATE *State)
{
    return State->State->KeepRunning() ? 1 : 0;
}

int64_t KeelBenchRange(KEEL_BENCH_STATE *State, unsigned Index)
{
    if (Index >= State->ArgCount) {
        return 0;
    }
    return State->State->range(Index);
}

int KeelBenchThreadIndex(KEEL_BENCH_STATE *State)
{
    return static_cast<int>(State->State->thread_index());
}

int KeelBenchThreadCount(KEEL_BENCH_STATE *State)
{
    return static_cast<int>(State->State->threads());
}

int KeelBenchProcessorCount(void)
{
    unsigned Count = std::thread::hardware_concurrency();
    return Count > 0 ? static_cast<int>(Count) : 1;
}

void KeelBenchSetIterationTime(KEEL_BENCH_STATE *State, double Seconds)
{
    State->State->SetIterationTime(Seconds);
}

uint64_t KeelBenchNowNs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return static_cast<uint64_t>(Now.tv_sec) * 1000000000ull + static_cast<uint64_t>(Now.tv_nsec);
}

int64_t KeelBenchIterations(KEEL_BENCH_STATE *State)
{
    return static_cast<int64_t>(State->State->iterations());
}

void KeelBenchPauseTiming(KEEL_BENCH_STATE *State)
{
    State->State->PauseTiming();
}

void KeelBenchResumeTiming(KEEL_BENCH_STATE *State)
{
    State->State->ResumeTiming();
}

void KeelBenchSetCounter(KEEL_BENCH_STATE *State, const char *Name, double Value, unsigned Flags)
{
    int GbFlags = benchmark::Counter::kDefaults;
    if (Flags & KEEL_COUNTER_RATE) {
        GbFlags |= benchmark::Counter::kIsRate;
    }
    if (Flags & KEEL_COUNTER_PER_ITERATION) {
        GbFlags |= benchmark::Counter::kAvgIterations;
    }
    if (Flags & KEEL_COUNTER_INVERT) {
        GbFlags |= benchmark::Counter::kInvert;
    }
    if (Flags & KEEL_COUNTER_THREAD_AVG) {
        GbFlags |= benchmark::Counter::kAvgThreads;
    }
    State->State->counters[Name] =
        benchmark::Counter(Value, static_cast<benchmark::Counter::Flags>(GbFlags));
}

void KeelBenchSetItemsProcessed(KEEL_BENCH_STATE *State, int64_t Items)
{
    State->State->SetItemsProcessed(Items);
}

void KeelBenchSetBytesProcessed(KEEL_BENCH_STATE *State, int64_t Bytes)
{
    State->State->SetBytesProcessed(Bytes);
}

void KeelBenchSetLabel(KEEL_BENCH_STATE *State, const char *Label)
{
    State->State->SetLabel(Label);
}

void KeelBenchSkipWithError(KEEL_BENCH_STATE *State, const char *Message)
{
    State->State->SkipWithError(Message);
}

int KeelBenchRunAll(void)
{
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    fflush(stdout);
    fflush(stderr);
    return 0;
}

/* Weak: a binary may run the benchmarks elsewhere (keelbench.h). */
__attribute__((weak)) int KeelBenchMain(KEEL_BENCH_RUN_ALL *RunAll)
{
    return RunAll();
}

} // extern "C"

int main(int argc, char **argv)
{
    RegisterAll();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    return KeelBenchMain(KeelBenchRunAll);
}

/*
 * adapter.cc - the C++ side of keelbench.h (the only C++ in the tree): keeps
 * the benchmarks that C files register before main(), hands them to Google
 * Benchmark, and provides main(), which passes every --benchmark_* flag
 * through (--benchmark_filter, --benchmark_min_time, --benchmark_out ...).
 */
#include <benchmark/benchmark.h>

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

void RegisterAll()
{
    for (const KEEL_BENCH_DEFINITION *Definition : Registry()) {
        benchmark::internal::Benchmark *Bench =
            benchmark::RegisterBenchmark(Definition->Name, [Definition](benchmark::State &State) {
                KEEL_BENCH_STATE Wrapper = {
                    &State, (Definition->HasRange || Definition->ArgCount > 0) ? 1u : 0u
                };
                Definition->Routine(&Wrapper);
            });
        if (Definition->HasRange) {
            Bench->RangeMultiplier(Definition->RangeMultiplier > 1 ? Definition->RangeMultiplier
                                                                   : 8);
            Bench->Range(Definition->RangeLow, Definition->RangeHigh);
        }
        for (int i = 0; i < Definition->ArgCount && i < KEEL_BENCH_MAX_ARGS; i++) {
            Bench->Arg(Definition->Args[i]);
        }
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

} // extern "C"

int main(int argc, char **argv)
{
    RegisterAll();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

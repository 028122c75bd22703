/*
 * kbench_test.c - ktest cases for the kbench runner: calibration against a
 * fake clock (growth, prediction, cap, untimed setup, pauses, manual time,
 * errors), the filter, entry names, the JSON lines, and every registered
 * benchmark running a couple of iterations on this system.
 */
#include <ntddk.h>
#include <kbench.h>
#include <ke.h>
#include <ketypes.h>
#include <ktest.h>
#include <rtlp.h>

/* A clock that only moves when a test body says so; 1 tick = 1 ns. */
static ULONG64 KbtNow;
static ULONG64 KbtCost;   /* ticks each iteration takes */
static ULONG64 KbtManual; /* KbenchSetIterationTime per iteration */
static ULONG64 KbtSetup;  /* ticks spent before and after the loop */

static ULONG64 KbtClock(VOID)
{
    return KbtNow;
}

static VOID KbtBody(PKBENCH_STATE KbState)
{
    KbtNow += KbtSetup;
    while (KbenchKeepRunning(KbState)) {
        KbtNow += KbtCost;
        if (KbtManual != 0) {
            KbenchSetIterationTime(KbState, KbtManual);
        }
    }
    KbtNow += KbtSetup;
    KbenchSetItemsProcessed(KbState, KbState->Iterations);
}

/* Half of each iteration is bookkeeping excluded with pause/resume. */
static VOID KbtPausingBody(PKBENCH_STATE KbState)
{
    while (KbenchKeepRunning(KbState)) {
        KbtNow += KbtCost;
        KbenchPauseTiming(KbState);
        KbtNow += 5 * KbtCost;
        KbenchResumeTiming(KbState);
    }
}

static VOID KbtFailingBody(PKBENCH_STATE KbState)
{
    KbenchSkipWithError(KbState, "needs \"2\" processors");
}

static VOID KbtEarlyExitBody(PKBENCH_STATE KbState)
{
    while (KbenchKeepRunning(KbState)) {
        KbtNow += 10;
        if (KbState->Done == 3) {
            break;
        }
    }
}

static const LONGLONG KbtArgs[] = { 16, 4096 };
static const KBENCH_CASE KbtCase = { "kbt_fake", "size", KbtArgs, 2, 0, KbtBody };
static const KBENCH_CASE KbtManualCase = {
    "kbt_manual", NULL, NULL, 0, KBENCH_MANUAL_TIME, KbtBody
};
static const KBENCH_CASE KbtPausingCase = { "kbt_pausing", NULL, NULL, 0, 0, KbtPausingBody };
static const KBENCH_CASE KbtFailingCase = { "kbt_failing", "cross", KbtArgs, 2, 0, KbtFailingBody };
static const KBENCH_CASE KbtEarlyExitCase = { "kbt_early", NULL, NULL, 0, 0, KbtEarlyExitBody };

static ULONG64 KbtRuns[8];

/* The fake clock set to Now, a body iteration costing Cost ticks (Manual
 * of them reported as manual time, Setup spent in setup), and Options for
 * a MinTicks goal on that clock (1 GHz) recording the run sizes. */
static VOID KbtPrepare(KBENCH_OPTIONS *Options, ULONG64 Now, ULONG64 Cost, ULONG64 Manual,
                       ULONG64 Setup, ULONG64 MinTicks)
{
    KbtNow = Now;
    KbtCost = Cost;
    KbtManual = Manual;
    KbtSetup = Setup;
    RtlZeroMemory(KbtRuns, sizeof(KbtRuns));
    RtlZeroMemory(Options, sizeof(*Options));
    Options->MinTicks = MinTicks;
    Options->Clock = KbtClock;
    Options->Frequency = 1000000000;
    Options->RunSizes = &KbtRuns;
}

static VOID KbtRun(const KBENCH_CASE *Case, ULONG ArgIndex, ULONG64 Cost, ULONG64 MinTicks,
                   PKBENCH_RESULT Result)
{
    KBENCH_OPTIONS Options;

    KbtPrepare(&Options, 1000000, Cost, 0, 0, MinTicks);
    KbenchRunEntry(Case, ArgIndex, &Options, Result);
}

KTEST(kbench, calibration_grows_tenfold_while_runs_are_short)
{
    KBENCH_RESULT R;

    /* 1 us per iteration, 1 ms goal: 1, 10 and 100 iterations are each at
     * most a tenth of it; 1,000 reaches it exactly. */
    KbtRun(&KbtCase, 0, 1000, 1000000, &R);
    KT_EXPECT_NULL(R.ErrorMessage);
    KT_EXPECT_EQ(R.Runs, 4);
    KT_EXPECT_EQ(KbtRuns[0], 1);
    KT_EXPECT_EQ(KbtRuns[1], 10);
    KT_EXPECT_EQ(KbtRuns[2], 100);
    KT_EXPECT_EQ(KbtRuns[3], 1000);
    KT_EXPECT_EQ(R.Iterations, 1000);
    KT_EXPECT_EQ(R.RealTicks, 1000000);
    KT_EXPECT_EQ(R.CpuTicks, 1000000);
    KT_EXPECT_STREQ(R.Name, "kbt_fake/size:16");
}

KTEST(kbench, calibration_predicts_with_headroom)
{
    KBENCH_RESULT R;

    /* 3 us per iteration: 100 iterations take 0.3 ms, a significant part
     * of the goal, so the next run is sized for 1.4 ms: 466 iterations. */
    KbtRun(&KbtCase, 1, 3000, 1000000, &R);
    KT_EXPECT_NULL(R.ErrorMessage);
    KT_EXPECT_EQ(R.Runs, 4);
    KT_EXPECT_EQ(KbtRuns[2], 100);
    KT_EXPECT_EQ(KbtRuns[3], 466);
    KT_EXPECT_EQ(R.Iterations, 466);
    KT_EXPECT_EQ(R.RealTicks, 466 * 3000);
    KT_EXPECT_GE(R.RealTicks, 1000000);
    KT_EXPECT_STREQ(R.Name, "kbt_fake/size:4096");
}

KTEST(kbench, calibration_one_slow_iteration_is_enough)
{
    KBENCH_RESULT R;

    KbtRun(&KbtCase, 0, 5000000, 1000000, &R);
    KT_EXPECT_EQ(R.Runs, 1);
    KT_EXPECT_EQ(R.Iterations, 1);
    KT_EXPECT_EQ(R.RealTicks, 5000000);
}

KTEST(kbench, calibration_stops_at_the_iteration_cap)
{
    KBENCH_OPTIONS Options;
    KBENCH_RESULT R;

    /* A clock that never moves: only the cap ends the growth. */
    KbtPrepare(&Options, 0, 0, 0, 0, 1000);
    Options.MaxIterations = 50;
    KbenchRunEntry(&KbtCase, 0, &Options, &R);
    KT_EXPECT_NULL(R.ErrorMessage);
    KT_EXPECT_EQ(R.Runs, 3);
    KT_EXPECT_EQ(KbtRuns[1], 10);
    KT_EXPECT_EQ(KbtRuns[2], 50);
    KT_EXPECT_EQ(R.Iterations, 50);
}

static ULONG KbtWarmBodyRuns;

/* The first iteration ever costs 1 s, later ones 1 us. */
static VOID KbtColdFirstBody(PKBENCH_STATE KbState)
{
    while (KbenchKeepRunning(KbState)) {
        KbtNow += KbtWarmBodyRuns == 0 ? 1000000000 : 1000;
        KbtWarmBodyRuns++;
    }
}

static const KBENCH_CASE KbtColdFirstCase = { "kbt_cold", NULL, NULL, 0, 0, KbtColdFirstBody };

KTEST(kbench, warmup_run_is_discarded)
{
    KBENCH_OPTIONS Options;
    KBENCH_RESULT R;

    /* The body advances the clock itself. */
    KbtPrepare(&Options, 0, 0, 0, 0, 1000000);
    KbtWarmBodyRuns = 0;
    Options.Warmup = TRUE;
    KbenchRunEntry(&KbtColdFirstCase, 0, &Options, &R);
    KT_EXPECT_NULL(R.ErrorMessage);
    KT_EXPECT_EQ(R.Runs, 4);
    KT_EXPECT_EQ(KbtRuns[0], 1);
    KT_EXPECT_EQ(R.Iterations, 1000);
    KT_EXPECT_EQ(R.RealTicks, 1000000);

    /* Without it, the cold iteration is the result. */
    KbtWarmBodyRuns = 0;
    Options.Warmup = FALSE;
    KbenchRunEntry(&KbtColdFirstCase, 0, &Options, &R);
    KT_EXPECT_EQ(R.Iterations, 1);
    KT_EXPECT_EQ(R.RealTicks, 1000000000);
}

KTEST(kbench, setup_and_teardown_are_not_timed)
{
    KBENCH_OPTIONS Options;
    KBENCH_RESULT R;

    /* Setup 777,777 ticks: would reach the goal at once if it were
     * counted. */
    KbtPrepare(&Options, 0, 2000, 0, 777777, 100000);
    KbenchRunEntry(&KbtCase, 0, &Options, &R);
    KT_EXPECT_EQ(R.RealTicks, R.Iterations * 2000);
    KT_EXPECT_GT(R.Runs, 1);
}

KTEST(kbench, paused_time_is_excluded)
{
    KBENCH_RESULT R;

    KbtRun(&KbtPausingCase, 0, 1000, 1000000, &R);
    KT_EXPECT_NULL(R.ErrorMessage);
    KT_EXPECT_EQ(R.Iterations, 1000);
    KT_EXPECT_EQ(R.RealTicks, 1000000);
}

KTEST(kbench, manual_time_is_the_real_time)
{
    KBENCH_OPTIONS Options;
    KBENCH_RESULT R;
    char Json[256];

    /* Manual time 500 of 2,000 ticks: calibration follows it, not the
     * clock. */
    KbtPrepare(&Options, 0, 2000, 500, 0, 500000);
    KbenchRunEntry(&KbtManualCase, 0, &Options, &R);
    KT_EXPECT_EQ(R.Iterations, 1000);
    KT_EXPECT_EQ(R.RealTicks, 500000);
    KT_EXPECT_EQ(R.CpuTicks, 2000000);
    KbenchFormatResult(&R, Json, sizeof(Json));
    KT_EXPECT_STREQ(Json,
                    "{\"name\": \"kbt_manual\", \"iterations\": 1000, \"real_time\": 500.000, "
                    "\"cpu_time\": 2000.000, \"time_unit\": \"ns\", "
                    "\"items_per_second\": 2000000.000}");
}

KTEST(kbench, errors_become_error_entries)
{
    KBENCH_RESULT R;
    char Json[256];

    KbtRun(&KbtFailingCase, 1, 1000, 1000000, &R);
    KT_EXPECT_EQ(R.Runs, 1);
    KT_EXPECT_EQ(R.Iterations, 0);
    KT_ASSERT_NOT_NULL(R.ErrorMessage);
    KbenchFormatResult(&R, Json, sizeof(Json));
    KT_EXPECT_STREQ(Json, "{\"name\": \"kbt_failing/cross:4096\", \"error_occurred\": true, "
                          "\"error_message\": \"needs \\\"2\\\" processors\", \"iterations\": 0, "
                          "\"real_time\": 0.000, \"cpu_time\": 0.000, \"time_unit\": \"ns\"}");
}

KTEST(kbench, leaving_the_loop_early_is_an_error)
{
    KBENCH_RESULT R;

    KbtRun(&KbtEarlyExitCase, 0, 0, 1000000, &R);
    KT_EXPECT_NOT_NULL(R.ErrorMessage);
    KT_EXPECT_EQ(R.Iterations, 0);
}

KTEST(kbench, json_fixed_point_and_counters)
{
    KBENCH_RESULT R;
    char Json[400];

    RtlZeroMemory(&R, sizeof(R));
    RtlCopyMemory(R.Name, "x/size:16", sizeof("x/size:16"));
    R.Iterations = 3;
    R.RealTicks = 1000;
    R.CpuTicks = 2000;
    R.Frequency = 1000000000;
    R.ItemsProcessed = 3;
    R.CounterCount = 2;
    R.Counters[0].Name = "bytes_per_second";
    R.Counters[0].Value = 48;
    R.Counters[0].Flags = KBENCH_COUNTER_RATE;
    R.Counters[1].Name = "processors";
    R.Counters[1].Value = 4;
    KbenchFormatResult(&R, Json, sizeof(Json));
    /* 1000 ns / 3 = 333.333 ns; 3 items in 1 us = 3e6/s; 48 B in 1 us. */
    KT_EXPECT_STREQ(Json, "{\"name\": \"x/size:16\", \"iterations\": 3, \"real_time\": 333.333, "
                          "\"cpu_time\": 666.666, \"time_unit\": \"ns\", "
                          "\"items_per_second\": 3000000.000, "
                          "\"bytes_per_second\": 48000000.000, \"processors\": 4}");

    /* A 3 GHz counter: 3e9 ticks over 1e9 iterations is 1 ns each; the
     * product overflows 64 bits on the way. */
    R.Frequency = 3000000000ull;
    R.RealTicks = 3000000000ull;
    R.CpuTicks = 3000000000ull;
    R.Iterations = 1000000000ull;
    R.ItemsProcessed = 0;
    R.CounterCount = 0;
    KbenchFormatResult(&R, Json, sizeof(Json));
    KT_EXPECT_STREQ(Json, "{\"name\": \"x/size:16\", \"iterations\": 1000000000, "
                          "\"real_time\": 1.000, \"cpu_time\": 1.000, \"time_unit\": \"ns\"}");
}

KTEST(kbench, json_is_cut_to_the_buffer)
{
    KBENCH_RESULT R;
    char Json[16];

    RtlZeroMemory(&R, sizeof(R));
    RtlCopyMemory(R.Name, "a_long_benchmark_name", sizeof("a_long_benchmark_name"));
    R.Iterations = 1;
    R.Frequency = 1000000000;
    KT_EXPECT_LT(KbenchFormatResult(&R, Json, sizeof(Json)), sizeof(Json));
    KT_EXPECT_EQ(Json[sizeof(Json) - 1], '\0');
}

KTEST(kbench, entry_names)
{
    char Name[96];

    KbenchEntryName(&KbtCase, 1, Name, sizeof(Name));
    KT_EXPECT_STREQ(Name, "kbt_fake/size:4096");
    KbenchEntryName(&KbtManualCase, 0, Name, sizeof(Name));
    KT_EXPECT_STREQ(Name, "kbt_manual");
}

static BOOLEAN KbtNeedsTwoProcessors(PCSTR Name)
{
    return RtlpMatchFilter("*cross:1,guest_ipi_roundtrip", Name);
}

/* Every entry has a name of its own, in the guest_ namespace the host
 * report files them under (which names the host expects is
 * build/keel/guestbench.py's EXPECTED, checked against a real run). */
KTEST(kbench, registry_names_are_distinct)
{
    char Name[96], Other[96];
    ULONG Entries = 0;

    for (ULONG i = 0; i < KbenchCount(); i++) {
        const KBENCH_CASE *Case = KbenchGet(i);
        ULONG Count = Case->ArgName != NULL ? Case->ArgCount : 1;
        for (ULONG a = 0; a < Count; a++, Entries++) {
            KbenchEntryName(Case, a, Name, sizeof(Name));
            KT_EXPECT_TRUE(RtlpMatchFilter("guest_?*", Name));
            for (ULONG j = 0; j <= i; j++) {
                const KBENCH_CASE *Earlier = KbenchGet(j);
                ULONG Last = j < i ? (Earlier->ArgName != NULL ? Earlier->ArgCount : 1) : a;
                for (ULONG b = 0; b < Last; b++) {
                    KbenchEntryName(Earlier, b, Other, sizeof(Other));
                    if (KtestStringsEqual(Name, Other)) {
                        KT_FAIL_((void)0, "%s is registered twice", Name);
                    }
                }
            }
        }
    }
    KT_EXPECT_GT(Entries, 0);
}

/* Every real body, two iterations at most (a goal no run reaches, capped):
 * the bodies start, synchronize and tear down on this system, and only the
 * two-processor entries report an error, and only on a uniprocessor. */
KTEST(kbench, every_benchmark_runs_here)
{
    PKTHREAD Self = KeGetCurrentThread();
    KBENCH_OPTIONS Options = { 0 };
    KBENCH_RESULT R;
    char Json[448];
    BOOLEAN Uniprocessor = KeQueryActiveProcessorCount(NULL) < 2;

    if (Self == NULL || Self->IdleThread) {
        KT_SKIP("needs a schedulable thread");
    }
    Options.MinTicks = ~0ull;
    Options.MaxIterations = 2;
    Options.Warmup = TRUE;
    for (ULONG i = 0; i < KbenchCount(); i++) {
        const KBENCH_CASE *Case = KbenchGet(i);
        ULONG Count = Case->ArgName != NULL ? Case->ArgCount : 1;
        for (ULONG a = 0; a < Count; a++) {
            KbenchRunEntry(Case, a, &Options, &R);
            KbenchFormatResult(&R, Json, sizeof(Json));
            if (Uniprocessor && KbtNeedsTwoProcessors(R.Name)) {
                KT_EXPECT_STREQ(R.ErrorMessage, "needs 2 processors");
                continue;
            }
            if (R.ErrorMessage != NULL || R.Iterations != 2 || R.RealTicks == 0) {
                KT_FAIL_((void)0, "%s", Json);
            }
        }
    }
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

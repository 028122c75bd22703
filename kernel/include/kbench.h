/*
 * kbench.h - the in-kernel benchmark suite. A benchmark is a function
 * registered with KBENCH(name, flags) or KBENCH_ARGS(name, "arg", flags,
 * values...) into a linker section, as ktest cases are (ktest.h). The
 * runner (kernel/kbench/kbench.c) grows each benchmark's iteration count
 * until one run lasts at least the minimum time, as Google Benchmark does,
 * and prints one line per benchmark in Google Benchmark's JSON entry form:
 *
 *   kbench: {"name": "guest_pool_alloc_free/size:16", "iterations": 123,
 *            "real_time": 81.250, "cpu_time": 81.250, "time_unit": "ns", ...}
 *
 * then "kbench: done". The kernel runs the suite when its command line says
 * bench[=FILTER] (benchtime=MS sets the minimum time per benchmark); the
 * host side is build/keel/guestbench.py.
 *
 *   KBENCH_ARGS(guest_pool_alloc_free, "size", 0, 16, 64)
 *   {
 *       while (KbenchKeepRunning(KbState)) {
 *           ExFreePoolWithTag(ExAllocatePool2(..., KbState->Arg, Tag), Tag);
 *       }
 *   }
 *
 * Work before the first KbenchKeepRunning call and after the last one
 * (setup, teardown) is not timed. The body may end early with
 * KbenchSkipWithError: the entry then reports "error_occurred": true.
 *
 * No floating point: the kernel is built with general registers only, so
 * times are kept in timestamp ticks and formatted in fixed point.
 */
#ifndef _KBENCH_
#define _KBENCH_

#include <ntdef.h>

/* The time source: a monotonic tick counter and its rate (ticks per
 * second). The suite uses the timestamp counter; tests substitute a fake. */
typedef ULONG64 KBENCH_CLOCK(VOID);

#define KBENCH_MAX_COUNTERS 4
/* The counter is a total; report it per second of measured time
 * (Google Benchmark's kIsRate: "items_per_second"). */
#define KBENCH_COUNTER_RATE 0x1

typedef struct _KBENCH_COUNTER {
    PCSTR Name;
    ULONG64 Value;
    ULONG Flags;
} KBENCH_COUNTER;

typedef struct _KBENCH_STATE {
    /* For the body. */
    LONGLONG Arg;       /* the argument's value (0 without one) */
    ULONG64 Iterations; /* the iterations this run must do */
    /* Kept by KbenchKeepRunning and friends. */
    KBENCH_CLOCK *Clock;
    ULONG64 Done;         /* iterations started */
    ULONG64 StartTicks;   /* clock when the timed region last (re)started */
    ULONG64 ElapsedTicks; /* timed region, excluding pauses */
    ULONG64 ManualTicks;  /* sum of KbenchSetIterationTime */
    BOOLEAN Running;      /* inside the timed loop and not paused */
    BOOLEAN Finished;     /* the loop has ended */
    PCSTR ErrorMessage;   /* KbenchSkipWithError */
    ULONG64 ItemsProcessed;
    ULONG CounterCount;
    KBENCH_COUNTER Counters[KBENCH_MAX_COUNTERS];
} KBENCH_STATE, *PKBENCH_STATE;

typedef VOID KBENCH_ROUTINE(PKBENCH_STATE KbState);

/* Flags of a case. */
#define KBENCH_MANUAL_TIME 0x1 /* real_time is the sum of KbenchSetIterationTime */

typedef struct _KBENCH_CASE {
    PCSTR Name;
    PCSTR ArgName;        /* NULL: no argument; else the entry is "Name/ArgName:value" */
    const LONGLONG *Args; /* ArgCount values, one entry each */
    ULONG ArgCount;
    ULONG Flags;
    KBENCH_ROUTINE *Routine;
} KBENCH_CASE, *PKBENCH_CASE;

#if defined(_WIN64)
#define KBENCH_SECTION __attribute__((section(".kbench$m"), used))
#else
#define KBENCH_SECTION __attribute__((section("kbench_cases"), used))
#endif

#define KBENCH_ARGS(name, argname, flags, ...)                                                     \
    static VOID KbenchRoutine_##name(PKBENCH_STATE KbState);                                       \
    static const LONGLONG KbenchArgs_##name[] = { __VA_ARGS__ };                                   \
    static const KBENCH_CASE KbenchCase_##name = {                                                 \
        #name,                                                                                     \
        (argname),                                                                                 \
        KbenchArgs_##name,                                                                         \
        (ULONG)(sizeof(KbenchArgs_##name) / sizeof(KbenchArgs_##name[0])),                         \
        (flags),                                                                                   \
        KbenchRoutine_##name,                                                                      \
    };                                                                                             \
    KBENCH_SECTION const KBENCH_CASE *const KbenchEntry_##name = &KbenchCase_##name;               \
    static VOID KbenchRoutine_##name(PKBENCH_STATE KbState)

#define KBENCH(name, flags)                                                                        \
    static VOID KbenchRoutine_##name(PKBENCH_STATE KbState);                                       \
    static const KBENCH_CASE KbenchCase_##name = { #name, NULL,    NULL,                           \
                                                   0,     (flags), KbenchRoutine_##name };         \
    KBENCH_SECTION const KBENCH_CASE *const KbenchEntry_##name = &KbenchCase_##name;               \
    static VOID KbenchRoutine_##name(PKBENCH_STATE KbState)

/* ---- For benchmark bodies ---- */

/* TRUE while iterations remain: the first call starts the timer, the call
 * that returns FALSE stops it. Also FALSE once an error was reported. */
BOOLEAN KbenchKeepRunning(PKBENCH_STATE State);
/* Excludes per-iteration bookkeeping from the timed region. */
VOID KbenchPauseTiming(PKBENCH_STATE State);
VOID KbenchResumeTiming(PKBENCH_STATE State);
/* KBENCH_MANUAL_TIME cases: the time of the current iteration, in ticks of
 * KbenchNow. */
VOID KbenchSetIterationTime(PKBENCH_STATE State, ULONG64 Ticks);
ULONG64 KbenchNow(PKBENCH_STATE State);
/* Ends the benchmark with an error entry (Message must stay valid). */
VOID KbenchSkipWithError(PKBENCH_STATE State, PCSTR Message);
/* "items_per_second" (Google Benchmark's SetItemsProcessed). */
VOID KbenchSetItemsProcessed(PKBENCH_STATE State, ULONG64 Items);
/* A user counter (Name must stay valid); KBENCH_COUNTER_RATE or 0. */
VOID KbenchSetCounter(PKBENCH_STATE State, PCSTR Name, ULONG64 Value, ULONG Flags);

/* ---- The runner ---- */

typedef struct _KBENCH_OPTIONS {
    ULONG64 MinTicks;       /* a run must last this long (clock ticks) */
    KBENCH_CLOCK *Clock;    /* NULL: the timestamp counter */
    ULONG64 Frequency;      /* ticks per second of Clock (0: the timestamp rate) */
    ULONG64 MaxIterations;  /* cap of the calibration (0: 1e9, Google Benchmark's) */
    BOOLEAN Warmup;         /* one discarded 1-iteration run first (first-touch costs) */
    ULONG64 (*RunSizes)[8]; /* optional: the iteration count of each run, for tests */
} KBENCH_OPTIONS;

typedef struct _KBENCH_RESULT {
    char Name[96];
    ULONG64 Iterations;
    ULONG64 RealTicks; /* the reported real time (manual time for KBENCH_MANUAL_TIME) */
    ULONG64 CpuTicks;  /* the timed region of the benchmark's own thread */
    ULONG64 Frequency;
    ULONG Runs; /* calibration runs, the reported one included (not the warm-up) */
    PCSTR ErrorMessage;
    ULONG64 ItemsProcessed;
    ULONG CounterCount;
    KBENCH_COUNTER Counters[KBENCH_MAX_COUNTERS];
} KBENCH_RESULT, *PKBENCH_RESULT;

/* Registered cases (each with ArgCount entries, or one without args). */
ULONG KbenchCount(VOID);
const KBENCH_CASE *KbenchGet(ULONG Index);
/* "Name" or "Name/ArgName:Arg" of entry ArgIndex of Case. */
VOID KbenchEntryName(const KBENCH_CASE *Case, ULONG ArgIndex, char *Buffer, SIZE_T BufferSize);
/* Calibrates and runs one entry (PASSIVE_LEVEL, a schedulable thread). */
VOID KbenchRunEntry(const KBENCH_CASE *Case, ULONG ArgIndex, const KBENCH_OPTIONS *Options,
                    PKBENCH_RESULT Result);
/* The JSON object of a result (no "kbench: " prefix, no newline). Returns
 * the length written (the text is cut to fit, always NUL-terminated). */
SIZE_T KbenchFormatResult(const KBENCH_RESULT *Result, char *Buffer, SIZE_T BufferSize);
/* Runs every selected entry on processor 0 with at least MinTimeMs per
 * entry, printing "kbench: {...}" lines and then "kbench: done". Returns
 * the number of entries that reported an error. */
ULONG KbenchRun(PCSTR Filter, ULONG MinTimeMs);

#endif /* _KBENCH_ */

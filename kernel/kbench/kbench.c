/*
 * kbench.c - the kbench runner: finds the registered benchmarks in their
 * linker section, grows each one's iteration count until a run lasts the
 * minimum time (Google Benchmark's policy: x10 while a run is under a tenth
 * of it, else a prediction with 40% headroom), and prints the result as a
 * Google Benchmark JSON entry on the debug console.
 */
#include <ntddk.h>
#include <arch.h>
#include <kbench.h>
#include <ke.h>
#include <rtlp.h>

#if defined(_WIN64)
/* The PE linker orders .kbench$a, .kbench$m, .kbench$z by the text after '$'. */
__attribute__((section(".kbench$a"), used)) static const KBENCH_CASE *const KbpStart = NULL;
__attribute__((section(".kbench$z"), used)) static const KBENCH_CASE *const KbpEnd = NULL;
#define KBP_FIRST (&KbpStart + 1)
#define KBP_LAST  (&KbpEnd)
#else
/* Weak: a hosted program without benchmark bodies has no such section. */
extern const KBENCH_CASE *const __start_kbench_cases[] __attribute__((weak));
extern const KBENCH_CASE *const __stop_kbench_cases[] __attribute__((weak));
#define KBP_FIRST (__start_kbench_cases)
#define KBP_LAST  (__stop_kbench_cases)
#endif

/* Google Benchmark's cap on the iterations of one run. */
#define KBP_MAX_ITERATIONS 1000000000ull
#define KBP_PICOSECONDS    1000000000000ull

/* ---- For benchmark bodies ---- */

ULONG64 KbenchNow(PKBENCH_STATE State)
{
    return State->Clock != NULL ? State->Clock() : KiReadTimestamp();
}

BOOLEAN KbenchKeepRunning(PKBENCH_STATE State)
{
    if (State->Finished) {
        return FALSE;
    }
    if (State->Done == 0 && !State->Running && State->ErrorMessage == NULL) {
        State->Running = TRUE;
        State->StartTicks = KbenchNow(State);
    }
    if (State->ErrorMessage == NULL && State->Done < State->Iterations) {
        State->Done++;
        return TRUE;
    }
    KbenchPauseTiming(State);
    State->Finished = TRUE;
    return FALSE;
}

VOID KbenchPauseTiming(PKBENCH_STATE State)
{
    if (State->Running) {
        State->ElapsedTicks += KbenchNow(State) - State->StartTicks;
        State->Running = FALSE;
    }
}

VOID KbenchResumeTiming(PKBENCH_STATE State)
{
    if (!State->Running && !State->Finished && State->Done != 0) {
        State->Running = TRUE;
        State->StartTicks = KbenchNow(State);
    }
}

VOID KbenchSetIterationTime(PKBENCH_STATE State, ULONG64 Ticks)
{
    State->ManualTicks += Ticks;
}

VOID KbenchSkipWithError(PKBENCH_STATE State, PCSTR Message)
{
    if (State->ErrorMessage == NULL) {
        State->ErrorMessage = Message != NULL ? Message : "error";
    }
}

VOID KbenchSetItemsProcessed(PKBENCH_STATE State, ULONG64 Items)
{
    State->ItemsProcessed = Items;
}

VOID KbenchSetCounter(PKBENCH_STATE State, PCSTR Name, ULONG64 Value, ULONG Flags)
{
    for (ULONG i = 0; i < State->CounterCount; i++) {
        if (strcmp(State->Counters[i].Name, Name) == 0) {
            State->Counters[i].Value = Value;
            State->Counters[i].Flags = Flags;
            return;
        }
    }
    if (State->CounterCount < KBENCH_MAX_COUNTERS) {
        State->Counters[State->CounterCount].Name = Name;
        State->Counters[State->CounterCount].Value = Value;
        State->Counters[State->CounterCount].Flags = Flags;
        State->CounterCount++;
    }
}

/* ---- Registry and selection ---- */

ULONG KbenchCount(VOID)
{
    ULONG Count = 0;
    for (const KBENCH_CASE *const *Entry = KBP_FIRST; Entry < KBP_LAST; Entry++) {
        if (*Entry != NULL) {
            Count++;
        }
    }
    return Count;
}

const KBENCH_CASE *KbenchGet(ULONG Index)
{
    for (const KBENCH_CASE *const *Entry = KBP_FIRST; Entry < KBP_LAST; Entry++) {
        if (*Entry != NULL && Index-- == 0) {
            return *Entry;
        }
    }
    return NULL;
}

VOID KbenchEntryName(const KBENCH_CASE *Case, ULONG ArgIndex, char *Buffer, SIZE_T BufferSize)
{
    if (Case->ArgName != NULL && ArgIndex < Case->ArgCount) {
        RtlpFormat(Buffer, BufferSize, "%s/%s:%lld", Case->Name, Case->ArgName,
                   (long long)Case->Args[ArgIndex]);
    } else {
        RtlpFormat(Buffer, BufferSize, "%s", Case->Name);
    }
}

/* ---- Calibration ---- */

/* A * B / C without overflow in the product (the quotient saturates).
 * Long division by hand: a 128-by-64 division would call a compiler
 * runtime routine the kernel does not link. */
static ULONG64 KbpMulDiv(ULONG64 A, ULONG64 B, ULONG64 C)
{
    unsigned __int128 Product = (unsigned __int128)A * B;
    unsigned __int128 Remainder = 0, Quotient = 0;

    if (C == 0) {
        return 0;
    }
    if ((Product >> 64) == 0) {
        return (ULONG64)Product / C;
    }
    for (int Bit = 127; Bit >= 0; Bit--) {
        Remainder = (Remainder << 1) | (ULONG64)((Product >> Bit) & 1);
        if (Remainder >= C) {
            Remainder -= C;
            Quotient |= (unsigned __int128)1 << Bit;
        }
    }
    return (Quotient >> 64) != 0 ? ~0ull : (ULONG64)Quotient;
}

/* The next run's size after Iterations took Measured ticks, short of
 * MinTicks: x10 while the run was too short to extrapolate from (at most a
 * tenth of the goal), else the prediction for the goal plus 40%. */
static ULONG64 KbpNextIterations(ULONG64 Iterations, ULONG64 Measured, ULONG64 MinTicks,
                                 ULONG64 MaxIterations)
{
    ULONG64 Next;

    if (Measured <= MinTicks / 10) {
        Next = Iterations * 10;
    } else {
        Next = KbpMulDiv(Iterations * 14, MinTicks, Measured * 10);
    }
    if (Next <= Iterations) {
        Next = Iterations + 1;
    }
    return Next > MaxIterations ? MaxIterations : Next;
}

/* One run of Iterations iterations of entry ArgIndex of Case into State. */
static VOID KbpRunOnce(const KBENCH_CASE *Case, ULONG ArgIndex, const KBENCH_OPTIONS *Options,
                       ULONG64 Iterations, PKBENCH_STATE State)
{
    RtlZeroMemory(State, sizeof(*State));
    State->Arg = (Case->ArgName != NULL && ArgIndex < Case->ArgCount) ? Case->Args[ArgIndex] : 0;
    State->Iterations = Iterations;
    State->Clock = Options->Clock;
    Case->Routine(State);
}

VOID KbenchRunEntry(const KBENCH_CASE *Case, ULONG ArgIndex, const KBENCH_OPTIONS *Options,
                    PKBENCH_RESULT Result)
{
    ULONG64 MaxIterations =
        Options->MaxIterations != 0 ? Options->MaxIterations : KBP_MAX_ITERATIONS;
    ULONG64 Iterations = 1;

    RtlZeroMemory(Result, sizeof(*Result));
    KbenchEntryName(Case, ArgIndex, Result->Name, sizeof(Result->Name));
    Result->Frequency = Options->Frequency != 0 ? Options->Frequency : KiQueryTimestampFrequency();

    /* The first iteration may pay for what later ones reuse: a new pool
     * page, a thread stack, the first touch of memory (a costly exit under
     * a hypervisor). A one-iteration run that already took the minimum time
     * would otherwise be the result. */
    if (Options->Warmup) {
        KBENCH_STATE State;

        KbpRunOnce(Case, ArgIndex, Options, 1, &State);
        if (State.ErrorMessage != NULL) {
            Result->ErrorMessage = State.ErrorMessage;
            return;
        }
    }

    for (;;) {
        KBENCH_STATE State;
        ULONG64 Measured;

        KbpRunOnce(Case, ArgIndex, Options, Iterations, &State);
        if (Options->RunSizes != NULL && Result->Runs < ARRAYSIZE(*Options->RunSizes)) {
            (*Options->RunSizes)[Result->Runs] = Iterations;
        }
        Result->Runs++;

        if (State.ErrorMessage != NULL) {
            Result->ErrorMessage = State.ErrorMessage;
            return;
        }
        if (!State.Finished || State.Done != Iterations) {
            /* A body that leaves its loop early would report a time per
             * iteration for iterations it never did. */
            Result->ErrorMessage = "the benchmark left its loop before the last iteration";
            return;
        }
        Measured = (Case->Flags & KBENCH_MANUAL_TIME) ? State.ManualTicks : State.ElapsedTicks;
        if (Measured >= Options->MinTicks || Iterations >= MaxIterations) {
            Result->Iterations = Iterations;
            Result->RealTicks = Measured;
            Result->CpuTicks = State.ElapsedTicks;
            Result->ItemsProcessed = State.ItemsProcessed;
            Result->CounterCount = State.CounterCount;
            memcpy(Result->Counters, State.Counters, sizeof(Result->Counters));
            return;
        }
        Iterations = KbpNextIterations(Iterations, Measured, Options->MinTicks, MaxIterations);
    }
}

/* ---- JSON ---- */

typedef struct _KBP_TEXT {
    char *Buffer;
    SIZE_T Size;
    SIZE_T Length;
} KBP_TEXT;

static VOID KbpAppend(KBP_TEXT *Text, PCSTR Format, ...) __attribute__((format(printf, 2, 3)));

static VOID KbpAppend(KBP_TEXT *Text, PCSTR Format, ...)
{
    va_list Args;
    SIZE_T Written;

    if (Text->Length + 1 >= Text->Size) {
        return;
    }
    va_start(Args, Format);
    Written = RtlpFormatV(Text->Buffer + Text->Length, Text->Size - Text->Length, Format, Args);
    va_end(Args);
    Text->Length += Written;
    if (Text->Length >= Text->Size) {
        Text->Length = Text->Size - 1;
    }
}

/* A JSON string: quotes and backslashes escaped, control characters
 * (never in names; a message might carry one) as \u00XX. */
static VOID KbpAppendString(KBP_TEXT *Text, PCSTR String)
{
    KbpAppend(Text, "\"");
    for (; *String != '\0'; String++) {
        UCHAR c = (UCHAR)*String;
        if (c == '"' || c == '\\') {
            KbpAppend(Text, "\\%c", c);
        } else if (c < 0x20) {
            KbpAppend(Text, "\\u%04x", c);
        } else {
            KbpAppend(Text, "%c", c);
        }
    }
    KbpAppend(Text, "\"");
}

/* A fixed-point number with three decimals: Milli / 1000. */
static VOID KbpAppendMilli(KBP_TEXT *Text, ULONG64 Milli)
{
    KbpAppend(Text, "%llu.%03llu", (unsigned long long)(Milli / 1000),
              (unsigned long long)(Milli % 1000));
}

/* Picoseconds per iteration = nanoseconds with three decimals. */
static ULONG64 KbpPicosecondsPerIteration(const KBENCH_RESULT *Result, ULONG64 Ticks)
{
    if (Result->Iterations == 0) {
        return 0;
    }
    return KbpMulDiv(Ticks, KBP_PICOSECONDS, Result->Frequency) / Result->Iterations;
}

/* A rate counter: Value per second of the reported time, x1000. */
static ULONG64 KbpMilliRate(const KBENCH_RESULT *Result, ULONG64 Value)
{
    return KbpMulDiv(Value, Result->Frequency * 1000, Result->RealTicks);
}

SIZE_T KbenchFormatResult(const KBENCH_RESULT *Result, char *Buffer, SIZE_T BufferSize)
{
    KBP_TEXT Text = { Buffer, BufferSize, 0 };

    if (BufferSize == 0) {
        return 0;
    }
    Buffer[0] = '\0';
    KbpAppend(&Text, "{\"name\": ");
    KbpAppendString(&Text, Result->Name);
    if (Result->ErrorMessage != NULL) {
        /* Google Benchmark's shape for SkipWithError: zero times. */
        KbpAppend(&Text, ", \"error_occurred\": true, \"error_message\": ");
        KbpAppendString(&Text, Result->ErrorMessage);
        KbpAppend(&Text, ", \"iterations\": 0, \"real_time\": 0.000, \"cpu_time\": 0.000, "
                         "\"time_unit\": \"ns\"}");
        return Text.Length;
    }
    KbpAppend(&Text,
              ", \"iterations\": %llu, \"real_time\": ", (unsigned long long)Result->Iterations);
    KbpAppendMilli(&Text, KbpPicosecondsPerIteration(Result, Result->RealTicks));
    KbpAppend(&Text, ", \"cpu_time\": ");
    KbpAppendMilli(&Text, KbpPicosecondsPerIteration(Result, Result->CpuTicks));
    KbpAppend(&Text, ", \"time_unit\": \"ns\"");
    if (Result->ItemsProcessed != 0) {
        KbpAppend(&Text, ", \"items_per_second\": ");
        KbpAppendMilli(&Text, KbpMilliRate(Result, Result->ItemsProcessed));
    }
    for (ULONG i = 0; i < Result->CounterCount && i < KBENCH_MAX_COUNTERS; i++) {
        const KBENCH_COUNTER *Counter = &Result->Counters[i];
        KbpAppend(&Text, ", ");
        KbpAppendString(&Text, Counter->Name);
        KbpAppend(&Text, ": ");
        if (Counter->Flags & KBENCH_COUNTER_RATE) {
            KbpAppendMilli(&Text, KbpMilliRate(Result, Counter->Value));
        } else {
            KbpAppend(&Text, "%llu", (unsigned long long)Counter->Value);
        }
    }
    KbpAppend(&Text, "}");
    return Text.Length;
}

/* ---- The suite ---- */

static ULONG KbpEntryCount(const KBENCH_CASE *Case)
{
    return Case->ArgName != NULL ? Case->ArgCount : 1;
}

ULONG KbenchRun(PCSTR Filter, ULONG MinTimeMs)
{
    KBENCH_OPTIONS Options;
    KBENCH_RESULT Result;
    char Name[96], Json[448];
    ULONG Selected = 0, Errors = 0;
    KAFFINITY Previous;

    RtlZeroMemory(&Options, sizeof(Options));
    Options.Frequency = KiQueryTimestampFrequency();
    Options.MinTicks = KbpMulDiv(MinTimeMs, Options.Frequency, 1000);
    Options.Warmup = TRUE;

    for (ULONG i = 0; i < KbenchCount(); i++) {
        const KBENCH_CASE *Case = KbenchGet(i);
        for (ULONG a = 0; a < KbpEntryCount(Case); a++) {
            KbenchEntryName(Case, a, Name, sizeof(Name));
            Selected += RtlpMatchFilter(Filter, Name) ? 1 : 0;
        }
    }
    DbgPrint("kbench: %u benchmarks, at least %u ms each, %u processors, timestamp %llu Hz\n",
             Selected, MinTimeMs, KeQueryActiveProcessorCount(NULL),
             (unsigned long long)Options.Frequency);

    /* The runner's thread stays on processor 0: "same processor" and
     * "other processor" in the bodies are relative to it. */
    Previous = KeSetSystemAffinityThreadEx((KAFFINITY)1);
    for (ULONG i = 0; i < KbenchCount(); i++) {
        const KBENCH_CASE *Case = KbenchGet(i);
        for (ULONG a = 0; a < KbpEntryCount(Case); a++) {
            KbenchEntryName(Case, a, Name, sizeof(Name));
            if (!RtlpMatchFilter(Filter, Name)) {
                continue;
            }
            KbenchRunEntry(Case, a, &Options, &Result);
            KbenchFormatResult(&Result, Json, sizeof(Json));
            DbgPrint("kbench: %s\n", Json);
            Errors += Result.ErrorMessage != NULL ? 1 : 0;
        }
    }
    KeRevertToUserAffinityThreadEx(Previous);
    DbgPrint("kbench: done\n");
    return Errors;
}

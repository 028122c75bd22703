/*
 * time.c - time keeping over the arch timestamp counter: the performance
 * counter (the counter itself and its calibrated rate), interrupt time and
 * tick count (100 ns units / 1 ms ticks since boot), system time (the
 * wall clock read at boot plus elapsed time), stalls, and calendar to NT
 * time conversion, and the clock interrupt (quantum end, timer expiry).
 * All queries derive from the counter so they are exact between ticks.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include "kisched.h"

static ULONG64 KiTimestampFrequency = 1000000000ull;
static ULONG64 KiBootTimestamp;
static ULONG64 KiBootSystemTime;

VOID KiInitializeTime(ULONG64 TimestampFrequency, ULONG64 BootTimestamp, ULONG64 BootSystemTime)
{
    KiTimestampFrequency = TimestampFrequency != 0 ? TimestampFrequency : 1;
    KiBootTimestamp = BootTimestamp;
    KiBootSystemTime = BootSystemTime;
    KeGetCurrentPrcb()->TimestampFrequency = KiTimestampFrequency;
}

ULONG64 KiQueryBootTimestamp(VOID)
{
    return KiBootTimestamp;
}

ULONG64 KiQueryTimestampFrequency(VOID)
{
    return KiTimestampFrequency;
}

/* Delta * Units / Frequency without 128-bit division: whole seconds and the
 * remainder separately (Remainder * Units stays below 2^64 for any counter
 * slower than 1.8 THz). */
static ULONG64 KiScaleTimestamp(ULONG64 Delta, ULONG64 Units)
{
    ULONG64 Seconds = Delta / KiTimestampFrequency;
    ULONG64 Remainder = Delta % KiTimestampFrequency;
    return Seconds * Units + Remainder * Units / KiTimestampFrequency;
}

ULONG64 KiTimestampTo100ns(ULONG64 Delta)
{
    return KiScaleTimestamp(Delta, 10000000ull);
}

ULONG64 KiTimestampToMicroseconds(ULONG64 Delta)
{
    return KiScaleTimestamp(Delta, 1000000ull);
}

static ULONG64 KiElapsed(VOID)
{
    ULONG64 Now = KiReadTimestamp();
    return Now > KiBootTimestamp ? Now - KiBootTimestamp : 0;
}

LARGE_INTEGER NTAPI KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)
{
    LARGE_INTEGER Counter;

    if (PerformanceFrequency != NULL) {
        PerformanceFrequency->QuadPart = (LONGLONG)KiTimestampFrequency;
    }
    Counter.QuadPart = (LONGLONG)KiReadTimestamp();
    return Counter;
}

ULONGLONG NTAPI KeQueryInterruptTime(VOID)
{
    return KiTimestampTo100ns(KiElapsed());
}

VOID NTAPI KeQueryTickCount(PLARGE_INTEGER CurrentCount)
{
    CurrentCount->QuadPart = (LONGLONG)(KeQueryInterruptTime() / KI_TIME_INCREMENT);
}

ULONG NTAPI KeQueryTimeIncrement(VOID)
{
    return KI_TIME_INCREMENT;
}

VOID NTAPI KeQuerySystemTime(PLARGE_INTEGER CurrentTime)
{
    CurrentTime->QuadPart = (LONGLONG)(KiBootSystemTime + KeQueryInterruptTime());
}

VOID NTAPI KeStallExecutionProcessor(ULONG MicroSeconds)
{
    ULONG64 Start = KiReadTimestamp();
    ULONG64 Ticks = (ULONG64)MicroSeconds / 1000000ull * KiTimestampFrequency +
                    (ULONG64)MicroSeconds % 1000000ull * KiTimestampFrequency / 1000000ull;

    while (KiReadTimestamp() - Start < Ticks) {
        __builtin_ia32_pause();
    }
}

/* At CLOCK_LEVEL on every processor: quantum accounting for the running
 * thread (its own field, only ever touched by this processor), timer
 * expiry and low-importance DPCs left queued; the work itself runs in the
 * DISPATCH_LEVEL software interrupt this requests. */
VOID KiClockInterrupt(VOID)
{
    PKPRCB Prcb = KeGetCurrentPrcb();
    struct _KTHREAD *Thread = Prcb->CurrentThread;
    BOOLEAN Dispatch = FALSE;

    Prcb->InterruptCount++;
    if (Thread != NULL) {
        if (Thread == Prcb->IdleThread) {
            Prcb->IdleTicks++;
            /* Idle: look for work other processors queued. */
            Dispatch = __atomic_load_n(&KiReadyCount, __ATOMIC_RELAXED) != 0;
        } else if (--Thread->Quantum <= 0) {
            Prcb->QuantumEnd = TRUE;
            Dispatch = TRUE;
        }
    }
    if (KeQueryInterruptTime() >= __atomic_load_n(&KiNextTimerDueTime, __ATOMIC_RELAXED)) {
        Prcb->TimerRequest = TRUE;
        Dispatch = TRUE;
    }
    if (Prcb->DpcData.DpcQueueDepth != 0) {
        Dispatch = TRUE;
    }
    if (Dispatch) {
        KiRequestSoftwareInterrupt(DISPATCH_LEVEL);
    }
}

static BOOLEAN KiIsLeapYear(ULONG Year)
{
    return (Year % 4 == 0 && Year % 100 != 0) || Year % 400 == 0;
}

BOOLEAN KiCalendarToSystemTime(ULONG Year, ULONG Month, ULONG Day, ULONG Hour, ULONG Minute,
                               ULONG Second, PULONG64 SystemTime)
{
    static const UCHAR DaysInMonth[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    ULONG64 Days = 0;

    if (Year < 1601 || Year > 30827 || Month < 1 || Month > 12 || Day < 1 || Hour > 23 ||
        Minute > 59 || Second > 59) {
        return FALSE;
    }
    if (Day > DaysInMonth[Month - 1] + (Month == 2 && KiIsLeapYear(Year) ? 1u : 0u)) {
        return FALSE;
    }
    /* Whole years since 1601, counting leap days arithmetically. */
    ULONG64 Years = Year - 1601;
    Days = Years * 365 + Years / 4 - Years / 100 + Years / 400;
    for (ULONG m = 1; m < Month; m++) {
        Days += DaysInMonth[m - 1] + (m == 2 && KiIsLeapYear(Year) ? 1u : 0u);
    }
    Days += Day - 1;
    *SystemTime = ((Days * 24 + Hour) * 60 + Minute) * 60 + Second;
    *SystemTime *= 10000000ull;
    return TRUE;
}

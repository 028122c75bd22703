/*
 * time_test.c - ktest cases for the performance counter, interrupt time,
 * system time, stalls, the clock interrupt and calendar conversion.
 */
#include <ntddk.h>
#include <ktest.h>
#include <ke.h>

KTEST(ke_time, performance_counter_calibrated)
{
    LARGE_INTEGER Frequency, A, B;

    A = KeQueryPerformanceCounter(&Frequency);
    /* Anything from 1 MHz to 100 GHz is a plausible calibration. */
    KT_EXPECT_GE(Frequency.QuadPart, 1000000LL);
    KT_EXPECT_LE(Frequency.QuadPart, 100000000000LL);
    B = KeQueryPerformanceCounter(NULL);
    KT_EXPECT_GE(B.QuadPart, A.QuadPart);
}

KTEST(ke_time, stall_advances_counter_by_about_10ms)
{
    LARGE_INTEGER Frequency, Start, End;
    ULONGLONG InterruptStart, InterruptEnd;
    LONGLONG ElapsedUs;

    Start = KeQueryPerformanceCounter(&Frequency);
    InterruptStart = KeQueryInterruptTime();
    KeStallExecutionProcessor(10000);
    End = KeQueryPerformanceCounter(NULL);
    InterruptEnd = KeQueryInterruptTime();

    ElapsedUs = (End.QuadPart - Start.QuadPart) * 1000000LL / Frequency.QuadPart;
    KT_EXPECT_GE(ElapsedUs, 10000);
    /* Loose: emulators and loaded machines stall long. */
    KT_EXPECT_LT(ElapsedUs, 1000000);
    KT_EXPECT_GE((LONGLONG)(InterruptEnd - InterruptStart), 100000LL);
}

KTEST(ke_time, interrupt_time_and_ticks_monotonic)
{
    ULONGLONG Last = KeQueryInterruptTime();
    LARGE_INTEGER Ticks1, Ticks2;

    KeQueryTickCount(&Ticks1);
    for (int i = 0; i < 1000; i++) {
        ULONGLONG Now = KeQueryInterruptTime();
        KT_ASSERT_TRUE(Now >= Last);
        Last = Now;
    }
    KeQueryTickCount(&Ticks2);
    KT_EXPECT_GE(Ticks2.QuadPart, Ticks1.QuadPart);
    KT_EXPECT_EQ(KeQueryTimeIncrement(), KI_TIME_INCREMENT);
    KT_EXPECT_LE(Ticks2.QuadPart, (LONGLONG)(KeQueryInterruptTime() / KeQueryTimeIncrement()));
}

KTEST(ke_time, system_time_is_plausible)
{
    LARGE_INTEGER Now, Later;
    ULONG64 Y2020, Y2200;

    KT_ASSERT_TRUE(KiCalendarToSystemTime(2020, 1, 1, 0, 0, 0, &Y2020));
    KT_ASSERT_TRUE(KiCalendarToSystemTime(2200, 1, 1, 0, 0, 0, &Y2200));
    KeQuerySystemTime(&Now);
    KT_EXPECT_GE(Now.QuadPart, (LONGLONG)Y2020);
    KT_EXPECT_LT(Now.QuadPart, (LONGLONG)Y2200);
    KeStallExecutionProcessor(1000);
    KeQuerySystemTime(&Later);
    KT_EXPECT_GE(Later.QuadPart - Now.QuadPart, 10000LL);
}

KTEST(ke_time, calendar_conversion)
{
    ULONG64 T;

    KT_ASSERT_TRUE(KiCalendarToSystemTime(1601, 1, 1, 0, 0, 0, &T));
    KT_EXPECT_EQ(T, 0);
    KT_ASSERT_TRUE(KiCalendarToSystemTime(1970, 1, 1, 0, 0, 0, &T));
    KT_EXPECT_EQ(T, 116444736000000000ull);
    KT_ASSERT_TRUE(KiCalendarToSystemTime(2000, 2, 29, 12, 34, 56, &T));
    KT_EXPECT_EQ(T, 125963012960000000ull);
    KT_EXPECT_FALSE(KiCalendarToSystemTime(2001, 2, 29, 0, 0, 0, &T));
    KT_EXPECT_FALSE(KiCalendarToSystemTime(1900, 2, 29, 0, 0, 0, &T));
    KT_EXPECT_FALSE(KiCalendarToSystemTime(2024, 13, 1, 0, 0, 0, &T));
    KT_EXPECT_FALSE(KiCalendarToSystemTime(2024, 1, 1, 24, 0, 0, &T));
    KT_EXPECT_FALSE(KiCalendarToSystemTime(1600, 12, 31, 0, 0, 0, &T));
}

KTEST(ke_time, timestamp_scaling)
{
    ULONG64 F = KiQueryTimestampFrequency();

    KT_EXPECT_EQ(KiTimestampToMicroseconds(F), 1000000);
    KT_EXPECT_EQ(KiTimestampTo100ns(F * 3), 30000000);
    /* A year of uptime does not overflow. */
    KT_EXPECT_EQ(KiTimestampToMicroseconds(F * 31536000ull), 31536000000000ull);
}

KTEST(ke_time, clock_interrupt_ticks)
{
    PKPRCB Prcb = KeGetCurrentPrcb();
    ULONG64 Before = Prcb->InterruptCount;

    if (Before == 0) {
        KT_SKIP("no clock interrupt source (hosted)");
    }
    KeStallExecutionProcessor(20000);
    /* 1 ms tick: at least a few in 20 ms, even under an emulator. */
    KT_EXPECT_GE((LONGLONG)(Prcb->InterruptCount - Before), 5LL);
    KT_EXPECT_LE((LONGLONG)(Prcb->InterruptCount - Before), 200LL);
}

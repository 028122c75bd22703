/*
 * rtc.c - the CMOS real-time clock, read once at boot to seed the system
 * time. Handles BCD and binary modes and the 12-hour format, waits out an
 * update in progress and re-reads until two reads agree.
 */
#include <ntddk.h>
#include <hal.h>
#include <ke.h>
#include "halp.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA  0x71

typedef struct _HALP_RTC_TIME {
    UCHAR Second, Minute, Hour, Day, Month, Year, Century, StatusB;
} HALP_RTC_TIME;

static UCHAR HalpReadCmos(UCHAR Register)
{
    HalpOutByte(CMOS_INDEX, Register);
    return HalpInByte(CMOS_DATA);
}

static VOID HalpReadRtcOnce(HALP_RTC_TIME *Time)
{
    /* Update-in-progress lasts under 2 ms; bound the wait anyway. */
    for (ULONG Spin = 0; Spin < 1000000 && (HalpReadCmos(0x0A) & 0x80); Spin++) {
    }
    Time->Second = HalpReadCmos(0x00);
    Time->Minute = HalpReadCmos(0x02);
    Time->Hour = HalpReadCmos(0x04);
    Time->Day = HalpReadCmos(0x07);
    Time->Month = HalpReadCmos(0x08);
    Time->Year = HalpReadCmos(0x09);
    Time->Century = HalpReadCmos(0x32);
    Time->StatusB = HalpReadCmos(0x0B);
}

static ULONG HalpFromBcd(UCHAR Value, BOOLEAN Bcd)
{
    return Bcd ? (ULONG)(Value >> 4) * 10 + (Value & 0x0F) : Value;
}

BOOLEAN HalpQueryRealTimeClock(PULONG64 SystemTime)
{
    HALP_RTC_TIME A, B;
    BOOLEAN Bcd, Pm;
    ULONG Hour, Year, Century;

    HalpReadRtcOnce(&A);
    for (int Try = 0; Try < 5; Try++) {
        HalpReadRtcOnce(&B);
        if (A.Second == B.Second && A.Minute == B.Minute && A.Hour == B.Hour && A.Day == B.Day &&
            A.Month == B.Month && A.Year == B.Year) {
            break;
        }
        A = B;
    }
    Bcd = (A.StatusB & 0x04) == 0;
    Pm = (A.StatusB & 0x02) == 0 && (A.Hour & 0x80) != 0;
    Hour = HalpFromBcd(A.Hour & 0x7F, Bcd);
    if ((A.StatusB & 0x02) == 0) {
        /* 12-hour clock: 12 AM is 0, 12 PM is 12. */
        Hour = (Hour % 12) + (Pm ? 12 : 0);
    }
    Year = HalpFromBcd(A.Year, Bcd);
    Century = HalpFromBcd(A.Century, Bcd);
    if (Century < 19 || Century > 30) {
        Century = 20;
    }
    Year += Century * 100;
    return KiCalendarToSystemTime(Year, HalpFromBcd(A.Month, Bcd), HalpFromBcd(A.Day, Bcd), Hour,
                                  HalpFromBcd(A.Minute, Bcd), HalpFromBcd(A.Second, Bcd),
                                  SystemTime);
}

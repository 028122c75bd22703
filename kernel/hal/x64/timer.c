/*
 * timer.c - time sources of the bare-metal HAL: TSC calibration against
 * the 8254 PIT (channel 2, whose gate and output are reachable through
 * port 0x61 without interrupts), and the local APIC timer (apic.c owns the
 * APIC itself): calibrated against the TSC once on the boot processor and
 * run as the periodic clock interrupt on every processor. The legacy 8259
 * PICs are remapped away from the exception vectors and masked.
 */
#include <ntddk.h>
#include <arch.h>
#include <hal.h>
#include <ke.h>
#include <mm.h>
#include "halp.h"

#define PIT_FREQUENCY       1193182ull
#define PIT_CHANNEL2        0x42
#define PIT_COMMAND         0x43
#define PIT_GATE_PORT       0x61
#define HALP_CALIBRATION_US 5000ull

#define APIC_LVT_TIMER     0x320
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE  0x3E0

#define APIC_LVT_MASKED   (1u << 16)
#define APIC_LVT_PERIODIC (1u << 17)
#define APIC_DIVIDE_BY_16 0x3

/* APIC timer counts per clock period, measured once on the boot
 * processor and reused by the others (same bus clock). */
static ULONG HalpClockTicksPerPeriod;

static ULONG64 HalpReadTsc(VOID)
{
    return KiReadTimestamp();
}

ULONG64 HalpCalibrateTimestampCounter(VOID)
{
    ULONG Count = (ULONG)(PIT_FREQUENCY * HALP_CALIBRATION_US / 1000000ull);
    UCHAR Gate = HalpInByte(PIT_GATE_PORT);
    ULONG64 Start, End;
    ULONG Spin;

    /* Gate high, speaker off; mode 0 (interrupt on terminal count): OUT2
     * goes high once Count PIT ticks have elapsed. */
    HalpOutByte(PIT_GATE_PORT, (UCHAR)((Gate & ~0x02) | 0x01));
    HalpOutByte(PIT_COMMAND, 0xB0);
    HalpOutByte(PIT_CHANNEL2, (UCHAR)(Count & 0xFF));
    HalpOutByte(PIT_CHANNEL2, (UCHAR)(Count >> 8));
    Start = HalpReadTsc();
    for (Spin = 0; Spin < 100000000u; Spin++) {
        if (HalpInByte(PIT_GATE_PORT) & 0x20) {
            break;
        }
    }
    End = HalpReadTsc();
    HalpOutByte(PIT_GATE_PORT, Gate);
    if (Spin == 100000000u || End <= Start) {
        /* No PIT: assume a common rate rather than dividing by zero. */
        return 2000000000ull;
    }
    return (End - Start) * 1000000ull / HALP_CALIBRATION_US;
}

static VOID HalpMaskLegacyPics(VOID)
{
    /* Remap to 0x20-0x2F first so a stray legacy interrupt can never look
     * like an exception, then mask every line. */
    HalpOutByte(0x20, 0x11);
    HalpOutByte(0xA0, 0x11);
    HalpOutByte(0x21, 0x20);
    HalpOutByte(0xA1, 0x28);
    HalpOutByte(0x21, 0x04);
    HalpOutByte(0xA1, 0x02);
    HalpOutByte(0x21, 0x01);
    HalpOutByte(0xA1, 0x01);
    HalpOutByte(0x21, 0xFF);
    HalpOutByte(0xA1, 0xFF);
}

NTSTATUS HalpStartClock(ULONG PeriodUs)
{
    ULONG64 Start, TicksPerPeriod;
    ULONG Elapsed;
    NTSTATUS Status;

    HalpMaskLegacyPics();
    Status = HalpInitializeLocalApic();
    if (!NT_SUCCESS(Status)) {
        return Status;
    }

    /* Count down from the top for 1 ms of TSC time, masked. */
    HalpApicWrite(APIC_TIMER_DIVIDE, APIC_DIVIDE_BY_16);
    HalpApicWrite(APIC_LVT_TIMER, APIC_LVT_MASKED | HAL_CLOCK_VECTOR);
    HalpApicWrite(APIC_TIMER_INITIAL, 0xFFFFFFFFu);
    Start = HalpReadTsc();
    KeStallExecutionProcessor(1000);
    Elapsed = 0xFFFFFFFFu - HalpApicRead(APIC_TIMER_CURRENT);
    /* Scale by the stall actually measured (it can overshoot under an
     * emulator). */
    ULONG64 StallUs = KiTimestampToMicroseconds(HalpReadTsc() - Start);
    if (StallUs == 0 || Elapsed == 0) {
        return STATUS_UNSUCCESSFUL;
    }
    TicksPerPeriod = (ULONG64)Elapsed * PeriodUs / StallUs;
    if (TicksPerPeriod == 0 || TicksPerPeriod > 0xFFFFFFFFull) {
        return STATUS_UNSUCCESSFUL;
    }

    HalpClockTicksPerPeriod = (ULONG)TicksPerPeriod;
    HalpApicWrite(APIC_LVT_TIMER, APIC_LVT_PERIODIC | HAL_CLOCK_VECTOR);
    HalpApicWrite(APIC_TIMER_INITIAL, HalpClockTicksPerPeriod);
    return STATUS_SUCCESS;
}

NTSTATUS HalpStartProcessorClock(VOID)
{
    NTSTATUS Status;

    if (HalpClockTicksPerPeriod == 0) {
        return STATUS_UNSUCCESSFUL; /* HalpStartClock has not run */
    }
    Status = HalpInitializeLocalApic();
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    HalpApicWrite(APIC_TIMER_DIVIDE, APIC_DIVIDE_BY_16);
    HalpApicWrite(APIC_LVT_TIMER, APIC_LVT_PERIODIC | HAL_CLOCK_VECTOR);
    HalpApicWrite(APIC_TIMER_INITIAL, HalpClockTicksPerPeriod);
    return STATUS_SUCCESS;
}

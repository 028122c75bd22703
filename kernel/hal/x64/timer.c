/*
 * timer.c - time sources of the bare-metal HAL: TSC calibration against
 * the 8254 PIT (channel 2, whose gate and output are reachable through
 * port 0x61 without interrupts), and the local APIC: mapped through the
 * kernel's I/O space mapping, calibrated against the TSC and run as the
 * periodic clock interrupt. The legacy 8259 PICs are remapped away from
 * the exception vectors and masked.
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

#define IA32_APIC_BASE   0x1B
#define APIC_BASE_ENABLE (1ull << 11)

#define APIC_TPR           0x80
#define APIC_EOI           0xB0
#define APIC_SVR           0xF0
#define APIC_LVT_TIMER     0x320
#define APIC_LVT_LINT0     0x350
#define APIC_LVT_LINT1     0x360
#define APIC_LVT_ERROR     0x370
#define APIC_TIMER_INITIAL 0x380
#define APIC_TIMER_CURRENT 0x390
#define APIC_TIMER_DIVIDE  0x3E0

#define APIC_LVT_MASKED   (1u << 16)
#define APIC_LVT_PERIODIC (1u << 17)
#define APIC_SVR_ENABLE   (1u << 8)
#define APIC_DIVIDE_BY_16 0x3

static volatile ULONG *HalpLocalApic;

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

static ULONG HalpApicRead(ULONG Register)
{
    return HalpLocalApic[Register / 4];
}

static VOID HalpApicWrite(ULONG Register, ULONG Value)
{
    HalpLocalApic[Register / 4] = Value;
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
    ULONG64 Base = HalpReadMsr(IA32_APIC_BASE);
    ULONG64 Start, TicksPerPeriod;
    ULONG Elapsed;

    HalpMaskLegacyPics();
    HalpWriteMsr(IA32_APIC_BASE, Base | APIC_BASE_ENABLE);
    HalpLocalApic = MiMapIoSpace(Base & 0x000FFFFFFFFFF000ull, PAGE_SIZE);
    if (HalpLocalApic == NULL) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    HalpApicWrite(APIC_TPR, 0);
    HalpApicWrite(APIC_SVR, APIC_SVR_ENABLE | HAL_SPURIOUS_VECTOR);
    HalpApicWrite(APIC_LVT_LINT0, APIC_LVT_MASKED);
    HalpApicWrite(APIC_LVT_LINT1, APIC_LVT_MASKED);
    HalpApicWrite(APIC_LVT_ERROR, APIC_LVT_MASKED);

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

    HalpApicWrite(APIC_LVT_TIMER, APIC_LVT_PERIODIC | HAL_CLOCK_VECTOR);
    HalpApicWrite(APIC_TIMER_INITIAL, (ULONG)TicksPerPeriod);
    return STATUS_SUCCESS;
}

VOID HalpEndOfInterrupt(VOID)
{
    if (HalpLocalApic != NULL) {
        HalpApicWrite(APIC_EOI, 0);
    }
}

/*
 * hal.h - the kernel's internal interface to its hardware abstraction
 * layer. Two HALs implement it: hal/x64 (bare metal under QEMU) and
 * hal/hosted (a Linux process). Core code calls only these.
 */
#ifndef _HAL_
#define _HAL_

#include <ntdef.h>

/* Writes raw bytes to the debug console (COM1 / standard output). */
VOID HalPutDebugString(PCSTR Buffer, SIZE_T Length);

/* Ends the machine: QEMU exits through isa-debug-exit with status
 * (ExitCode << 1) | 1; the hosted process exits with ExitCode. */
DECLSPEC_NORETURN VOID HalTerminateSystem(ULONG ExitCode);

/* Exit codes HalTerminateSystem is given. */
#define HAL_EXIT_SUCCESS     0x10 /* clean shutdown; QEMU status 33 */
#define HAL_EXIT_TEST_FAILED 0x11 /* ktest reported failures; QEMU status 35 */
#define HAL_EXIT_BUGCHECK    0x12 /* stop screen shown; QEMU status 37 */

/* ---- Bare-metal HAL (kernel/hal/x64), used by kernel/arch/x64 ---------- */

/* Interrupt vectors (x64 NT: vector >> 4 is the IRQL the vector masks at). */
#define HAL_CLOCK_VECTOR    0xD1 /* CLOCK_LEVEL */
#define HAL_SPURIOUS_VECTOR 0xFF /* local APIC spurious interrupts */

/* COM1 at 115200 8N1, polled. */
VOID HalpInitializeDebugPort(VOID);
/* Measures the TSC rate against the PIT (about 5 ms). Returns ticks per
 * second. */
ULONG64 HalpCalibrateTimestampCounter(VOID);
/* Reads the CMOS real-time clock as 100 ns units since 1601 (UTC).
 * FALSE when the clock reads nonsense. */
BOOLEAN HalpQueryRealTimeClock(PULONG64 SystemTime);
/* Maps and enables the local APIC, masks the legacy PICs, calibrates the
 * APIC timer against the TSC and starts it periodic at PeriodUs on
 * HAL_CLOCK_VECTOR. Interrupts stay disabled. */
NTSTATUS HalpStartClock(ULONG PeriodUs);
/* Acknowledges the interrupt in service at the local APIC. */
VOID HalpEndOfInterrupt(VOID);

/* ---- Multiprocessor support (smp: kernel/hal/x64/apic.c, mp.c) ---- */

/* The IPI vector: IPI_LEVEL (14) in its upper nibble, as NT x64. */
#define HAL_IPI_VECTOR 0xE1

/* On an application processor: enables its local APIC and starts its
 * clock tick with the period HalpStartClock measured. */
NTSTATUS HalpStartProcessorClock(VOID);
/* The current processor's local APIC id. */
ULONG HalpGetLocalApicId(VOID);
/* Interrupt command register: INIT (assert), STARTUP at PageNumber * 4 KiB,
 * and a fixed-vector IPI, to one physical APIC id. FALSE when the APIC
 * did not accept the command in time. */
BOOLEAN HalpSendInitIpi(ULONG ApicId);
BOOLEAN HalpSendStartupIpi(ULONG ApicId, ULONG PageNumber);
BOOLEAN HalpSendIpi(ULONG ApicId, ULONG Vector);
/* The processors the firmware describes: their APIC ids (ACPI MADT, else
 * QEMU's fw_cfg CPU count with ids 0..N-1, else none). Returns the count
 * stored (at most MaxCount); Source names where they came from. */
ULONG HalpEnumerateProcessors(ULONG64 RsdpPhysical, PULONG ApicIds, ULONG MaxCount, PCSTR *Source);

/* ---- end multiprocessor support ---- */

#endif /* _HAL_ */

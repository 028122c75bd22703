/*
 * ke.h - kernel (Ke) internals shared by the portable kernel, the arch code
 * and the HALs: boot-time state, time keeping, boot phases, boot options and
 * bug checks raised from traps.
 */
#ifndef _KE_
#define _KE_

#include <wdm.h>
#include <arc.h>
#include <arch.h>

#define KEEL_VERSION_STRING "0.1.0"

/* The loader block the kernel was started with (a copy in kernel memory;
 * NULL in the hosted build). */
extern PLOADER_PARAMETER_BLOCK KeLoaderBlock;

/* ---- Phase-0 locks (kernel/ke/irql.c) ---------------------------------- */

/* A minimal spin lock for the phase-0 allocators (the real KSPIN_LOCK comes
 * with the dispatcher): raises to DISPATCH_LEVEL (never lowers) and spins. */
typedef volatile LONG KI_LOCK;
KIRQL KiAcquireLock(KI_LOCK *Lock);
VOID KiReleaseLock(KI_LOCK *Lock, KIRQL OldIrql);

/* ---- Time (kernel/ke/time.c) ------------------------------------------- */

/* The clock interrupt period, in 100 ns units: 1 ms (NT defaults to 15.6 ms;
 * a 1 ms tick gives the scheduler finer quanta and costs little). */
#define KI_TIME_INCREMENT 10000

/* Sets the time base: the timestamp counter's rate, the counter value that
 * is "boot" (loader entry) and the wall-clock time (100 ns since 1601) at
 * that moment. */
VOID KiInitializeTime(ULONG64 TimestampFrequency, ULONG64 BootTimestamp, ULONG64 BootSystemTime);
ULONG64 KiQueryTimestampFrequency(VOID);
ULONG64 KiQueryBootTimestamp(VOID);
/* Converts a timestamp delta to 100 ns units / microseconds without
 * overflowing for any realistic uptime. */
ULONG64 KiTimestampTo100ns(ULONG64 Delta);
ULONG64 KiTimestampToMicroseconds(ULONG64 Delta);
/* Converts a calendar date (UTC) to 100 ns units since 1601-01-01. Returns
 * FALSE when a field is out of range. */
BOOLEAN KiCalendarToSystemTime(ULONG Year, ULONG Month, ULONG Day, ULONG Hour, ULONG Minute,
                               ULONG Second, PULONG64 SystemTime);
/* The clock interrupt's work (called at CLOCK_LEVEL). */
VOID KiClockInterrupt(VOID);

/* ---- Boot (kernel/ke/init.c) ------------------------------------------- */

/* "Keel 0.1.0 (NT 10.0 x64, free build)" */
VOID KiPrintBanner(VOID);
/* Prints "boot: <Name> at X.XXX ms" for Timestamp (a KiReadTimestamp
 * value), relative to the boot timestamp. */
VOID KiPrintBootPhase(PCSTR Name, ULONG64 Timestamp);
/* Phase 1 of the portable boot: the module list, boot drivers, then "system
 * ready" and the command-line actions. Returns only when the system should
 * idle. */
VOID KiBootSystem(PVOID KernelBase, ULONG KernelSize, const VOID *BootImage, SIZE_T BootImageSize,
                  PCSTR CommandLine);

/* ---- Boot options (kernel/ke/cmdline.c) -------------------------------- */

/* Finds option Name (case-insensitive) in a space-separated command line
 * of "name" / "name=value" words, reading at most MaxLength bytes. On
 * success, Value and ValueLength describe the value (empty without '='). */
BOOLEAN KiFindBootOption(PCSTR CommandLine, SIZE_T MaxLength, PCSTR Name, PCSTR *Value,
                         PSIZE_T ValueLength);

/* ---- Bug checks (kernel/ke/bugcheck.c) --------------------------------- */

/* KeBugCheckEx with the registers of a trap (printed instead of the
 * caller's, and the stack walk starts at the trap). */
DECLSPEC_NORETURN VOID KiBugCheckTrap(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                      ULONG_PTR P4, PKTRAP_FRAME TrapFrame);
/* The stop screen's view of a trap frame: the registers as a CONTEXT, and
 * the stack walked from it with the unwind tables (RtlpWalkFrames; a stack
 * pointer that is not readable yields the faulting RIP alone). */
VOID KiTrapFrameToContext(const KTRAP_FRAME *TrapFrame, PCONTEXT Context);
ULONG KiWalkTrapFrameStack(const KTRAP_FRAME *TrapFrame, PULONG_PTR Frames, ULONG MaxFrames);
/* Name of a stop code ("IRQL_NOT_LESS_OR_EQUAL"), or NULL. */
PCSTR KiBugCheckName(ULONG BugCheckCode);
/* Maps an unhandled processor exception to the stop code NT uses and bug
 * checks (kernel/ke/except.c). */
DECLSPEC_NORETURN VOID KiUnhandledTrap(PKTRAP_FRAME TrapFrame);

#endif /* _KE_ */

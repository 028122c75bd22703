/*
 * hosted.h - entry points of the hosted HAL (kernel/hal/hosted), used only
 * by host programs (ktest_hosted, benchmarks, fuzzers) that run the kernel
 * inside a Linux process.
 */
#ifndef _HOSTED_
#define _HOSTED_

#include <ntdef.h>

/* Brings up the hosted kernel once: the boot processor's KPCR/KPRCB on the
 * calling thread (processor 0, registered in KiProcessorBlock), "physical
 * memory" (an mmap'd range described by a synthetic loader memory map) and
 * the physical page allocator, the kernel memory allocator and the
 * scheduler, whose processor-0 idle thread is the calling context. No
 * clock runs and no other processor exists until HalHostedStartProcessors:
 * a program that only calls kernel routines on this thread sees no
 * asynchronous interrupts. Idempotent. */
VOID HalHostedInitialize(VOID);

/* Before HalHostedInitialize: Bytes of "RAM" instead of 64 MiB (up to
 * 1 GiB; pages are host memory only once touched). FALSE when too late or
 * out of range. Benchmarks that keep many blocks live use it. */
BOOLEAN HalHostedSetPhysicalMemory(SIZE_T Bytes);

/* Starts the clock of processor 0 (the caller of HalHostedInitialize) and
 * brings the system to Count processors: each another host thread with its
 * own KPCR and clock, ending in KiIdleLoop. Returns the number of active
 * processors. Call it on processor 0's host thread. */
ULONG HalHostedStartProcessors(ULONG Count);

/* Runs Routine(Context) in a new system thread (priority 8) and makes the
 * calling host thread processor 0's idle loop: never returns. Routine ends
 * the program with HalTerminateSystem (hal.h), from any thread. This is
 * how a hosted program runs code that waits, as phase 1 of the bare-metal
 * boot runs in a system thread. */
DECLSPEC_NORETURN VOID HalHostedRunSystemThread(VOID (*Routine)(PVOID), PVOID Context);

#endif /* _HOSTED_ */

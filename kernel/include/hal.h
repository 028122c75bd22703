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
#define HAL_EXIT_SUCCESS 0x10   /* clean shutdown; QEMU status 33 */
#define HAL_EXIT_TEST_FAILED 0x11 /* ktest reported failures; QEMU status 35 */
#define HAL_EXIT_BUGCHECK 0x12  /* stop screen shown; QEMU status 37 */

#endif /* _HAL_ */

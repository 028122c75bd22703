/*
 * hosted.h - entry points of the hosted HAL (kernel/hal/hosted), used only
 * by host programs (ktest_hosted, benchmarks, fuzzers) that run the kernel
 * inside a Linux process.
 */
#ifndef _HOSTED_
#define _HOSTED_

#include <ntdef.h>

/* Brings up the hosted kernel once: the boot processor's KPCR/KPRCB on the
 * calling thread, "physical memory" (an mmap'd range described by a
 * synthetic loader memory map) and the physical page allocator, the kernel
 * memory allocator, and the loaded module list. Idempotent. */
VOID HalHostedInitialize(VOID);

#endif /* _HOSTED_ */

/*
 * init.c - HalHostedInitialize: brings the portable kernel up inside a
 * Linux process the way KiSystemStartup does on bare metal: processor 0
 * (this thread's KPCR, registered with the kernel), time base, "physical
 * memory" described by a synthetic loader memory map, the physical page
 * allocator, the system range for kernel pages, and the scheduler (this
 * context becomes processor 0's idle thread). Clocks and the other
 * processors start in mp.c.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ntddk.h>
#include <arc.h>
#include <arch.h>
#include <hal.h>
#include <hosted.h>
#include <ke.h>
#include <mm.h>
#include "hosted_private.h"

/* 64 MiB of "RAM" by default and 1 GiB of system VA, enough for tests and
 * fuzzers; HalHostedSetPhysicalMemory sets more (benchmarks). */
#define HALP_PHYSICAL_PAGES     0x4000
#define HALP_MAX_PHYSICAL_PAGES 0x40000 /* 1 GiB */
#define HALP_SYSTEM_VA_SIZE     (1ull << 30)

/* Shaped like a PC's map: firmware below 1 MiB, a bad run in the middle,
 * two free runs (so the allocator deals with holes). */
static MEMORY_ALLOCATION_DESCRIPTOR HalpMemoryMap[] = {
    { LoaderFirmwarePermanent, 0, 0x0, 0x100 },
    { LoaderFree, 0, 0x100, 0x2F00 },
    { LoaderBad, 0, 0x3000, 0x10 },
    { LoaderFree, 0, 0x3010, HALP_PHYSICAL_PAGES - 0x3010 },
};
static ULONG HalpPhysicalPages = HALP_PHYSICAL_PAGES;
static volatile BOOLEAN HalpInitialized;

/* 100 ns intervals between 1601-01-01 and 1970-01-01. */
#define HALP_UNIX_EPOCH_AS_SYSTEM_TIME 116444736000000000ull

static pthread_once_t HalpInitOnce = PTHREAD_ONCE_INIT;

static void HalpFatal(const char *What)
{
    fprintf(stderr, "hosted HAL: %s failed\n", What);
    exit(HAL_EXIT_BUGCHECK);
}

static void HalpInitializeOnce(void)
{
    struct timespec Real;
    NTSTATUS Status;

    clock_gettime(CLOCK_REALTIME, &Real);
    KiInitializeTime(1000000000ull, KiReadTimestamp(),
                     HALP_UNIX_EPOCH_AS_SYSTEM_TIME + (ULONG64)Real.tv_sec * 10000000ull +
                         (ULONG64)Real.tv_nsec / 100);
    HalpStartBootProcessor();

    HalpMemoryMap[RTL_NUMBER_OF(HalpMemoryMap) - 1].PageCount = HalpPhysicalPages - 0x3010;
    if (!HalpInitializeHostedMemory((SIZE_T)HalpPhysicalPages * PAGE_SIZE, HALP_SYSTEM_VA_SIZE)) {
        HalpFatal("reserving physical memory");
    }
    Status = MiInitializePhysicalAllocator(HalpMemoryMap, RTL_NUMBER_OF(HalpMemoryMap));
    if (!NT_SUCCESS(Status)) {
        HalpFatal("MiInitializePhysicalAllocator");
    }
    Status = MiInitializeKernelPages();
    if (!NT_SUCCESS(Status)) {
        HalpFatal("MiInitializeKernelPages");
    }
    KiInitializeScheduler();
}

BOOLEAN HalHostedSetPhysicalMemory(SIZE_T Bytes)
{
    SIZE_T Pages = Bytes / PAGE_SIZE;

    /* Only before the memory manager has its map; the layout below 0x3010
     * pages (firmware, a hole) stays as it is. */
    if (HalpInitialized || Pages <= 0x3010 || Pages > HALP_MAX_PHYSICAL_PAGES) {
        return FALSE;
    }
    HalpPhysicalPages = (ULONG)Pages;
    return TRUE;
}

VOID HalHostedInitialize(VOID)
{
    HalpInitialized = TRUE;
    pthread_once(&HalpInitOnce, HalpInitializeOnce);
}

/*
 * kernel_main.c - KeelBenchMain for benchmarks of the hosted kernel: the
 * kernel is brought up with one processor per host processor (each a host
 * thread with its own clock), and Google Benchmark runs in a kernel system
 * thread bound to processor 0. Benchmark bodies may therefore wait, create
 * threads, raise IRQL and use every processor, as kernel code does; the
 * process exits through HalTerminateSystem with the harness's status.
 */
#include <stdio.h>

#include <ntddk.h>
#include <hal.h>
#include <hosted.h>
#include <mm.h>

#include "keelbench.h"

static KEEL_BENCH_RUN_ALL *KbRunAll;

static VOID KbBenchmarkThread(PVOID Context)
{
    int Status;

    UNREFERENCED_PARAMETER(Context);
    /* One processor for the harness's own thread: its timing loop is never
     * migrated, and peers (host threads) see a fixed kernel load. */
    KeSetSystemAffinityThreadEx((KAFFINITY)1);
    /* Steady state first: at start-up the zero-page thread clears all of
     * "RAM" on an idle processor (tens of ms of memset and PFN-lock
     * traffic) - background work a booted system has long finished. */
    for (ULONG Waited = 0; MiFreeListPageCount() != 0 && Waited < 5000; Waited++) {
        LARGE_INTEGER Interval = { .QuadPart = -10000 }; /* 1 ms */
        KeDelayExecutionThread(KernelMode, FALSE, &Interval);
    }
    Status = KbRunAll();
    HalTerminateSystem((ULONG)Status);
}

int KeelBenchMain(KEEL_BENCH_RUN_ALL *RunAll)
{
    KbRunAll = RunAll;
    /* 256 MiB: the pool keeps the pages of its small blocks, and the
     * benchmarks one after another hold more than the tests' 64 MiB. */
    HalHostedSetPhysicalMemory(256ull << 20);
    HalHostedInitialize();
    HalHostedStartProcessors((ULONG)KeelBenchProcessorCount());
    HalHostedRunSystemThread(KbBenchmarkThread, NULL);
}

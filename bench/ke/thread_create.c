/*
 * thread_create.c - sched_thread_create_exit: PsCreateSystemThread of a
 * thread whose start routine returns at once, then waiting on the thread
 * object until it has terminated and closing the handle (NT's
 * PsCreateSystemThread + ObReferenceObjectByHandle + KeWaitForSingleObject
 * + ObDereferenceObject + ZwClose). One thread per iteration. The kernel
 * stack of an ended thread is freed later by an idle processor's reaper
 * (or the next creation); that work is not waited for.
 *
 * Same name in keel_bench_peer_linux (pthread_create + pthread_join).
 */
#include <ntddk.h>

#include "bench_threads.h"
#include "keelbench.h"

static VOID CreateExitRoutine(PVOID Context)
{
    volatile LONGLONG *Runs = Context;
    (*Runs)++;
}

KEEL_BENCHMARK(sched_thread_create_exit)
{
    volatile LONGLONG Runs = 0;

    while (KeelBenchKeepRunning(State)) {
        HANDLE Handle;

        if (!BenchStartThread(CreateExitRoutine, (PVOID)&Runs, &Handle)) {
            KeelBenchSkipWithError(State, "PsCreateSystemThread failed");
            return;
        }
        BenchJoinThread(Handle);
    }
    /* Stacks of the threads just ended are freed before the next run. */
    KiSettleTerminatedThreads();
    if (Runs != KeelBenchIterations(State)) {
        KeelBenchSkipWithError(State, "a thread did not run its routine");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

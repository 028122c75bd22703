/*
 * yield.c - sched_yield/partner:0|1: ZwYieldExecution on processor 0,
 * alone (partner:0: nothing else ready, the call returns
 * STATUS_NO_YIELD_PERFORMED without switching) or with a partner thread of
 * the same priority pinned there that yields in a loop too (partner:1:
 * every call switches to the partner, whose yield switches back: one
 * iteration is a round trip of two yields). Checked: every call returns
 * the status its case expects.
 *
 * Same names in keel_bench_peer_linux (sched_yield()).
 */
#include <ntddk.h>

#include "bench_threads.h"
#include "keelbench.h"

typedef struct YIELD_TEST {
    KEVENT Ready;
    volatile LONG Stop;
    volatile LONGLONG Yields;
} YIELD_TEST;

static VOID YieldPartner(PVOID Context)
{
    YIELD_TEST *Test = Context;

    BenchPinCurrentThread(0);
    KeSetEvent(&Test->Ready, IO_NO_INCREMENT, FALSE);
    while (!Test->Stop) {
        ZwYieldExecution();
        Test->Yields++;
    }
}

KEEL_BENCHMARK_EX(sched_yield, .ArgCount = 2, .Args = { 0, 1 }, .ArgNames = { "partner" })
{
    BOOLEAN WithPartner = KeelBenchRange(State, 0) != 0;
    NTSTATUS Expected = WithPartner ? STATUS_SUCCESS : STATUS_NO_YIELD_PERFORMED;
    YIELD_TEST Test = { 0 };
    HANDLE Partner = NULL;
    LONGLONG Unexpected = 0;

    KeInitializeEvent(&Test.Ready, SynchronizationEvent, FALSE);
    if (WithPartner) {
        if (!BenchStartThread(YieldPartner, &Test, &Partner)) {
            KeelBenchSkipWithError(State, "PsCreateSystemThread failed");
            return;
        }
        KeWaitForSingleObject(&Test.Ready, Executive, KernelMode, FALSE, NULL);
    }

    while (KeelBenchKeepRunning(State)) {
        if (ZwYieldExecution() != Expected) {
            Unexpected++;
        }
    }

    if (WithPartner) {
        Test.Stop = 1;
        BenchJoinThread(Partner);
    }
    if (Unexpected != 0) {
        KeelBenchSkipWithError(State, WithPartner ? "a yield did not switch to the partner"
                                                  : "a yield switched with nothing else ready");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

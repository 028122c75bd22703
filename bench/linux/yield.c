/*
 * yield.c - sched_yield/partner:0|1 on the host Linux: sched_yield() on
 * CPU 0 alone, or with a partner pthread pinned to CPU 0 that yields in a
 * loop too (each call can hand the CPU to the partner and back). Unlike
 * ZwYieldExecution, sched_yield reports no "nothing to yield to", so the
 * switches are counted by the partner instead: partner:1 fails unless the
 * partner made progress.
 */
#include "peer_threads.h"

#include "keelbench.h"

typedef struct YIELD_TEST {
    PEER_EVENT Ready;
    volatile int Stop;
    volatile long long Yields;
    int PinFailed;
} YIELD_TEST;

static void *YieldPartner(void *Context)
{
    YIELD_TEST *Test = Context;

    Test->PinFailed = PeerPinSelf(0, NULL) != 0;
    PeerEventSet(&Test->Ready);
    while (!Test->Stop) {
        sched_yield();
        Test->Yields++;
    }
    return NULL;
}

KEEL_BENCHMARK_EX(sched_yield, .ArgCount = 2, .Args = { 0, 1 }, .ArgNames = { "partner" })
{
    int WithPartner = KeelBenchRange(State, 0) != 0;
    YIELD_TEST Test = { 0 };
    pthread_t Partner;
    cpu_set_t Saved;

    if (PeerPinSelf(0, &Saved) != 0) {
        KeelBenchSkipWithError(State, "pthread_setaffinity_np failed");
        return;
    }
    if (WithPartner) {
        if (pthread_create(&Partner, NULL, YieldPartner, &Test) != 0) {
            PeerRestoreAffinity(&Saved);
            KeelBenchSkipWithError(State, "pthread_create failed");
            return;
        }
        PeerEventWait(&Test.Ready);
    }

    while (KeelBenchKeepRunning(State)) {
        sched_yield();
    }

    if (WithPartner) {
        Test.Stop = 1;
        pthread_join(Partner, NULL);
    }
    PeerRestoreAffinity(&Saved);
    if (WithPartner && (Test.PinFailed || Test.Yields == 0)) {
        KeelBenchSkipWithError(State, "the partner never ran on CPU 0");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

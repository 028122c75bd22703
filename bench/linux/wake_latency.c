/*
 * wake_latency.c - sched_wake_latency on the host Linux: the benchmark's
 * thread wakes a higher-priority pthread waiting on a futex, both pinned
 * to CPU 0, and the time from just before FUTEX_WAKE to the woken thread's
 * first clock read is one iteration's time (manual timing). As in
 * bench/ke/wake_latency.c (priorities 8 and 16) the woken thread must
 * preempt the waker, which needs SCHED_FIFO (priorities 1 and 2); when the
 * process may not use it the run is reported as an error rather than
 * measured under CFS, where the wake-up need not preempt.
 */
#include "peer_threads.h"

#include "keelbench.h"

#define WAKE_WAKER_FIFO  1
#define WAKE_WAITER_FIFO 2

typedef struct WAKE_TEST {
    PEER_EVENT Go;
    PEER_EVENT Ready;
    volatile int Stop;
    volatile uint64_t WokenAt;
    volatile long long Wakes;
} WAKE_TEST;

static void *WakeWaiter(void *Context)
{
    WAKE_TEST *Test = Context;

    PeerEventSet(&Test->Ready);
    for (;;) {
        PeerEventWait(&Test->Go);
        Test->WokenAt = PeerNowNs();
        if (Test->Stop) {
            break;
        }
        Test->Wakes++;
    }
    return NULL;
}

KEEL_BENCHMARK_EX(sched_wake_latency, .ManualTime = 1)
{
    WAKE_TEST Test = { 0 };
    struct sched_param Waker = { .sched_priority = WAKE_WAKER_FIFO };
    struct sched_param Waiter = { .sched_priority = WAKE_WAITER_FIFO };
    struct sched_param SavedParam;
    int SavedPolicy;
    const char *Error = NULL;
    pthread_attr_t Attributes;
    cpu_set_t Saved, Cpu0;
    pthread_t Thread;
    double Max = 0;

    if (PeerPinSelf(0, &Saved) != 0) {
        KeelBenchSkipWithError(State, "pthread_setaffinity_np failed");
        return;
    }
    pthread_getschedparam(pthread_self(), &SavedPolicy, &SavedParam);
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &Waker) != 0) {
        PeerRestoreAffinity(&Saved);
        KeelBenchSkipWithError(State, "SCHED_FIFO not permitted");
        return;
    }
    CPU_ZERO(&Cpu0);
    CPU_SET(0, &Cpu0);
    pthread_attr_init(&Attributes);
    pthread_attr_setaffinity_np(&Attributes, sizeof(Cpu0), &Cpu0);
    pthread_attr_setinheritsched(&Attributes, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&Attributes, SCHED_FIFO);
    pthread_attr_setschedparam(&Attributes, &Waiter);
    if (pthread_create(&Thread, &Attributes, WakeWaiter, &Test) != 0) {
        pthread_attr_destroy(&Attributes);
        pthread_setschedparam(pthread_self(), SavedPolicy, &SavedParam);
        PeerRestoreAffinity(&Saved);
        KeelBenchSkipWithError(State, "pthread_create (SCHED_FIFO) failed");
        return;
    }
    pthread_attr_destroy(&Attributes);
    PeerEventWait(&Test.Ready);

    while (KeelBenchKeepRunning(State)) {
        long long Expected = Test.Wakes + 1;
        uint64_t SetAt = PeerNowNs();
        double Seconds;

        PeerEventSet(&Test.Go);
        if (Test.Wakes != Expected || Test.WokenAt < SetAt) {
            Error = "the woken thread did not preempt the waker";
            break;
        }
        Seconds = (double)(Test.WokenAt - SetAt) * 1e-9;
        if (Seconds > Max) {
            Max = Seconds;
        }
        KeelBenchSetIterationTime(State, Seconds);
    }

    Test.Stop = 1;
    PeerEventSet(&Test.Go);
    pthread_join(Thread, NULL);
    pthread_setschedparam(pthread_self(), SavedPolicy, &SavedParam);
    PeerRestoreAffinity(&Saved);
    if (Error != NULL) {
        KeelBenchSkipWithError(State, Error);
        return;
    }
    KeelBenchSetCounter(State, "max_us", Max * 1e6, KEEL_COUNTER_DEFAULT);
}

/*
 * wake_latency.c - sched_wake_latency: the time from a priority-8 thread's
 * call of KeSetEvent to the first instruction of the priority-16 thread it
 * wakes, both on processor 0, so the waker is preempted at once. The waker
 * reads the performance counter just before the call, the woken thread
 * just after its wait returns; each iteration's time is that difference
 * (manual timing). The woken thread then waits again, which is what lets
 * the waker run, so every KeSetEvent finds it waiting.
 */
#include <ntddk.h>

#include "bench_threads.h"
#include "keelbench.h"

#define WAKE_WAKER_PRIORITY  8
#define WAKE_WAITER_PRIORITY 16

typedef struct WAKE_TEST {
    KEVENT Go;
    KEVENT Ready;
    volatile LONG Stop;
    volatile ULONG64 WokenAt;
    volatile LONGLONG Wakes;
} WAKE_TEST;

static VOID WakeWaiter(PVOID Context)
{
    WAKE_TEST *Test = Context;

    BenchPinCurrentThread(0);
    KeSetPriorityThread(KeGetCurrentThread(), WAKE_WAITER_PRIORITY);
    KeSetEvent(&Test->Ready, IO_NO_INCREMENT, FALSE);
    for (;;) {
        KeWaitForSingleObject(&Test->Go, Executive, KernelMode, FALSE, NULL);
        Test->WokenAt = BenchNowNs();
        if (Test->Stop) {
            break;
        }
        Test->Wakes++;
    }
}

KEEL_BENCHMARK_EX(sched_wake_latency, .ManualTime = 1)
{
    WAKE_TEST Test = { 0 };
    PKTHREAD Self = KeGetCurrentThread();
    KPRIORITY SavedPriority = KeSetPriorityThread(Self, WAKE_WAKER_PRIORITY);
    HANDLE Waiter;
    const char *Error = NULL;
    double Max = 0;

    KeInitializeEvent(&Test.Go, SynchronizationEvent, FALSE);
    KeInitializeEvent(&Test.Ready, SynchronizationEvent, FALSE);
    if (!BenchStartThread(WakeWaiter, &Test, &Waiter)) {
        KeSetPriorityThread(Self, SavedPriority);
        KeelBenchSkipWithError(State, "PsCreateSystemThread failed");
        return;
    }
    KeWaitForSingleObject(&Test.Ready, Executive, KernelMode, FALSE, NULL);

    while (KeelBenchKeepRunning(State)) {
        LONGLONG Expected = Test.Wakes + 1;
        ULONG64 SetAt = BenchNowNs();
        double Seconds;

        KeSetEvent(&Test.Go, IO_NO_INCREMENT, FALSE);
        /* Preempted inside KeSetEvent: the waiter has run by now. */
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
    KeSetEvent(&Test.Go, IO_NO_INCREMENT, FALSE);
    BenchJoinThread(Waiter);
    KeSetPriorityThread(Self, SavedPriority);
    if (Error != NULL) {
        KeelBenchSkipWithError(State, Error);
        return;
    }
    KeelBenchSetCounter(State, "max_us", Max * 1e6, KEEL_COUNTER_DEFAULT);
}

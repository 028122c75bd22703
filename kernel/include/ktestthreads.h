/*
 * ktestthreads.h - helpers shared by the dispatcher and scheduler ktest
 * suites: starting a pinned thread of a given priority, joining it, and
 * skipping where the caller is not a schedulable thread (the hosted build
 * before its context switch is in use runs tests on the idle thread).
 */
#ifndef _KTESTTHREADS_
#define _KTESTTHREADS_

#include <ntddk.h>
#include <ktest.h>
#include <ke.h>

static inline BOOLEAN KtCanRunThreads(VOID)
{
    PKTHREAD Thread = KeGetCurrentThread();
    return Thread != NULL && !Thread->IdleThread;
}

#define KT_REQUIRE_THREADS()                                                                       \
    do {                                                                                           \
        if (!KtCanRunThreads())                                                                    \
            KT_SKIP("needs a schedulable thread (the caller is an idle thread)");                  \
    } while (0)

static inline KAFFINITY KtThisProcessor(VOID)
{
    return (KAFFINITY)1 << KeGetCurrentProcessorNumber();
}

/* Starts Routine(Context) at Priority, on the processors of Affinity
 * (0 = any). Returns a referenced thread, or NULL. */
static inline PKTHREAD KtStartThread(PKSTART_ROUTINE Routine, PVOID Context, KPRIORITY Priority,
                                     KAFFINITY Affinity)
{
    PKTHREAD Thread;

    if (!NT_SUCCESS(KiCreateThread(Routine, Context, Priority, &Thread))) {
        return NULL;
    }
    if (Affinity != 0) {
        Thread->Affinity = Affinity;
        Thread->UserAffinity = Affinity;
    }
    KiStartThread(Thread);
    return Thread;
}

/* Waits for Thread to end and drops the caller's reference. */
static inline NTSTATUS KtJoin(PKTHREAD Thread)
{
    NTSTATUS Status = KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
    KiDereferenceThread(Thread);
    return Status;
}

static inline VOID KtSleepMs(LONG Ms)
{
    LARGE_INTEGER Interval = { .QuadPart = -(LONGLONG)Ms * 10000 };
    KeDelayExecutionThread(KernelMode, FALSE, &Interval);
}

static inline ULONG64 KtNowMs(VOID)
{
    return KeQueryInterruptTime() / 10000;
}

/* Busy-waits (no blocking) for Ms milliseconds of interrupt time. */
static inline VOID KtSpinMs(ULONG Ms)
{
    ULONG64 End = KeQueryInterruptTime() + (ULONG64)Ms * 10000;
    while (KeQueryInterruptTime() < End) {
        __builtin_ia32_pause();
    }
}

/* Until Thread blocks in a wait for an Executive reason (bounded: FALSE
 * after 2 seconds). */
static inline BOOLEAN KtWaitUntilWaiting(PKTHREAD Thread)
{
    ULONG64 End = KtNowMs() + 2000;

    while (Thread->State != Waiting || Thread->WaitReason != Executive) {
        if (KtNowMs() > End) {
            return FALSE;
        }
        KtSleepMs(1);
    }
    return TRUE;
}

#endif /* _KTESTTHREADS_ */

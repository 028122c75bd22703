/*
 * bench_threads.h - the scheduler benchmarks' helpers for their partner
 * threads: started with PsCreateSystemThread, pinned by themselves to one
 * processor, joined by waiting on the thread object (the handle stands in
 * for ObReferenceObjectByHandle until Ob exists, kernel/ps/handle.c).
 */
#ifndef BENCH_THREADS_H
#define BENCH_THREADS_H

#include <ntddk.h>
#include "../../kernel/ps/psp.h"

/* Starts Routine(Context) as a system thread; FALSE when it could not. */
static inline BOOLEAN BenchStartThread(PKSTART_ROUTINE Routine, PVOID Context, PHANDLE Handle)
{
    return NT_SUCCESS(PsCreateSystemThread(Handle, 0, NULL, NULL, NULL, Routine, Context));
}

/* Waits until the thread of Handle has terminated, then closes Handle. */
static inline VOID BenchJoinThread(HANDLE Handle)
{
    PKTHREAD Thread = PspReferenceThreadByHandle(Handle);

    if (Thread != NULL) {
        KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
        KiDereferenceThread(Thread);
    }
    ZwClose(Handle);
}

/* Binds the calling thread to processor Number for the rest of its life. */
static inline VOID BenchPinCurrentThread(ULONG Number)
{
    KeSetSystemAffinityThreadEx((KAFFINITY)1 << Number);
}

/* The kernel's performance counter in nanoseconds (hosted: 1 GHz). */
static inline ULONG64 BenchNowNs(VOID)
{
    LARGE_INTEGER Frequency;
    LARGE_INTEGER Counter = KeQueryPerformanceCounter(&Frequency);
    ULONG64 Ticks = (ULONG64)Counter.QuadPart;
    ULONG64 Hz = (ULONG64)Frequency.QuadPart;

    return Hz == 1000000000ull ? Ticks
                               : Ticks / Hz * 1000000000ull + Ticks % Hz * 1000000000ull / Hz;
}

#endif /* BENCH_THREADS_H */

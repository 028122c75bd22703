/*
 * peer_threads.h - the host Linux side of the scheduler benchmarks: the
 * same measures as bench/ke over pthreads, pinned with
 * pthread_setaffinity_np, handing turns through raw futexes. A PEER_EVENT
 * behaves as a synchronization (auto-reset) event: Set stores 1 and wakes
 * one waiter (always a FUTEX_WAKE, as KeSetEvent always does its work);
 * Wait takes the 1 or sleeps in FUTEX_WAIT until there is one.
 */
#ifndef PEER_THREADS_H
#define PEER_THREADS_H

#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct PEER_EVENT {
    int Signaled;
} PEER_EVENT;

static inline void PeerEventSet(PEER_EVENT *Event)
{
    __atomic_store_n(&Event->Signaled, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &Event->Signaled, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void PeerEventWait(PEER_EVENT *Event)
{
    while (__atomic_exchange_n(&Event->Signaled, 0, __ATOMIC_ACQUIRE) == 0) {
        syscall(SYS_futex, &Event->Signaled, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    }
}

/* Binds the calling thread to CPU Cpu; Saved (if not NULL) receives the
 * mask to restore. Returns 0 on success. */
static inline int PeerPinSelf(int Cpu, cpu_set_t *Saved)
{
    cpu_set_t Set;

    if (Saved != NULL && pthread_getaffinity_np(pthread_self(), sizeof(*Saved), Saved) != 0) {
        return -1;
    }
    CPU_ZERO(&Set);
    CPU_SET(Cpu, &Set);
    return pthread_setaffinity_np(pthread_self(), sizeof(Set), &Set);
}

static inline void PeerRestoreAffinity(const cpu_set_t *Saved)
{
    pthread_setaffinity_np(pthread_self(), sizeof(*Saved), Saved);
}

static inline uint64_t PeerNowNs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (uint64_t)Now.tv_sec * 1000000000ull + (uint64_t)Now.tv_nsec;
}

#endif /* PEER_THREADS_H */

/*
 * thread_create.c - sched_thread_create_exit on the host Linux:
 * pthread_create of a thread whose routine returns at once, then
 * pthread_join. The creator is pinned to CPU 0 and the new thread may run
 * on any CPU, as in bench/ke/thread_create.c.
 */
#include "peer_threads.h"

#include "keelbench.h"

static void *CreateExitRoutine(void *Context)
{
    volatile long long *Runs = Context;
    (*Runs)++;
    return NULL;
}

KEEL_BENCHMARK(sched_thread_create_exit)
{
    volatile long long Runs = 0;
    pthread_attr_t Attributes;
    cpu_set_t Saved;

    if (PeerPinSelf(0, &Saved) != 0) {
        KeelBenchSkipWithError(State, "pthread_setaffinity_np failed");
        return;
    }
    /* Any CPU for the new thread (it would inherit the creator's pin). */
    pthread_attr_init(&Attributes);
    pthread_attr_setaffinity_np(&Attributes, sizeof(Saved), &Saved);
    while (KeelBenchKeepRunning(State)) {
        pthread_t Thread;

        if (pthread_create(&Thread, &Attributes, CreateExitRoutine, (void *)&Runs) != 0) {
            KeelBenchSkipWithError(State, "pthread_create failed");
            break;
        }
        pthread_join(Thread, NULL);
    }
    pthread_attr_destroy(&Attributes);
    PeerRestoreAffinity(&Saved);
    if (Runs != KeelBenchIterations(State)) {
        KeelBenchSkipWithError(State, "a thread did not run its routine");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

/*
 * select_next.c - sched_select_next/levels:L/ready:N: the cost of choosing
 * the next thread to run, the selection KiSwapThread makes (summary bit
 * scan, head of the best queue, the check of other processors' queues,
 * removal), followed by putting the chosen thread back at the head of its
 * queue so the next iteration sees the same state. Both halves are the
 * real kernel/ke/sched.c code, reached through KiBenchSelectNextThread.
 *
 * 10,000 real threads would need 10,000 kernel stacks, more than the hosted
 * kernel's memory, so the ready threads are KTHREAD records that are only
 * ever queued: zeroed, with a priority and an affinity. They are queued on
 * the real PRCB of a processor that is idle (its queues empty, running its
 * idle thread), with the dispatcher lock held from before the first record
 * is queued until the last one is removed: no processor can schedule - and
 * so none can run a record - while they are there. Other processors that
 * want the lock meanwhile spin; nothing else changes.
 *
 * The L occupied levels are spread over 0-31 with 31 always among them
 * (31, 31 - 32/L, ...); the N records are dealt round-robin over them.
 */
#include <stdlib.h>

#include <ntddk.h>
#include "../../kernel/ke/kisched.h"

#include "keelbench.h"

#define SELECT_TOP_PRIORITY 31

/* An idle processor other than the current one, else the current one;
 * NULL when no processor's queues are free. Dispatcher lock held. */
static PKPRCB SelectQuietProcessor(VOID)
{
    PKPRCB Current = KeGetCurrentPrcb();

    for (LONG Number = MAXIMUM_PROCESSORS - 1; Number >= 0; Number--) {
        PKPRCB Prcb = KiProcessorBlock[Number];
        if (Prcb == NULL || Prcb == Current) {
            continue;
        }
        if (Prcb->CurrentThread == Prcb->IdleThread && Prcb->NextThread == NULL &&
            Prcb->ReadySummary == 0) {
            return Prcb;
        }
    }
    return Current->NextThread == NULL && Current->ReadySummary == 0 ? Current : NULL;
}

static SCHAR SelectLevelPriority(ULONG Index, ULONG Levels)
{
    return (SCHAR)(SELECT_TOP_PRIORITY - (Index % Levels) * (32 / Levels));
}

KEEL_BENCHMARK_EX(sched_select_next, .TupleCount = 11, .TupleDims = 2,
                  .Tuples = { { 1, 1 },
                              { 2, 2 },
                              { 4, 4 },
                              { 8, 8 },
                              { 16, 16 },
                              { 32, 32 },
                              { 1, 10 },
                              { 1, 100 },
                              { 1, 1000 },
                              { 1, 10000 },
                              { 32, 10000 } },
                  .ArgNames = { "levels", "ready" })
{
    ULONG Levels = (ULONG)KeelBenchRange(State, 0);
    ULONG Ready = (ULONG)KeelBenchRange(State, 1);
    ULONG ExpectedSummary = 0;
    const char *Error = NULL;
    PKTHREAD Records;
    PKPRCB Prcb = NULL;
    KIRQL OldIrql = PASSIVE_LEVEL;

    Records = calloc(Ready, sizeof(KTHREAD));
    if (Records == NULL) {
        KeelBenchSkipWithError(State, "out of memory for the thread records");
        return;
    }
    /* The benchmark thread may find every processor busy for a moment
     * (threads of an earlier benchmark still ending): retry briefly. */
    for (ULONG Attempt = 0; Attempt < 100; Attempt++) {
        LARGE_INTEGER Delay = { .QuadPart = -10000 };

        OldIrql = KiAcquireDispatcherLock();
        Prcb = SelectQuietProcessor();
        if (Prcb != NULL) {
            break;
        }
        KiReleaseDispatcherLock(OldIrql);
        KeDelayExecutionThread(KernelMode, FALSE, &Delay);
    }
    if (Prcb == NULL) {
        free(Records);
        KeelBenchSkipWithError(State, "no processor with empty ready queues");
        return;
    }

    for (ULONG i = 0; i < Ready; i++) {
        PKTHREAD Thread = &Records[i];
        Thread->Priority = SelectLevelPriority(i, Levels);
        Thread->BasePriority = Thread->Priority;
        Thread->NormalPriority = Thread->Priority;
        Thread->Affinity = (KAFFINITY)1 << Prcb->Number;
        Thread->UserAffinity = Thread->Affinity;
        ExpectedSummary |= 1u << Thread->Priority;
        KiBenchQueueReadyThread(Prcb, Thread);
    }

    /* The first record is the head of level 31: what must be chosen. */
    if (KiBenchSelectNextThread(Prcb) != &Records[0] || Prcb->ReadySummary != ExpectedSummary) {
        Error = "the selection did not choose the head of the best queue";
    } else {
        while (KeelBenchKeepRunning(State)) {
            PKTHREAD Chosen = KiBenchSelectNextThread(Prcb);
            KeelBenchDoNotOptimize(Chosen);
        }
        if (KiBenchSelectNextThread(Prcb) != &Records[0] || Prcb->ReadySummary != ExpectedSummary) {
            Error = "the ready queues changed while selecting";
        }
    }

    for (ULONG i = 0; i < Ready; i++) {
        KiBenchRemoveReadyThread(&Records[i]);
    }
    if (Prcb->ReadySummary != 0) {
        Error = "the ready queues were not empty after removing the records";
    }
    KiReleaseDispatcherLock(OldIrql);
    free(Records);
    if (Error != NULL) {
        KeelBenchSkipWithError(State, Error);
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

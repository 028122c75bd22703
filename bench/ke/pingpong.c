/*
 * pingpong.c - sched_pingpong/cross:0|1: two kernel threads hand the turn
 * to each other through two synchronization events (KeSetEvent, then
 * KeWaitForSingleObject on the other event), both on processor 0 (cross:0)
 * or one on 0 and one on 1 (cross:1). One iteration is one round trip: two
 * switches on one processor, two wake-ups across. The events are set with
 * no priority increment so both threads stay at priority 8 and the cost is
 * the switch, not a preemption by a boosted thread. The benchmark thread
 * (pinned to processor 0 by the harness) is one side. The loop is timed
 * by the harness: its wall-clock time (real_time, what `keel bench`
 * reports) divided by the round trips; its CPU time is the benchmark
 * thread's host thread only, so it undercounts cross:1.
 *
 * Same names in keel_bench_peer_linux (pthreads and futexes), but for the
 * WaitNext variant at the end.
 */
#include <ntddk.h>

#include "bench_threads.h"
#include "keelbench.h"

typedef struct PINGPONG {
    KEVENT Ping; /* the benchmark thread to the partner */
    KEVENT Pong; /* back */
    ULONG Processor;
    volatile LONG Stop;
    volatile LONG Turn;   /* 1: the partner's, 0: the benchmark's */
    volatile LONG Errors; /* turns found out of order */
    LONGLONG Visits;
    BOOLEAN WaitNext; /* each side sets its event with Wait = TRUE */
} PINGPONG;

static VOID PingPongPartner(PVOID Context)
{
    PINGPONG *Game = Context;

    BenchPinCurrentThread(Game->Processor);
    KeSetEvent(&Game->Pong, IO_NO_INCREMENT, FALSE); /* ready */
    for (;;) {
        KeWaitForSingleObject(&Game->Ping, Executive, KernelMode, FALSE, NULL);
        if (Game->Stop) {
            break;
        }
        if (Game->Turn != 1) {
            Game->Errors++;
        }
        Game->Visits++;
        Game->Turn = 0;
        KeSetEvent(&Game->Pong, IO_NO_INCREMENT, Game->WaitNext);
    }
}

static VOID PingPongRun(KEEL_BENCH_STATE *State, BOOLEAN WaitNext)
{
    PINGPONG Game = { 0 };
    HANDLE Partner;
    LONG Errors = 0;

    Game.Processor = KeelBenchRange(State, 0) != 0 ? 1 : 0;
    Game.WaitNext = WaitNext;
    if (Game.Processor >= (ULONG)KeNumberProcessors) {
        KeelBenchSkipWithError(State, "needs a second processor");
        return;
    }
    KeInitializeEvent(&Game.Ping, SynchronizationEvent, FALSE);
    KeInitializeEvent(&Game.Pong, SynchronizationEvent, FALSE);
    if (!BenchStartThread(PingPongPartner, &Game, &Partner)) {
        KeelBenchSkipWithError(State, "PsCreateSystemThread failed");
        return;
    }
    KeWaitForSingleObject(&Game.Pong, Executive, KernelMode, FALSE, NULL);

    while (KeelBenchKeepRunning(State)) {
        Game.Turn = 1;
        KeSetEvent(&Game.Ping, IO_NO_INCREMENT, WaitNext);
        KeWaitForSingleObject(&Game.Pong, Executive, KernelMode, FALSE, NULL);
        if (Game.Turn != 0) {
            Errors++;
        }
    }

    Game.Stop = 1;
    KeSetEvent(&Game.Ping, IO_NO_INCREMENT, FALSE);
    BenchJoinThread(Partner);
    if (Errors != 0 || Game.Errors != 0 || Game.Visits != KeelBenchIterations(State)) {
        KeelBenchSkipWithError(State, "the turns did not alternate");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

KEEL_BENCHMARK_EX(sched_pingpong, .ArgCount = 2, .Args = { 0, 1 }, .ArgNames = { "cross" })
{
    PingPongRun(State, FALSE);
}

/* sched_pingpong_waitnext/cross:0|1: the same game with both sides
 * setting their event with Wait = TRUE (KeSetEvent keeps the dispatcher
 * lock and DISPATCH_LEVEL for the wait that follows: NT's WaitNext), so
 * each half round trip takes the lock once instead of twice. Keel only
 * (no Linux peer); compare with sched_pingpong in the same run. */
KEEL_BENCHMARK_EX(sched_pingpong_waitnext, .ArgCount = 2, .Args = { 0, 1 }, .ArgNames = { "cross" })
{
    PingPongRun(State, TRUE);
}

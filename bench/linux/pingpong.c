/*
 * pingpong.c - sched_pingpong/cross:0|1 on the host Linux: the benchmark's
 * thread (pinned to CPU 0) and a partner pthread (pinned to CPU 0 or 1)
 * hand the turn to each other through two futex events. One iteration is
 * one round trip (real_time: the loop's wall-clock time per round trip).
 * Mirrors bench/ke/pingpong.c.
 */
#include "peer_threads.h"

#include "keelbench.h"

typedef struct PINGPONG {
    PEER_EVENT Ping;
    PEER_EVENT Pong;
    int Cpu;
    volatile int Stop;
    volatile int Turn;
    volatile long Errors;
    long long Visits;
    int PinFailed;
} PINGPONG;

static void *PingPongPartner(void *Context)
{
    PINGPONG *Game = Context;

    Game->PinFailed = PeerPinSelf(Game->Cpu, NULL) != 0;
    PeerEventSet(&Game->Pong); /* ready */
    for (;;) {
        PeerEventWait(&Game->Ping);
        if (Game->Stop) {
            break;
        }
        if (Game->Turn != 1) {
            Game->Errors++;
        }
        Game->Visits++;
        Game->Turn = 0;
        PeerEventSet(&Game->Pong);
    }
    return NULL;
}

KEEL_BENCHMARK_EX(sched_pingpong, .ArgCount = 2, .Args = { 0, 1 }, .ArgNames = { "cross" })
{
    PINGPONG Game = { 0 };
    cpu_set_t Saved;
    pthread_t Partner;
    long Errors = 0;

    Game.Cpu = KeelBenchRange(State, 0) != 0 ? 1 : 0;
    if (Game.Cpu >= KeelBenchProcessorCount()) {
        KeelBenchSkipWithError(State, "needs a second processor");
        return;
    }
    if (PeerPinSelf(0, &Saved) != 0) {
        KeelBenchSkipWithError(State, "pthread_setaffinity_np failed");
        return;
    }
    if (pthread_create(&Partner, NULL, PingPongPartner, &Game) != 0) {
        PeerRestoreAffinity(&Saved);
        KeelBenchSkipWithError(State, "pthread_create failed");
        return;
    }
    PeerEventWait(&Game.Pong);

    while (KeelBenchKeepRunning(State)) {
        Game.Turn = 1;
        PeerEventSet(&Game.Ping);
        PeerEventWait(&Game.Pong);
        if (Game.Turn != 0) {
            Errors++;
        }
    }

    Game.Stop = 1;
    PeerEventSet(&Game.Ping);
    pthread_join(Partner, NULL);
    PeerRestoreAffinity(&Saved);
    if (Game.PinFailed) {
        KeelBenchSkipWithError(State, "pthread_setaffinity_np failed in the partner");
        return;
    }
    if (Errors != 0 || Game.Errors != 0 || Game.Visits != KeelBenchIterations(State)) {
        KeelBenchSkipWithError(State, "the turns did not alternate");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

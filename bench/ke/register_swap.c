/*
 * register_swap.c - sched_register_swap: one round trip (two swaps) per
 * iteration between the benchmark's context and a second context on the
 * same host thread and its own stack, with BenchRegisterSwap
 * (swap_registers.S). It is the floor a thread switch is compared with
 * (target: Keel's sched_pingpong/cross:0 round trip <= 3x this). Built into
 * keel_bench_ke and keel_bench_peer_linux alike: it uses no kernel.
 */
#include <stdint.h>
#include <stdlib.h>

#include "keelbench.h"

#define SWAP_STACK_SIZE (64 * 1024)

void BenchRegisterSwap(void **SaveStack, void *NewStack);

typedef struct SWAP_PAIR {
    void *MainStack;  /* the benchmark's saved stack pointer */
    void *OtherStack; /* the second context's */
    volatile uint64_t Turns;
} SWAP_PAIR;

static SWAP_PAIR *SwapPair;

/* The second context: counts each visit and swaps straight back. It never
 * returns; the benchmark abandons it (its stack is freed) at the end. */
static void SwapOtherContext(void)
{
    for (;;) {
        SwapPair->Turns++;
        BenchRegisterSwap(&SwapPair->OtherStack, SwapPair->MainStack);
    }
}

/* The first swap into the context "returns" into Routine with RSP
 * 16-byte aligned + 8, as at a function's entry. */
static void *SwapInitializeContext(void *StackMemory, void (*Routine)(void))
{
    uintptr_t *Stack = (uintptr_t *)(((uintptr_t)StackMemory + SWAP_STACK_SIZE) & ~(uintptr_t)15);

    *--Stack = 0;                  /* the routine's "return address" */
    *--Stack = (uintptr_t)Routine; /* what BenchRegisterSwap returns to */
    for (int i = 0; i < 6; i++) {
        *--Stack = 0; /* RBP, RBX, R12-R15 */
    }
    return Stack;
}

KEEL_BENCHMARK(sched_register_swap)
{
    SWAP_PAIR Pair = { 0 };
    void *StackMemory = malloc(SWAP_STACK_SIZE);

    if (StackMemory == NULL) {
        KeelBenchSkipWithError(State, "out of memory for the second stack");
        return;
    }
    SwapPair = &Pair;
    Pair.OtherStack = SwapInitializeContext(StackMemory, SwapOtherContext);
    while (KeelBenchKeepRunning(State)) {
        BenchRegisterSwap(&Pair.MainStack, Pair.OtherStack);
    }
    free(StackMemory);
    if (Pair.Turns != (uint64_t)KeelBenchIterations(State)) {
        KeelBenchSkipWithError(State, "the second context did not run once per round trip");
        return;
    }
    KeelBenchSetItemsProcessed(State, KeelBenchIterations(State));
}

/*
 * thread_test.c - ktest cases for thread life cycle: start routine and
 * context, states, a thousand threads created and exited with every
 * resource back at its baseline, waits and wakes between threads on all
 * processors.
 */
#include <ex.h>
#include <mm.h>
#include "kisched.h"
#include <ktestthreads.h>

static VOID NTAPI KtIncrement(PVOID Context)
{
    __atomic_add_fetch((volatile LONG *)Context, 1, __ATOMIC_RELAXED);
}

KTEST(ke_thread, runs_its_start_routine)
{
    volatile LONG Count = 0;
    PKTHREAD Thread;

    KT_REQUIRE_THREADS();
    Thread = KtStartThread(KtIncrement, (PVOID)&Count, 8, 0);
    KT_ASSERT_NOT_NULL(Thread);
    KT_EXPECT_EQ(KtJoin(Thread), STATUS_SUCCESS);
    KT_EXPECT_EQ(Count, 1);
}

KTEST(ke_thread, stack_and_state)
{
    PKTHREAD Self = KeGetCurrentThread();
    ULONG_PTR Here = (ULONG_PTR)&Self;

    KT_REQUIRE_THREADS();
    KT_EXPECT_EQ(Self->State, Running);
    /* At least NT's size (a hosted ASan build gives more room). */
    KT_EXPECT_GE(Self->StackBase - Self->StackLimit, KERNEL_STACK_SIZE);
    KT_EXPECT_TRUE(Here < Self->StackBase && Here >= Self->StackLimit);
    KT_EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

#define KT_MANY_THREADS 1000
#define KT_BATCH        50

static VOID KtRunBatch(PKTEST_CONTEXT KtContext, ULONG Count, volatile LONG *Done)
{
    PKTHREAD Threads[KT_BATCH];

    for (ULONG i = 0; i < Count; i++) {
        Threads[i] = KtStartThread(KtIncrement, (PVOID)Done, 8, 0);
        KT_ASSERT_NOT_NULL(Threads[i]);
    }
    for (ULONG i = 0; i < Count; i++) {
        KtJoin(Threads[i]);
    }
}

KTEST(ke_thread, thousand_threads_no_leak)
{
    volatile LONG Done = 0;
    LONG Threads, Stacks;
    SYSTEM_POOLTAG Before, After;

    KT_REQUIRE_THREADS();
    /* Warm the allocators up, then take the baseline. */
    KtRunBatch(KtContext, KT_BATCH, &Done);
    KiSettleTerminatedThreads();
    Threads = KiQueryThreadCount();
    Stacks = KiQueryKernelStackCount();
    KT_ASSERT_TRUE(ExpQueryPoolTag(KI_THREAD_POOL_TAG, &Before));

    Done = 0;
    for (ULONG n = 0; n < KT_MANY_THREADS; n += KT_BATCH) {
        KtRunBatch(KtContext, KT_BATCH, &Done);
    }
    KT_EXPECT_EQ(Done, KT_MANY_THREADS);
    KiSettleTerminatedThreads();
    KT_ASSERT_TRUE(ExpQueryPoolTag(KI_THREAD_POOL_TAG, &After));
    /* Every thread object, stack and pool block is back. */
    KT_EXPECT_EQ(KiQueryThreadCount(), Threads);
    KT_EXPECT_EQ(KiQueryKernelStackCount(), Stacks);
    KT_EXPECT_EQ(After.NonPagedAllocs - Before.NonPagedAllocs, KT_MANY_THREADS);
    KT_EXPECT_EQ(After.NonPagedFrees - Before.NonPagedFrees, KT_MANY_THREADS);
    KT_EXPECT_EQ(After.NonPagedUsed, Before.NonPagedUsed);
}

typedef struct _KT_PING_PONG {
    KEVENT Ping;
    KEVENT Pong;
    ULONG Rounds;
} KT_PING_PONG;

static VOID NTAPI KtPonger(PVOID Context)
{
    KT_PING_PONG *Game = Context;

    for (ULONG i = 0; i < Game->Rounds; i++) {
        KeWaitForSingleObject(&Game->Ping, Executive, KernelMode, FALSE, NULL);
        KeSetEvent(&Game->Pong, EVENT_INCREMENT, FALSE);
    }
}

KTEST(ke_thread, wait_wake_storm)
{
    static KT_PING_PONG Games[4];
    PKTHREAD Threads[4];

    KT_REQUIRE_THREADS();
    for (ULONG g = 0; g < 4; g++) {
        KeInitializeEvent(&Games[g].Ping, SynchronizationEvent, FALSE);
        KeInitializeEvent(&Games[g].Pong, SynchronizationEvent, FALSE);
        Games[g].Rounds = 300;
        Threads[g] = KtStartThread(KtPonger, &Games[g], 8 + g, 0);
        KT_ASSERT_NOT_NULL(Threads[g]);
    }
    for (ULONG i = 0; i < 300; i++) {
        for (ULONG g = 0; g < 4; g++) {
            KeSetEvent(&Games[g].Ping, EVENT_INCREMENT, FALSE);
        }
        for (ULONG g = 0; g < 4; g++) {
            KT_EXPECT_EQ(KeWaitForSingleObject(&Games[g].Pong, Executive, KernelMode, FALSE, NULL),
                         STATUS_SUCCESS);
        }
    }
    for (ULONG g = 0; g < 4; g++) {
        KT_EXPECT_EQ(KtJoin(Threads[g]), STATUS_SUCCESS);
    }
}

/*
 * hosted_test.c - tests of the hosted HAL's processor machinery (linked
 * only into ktest_hosted): the SysV context switch (ping-pong between two
 * contexts, callee-saved registers, MXCSR and x87 control word, a deep
 * frame on a kernel stack under ASan), clock ticks arriving as signals and
 * held while interrupts are disabled or the IRQL masks them, IPIs to self
 * and to the other host-thread processors, and the idle halt.
 *
 * The switch tests drive KiSwapContext directly with two private KTHREADs
 * (the scheduler never sees them), at DISPATCH_LEVEL as the scheduler
 * calls it; "Self" stands for the running context, "Peer" runs on a kernel
 * stack from MmCreateKernelStack.
 */
#define _GNU_SOURCE
#include <ntddk.h>
#include <arch.h>
#include <hal.h>
#include <ke.h>
#include <ktest.h>
#include <mm.h>
#include "hosted_private.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define KT_ASAN 1
#endif
#endif

VOID HalpTestSwapProbe(PKTHREAD Old, PKTHREAD New, ULONG64 After[6]);
VOID HalpTestClobberAndSwap(PKTHREAD Old, PKTHREAD New);

static KTHREAD KtSelf;
static KTHREAD KtPeer;
static VOID (*KtPeerBody)(VOID);
static volatile ULONG KtPeerRuns;

static VOID KtPeerStartup(VOID)
{
    KtPeerBody();
    for (;;) {
        KiSwapContext(&KtPeer, &KtSelf);
    }
}

/* Self describes the running context with the bounds its real thread has
 * (a kernel stack, or none yet for a host thread's own stack). */
static BOOLEAN KtStartPeer(VOID (*Body)(VOID), PVOID *Stack)
{
    PKTHREAD Current = KeGetCurrentPrcb()->CurrentThread;
    ULONG_PTR Limit;

    memset(&KtSelf, 0, sizeof(KtSelf));
    memset(&KtPeer, 0, sizeof(KtPeer));
    KtSelf.State = Running;
    if (Current != NULL) {
        KtSelf.StackBase = Current->StackBase;
        KtSelf.StackLimit = Current->StackLimit;
        KtSelf.ArchData[1] = Current->ArchData[1];
        KtSelf.ArchData[2] = Current->ArchData[2];
    }
    /* The kernel threads' size: deleted, it is kept for reuse. */
    *Stack = MmCreateKernelStack(KI_KERNEL_STACK_SIZE, &Limit);
    if (*Stack == NULL) {
        return FALSE;
    }
    KtPeer.State = Running;
    KtPeer.StackBase = (ULONG_PTR)*Stack;
    KtPeer.StackLimit = Limit;
    KtPeerRuns = 0;
    KtPeerBody = Body;
    KiInitializeContextThread(&KtPeer, KtPeerStartup);
    return TRUE;
}

static VOID KtEndPeer(PVOID Stack)
{
    /* The peer stays suspended inside KiSwapContext; its stack goes. */
    MmDeleteKernelStack(Stack, KI_KERNEL_STACK_SIZE);
}

/* ---- the switch ---- */

static VOID KtCountingPeer(VOID)
{
    /* A frame of several KiB on the kernel stack, touched everywhere:
     * ASan must treat this stack as the current one. */
    volatile UCHAR Buffer[8192];

    for (;;) {
        memset((PVOID)Buffer, (int)KtPeerRuns, sizeof(Buffer));
        KtPeerRuns++;
        if (Buffer[sizeof(Buffer) - 1] != (UCHAR)(KtPeerRuns - 1)) {
            KtPeerRuns = 0xDEAD;
        }
        KiSwapContext(&KtPeer, &KtSelf);
    }
}

KTEST(hal_hosted, swap_ping_pong)
{
    KIRQL OldIrql;
    PVOID Stack;
    ULONG i;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    if (!KtStartPeer(KtCountingPeer, &Stack)) {
        KeLowerIrql(OldIrql);
        KT_ASSERT_TRUE(FALSE);
    }
    for (i = 0; i < 10000; i++) {
        KiSwapContext(&KtSelf, &KtPeer);
        if (KtPeerRuns != i + 1) {
            break;
        }
    }
    KT_EXPECT_EQ(i, 10000);
    KT_EXPECT_EQ(KtPeerRuns, 10000);
    /* The peer's saved stack pointer lies inside its stack. */
    KT_EXPECT_GT((ULONG_PTR)KtPeer.KernelStack, KtPeer.StackLimit);
    KT_EXPECT_LT((ULONG_PTR)KtPeer.KernelStack, KtPeer.StackBase);
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(OldIrql);
    KtEndPeer(Stack);
}

static VOID KtClobberingPeer(VOID)
{
    for (;;) {
        KtPeerRuns++;
        HalpTestClobberAndSwap(&KtPeer, &KtSelf);
    }
}

KTEST(hal_hosted, callee_saved_registers_preserved)
{
    KIRQL OldIrql;
    PVOID Stack;
    ULONG64 After[2][6];

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    if (!KtStartPeer(KtClobberingPeer, &Stack)) {
        KeLowerIrql(OldIrql);
        KT_ASSERT_TRUE(FALSE);
    }
    /* The first switch starts the peer, the second resumes it. */
    HalpTestSwapProbe(&KtSelf, &KtPeer, After[0]);
    HalpTestSwapProbe(&KtSelf, &KtPeer, After[1]);
    KeLowerIrql(OldIrql);
    KtEndPeer(Stack);

    KT_EXPECT_EQ(KtPeerRuns, 2);
    for (ULONG Round = 0; Round < 2; Round++) {
        for (ULONG Register = 0; Register < 6; Register++) {
            /* RBX, RBP, R12, R13, R14, R15 */
            KT_EXPECT_EQ(After[Round][Register], 0x5A5A0000000000B0ull + Register);
        }
    }
}

static ULONG KtReadMxcsr(VOID)
{
    ULONG Value;
    __asm__ volatile("stmxcsr %0" : "=m"(Value));
    return Value;
}

static VOID KtWriteMxcsr(ULONG Value)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(Value));
}

static USHORT KtReadFpuControl(VOID)
{
    USHORT Value;
    __asm__ volatile("fnstcw %0" : "=m"(Value));
    return Value;
}

static VOID KtWriteFpuControl(USHORT Value)
{
    __asm__ volatile("fldcw %0" : : "m"(Value));
}

static volatile ULONG KtPeerMxcsr[2];
static volatile USHORT KtPeerFpuControl[2];

static VOID KtFloatingPeer(VOID)
{
    /* A new thread starts with the ABI's defaults... */
    KtPeerMxcsr[0] = KtReadMxcsr();
    KtPeerFpuControl[0] = KtReadFpuControl();
    /* ...and keeps its own settings across a round trip. */
    KtWriteMxcsr(0x5F80);      /* round up */
    KtWriteFpuControl(0x0F7F); /* round toward zero */
    KiSwapContext(&KtPeer, &KtSelf);
    KtPeerMxcsr[1] = KtReadMxcsr();
    KtPeerFpuControl[1] = KtReadFpuControl();
    KtWriteMxcsr(0x1F80);
    KtWriteFpuControl(0x037F);
}

KTEST(hal_hosted, mxcsr_and_x87_control_preserved)
{
    ULONG SavedMxcsr = KtReadMxcsr();
    USHORT SavedFpuControl = KtReadFpuControl();
    ULONG Mxcsr[2];
    USHORT FpuControl[2];
    KIRQL OldIrql;
    PVOID Stack;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    if (!KtStartPeer(KtFloatingPeer, &Stack)) {
        KeLowerIrql(OldIrql);
        KT_ASSERT_TRUE(FALSE);
    }
    KtWriteMxcsr(0x3F80);      /* round down */
    KtWriteFpuControl(0x027F); /* 53-bit precision */
    KiSwapContext(&KtSelf, &KtPeer);
    Mxcsr[0] = KtReadMxcsr();
    FpuControl[0] = KtReadFpuControl();
    KiSwapContext(&KtSelf, &KtPeer);
    Mxcsr[1] = KtReadMxcsr();
    FpuControl[1] = KtReadFpuControl();
    KtWriteMxcsr(SavedMxcsr);
    KtWriteFpuControl(SavedFpuControl);
    KeLowerIrql(OldIrql);
    KtEndPeer(Stack);

    KT_EXPECT_EQ(KtPeerMxcsr[0] & ~0x3Fu, 0x1F80);
    KT_EXPECT_EQ(KtPeerFpuControl[0], 0x037F);
    KT_EXPECT_EQ(KtPeerMxcsr[1] & ~0x3Fu, 0x5F80);
    KT_EXPECT_EQ(KtPeerFpuControl[1], 0x0F7F);
    for (ULONG i = 0; i < 2; i++) {
        KT_EXPECT_EQ(Mxcsr[i] & ~0x3Fu, 0x3F80); /* exception flags aside */
        KT_EXPECT_EQ(FpuControl[i], 0x027F);
    }
}

/* ---- clock ---- */

static PHALP_PROCESSOR KtClockedProcessor(VOID)
{
    PHALP_PROCESSOR Processor = HalpCurrentProcessor();
    return Processor->Online && Processor->ClockRunning ? Processor : NULL;
}

static ULONG64 KtElapsedMs(ULONG64 Start)
{
    return KiTimestampToMicroseconds(KiReadTimestamp() - Start) / 1000;
}

KTEST(hal_hosted, clock_ticks_arrive)
{
    ULONG64 Before = 0, After = 0;
    ULONG64 Start = KiReadTimestamp();
    KIRQL OldIrql;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    if (KtClockedProcessor() == NULL) {
        KeLowerIrql(OldIrql);
        KT_SKIP("no clock (HalHostedStartProcessors not called)");
    }
    /* At DISPATCH_LEVEL this thread stays on this processor, whose clock
     * (CLOCK_LEVEL) still interrupts it. */
    Before = KeGetCurrentPrcb()->InterruptCount;
    while (KeGetCurrentPrcb()->InterruptCount < Before + 10 && KtElapsedMs(Start) < 2000) {
        __builtin_ia32_pause();
    }
    After = KeGetCurrentPrcb()->InterruptCount;
    KeLowerIrql(OldIrql);
    KT_EXPECT_GE(After, Before + 10);
    /* 1 ms ticks: ten of them take about 10 ms (generous bound: shared
     * machines, sanitizers). */
    KT_EXPECT_LT(KtElapsedMs(Start), 2000);
}

/* Waits (spinning) until the current processor received Count more
 * interrupt signals, at most a second. */
static BOOLEAN KtWaitForSignals(PHALP_PROCESSOR Processor, ULONG64 Count)
{
    ULONG64 Target = Processor->SignalsReceived + Count;
    ULONG64 Start = KiReadTimestamp();

    while (Processor->SignalsReceived < Target) {
        if (KtElapsedMs(Start) > 1000) {
            return FALSE;
        }
        __builtin_ia32_pause();
    }
    return TRUE;
}

KTEST(hal_hosted, clock_held_while_interrupts_disabled)
{
    PHALP_PROCESSOR Processor;
    ULONG64 Count, Deferred;
    BOOLEAN Arrived, Pending, Enabled;
    ULONG64 CountWhileDisabled, CountAfter;
    KIRQL OldIrql;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Processor = KtClockedProcessor();
    if (Processor == NULL) {
        KeLowerIrql(OldIrql);
        KT_SKIP("no clock (HalHostedStartProcessors not called)");
    }
    Enabled = KiDisableInterrupts();
    Count = Processor->Pcr.Prcb.InterruptCount;
    Deferred = Processor->InterruptsDeferred;
    Arrived = KtWaitForSignals(Processor, 3);
    CountWhileDisabled = Processor->Pcr.Prcb.InterruptCount;
    Pending = (Processor->PendingInterrupts & HALP_INTERRUPT_CLOCK) != 0;
    Deferred = Processor->InterruptsDeferred - Deferred;
    KiRestoreInterrupts(TRUE);
    /* Enabling took the held tick at once (several ticks, one line). */
    CountAfter = Processor->Pcr.Prcb.InterruptCount;
    KiRestoreInterrupts(Enabled);
    KeLowerIrql(OldIrql);

    KT_EXPECT_TRUE(Enabled);
    KT_EXPECT_TRUE(Arrived);
    KT_EXPECT_EQ(CountWhileDisabled, Count);
    KT_EXPECT_TRUE(Pending);
    KT_EXPECT_GE(Deferred, 3);
    KT_EXPECT_GE(CountAfter, Count + 1);
}

KTEST(hal_hosted, clock_held_while_irql_masks_it)
{
    PHALP_PROCESSOR Processor;
    ULONG64 Count, CountWhileRaised, CountAfter;
    BOOLEAN Arrived, Pending;
    KIRQL OldIrql, Ignored;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Processor = KtClockedProcessor();
    if (Processor == NULL) {
        KeLowerIrql(OldIrql);
        KT_SKIP("no clock (HalHostedStartProcessors not called)");
    }
    KeRaiseIrql(CLOCK_LEVEL, &Ignored);
    Count = Processor->Pcr.Prcb.InterruptCount;
    Arrived = KtWaitForSignals(Processor, 2);
    CountWhileRaised = Processor->Pcr.Prcb.InterruptCount;
    Pending = (Processor->PendingInterrupts & HALP_INTERRUPT_CLOCK) != 0;
    KeLowerIrql(DISPATCH_LEVEL);
    CountAfter = Processor->Pcr.Prcb.InterruptCount;
    KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(OldIrql);

    KT_EXPECT_TRUE(Arrived);
    KT_EXPECT_EQ(CountWhileRaised, Count);
    KT_EXPECT_TRUE(Pending);
    KT_EXPECT_GE(CountAfter, Count + 1);
}

KTEST(hal_hosted, halt_returns_after_an_interrupt)
{
    PHALP_PROCESSOR Processor;
    ULONG64 Signals, Start;
    BOOLEAN Enabled;
    KIRQL OldIrql;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Processor = KtClockedProcessor();
    if (Processor == NULL) {
        KeLowerIrql(OldIrql);
        KT_SKIP("no clock (HalHostedStartProcessors not called)");
    }
    Enabled = KiDisableInterrupts();
    Signals = Processor->SignalsReceived;
    Start = KiReadTimestamp();
    KiHaltUntilInterrupt();
    KT_EXPECT_GT(Processor->SignalsReceived, Signals);
    KT_EXPECT_TRUE(Processor->InterruptsEnabled);
    KT_EXPECT_LT(KtElapsedMs(Start), 1000);
    KiRestoreInterrupts(Enabled);
    KeLowerIrql(OldIrql);
}

/* ---- IPIs ---- */

KTEST(hal_hosted, ipi_to_self_held_at_ipi_level)
{
    PHALP_PROCESSOR Processor;
    ULONG64 Taken, TakenRaised, TakenAfterSend, TakenAfter;
    KIRQL OldIrql, Ignored;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Processor = HalpCurrentProcessor();
    if (!Processor->Online) {
        KeLowerIrql(OldIrql);
        KT_SKIP("processor not started");
    }
    /* Unmasked: the signal to oneself is taken before pthread_kill
     * returns. */
    Taken = Processor->IpisTaken;
    KiIpiSend(KeGetCurrentPrcb()->SetMember, 0);
    TakenAfterSend = Processor->IpisTaken;

    KeRaiseIrql(IPI_LEVEL, &Ignored);
    TakenRaised = Processor->IpisTaken;
    KiIpiSend(KeGetCurrentPrcb()->SetMember, 0);
    KT_EXPECT_EQ(Processor->IpisTaken, TakenRaised);
    KT_EXPECT_TRUE((Processor->PendingInterrupts & HALP_INTERRUPT_IPI) != 0);
    KeLowerIrql(DISPATCH_LEVEL);
    TakenAfter = Processor->IpisTaken;
    KeLowerIrql(OldIrql);

    KT_EXPECT_GE(TakenAfterSend, Taken + 1);
    KT_EXPECT_GE(TakenAfter, TakenRaised + 1);
}

KTEST(hal_hosted, ipi_reaches_every_other_processor)
{
    KAFFINITY Others;
    ULONG Reached = 0, Expected;
    KIRQL OldIrql;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Others = KeQueryActiveProcessors() & ~KeGetCurrentPrcb()->SetMember;
    Expected = (ULONG)__builtin_popcountll(Others);
    if (Others == 0) {
        KeLowerIrql(OldIrql);
        KT_SKIP("one processor (run ktest_hosted --processors N)");
    }
    for (KAFFINITY Rest = Others; Rest != 0; Rest &= Rest - 1) {
        ULONG Number = (ULONG)__builtin_ctzll(Rest);
        PHALP_PROCESSOR Target = HalpProcessors[Number];
        ULONG64 Before = Target->IpisTaken;
        ULONG64 Start = KiReadTimestamp();

        KiIpiSend((KAFFINITY)1 << Number, 0);
        while (Target->IpisTaken == Before && KtElapsedMs(Start) < 2000) {
            __builtin_ia32_pause();
        }
        if (Target->IpisTaken != Before) {
            Reached++;
        }
    }
    KeLowerIrql(OldIrql);
    KT_EXPECT_EQ(Reached, Expected);
}

/* ---- processors ---- */

KTEST(hal_hosted, processors_are_distinct_host_threads)
{
    KAFFINITY Active = KeQueryActiveProcessors();

    KT_ASSERT_TRUE(Active & 1);
    for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
        PHALP_PROCESSOR Processor = HalpProcessors[i];

        if (!(Active & ((KAFFINITY)1 << i))) {
            KT_EXPECT_NULL(Processor);
            continue;
        }
        KT_ASSERT_NOT_NULL(Processor);
        KT_EXPECT_TRUE(Processor->Online);
        KT_EXPECT_EQ((ULONG_PTR)&Processor->Pcr.Prcb, (ULONG_PTR)KiProcessorBlock[i]);
        KT_EXPECT_EQ((ULONG)Processor->Pcr.Prcb.Number, i);
        for (ULONG j = 0; j < i; j++) {
            if (HalpProcessors[j] != NULL) {
                KT_EXPECT_NE(HalpProcessors[j]->Tid, Processor->Tid);
            }
        }
    }
}

/* ---- a dead stack kept for the next thread ---- */

KTEST(hal_hosted, kept_dead_stack_carries_no_asan_poison)
{
    ULONG_PTR Base, Limit;
    KIRQL OldIrql;
    PVOID Stack;

    /* The peer stops inside KtCountingPeer's frame, whose buffer ASan
     * guards with poisoned redzones; the frame never returns. */
    MiFlushDeadStacks();
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    if (!KtStartPeer(KtCountingPeer, &Stack)) {
        KeLowerIrql(OldIrql);
        KT_ASSERT_TRUE(FALSE);
    }
    KiSwapContext(&KtSelf, &KtPeer);
    KeLowerIrql(OldIrql);
    KT_EXPECT_EQ(KtPeerRuns, 1);
    Base = KtPeer.StackBase;
    Limit = KtPeer.StackLimit;
    KtEndPeer(Stack);
    KT_ASSERT_EQ(MiDeadStackCacheCount(), 1);
#if defined(KT_ASAN)
    /* Kept mapped for the next thread, it is clean as fresh memory: a
     * signal frame the host pushes there, read by the handler, must not
     * hit the old redzones. */
    KT_EXPECT_NULL(__asan_region_is_poisoned((PVOID)Limit, Base - Limit));
#else
    KT_EXPECT_TRUE(Base > Limit);
#endif
    MiFlushDeadStacks();
}

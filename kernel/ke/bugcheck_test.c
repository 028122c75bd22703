/*
 * bugcheck_test.c - ktest cases for the parts of the bug check path that
 * can run without stopping the system: stop code names and the register
 * snapshot.
 */
#include <ntddk.h>
#include <ktest.h>
#include <ke.h>
#include <ldr.h>

KTEST(ke_bugcheck, stop_code_names)
{
    KT_EXPECT_STREQ(KiBugCheckName(IRQL_NOT_LESS_OR_EQUAL), "IRQL_NOT_LESS_OR_EQUAL");
    KT_EXPECT_STREQ(KiBugCheckName(0x7E), "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED");
    KT_EXPECT_STREQ(KiBugCheckName(MANUALLY_INITIATED_CRASH), "MANUALLY_INITIATED_CRASH");
    KT_EXPECT_STREQ(KiBugCheckName(DRIVER_IRQL_NOT_LESS_OR_EQUAL), "DRIVER_IRQL_NOT_LESS_OR_EQUAL");
    KT_EXPECT_NULL(KiBugCheckName(0xDEADBEEF));
}

__attribute__((noinline)) static VOID CaptureHere(PKTRAP_FRAME Frame)
{
    KiCaptureTrapFrame(Frame);
    __asm__ volatile("" ::: "memory"); /* keep the call from becoming a jump */
}

KTEST(ke_bugcheck, capture_sees_caller)
{
    KTRAP_FRAME Frame;

    CaptureHere(&Frame);
    /* RIP is the return address inside CaptureHere; RSP is a live stack
     * address. */
    KT_EXPECT_GT(Frame.Rip, (ULONG_PTR)CaptureHere);
    KT_EXPECT_LT(Frame.Rip, (ULONG_PTR)CaptureHere + 0x100);
    KT_EXPECT_TRUE(MiArchIsAddressReadable((ULONG_PTR)Frame.Rsp));
}

KTEST(ke_bugcheck, trap_frame_to_context)
{
    KTRAP_FRAME Frame;
    CONTEXT Context;

    memset(&Frame, 0, sizeof(Frame));
    Frame.Rax = 1;
    Frame.Rbp = 2;
    Frame.R15 = 3;
    Frame.Rip = 0xFFFFF80000401000ull;
    Frame.Rsp = 0xFFFFF90000008FF0ull;
    Frame.SegCs = 0x10;
    Frame.SegSs = 0x18;
    Frame.EFlags = 0x202;
    KiTrapFrameToContext(&Frame, &Context);
    KT_EXPECT_EQ(Context.Rax, 1);
    KT_EXPECT_EQ(Context.Rbp, 2);
    KT_EXPECT_EQ(Context.R15, 3);
    KT_EXPECT_EQ(Context.Rip, Frame.Rip);
    KT_EXPECT_EQ(Context.Rsp, Frame.Rsp);
    KT_EXPECT_EQ(Context.SegCs, 0x10);
    KT_EXPECT_EQ(Context.SegSs, 0x18);
    KT_EXPECT_EQ(Context.EFlags, 0x202);
    KT_EXPECT_EQ(Context.ContextFlags, CONTEXT_CONTROL | CONTEXT_INTEGER);
}

__attribute__((noinline)) static ULONG WalkFromHere(PULONG_PTR Frames, ULONG Max)
{
    KTRAP_FRAME Frame;
    ULONG Count;

    KiCaptureTrapFrame(&Frame);
    Count = KiWalkTrapFrameStack(&Frame, Frames, Max);
    __asm__ volatile("" ::: "memory"); /* keep the call from becoming a jump */
    return Count;
}

__attribute__((noinline)) static ULONG WalkOuter(PULONG_PTR Frames, ULONG Max)
{
    ULONG Count = WalkFromHere(Frames, Max);
    __asm__ volatile("" ::: "memory");
    return Count;
}

/* What the stop screen prints: the walk from a trap frame reaches the
 * callers through their unwind tables. Only PE code has them, so the
 * hosted build (ELF code) skips it. */
KTEST(ke_bugcheck, stack_walk_reaches_callers)
{
    ULONG_PTR Frames[16];
    ULONG Count;
    BOOLEAN SawInner = FALSE, SawOuter = FALSE;

    if (LdrFindModuleByAddress((ULONG_PTR)WalkOuter) == NULL) {
        KT_SKIP("this code is not in a loaded PE image");
    }
    Count = WalkOuter(Frames, RTL_NUMBER_OF(Frames));
    KT_ASSERT_TRUE(Count >= 3);
    for (ULONG i = 0; i < Count; i++) {
        SawInner |=
            Frames[i] > (ULONG_PTR)WalkFromHere && Frames[i] < (ULONG_PTR)WalkFromHere + 0x400;
        SawOuter |= Frames[i] > (ULONG_PTR)WalkOuter && Frames[i] < (ULONG_PTR)WalkOuter + 0x400;
    }
    KT_EXPECT_TRUE(SawInner);
    KT_EXPECT_TRUE(SawOuter);
}

KTEST(ke_bugcheck, stack_walk_survives_garbage)
{
    KTRAP_FRAME Frame;
    ULONG_PTR Frames[8];

    memset(&Frame, 0, sizeof(Frame));
    Frame.Rip = 0x1234;
    Frame.Rsp = 0xDEAD0000BEEF0000ull; /* non-canonical */
    Frame.Rbp = 0x10;
    KT_EXPECT_EQ(KiWalkTrapFrameStack(&Frame, Frames, RTL_NUMBER_OF(Frames)), 1);
    KT_EXPECT_EQ(Frames[0], 0x1234);
}

/*
 * trap_unwind_test.c - ktest cases for the unwind data of the trap stubs
 * (kernel/arch/x64/trap.S): each IDT stub, at every instruction, unwinds
 * through exactly what it pushed to the interrupted RIP and RSP, and a real
 * software interrupt's frame, walked from the return address into the
 * common path (where a C trap handler returns to), leads back to the
 * interrupted code with its nonvolatile registers. Only where ntoskrnl.exe
 * runs (QEMU); skipped in the hosted build.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <ldr.h>
#include <rtlp.h>
#include <ktest.h>

/* The vectors trap.S has a stub for, and those the processor pushes an
 * error code for. */
static const UCHAR TuVectors[] = { 0,  1,  2,  3,  4,  5,  6,  7,  8,    9,   10, 11,
                                   12, 13, 14, 15, 16, 17, 18, 19, 20,   21,  22, 23,
                                   24, 25, 26, 27, 28, 29, 30, 31, 0xD1, 0xFF };

static BOOLEAN TuHasErrorCode(ULONG Vector)
{
    return Vector == 8 || (Vector >= 10 && Vector <= 14) || Vector == 17 || Vector == 21 ||
           Vector == 29 || Vector == 30;
}

/* The stub the IDT routes Vector to. */
static ULONG64 TuIdtHandler(ULONG Vector)
{
    struct {
        USHORT Limit;
        ULONG64 Base;
    } __attribute__((packed)) Idtr;
    const UCHAR *Entry;
    USHORT Low, Middle;
    ULONG High;

    __asm__ volatile("sidt %0" : "=m"(Idtr));
    if (Vector * 16 + 15 > Idtr.Limit) {
        return 0;
    }
    Entry = (const UCHAR *)(ULONG_PTR)Idtr.Base + Vector * 16;
    memcpy(&Low, Entry, sizeof(Low));
    memcpy(&Middle, Entry + 6, sizeof(Middle));
    memcpy(&High, Entry + 8, sizeof(High));
    return Low | ((ULONG64)Middle << 16) | ((ULONG64)High << 32);
}

/* A stub as decoded: its pushes ("push imm8" / "push imm32") and the jmp
 * into the common path. */
typedef struct _TU_STUB {
    ULONG PushCount;
    LONG Pushed[2];
    ULONG Offsets[3]; /* instruction boundaries: after each push */
    ULONG JmpOffset;
    ULONG64 Target;
} TU_STUB;

static BOOLEAN TuDecodeStub(ULONG64 Stub, TU_STUB *Decoded)
{
    const UCHAR *Code = (const UCHAR *)(ULONG_PTR)Stub;
    ULONG Offset = 0;

    memset(Decoded, 0, sizeof(*Decoded));
    while (Decoded->PushCount < 2 && (Code[Offset] == 0x6A || Code[Offset] == 0x68)) {
        if (Code[Offset] == 0x6A) {
            Decoded->Pushed[Decoded->PushCount] = (CHAR)Code[Offset + 1];
            Offset += 2;
        } else {
            memcpy(&Decoded->Pushed[Decoded->PushCount], Code + Offset + 1, sizeof(LONG));
            Offset += 5;
        }
        Decoded->Offsets[Decoded->PushCount++] = Offset;
    }
    Decoded->JmpOffset = Offset;
    if (Code[Offset] == 0xE9) {
        LONG Relative;
        memcpy(&Relative, Code + Offset + 1, sizeof(Relative));
        Decoded->Target = Stub + Offset + 5 + (LONGLONG)Relative;
    } else if (Code[Offset] == 0xEB) {
        Decoded->Target = Stub + Offset + 2 + (CHAR)Code[Offset + 1];
    } else {
        return FALSE;
    }
    return TRUE;
}

/* The machine frame a synthetic interrupt "pushed". */
#define TU_RIP    0xFFFFF80000ABC123ull
#define TU_CS     0x10
#define TU_RFLAGS 0x246
#define TU_RSP    0xFFFFF90000007FF0ull
#define TU_SS     0x18

/* Unwinds one frame at Pc over a stack holding Slots (lowest address
 * first) above a machine frame; TRUE if it lands on the machine frame's
 * RIP/RSP. */
static BOOLEAN TuUnwindSynthetic(PKLDR_DATA_TABLE_ENTRY Kernel, ULONG64 Pc, const ULONG64 *Slots,
                                 ULONG SlotCount)
{
    ULONG64 Stack[16];
    RTLP_UNWIND_BOUNDS Bounds;
    PRUNTIME_FUNCTION Entry;
    CONTEXT Context;
    BOOLEAN Machine = FALSE;
    ULONG i;

    for (i = 0; i < SlotCount; i++) {
        Stack[i] = Slots[i];
    }
    Stack[i++] = TU_RIP;
    Stack[i++] = TU_CS;
    Stack[i++] = TU_RFLAGS;
    Stack[i++] = TU_RSP;
    Stack[i++] = TU_SS;
    Bounds.ImageBase = (ULONG64)(ULONG_PTR)Kernel->DllBase;
    Bounds.ImageSize = Kernel->SizeOfImage;
    Bounds.StackLow = (ULONG64)(ULONG_PTR)Stack;
    Bounds.StackHigh = (ULONG64)(ULONG_PTR)&Stack[i];
    Entry = RtlpLookupFunctionEntryImage(Bounds.ImageBase, Bounds.ImageSize, Pc);
    if (Entry == NULL) {
        return FALSE;
    }
    memset(&Context, 0, sizeof(Context));
    Context.Rip = Pc;
    Context.Rsp = Bounds.StackLow;
    if (!NT_SUCCESS(RtlpVirtualUnwind(UNW_FLAG_NHANDLER, &Bounds, Pc, Entry, &Context, 0, NULL,
                                      NULL, NULL, NULL, &Machine))) {
        return FALSE;
    }
    return Machine && Context.Rip == TU_RIP && Context.Rsp == TU_RSP && Context.SegCs == TU_CS &&
           Context.EFlags == TU_RFLAGS && Context.SegSs == TU_SS;
}

KTEST(ke_trap_unwind, every_stub_unwinds_to_the_machine_frame)
{
    PKLDR_DATA_TABLE_ENTRY Kernel = LdrFindModuleByAddress((ULONG_PTR)TuIdtHandler);
    ULONG64 Common = 0;

    if (Kernel == NULL) {
        KT_SKIP("this code is not in a loaded PE image (hosted build)");
    }
    for (ULONG i = 0; i < sizeof(TuVectors); i++) {
        ULONG Vector = TuVectors[i];
        ULONG64 Stub = TuIdtHandler(Vector);
        BOOLEAN Error = TuHasErrorCode(Vector);
        ULONG64 Slots[4];
        ULONG Count = 0;
        TU_STUB Decoded;

        KT_ASSERT_TRUE(LdrFindModuleByAddress((ULONG_PTR)Stub) == Kernel);
        KT_ASSERT_TRUE(TuDecodeStub(Stub, &Decoded));
        /* The stub pushes a zero error code exactly when the processor
         * does not, then the vector, and joins the common path. */
        KT_EXPECT_EQ(Decoded.PushCount, Error ? 1 : 2);
        KT_EXPECT_EQ(Decoded.Pushed[Decoded.PushCount - 1], Vector);
        if (!Error) {
            KT_EXPECT_EQ(Decoded.Pushed[0], 0);
        }
        if (Common == 0) {
            Common = Decoded.Target;
        }
        KT_EXPECT_EQ(Decoded.Target, Common);

        /* At each instruction of the stub. */
        if (Error) {
            Slots[Count++] = 0xE0;
        }
        KT_EXPECT_TRUE(TuUnwindSynthetic(Kernel, Stub, Slots, Count));
        for (ULONG Push = 0; Push < Decoded.PushCount; Push++) {
            memmove(&Slots[1], &Slots[0], Count * sizeof(ULONG64));
            Slots[0] = (ULONG64)(LONGLONG)Decoded.Pushed[Push];
            Count++;
            if (!TuUnwindSynthetic(Kernel, Stub + Decoded.Offsets[Push], Slots, Count)) {
                KT_FAIL_((void)0, "vector %u: no unwind after push %u", (unsigned)Vector,
                         (unsigned)Push);
            }
        }
        KT_EXPECT_EQ(Decoded.JmpOffset, Decoded.Offsets[Decoded.PushCount - 1]);

        /* The common path's first instructions (cld; sub rsp) see the
         * same stack. */
        if (!TuUnwindSynthetic(Kernel, Common, Slots, Count) ||
            !TuUnwindSynthetic(Kernel, Common + 1, Slots, Count)) {
            KT_FAIL_((void)0, "vector %u: the common path's entry does not unwind",
                     (unsigned)Vector);
        }
    }
}

/* The private stack a real software interrupt runs on, so that its frame
 * is still there to walk after the iretq. */
static DECLSPEC_ALIGN(16) ULONG64 TuTrapStack[512];

KTEST(ke_trap_unwind, walk_from_handler_reaches_interrupted_code)
{
    PKLDR_DATA_TABLE_ENTRY Kernel = LdrFindModuleByAddress((ULONG_PTR)TuIdtHandler);
    ULONG64 Top = (ULONG64)(ULONG_PTR)&TuTrapStack[RTL_NUMBER_OF(TuTrapStack)];
    ULONG64 Label = 0, Rbp = 0, Common, CommonEnd;
    PRUNTIME_FUNCTION Entry;
    RTLP_UNWIND_BOUNDS Bounds;
    ULONG_PTR Frames[4];
    CONTEXT Context;
    BOOLEAN Machine = FALSE, Enabled;
    USHORT Cs = 0;
    TU_STUB Decoded;
    ULONG Slot;

    if (Kernel == NULL) {
        KT_SKIP("this code is not in a loaded PE image (hosted build)");
    }
    KT_ASSERT_TRUE(TuDecodeStub(TuIdtHandler(0xFF), &Decoded));
    Common = Decoded.Target;
    Entry = RtlLookupFunctionEntry(Common, NULL, NULL);
    KT_ASSERT_NOT_NULL(Entry);
    CommonEnd = (ULONG64)(ULONG_PTR)Kernel->DllBase + Entry->EndAddress;

    /* int $0xff runs the spurious-interrupt path: stub, common path,
     * KiDispatchTrap, iretq. Known values in the nonvolatile registers
     * show whether the unwind restores the interrupted ones. */
    memset(TuTrapStack, 0, sizeof(TuTrapStack));
    Enabled = KiDisableInterrupts();
    __asm__ volatile("movq %%rsp, %%rax\n\t"
                     "movq %[top], %%rsp\n\t"
                     "movq $0xB0B0, %%rbx\n\t"
                     "movq $0x5151, %%rsi\n\t"
                     "movq $0xD1D1, %%rdi\n\t"
                     "movq $0x1212, %%r12\n\t"
                     "movq $0x1313, %%r13\n\t"
                     "movq $0x1414, %%r14\n\t"
                     "movq $0x1515, %%r15\n\t"
                     "movq %%rbp, %[rbp]\n\t"
                     "movw %%cs, %w[cs]\n\t"
                     "leaq 1f(%%rip), %[label]\n\t"
                     "int $0xff\n"
                     "1:\n\t"
                     "movq %%rax, %%rsp"
                     : [label] "=&r"(Label), [rbp] "=&r"(Rbp), [cs] "=&r"(Cs)
                     : [top] "r"(Top)
                     : "rax", "rbx", "rsi", "rdi", "r12", "r13", "r14", "r15", "memory", "cc");
    KiRestoreInterrupts(Enabled);

    /* The return address KiDispatchTrap left: the first one into the
     * common path below the machine frame. */
    for (Slot = RTL_NUMBER_OF(TuTrapStack) - 6; Slot > 0; Slot--) {
        if (TuTrapStack[Slot] > Common && TuTrapStack[Slot] <= CommonEnd) {
            break;
        }
    }
    KT_ASSERT_TRUE(Slot > 0);

    /* The frame KiDispatchTrap returns to: one unwind reaches the code the
     * interrupt stopped. */
    memset(&Context, 0, sizeof(Context));
    Context.Rip = TuTrapStack[Slot];
    Context.Rsp = (ULONG64)(ULONG_PTR)&TuTrapStack[Slot + 1];
    Bounds.ImageBase = (ULONG64)(ULONG_PTR)Kernel->DllBase;
    Bounds.ImageSize = Kernel->SizeOfImage;
    Bounds.StackLow = (ULONG64)(ULONG_PTR)TuTrapStack;
    Bounds.StackHigh = Top;
    KT_ASSERT_SUCCESS(RtlpVirtualUnwind(UNW_FLAG_NHANDLER, &Bounds, Context.Rip, Entry, &Context,
                                        RTLP_UNWIND_CALLER_PC, NULL, NULL, NULL, NULL, &Machine));
    KT_EXPECT_TRUE(Machine);
    KT_EXPECT_EQ(Context.Rip, Label);
    KT_EXPECT_EQ(Context.Rsp, Top);
    KT_EXPECT_EQ(Context.SegCs, Cs);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rsi, 0x5151);
    KT_EXPECT_EQ(Context.Rdi, 0xD1D1);
    KT_EXPECT_EQ(Context.Rbp, Rbp);
    KT_EXPECT_EQ(Context.R12, 0x1212);
    KT_EXPECT_EQ(Context.R13, 0x1313);
    KT_EXPECT_EQ(Context.R14, 0x1414);
    KT_EXPECT_EQ(Context.R15, 0x1515);

    /* The walker steps through it the same way: the handler's return
     * address, then the interrupted RIP (whose own frame is on the real
     * stack, outside these bounds). */
    memset(&Context, 0, sizeof(Context));
    Context.Rip = TuTrapStack[Slot];
    Context.Rsp = (ULONG64)(ULONG_PTR)&TuTrapStack[Slot + 1];
    KT_ASSERT_EQ(RtlpWalkFrames(&Context, (ULONG_PTR)TuTrapStack, (ULONG_PTR)Top, 0, Frames,
                                RTL_NUMBER_OF(Frames)),
                 2);
    KT_EXPECT_EQ(Frames[1], Label);
}

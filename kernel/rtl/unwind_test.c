/*
 * unwind_test.c - ktest cases for the x64 unwinder (unwind.c): synthetic
 * images in kernel memory (PE headers, a .pdata table, UNWIND_INFOs and
 * code bytes) with synthetic stacks, covering every unwind code, partial
 * prologs, v1 and v2 epilogs, chained info, handlers, the lookup and each
 * kind of out-of-bounds data; then, where ntoskrnl.exe itself runs (QEMU),
 * real walks of the live stack checked by symbol name.
 */
#include <ntddk.h>
#include <ex.h>
#include <ldr.h>
#include <rtlp.h>
#include <ktest.h>

/* Synthetic image layout. */
#define UT_IMAGE_SIZE 0x3000
#define UT_NT         0x80
#define UT_PDATA      0x200
#define UT_XDATA      0x400
#define UT_CODE       0x1000
#define UT_HANDLER    0x2F00
#define UT_STACK_SIZE 0x4000
#define UT_SLOTS      (UT_STACK_SIZE / 8)

/* One UNWIND_CODE slot: CodeOffset, UnwindOp, OpInfo. */
#define UT_OP(Offset, Op, Info) ((USHORT)((Offset) | (((Op) | ((Info) << 4)) << 8)))

#define UT_RBX 3
#define UT_RBP 5
#define UT_RSI 6
#define UT_RDI 7
#define UT_R12 12

typedef struct _UT_ENV {
    PUCHAR Image;
    PULONG64 Stack;
    RTLP_UNWIND_BOUNDS Bounds;
} UT_ENV;

/* A PE32+ header whose exception directory holds FunctionCount entries;
 * code bytes are int3 so nothing looks like an epilog by accident. */
static VOID UtWriteHeaders(UT_ENV *Env, ULONG FunctionCount)
{
    IMAGE_DOS_HEADER Dos;
    IMAGE_NT_HEADERS64 Nt;

    memset(Env->Image, 0, UT_IMAGE_SIZE);
    memset(Env->Image + UT_CODE, 0xCC, UT_IMAGE_SIZE - UT_CODE);
    memset(&Dos, 0, sizeof(Dos));
    Dos.e_magic = IMAGE_DOS_SIGNATURE;
    Dos.e_lfanew = UT_NT;
    memcpy(Env->Image, &Dos, sizeof(Dos));
    memset(&Nt, 0, sizeof(Nt));
    Nt.Signature = IMAGE_NT_SIGNATURE;
    Nt.FileHeader.Machine = IMAGE_FILE_MACHINE_AMD64;
    Nt.FileHeader.SizeOfOptionalHeader = sizeof(IMAGE_OPTIONAL_HEADER64);
    Nt.OptionalHeader.Magic = IMAGE_NT_OPTIONAL_HDR64_MAGIC;
    Nt.OptionalHeader.SizeOfImage = UT_IMAGE_SIZE;
    Nt.OptionalHeader.NumberOfRvaAndSizes = IMAGE_NUMBEROF_DIRECTORY_ENTRIES;
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].VirtualAddress = UT_PDATA;
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].Size =
        FunctionCount * sizeof(RUNTIME_FUNCTION);
    memcpy(Env->Image + UT_NT, &Nt, sizeof(Nt));

    Env->Bounds.ImageBase = (ULONG64)(ULONG_PTR)Env->Image;
    Env->Bounds.ImageSize = UT_IMAGE_SIZE;
}

static BOOLEAN UtCreate(UT_ENV *Env, ULONG FunctionCount)
{
    Env->Image = ExpAllocateKernelMemory(UT_IMAGE_SIZE);
    Env->Stack = ExpAllocateKernelMemory(UT_STACK_SIZE);
    if (Env->Image == NULL || Env->Stack == NULL) {
        return FALSE;
    }
    UtWriteHeaders(Env, FunctionCount);
    memset(Env->Stack, 0, UT_STACK_SIZE);
    Env->Bounds.StackLow = (ULONG64)(ULONG_PTR)Env->Stack;
    Env->Bounds.StackHigh = Env->Bounds.StackLow + UT_STACK_SIZE;
    return TRUE;
}

static VOID UtDestroy(UT_ENV *Env)
{
    if (Env->Image != NULL) {
        ExpFreeKernelMemory(Env->Image);
    }
    if (Env->Stack != NULL) {
        ExpFreeKernelMemory(Env->Stack);
    }
}

/* .pdata entry Index; returns a pointer to it. */
static PRUNTIME_FUNCTION UtFunction(UT_ENV *Env, ULONG Index, ULONG Begin, ULONG End,
                                    ULONG UnwindData)
{
    RUNTIME_FUNCTION Entry = { Begin, End, { UnwindData } };
    memcpy(Env->Image + UT_PDATA + Index * sizeof(Entry), &Entry, sizeof(Entry));
    return (PRUNTIME_FUNCTION)(Env->Image + UT_PDATA + Index * sizeof(Entry));
}

/* Writes an UNWIND_INFO at Rva; returns the RVA after its (padded) codes,
 * where a handler RVA or chained entry goes. */
static ULONG UtInfo(UT_ENV *Env, ULONG Rva, ULONG Version, ULONG Flags, ULONG SizeOfProlog,
                    ULONG FrameRegister, ULONG FrameOffset, const USHORT *Codes, ULONG Count)
{
    PUCHAR Info = Env->Image + Rva;

    Info[0] = (UCHAR)(Version | (Flags << 3));
    Info[1] = (UCHAR)SizeOfProlog;
    Info[2] = (UCHAR)Count;
    Info[3] = (UCHAR)(FrameRegister | (FrameOffset << 4));
    if (Count != 0) {
        memcpy(Info + 4, Codes, Count * sizeof(USHORT));
    }
    return Rva + 4 + ((Count + 1) & ~1u) * 2;
}

static VOID UtPut32(UT_ENV *Env, ULONG Rva, ULONG Value)
{
    memcpy(Env->Image + Rva, &Value, sizeof(Value));
}

static VOID UtBytes(UT_ENV *Env, ULONG Rva, const UCHAR *Bytes, ULONG Count)
{
    memcpy(Env->Image + Rva, Bytes, Count);
}

static ULONG64 UtPc(UT_ENV *Env, ULONG Rva)
{
    return Env->Bounds.ImageBase + Rva;
}

static ULONG64 UtSlot(UT_ENV *Env, ULONG Index)
{
    return (ULONG64)(ULONG_PTR)&Env->Stack[Index];
}

/* A context with recognisable register values and RSP at stack slot
 * SpSlot. */
static VOID UtContext(UT_ENV *Env, PCONTEXT Context, ULONG SpSlot)
{
    memset(Context, 0, sizeof(*Context));
    Context->Rax = 0xA0;
    Context->Rbx = 0xB0;
    Context->Rbp = 0xB9;
    Context->Rsi = 0x51;
    Context->Rdi = 0xD1;
    Context->R12 = 0x12;
    Context->Rsp = UtSlot(Env, SpSlot);
}

static NTSTATUS UtUnwind(UT_ENV *Env, ULONG HandlerType, ULONG Rva, PRUNTIME_FUNCTION Function,
                         PCONTEXT Context, PEXCEPTION_ROUTINE *Handler, PVOID *HandlerData,
                         PULONG64 Establisher, PKNONVOLATILE_CONTEXT_POINTERS Pointers,
                         PBOOLEAN Machine)
{
    return RtlpVirtualUnwind(HandlerType, &Env->Bounds, UtPc(Env, Rva), Function, Context, 0,
                             Handler, HandlerData, Establisher, Pointers, Machine);
}

#define UT_SETUP(Env, Count)                                                                       \
    UT_ENV Env;                                                                                    \
    memset(&Env, 0, sizeof(Env));                                                                  \
    if (!UtCreate(&Env, (Count))) {                                                                \
        UtDestroy(&Env);                                                                           \
        KT_FAIL_(return, "out of memory for the synthetic image");                                 \
    }

KTEST(unwind, push_nonvol)
{
    static const USHORT Codes[] = { UT_OP(2, UWOP_PUSH_NONVOL, UT_RSI),
                                    UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    KNONVOLATILE_CONTEXT_POINTERS Pointers;
    PEXCEPTION_ROUTINE Handler = (PEXCEPTION_ROUTINE)1;
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    ULONG64 Establisher = 0;
    BOOLEAN Machine = TRUE;
    UT_SETUP(Env, 1);

    UtInfo(&Env, UT_XDATA, 1, 0, 2, 0, 0, Codes, 2);
    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    Env.Stack[0] = 0x5151;
    Env.Stack[1] = 0xB0B0;
    Env.Stack[2] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    memset(&Pointers, 0, sizeof(Pointers));

    KT_EXPECT_SUCCESS(UtUnwind(&Env, UNW_FLAG_EHANDLER, 0x1010, Function, &Context, &Handler, NULL,
                               &Establisher, &Pointers, &Machine));
    KT_EXPECT_EQ(Context.Rsi, 0x5151);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 3));
    KT_EXPECT_EQ(Context.Rdi, 0xD1); /* untouched */
    KT_EXPECT_EQ((ULONG_PTR)Pointers.Rsi, UtSlot(&Env, 0));
    KT_EXPECT_EQ((ULONG_PTR)Pointers.Rbx, UtSlot(&Env, 1));
    KT_EXPECT_NULL(Pointers.Rdi);
    KT_EXPECT_EQ(Establisher, UtSlot(&Env, 0));
    KT_EXPECT_NULL(Handler);
    KT_EXPECT_FALSE(Machine);
    UtDestroy(&Env);
}

KTEST(unwind, alloc_small_and_large)
{
    static const USHORT Small[] = { UT_OP(4, UWOP_ALLOC_SMALL, 4) };           /* 0x28 */
    static const USHORT Large[] = { UT_OP(7, UWOP_ALLOC_LARGE, 0), 0x100 };    /* 0x800 */
    static const USHORT Huge[] = { UT_OP(7, UWOP_ALLOC_LARGE, 1), 0x1010, 0 }; /* 0x1010 */
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    UT_SETUP(Env, 1);

    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);

    UtInfo(&Env, UT_XDATA, 1, 0, 4, 0, 0, Small, 1);
    Env.Stack[5] = 0x1111;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1010, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rip, 0x1111);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 6));

    UtInfo(&Env, UT_XDATA, 1, 0, 7, 0, 0, Large, 2);
    Env.Stack[0x100] = 0x2222;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1010, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rip, 0x2222);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 0x101));

    UtInfo(&Env, UT_XDATA, 1, 0, 7, 0, 0, Huge, 3);
    Env.Stack[0x202] = 0x3333;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1010, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rip, 0x3333);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 0x203));
    UtDestroy(&Env);
}

/* push rbp; sub rsp, 0x40; lea rbp, [rsp + 0x20]; mov [rbp - 0x10], rbx,
 * then the body allocated more stack dynamically. */
KTEST(unwind, set_fpreg_and_frame_relative_saves)
{
    static const USHORT Codes[] = {
        UT_OP(14, UWOP_SAVE_NONVOL, UT_RBX), 2, /* [frame base + 0x10] */
        UT_OP(10, UWOP_SET_FPREG, 0),        UT_OP(5, UWOP_ALLOC_SMALL, 7), /* 0x40 */
        UT_OP(1, UWOP_PUSH_NONVOL, UT_RBP),
    };
    KNONVOLATILE_CONTEXT_POINTERS Pointers;
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    ULONG64 Establisher = 0, Base;
    UT_SETUP(Env, 1);

    UtInfo(&Env, UT_XDATA, 1, 0, 14, UT_RBP, 2, Codes, 5);
    Function = UtFunction(&Env, 0, 0x1000, 0x1080, UT_XDATA);
    Base = UtSlot(&Env, 0x20); /* fixed allocation: slots 0x20..0x27 */
    Env.Stack[0x22] = 0xB0B0;  /* rbx at base + 0x10 */
    Env.Stack[0x28] = 0xBBBB;  /* pushed rbp */
    Env.Stack[0x29] = 0xCAFE;
    UtContext(&Env, &Context, 0); /* RSP well below the frame (alloca) */
    Context.Rbp = Base + 0x20;
    memset(&Pointers, 0, sizeof(Pointers));

    KT_EXPECT_SUCCESS(
        UtUnwind(&Env, 0, 0x1040, Function, &Context, NULL, NULL, &Establisher, &Pointers, NULL));
    KT_EXPECT_EQ(Establisher, Base);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ((ULONG_PTR)Pointers.Rbx, UtSlot(&Env, 0x22));
    KT_EXPECT_EQ(Context.Rbp, 0xBBBB);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 0x2A));

    /* Before the lea (offset 5..9) the frame register is not set yet: the
     * frame is found from RSP, which is then the fixed allocation. */
    UtContext(&Env, &Context, 0x20);
    Context.Rbp = 0x1234;
    KT_EXPECT_SUCCESS(
        UtUnwind(&Env, 0, 0x1007, Function, &Context, NULL, NULL, &Establisher, NULL, NULL));
    KT_EXPECT_EQ(Establisher, Base);
    KT_EXPECT_EQ(Context.Rbp, 0xBBBB);
    KT_EXPECT_EQ(Context.Rbx, 0xB0); /* its save had not run */
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    UtDestroy(&Env);
}

KTEST(unwind, save_nonvol_near_and_far)
{
    static const USHORT Codes[] = {
        UT_OP(14, UWOP_SAVE_NONVOL_FAR, UT_RDI), 0x30, 0,
        UT_OP(9, UWOP_SAVE_NONVOL, UT_RSI),      4,    UT_OP(4, UWOP_ALLOC_SMALL, 7),
    };
    KNONVOLATILE_CONTEXT_POINTERS Pointers;
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    UT_SETUP(Env, 1);

    UtInfo(&Env, UT_XDATA, 1, 0, 14, 0, 0, Codes, 6);
    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    Env.Stack[4] = 0x5151;
    Env.Stack[6] = 0xD1D1;
    Env.Stack[8] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    memset(&Pointers, 0, sizeof(Pointers));

    KT_EXPECT_SUCCESS(
        UtUnwind(&Env, 0, 0x1020, Function, &Context, NULL, NULL, NULL, &Pointers, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x5151);
    KT_EXPECT_EQ(Context.Rdi, 0xD1D1);
    KT_EXPECT_EQ((ULONG_PTR)Pointers.Rsi, UtSlot(&Env, 4));
    KT_EXPECT_EQ((ULONG_PTR)Pointers.Rdi, UtSlot(&Env, 6));
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 9));
    UtDestroy(&Env);
}

KTEST(unwind, save_xmm128_near_and_far)
{
    static const USHORT Codes[] = {
        UT_OP(16, UWOP_SAVE_XMM128_FAR, 15), 0x20, 0,
        UT_OP(9, UWOP_SAVE_XMM128, 6),       1,    UT_OP(4, UWOP_ALLOC_SMALL, 7),
    };
    KNONVOLATILE_CONTEXT_POINTERS Pointers;
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    UT_SETUP(Env, 1);

    UtInfo(&Env, UT_XDATA, 1, 0, 16, 0, 0, Codes, 6);
    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    Env.Stack[2] = 0x6666666666666666ull; /* xmm6 at +0x10 */
    Env.Stack[3] = 0x0606060606060606ull;
    Env.Stack[4] = 0xFFFFFFFF00000015ull; /* xmm15 at +0x20 */
    Env.Stack[5] = 0x1515151515151515ull;
    Env.Stack[8] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    memset(&Pointers, 0, sizeof(Pointers));

    KT_EXPECT_SUCCESS(
        UtUnwind(&Env, 0, 0x1020, Function, &Context, NULL, NULL, NULL, &Pointers, NULL));
    KT_EXPECT_EQ(Context.Xmm6.Low, 0x6666666666666666ull);
    KT_EXPECT_EQ(Context.Xmm6.High, 0x0606060606060606ull);
    KT_EXPECT_EQ(Context.Xmm15.Low, 0xFFFFFFFF00000015ull);
    KT_EXPECT_EQ(Context.Xmm15.High, 0x1515151515151515ull);
    KT_EXPECT_EQ((ULONG_PTR)Pointers.Xmm6, UtSlot(&Env, 2));
    KT_EXPECT_EQ((ULONG_PTR)Pointers.Xmm15, UtSlot(&Env, 4));
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 9));
    UtDestroy(&Env);
}

KTEST(unwind, push_machframe)
{
    static const USHORT Plain[] = { UT_OP(0, UWOP_PUSH_MACHFRAME, 0) };
    static const USHORT WithCode[] = { UT_OP(1, UWOP_PUSH_NONVOL, UT_RBP),
                                       UT_OP(0, UWOP_PUSH_MACHFRAME, 1) };
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    BOOLEAN Machine = FALSE;
    UT_SETUP(Env, 1);

    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);

    UtInfo(&Env, UT_XDATA, 1, 0, 0, 0, 0, Plain, 1);
    Env.Stack[0] = 0xFFFFF80000401234ull; /* RIP */
    Env.Stack[1] = 0x10;                  /* CS */
    Env.Stack[2] = 0x246;                 /* RFLAGS */
    Env.Stack[3] = 0xFFFFF80000ABC000ull; /* RSP */
    Env.Stack[4] = 0x18;                  /* SS */
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(
        UtUnwind(&Env, 0, 0x1010, Function, &Context, NULL, NULL, NULL, NULL, &Machine));
    KT_EXPECT_TRUE(Machine);
    KT_EXPECT_EQ(Context.Rip, 0xFFFFF80000401234ull);
    KT_EXPECT_EQ(Context.SegCs, 0x10);
    KT_EXPECT_EQ(Context.EFlags, 0x246);
    KT_EXPECT_EQ(Context.Rsp, 0xFFFFF80000ABC000ull);
    KT_EXPECT_EQ(Context.SegSs, 0x18);

    /* An error code below the frame, and a register pushed after it. */
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, WithCode, 2);
    Env.Stack[0] = 0xBBBB;
    Env.Stack[1] = 0xE0; /* error code */
    Env.Stack[2] = 0x4321;
    Env.Stack[3] = 0x10;
    Env.Stack[4] = 0x202;
    Env.Stack[5] = 0x7000;
    Env.Stack[6] = 0x18;
    UtContext(&Env, &Context, 0);
    Machine = FALSE;
    KT_EXPECT_SUCCESS(
        UtUnwind(&Env, 0, 0x1010, Function, &Context, NULL, NULL, NULL, NULL, &Machine));
    KT_EXPECT_TRUE(Machine);
    KT_EXPECT_EQ(Context.Rbp, 0xBBBB);
    KT_EXPECT_EQ(Context.Rip, 0x4321);
    KT_EXPECT_EQ(Context.EFlags, 0x202);
    KT_EXPECT_EQ(Context.Rsp, 0x7000);
    UtDestroy(&Env);
}

/* push rbx (ends at 1); push rsi (2); sub rsp, 0x20 (6). */
static const USHORT UtPushPushAlloc[] = {
    UT_OP(6, UWOP_ALLOC_SMALL, 3),
    UT_OP(2, UWOP_PUSH_NONVOL, UT_RSI),
    UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX),
};

KTEST(unwind, prolog_partially_executed)
{
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    UT_SETUP(Env, 1);

    UtInfo(&Env, UT_XDATA, 1, 0, 6, 0, 0, UtPushPushAlloc, 3);
    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);

    /* At the first instruction nothing has run. */
    Env.Stack[0] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1000, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 1));
    KT_EXPECT_EQ(Context.Rbx, 0xB0);

    /* After push rbx. */
    Env.Stack[0] = 0xB0B0;
    Env.Stack[1] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1001, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rsi, 0x51);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 2));

    /* After both pushes, inside the sub. */
    Env.Stack[0] = 0x5151;
    Env.Stack[1] = 0xB0B0;
    Env.Stack[2] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1003, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x5151);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 3));

    /* In the body: everything. */
    Env.Stack[4] = 0x5152;
    Env.Stack[5] = 0xB0B1;
    Env.Stack[6] = 0xCAFF;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1006, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x5152);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B1);
    KT_EXPECT_EQ(Context.Rip, 0xCAFF);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 7));
    UtDestroy(&Env);
}

KTEST(unwind, epilog_v1_emulated)
{
    /* add rsp, 0x20; pop rsi; pop rbx; ret */
    static const UCHAR Epilog[] = { 0x48, 0x83, 0xC4, 0x20, 0x5E, 0x5B, 0xC3 };
    /* pop rsi; pop r12; jmp <outside> */
    static const UCHAR TailCall[] = { 0x5E, 0x41, 0x5C, 0xE9, 0x00, 0x10, 0x00, 0x00 };
    /* pop rsi; jmp <inside the function>: not an epilog */
    static const UCHAR Inside[] = { 0x5E, 0xEB, 0xF0 };
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    PEXCEPTION_ROUTINE Handler = (PEXCEPTION_ROUTINE)1;
    UT_SETUP(Env, 1);

    UtPut32(&Env, UtInfo(&Env, UT_XDATA, 1, UNW_FLAG_EHANDLER, 6, 0, 0, UtPushPushAlloc, 3),
            UT_HANDLER);
    Function = UtFunction(&Env, 0, 0x1000, 0x1080, UT_XDATA);
    UtBytes(&Env, 0x1020, Epilog, sizeof(Epilog));
    UtBytes(&Env, 0x1030, TailCall, sizeof(TailCall));
    UtBytes(&Env, 0x1040, Inside, sizeof(Inside));

    /* At the add: the whole epilog remains. */
    Env.Stack[4] = 0x5151;
    Env.Stack[5] = 0xB0B0;
    Env.Stack[6] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, UNW_FLAG_EHANDLER, 0x1020, Function, &Context, &Handler, NULL,
                               NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x5151);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 7));
    KT_EXPECT_NULL(Handler); /* no handler runs in an epilog */

    /* At pop rbx: the stack was deallocated and rsi popped already (the
     * prolog codes would read the wrong slots here). */
    Env.Stack[0] = 0xB0B1;
    Env.Stack[1] = 0xCAFF;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1025, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rbx, 0xB0B1);
    KT_EXPECT_EQ(Context.Rsi, 0x51);
    KT_EXPECT_EQ(Context.Rip, 0xCAFF);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 2));

    /* At the ret. */
    Env.Stack[0] = 0xCB00;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1026, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rip, 0xCB00);
    KT_EXPECT_EQ(Context.Rbx, 0xB0);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 1));

    /* A tail call out of the function ends an epilog too (pop r12 is the
     * two-byte form). */
    Env.Stack[0] = 0x5353;
    Env.Stack[1] = 0x1212;
    Env.Stack[2] = 0xCB01;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1030, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x5353);
    KT_EXPECT_EQ(Context.R12, 0x1212);
    KT_EXPECT_EQ(Context.Rip, 0xCB01);

    /* A jump back into the function is body code: the prolog codes apply
     * (and the handler is reported). */
    Env.Stack[4] = 0x5154;
    Env.Stack[5] = 0xB0B4;
    Env.Stack[6] = 0xCB02;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, UNW_FLAG_EHANDLER, 0x1040, Function, &Context, &Handler, NULL,
                               NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x5154);
    KT_EXPECT_EQ(Context.Rip, 0xCB02);
    KT_EXPECT_EQ((ULONG_PTR)Handler, UtPc(&Env, UT_HANDLER));
    UtDestroy(&Env);
}

/* lea rsp, [rbp + disp] epilogs of a frame-pointer function. */
KTEST(unwind, epilog_v1_lea_frame_register)
{
    /* push rbp (1); sub rsp, 0x30 (5); lea rbp, [rsp + 0x10] (10) */
    static const USHORT Codes[] = {
        UT_OP(10, UWOP_SET_FPREG, 0),
        UT_OP(5, UWOP_ALLOC_SMALL, 5),
        UT_OP(1, UWOP_PUSH_NONVOL, UT_RBP),
    };
    /* lea rsp, [rbp + 0x20]; pop rbp; ret */
    static const UCHAR Epilog[] = { 0x48, 0x8D, 0x65, 0x20, 0x5D, 0xC3 };
    /* lea rsp, [rbx + 0x20] is not an epilog of a function framed on rbp */
    static const UCHAR WrongBase[] = { 0x48, 0x8D, 0x63, 0x20, 0x5D, 0xC3 };
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    ULONG64 Base;
    UT_SETUP(Env, 1);

    UtInfo(&Env, UT_XDATA, 1, 0, 10, UT_RBP, 1, Codes, 3);
    Function = UtFunction(&Env, 0, 0x1000, 0x1080, UT_XDATA);
    UtBytes(&Env, 0x1040, Epilog, sizeof(Epilog));
    UtBytes(&Env, 0x1050, WrongBase, sizeof(WrongBase));
    Base = UtSlot(&Env, 0x10); /* fixed allocation 0x10..0x15 */
    Env.Stack[0x16] = 0xBBBB;
    Env.Stack[0x17] = 0xCAFE;

    UtContext(&Env, &Context, 0);
    Context.Rbp = Base + 0x10;
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1040, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rbp, 0xBBBB);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 0x18));

    /* Not an epilog: unwound as body code through the frame register. */
    UtContext(&Env, &Context, 0);
    Context.Rbp = Base + 0x10;
    Context.Rbx = UtSlot(&Env, 0x100);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1050, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rbp, 0xBBBB);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    UtDestroy(&Env);
}

KTEST(unwind, epilog_v2_descriptors)
{
    /* Epilogs are 4 bytes (pop r12; pop rbx; ret): one at the end, one
     * 0x20 before it, one padding descriptor; then push rbx (1), push r12
     * (3), sub rsp, 0x20 (7). */
    static const USHORT Codes[] = {
        UT_OP(4, UWOP_EPILOG, 1),           UT_OP(0x20, UWOP_EPILOG, 0),
        UT_OP(0, UWOP_EPILOG, 0),           UT_OP(0, UWOP_EPILOG, 0),
        UT_OP(7, UWOP_ALLOC_SMALL, 3),      UT_OP(3, UWOP_PUSH_NONVOL, UT_R12),
        UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX),
    };
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    UT_SETUP(Env, 1);

    /* The code bytes stay int3: version 2 needs no disassembly. */
    UtInfo(&Env, UT_XDATA, 2, 0, 7, 0, 0, Codes, 7);
    Function = UtFunction(&Env, 0, 0x1000, 0x1080, UT_XDATA);

    /* At the first pop of the final epilog. */
    Env.Stack[0] = 0x1212;
    Env.Stack[1] = 0xB0B0;
    Env.Stack[2] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x107C, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.R12, 0x1212);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 3));

    /* After pop r12 (two bytes). */
    Env.Stack[0] = 0xB0B1;
    Env.Stack[1] = 0xCAFF;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x107E, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.R12, 0x12);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B1);
    KT_EXPECT_EQ(Context.Rip, 0xCAFF);

    /* At the ret of the other epilog (0x20 before the end). */
    Env.Stack[0] = 0xCB00;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1063, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rip, 0xCB00);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 1));

    /* In the body the prolog codes apply (epilog descriptors skipped). */
    Env.Stack[4] = 0x1213;
    Env.Stack[5] = 0xB0B2;
    Env.Stack[6] = 0xCB01;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1040, Function, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.R12, 0x1213);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B2);
    KT_EXPECT_EQ(Context.Rip, 0xCB01);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 7));
    UtDestroy(&Env);
}

KTEST(unwind, chained_info)
{
    static const USHORT Primary[] = { UT_OP(5, UWOP_ALLOC_SMALL, 3),
                                      UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    /* A fragment whose own "prolog" saves rsi at [rsp + 8]. */
    static const USHORT Saves[] = { UT_OP(5, UWOP_SAVE_NONVOL, UT_RSI), 1 };
    RUNTIME_FUNCTION Parent = { 0x1000, 0x1040, { UT_XDATA } };
    PRUNTIME_FUNCTION Fragment, Grouped;
    PEXCEPTION_ROUTINE Handler = NULL;
    PVOID HandlerData = NULL;
    CONTEXT Context;
    ULONG Tail;
    UT_SETUP(Env, 3);

    Tail = UtInfo(&Env, UT_XDATA, 1, UNW_FLAG_EHANDLER, 5, 0, 0, Primary, 2);
    UtPut32(&Env, Tail, UT_HANDLER);
    UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    Tail = UtInfo(&Env, UT_XDATA + 0x40, 1, UNW_FLAG_CHAININFO, 0, 0, 0, NULL, 0);
    memcpy(Env.Image + Tail, &Parent, sizeof(Parent));
    Fragment = UtFunction(&Env, 1, 0x1100, 0x1120, UT_XDATA + 0x40);
    Tail = UtInfo(&Env, UT_XDATA + 0x80, 1, UNW_FLAG_CHAININFO, 5, 0, 0, Saves, 2);
    memcpy(Env.Image + Tail, &Parent, sizeof(Parent));
    Grouped = UtFunction(&Env, 2, 0x1200, 0x1240, UT_XDATA + 0x80);

    Env.Stack[1] = 0x5151;
    Env.Stack[4] = 0xB0B0;
    Env.Stack[5] = 0xCAFE;

    /* Anywhere in the fragment, the parent's prolog has fully run; the
     * handler is the parent's. */
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, UNW_FLAG_EHANDLER, 0x1100, Fragment, &Context, &Handler,
                               &HandlerData, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Env, 6));
    KT_EXPECT_EQ((ULONG_PTR)Handler, UtPc(&Env, UT_HANDLER));
    KT_EXPECT_EQ((ULONG_PTR)HandlerData, UtPc(&Env, UT_XDATA + 8 + 4));

    /* The grouped saves are partial like a prolog of their own. */
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1202, Grouped, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x51);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, 0, 0x1210, Grouped, &Context, NULL, NULL, NULL, NULL, NULL));
    KT_EXPECT_EQ(Context.Rsi, 0x5151);
    KT_EXPECT_EQ(Context.Rbx, 0xB0B0);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    UtDestroy(&Env);
}

KTEST(unwind, handler_only_in_the_body)
{
    static const USHORT Codes[] = { UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    PEXCEPTION_ROUTINE Handler = NULL;
    PVOID HandlerData = NULL;
    PRUNTIME_FUNCTION Function;
    CONTEXT Context;
    ULONG Tail;
    UT_SETUP(Env, 1);

    Tail = UtInfo(&Env, UT_XDATA, 1, UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER, 1, 0, 0, Codes, 1);
    UtPut32(&Env, Tail, UT_HANDLER);
    UtPut32(&Env, Tail + 4, 0x5CA1AB1E); /* language-specific data */
    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    Env.Stack[0] = 0xB0B0;
    Env.Stack[1] = 0xCAFE;

    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, UNW_FLAG_UHANDLER, 0x1010, Function, &Context, &Handler,
                               &HandlerData, NULL, NULL, NULL));
    KT_EXPECT_EQ((ULONG_PTR)Handler, UtPc(&Env, UT_HANDLER));
    KT_ASSERT_NOT_NULL(HandlerData);
    KT_EXPECT_EQ(*(PULONG)HandlerData, 0x5CA1AB1E);

    /* No handler of the type asked for. */
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, UNW_FLAG_NHANDLER, 0x1010, Function, &Context, &Handler,
                               &HandlerData, NULL, NULL, NULL));
    KT_EXPECT_NULL(Handler);
    KT_EXPECT_NULL(HandlerData);

    /* In the prolog: never. */
    Env.Stack[0] = 0xCAFE;
    UtContext(&Env, &Context, 0);
    KT_EXPECT_SUCCESS(UtUnwind(&Env, UNW_FLAG_EHANDLER, 0x1000, Function, &Context, &Handler,
                               &HandlerData, NULL, NULL, NULL));
    KT_EXPECT_NULL(Handler);
    KT_EXPECT_EQ(Context.Rip, 0xCAFE);
    UtDestroy(&Env);
}

/* Expects Status and an unchanged context. */
#define UT_EXPECT_REJECTED(Env, Rva, Function, Status)                                             \
    do {                                                                                           \
        CONTEXT Before_, After_;                                                                   \
        UtContext(&(Env), &Before_, 0);                                                            \
        memcpy(&After_, &Before_, sizeof(After_));                                                 \
        KT_EXPECT_STATUS(UtUnwind(&(Env), UNW_FLAG_EHANDLER, (Rva), (Function), &After_, NULL,     \
                                  NULL, NULL, NULL, NULL),                                         \
                         Status);                                                                  \
        KT_EXPECT_EQ(memcmp(&Before_, &After_, sizeof(After_)), 0);                                \
    } while (0)

KTEST(unwind, bad_unwind_data_rejected)
{
    static const USHORT Push[] = { UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    static const USHORT TruncatedLarge[] = { UT_OP(7, UWOP_ALLOC_LARGE, 1), 0x10 };
    static const USHORT UnknownOp[] = { UT_OP(1, 11, 0) };
    static const USHORT PushRsp[] = { UT_OP(1, UWOP_PUSH_NONVOL, 4) };
    static const USHORT FpregWithoutRegister[] = { UT_OP(1, UWOP_SET_FPREG, 0) };
    /* The machine frame is pushed first, so it must be the last code. */
    static const USHORT AfterMachineFrame[] = { UT_OP(0, UWOP_PUSH_MACHFRAME, 0),
                                                UT_OP(0, UWOP_PUSH_NONVOL, UT_RBX) };
    RUNTIME_FUNCTION Self = { 0x1000, 0x1040, { UT_XDATA } };
    PRUNTIME_FUNCTION Function;
    ULONG Tail;
    UT_SETUP(Env, 1);

    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, Push, 1);
    Env.Stack[0] = 0xB0B0;
    Env.Stack[1] = 0xCAFE;

    /* ControlPc outside the image. */
    {
        CONTEXT Context;
        UtContext(&Env, &Context, 0);
        KT_EXPECT_STATUS(RtlpVirtualUnwind(0, &Env.Bounds, UtPc(&Env, UT_IMAGE_SIZE), Function,
                                           &Context, 0, NULL, NULL, NULL, NULL, NULL),
                         STATUS_INVALID_PARAMETER);
    }
    /* The UNWIND_INFO outside the image, misaligned, or its codes running
     * past the end. */
    UtFunction(&Env, 0, 0x1000, 0x1040, UT_IMAGE_SIZE);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA + 2);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtFunction(&Env, 0, 0x1000, 0x1040, UT_IMAGE_SIZE - 4);
    UtInfo(&Env, UT_IMAGE_SIZE - 4, 1, 0, 1, 0, 0, NULL, 0);
    Env.Image[UT_IMAGE_SIZE - 2] = 2; /* two codes that are not there */
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    /* A function range past the image. */
    UtFunction(&Env, 0, 0x1000, UT_IMAGE_SIZE + 0x10, UT_XDATA);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);

    /* Unknown versions, truncated and unknown codes, impossible ones. */
    UtInfo(&Env, UT_XDATA, 3, 0, 1, 0, 0, Push, 1);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtInfo(&Env, UT_XDATA, 0, 0, 1, 0, 0, Push, 1);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtInfo(&Env, UT_XDATA, 1, 0, 7, 0, 0, TruncatedLarge, 2);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, UnknownOp, 1);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, PushRsp, 1);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, FpregWithoutRegister, 1);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtInfo(&Env, UT_XDATA, 1, 0, 0, 0, 0, AfterMachineFrame, 2);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);

    /* Chain and handler problems: a chain that loops, chained info that
     * claims a handler, a handler outside the image. */
    Tail = UtInfo(&Env, UT_XDATA, 1, UNW_FLAG_CHAININFO, 1, 0, 0, Push, 1);
    memcpy(Env.Image + Tail, &Self, sizeof(Self));
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtInfo(&Env, UT_XDATA, 1, UNW_FLAG_CHAININFO | UNW_FLAG_EHANDLER, 1, 0, 0, Push, 1);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    Tail = UtInfo(&Env, UT_XDATA, 1, UNW_FLAG_EHANDLER, 1, 0, 0, Push, 1);
    UtPut32(&Env, Tail, UT_IMAGE_SIZE + 0x100);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_INVALID_IMAGE_FORMAT);
    UtDestroy(&Env);
}

KTEST(unwind, stack_reads_stay_in_bounds)
{
    static const USHORT Push[] = { UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    static const USHORT FarSave[] = { UT_OP(6, UWOP_SAVE_NONVOL_FAR, UT_RSI), 0xFFF0, 0xFFFF };
    static const USHORT Machine[] = { UT_OP(0, UWOP_PUSH_MACHFRAME, 0) };
    PRUNTIME_FUNCTION Function;
    UT_SETUP(Env, 1);

    Function = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);

    /* The return address would be the first slot past the stack. */
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, Push, 1);
    Env.Bounds.StackHigh = UtSlot(&Env, 1);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_ACCESS_VIOLATION);
    /* RSP below the stack. */
    Env.Bounds.StackLow = UtSlot(&Env, 1);
    Env.Bounds.StackHigh = UtSlot(&Env, UT_SLOTS);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_ACCESS_VIOLATION);
    Env.Bounds.StackLow = UtSlot(&Env, 0);

    /* A save offset far outside. */
    UtInfo(&Env, UT_XDATA, 1, 0, 6, 0, 0, FarSave, 3);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_ACCESS_VIOLATION);

    /* A machine frame straddling the top of the stack. */
    UtInfo(&Env, UT_XDATA, 1, 0, 0, 0, 0, Machine, 1);
    Env.Bounds.StackHigh = UtSlot(&Env, 4);
    UT_EXPECT_REJECTED(Env, 0x1010, Function, STATUS_ACCESS_VIOLATION);
    UtDestroy(&Env);
}

KTEST(unwind, lookup_binary_search_and_indirect)
{
    static const USHORT Push[] = { UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    PRUNTIME_FUNCTION Entries[4];
    ULONG64 Base;
    UT_SETUP(Env, 6);

    Base = Env.Bounds.ImageBase;
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, Push, 1);
    UtInfo(&Env, UT_XDATA + 0x10, 5, 0, 1, 0, 0, Push, 1); /* bad version */
    Entries[0] = UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    Entries[1] = UtFunction(&Env, 1, 0x1040, 0x1080, UT_XDATA);
    Entries[2] = UtFunction(&Env, 2, 0x1100, 0x1180, UT_XDATA);
    Entries[3] = UtFunction(&Env, 3, 0x1200, 0x1210, UT_XDATA + 0x10);
    UtFunction(&Env, 4, 0x1300, 0x1310, (UT_PDATA + 0 * 12) | 1); /* indirect to entry 0 */
    UtFunction(&Env, 5, 0x1400, 0x1410, (UT_PDATA + 5 * 12) | 1); /* indirect to itself */

    KT_EXPECT_EQ(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1000), Entries[0]);
    KT_EXPECT_EQ(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x103F), Entries[0]);
    KT_EXPECT_EQ(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1040), Entries[1]);
    KT_EXPECT_EQ(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x117F), Entries[2]);
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1080)); /* gap */
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0xFFF));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x2000));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + UT_IMAGE_SIZE));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base - 1));
    /* Invalid unwind data is no entry. */
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1200));
    /* Indirect entries lead to the entry describing the code; loops end. */
    KT_EXPECT_EQ(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1304), Entries[0]);
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1404));
    UtDestroy(&Env);
}

KTEST(unwind, lookup_rejects_bad_headers)
{
    static const USHORT Push[] = { UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    IMAGE_NT_HEADERS64 Nt;
    LONG Lfanew;
    ULONG64 Base;
    UT_SETUP(Env, 1);

    Base = Env.Bounds.ImageBase;
    UtInfo(&Env, UT_XDATA, 1, 0, 1, 0, 0, Push, 1);
    UtFunction(&Env, 0, 0x1000, 0x1040, UT_XDATA);
    KT_ASSERT_NOT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));

    /* A size that cuts the table off is no table. */
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_PDATA + 8, Base + 0x10));
    /* e_lfanew far outside, or negative. */
    Lfanew = 0x7FFFFFF0;
    memcpy(Env.Image + FIELD_OFFSET(IMAGE_DOS_HEADER, e_lfanew), &Lfanew, sizeof(Lfanew));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    Lfanew = -8;
    memcpy(Env.Image + FIELD_OFFSET(IMAGE_DOS_HEADER, e_lfanew), &Lfanew, sizeof(Lfanew));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    Lfanew = UT_NT;
    memcpy(Env.Image + FIELD_OFFSET(IMAGE_DOS_HEADER, e_lfanew), &Lfanew, sizeof(Lfanew));

    /* The directory past SizeOfImage, misaligned, or beyond
     * NumberOfRvaAndSizes. */
    memcpy(&Nt, Env.Image + UT_NT, sizeof(Nt));
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].Size = UT_IMAGE_SIZE;
    memcpy(Env.Image + UT_NT, &Nt, sizeof(Nt));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].Size = 12;
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].VirtualAddress = UT_PDATA + 2;
    memcpy(Env.Image + UT_NT, &Nt, sizeof(Nt));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].VirtualAddress = UT_PDATA;
    Nt.OptionalHeader.NumberOfRvaAndSizes = 3;
    memcpy(Env.Image + UT_NT, &Nt, sizeof(Nt));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    Nt.OptionalHeader.NumberOfRvaAndSizes = IMAGE_NUMBEROF_DIRECTORY_ENTRIES;
    Nt.OptionalHeader.Magic = 0x10B; /* PE32 */
    memcpy(Env.Image + UT_NT, &Nt, sizeof(Nt));
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    Nt.OptionalHeader.Magic = IMAGE_NT_OPTIONAL_HDR64_MAGIC;
    memcpy(Env.Image + UT_NT, &Nt, sizeof(Nt));
    KT_EXPECT_NOT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    Env.Image[0] = 'X';
    KT_EXPECT_NULL(RtlpLookupFunctionEntryImage(Base, UT_IMAGE_SIZE, Base + 0x1010));
    UtDestroy(&Env);
}

/* Three synthetic frames in a registered module: A (push rbx; sub rsp,
 * 0x20) called B (sub rsp, 0x28) called C, a leaf with no entry. */
typedef struct _UT_MODULE {
    UT_ENV Env;
    KLDR_DATA_TABLE_ENTRY Entry;
    CONTEXT Start;
} UT_MODULE;

static VOID UtBuildCallChain(UT_MODULE *Module)
{
    static const USHORT CodesA[] = { UT_OP(5, UWOP_ALLOC_SMALL, 3),
                                     UT_OP(1, UWOP_PUSH_NONVOL, UT_RBX) };
    static const USHORT CodesB[] = { UT_OP(4, UWOP_ALLOC_SMALL, 4) };
    static const USHORT CodesD[] = { UT_OP(0, UWOP_PUSH_MACHFRAME, 0) };
    UT_ENV *Env = &Module->Env;

    UtInfo(Env, UT_XDATA, 1, 0, 5, 0, 0, CodesA, 2);
    UtInfo(Env, UT_XDATA + 0x10, 1, 0, 4, 0, 0, CodesB, 1);
    UtInfo(Env, UT_XDATA + 0x20, 1, 0, 0, 0, 0, CodesD, 1);
    UtFunction(Env, 0, 0x1000, 0x1040, UT_XDATA);
    UtFunction(Env, 1, 0x1100, 0x1140, UT_XDATA + 0x10);
    UtFunction(Env, 2, 0x1300, 0x1340, UT_XDATA + 0x20);

    Env->Stack[0] = UtPc(Env, 0x1110); /* C returns into B */
    Env->Stack[6] = UtPc(Env, 0x1010); /* B returns into A */
    Env->Stack[11] = 0xB0B0;           /* A's pushed rbx */
    Env->Stack[12] = 0;                /* the end of the stack */
    UtContext(Env, &Module->Start, 0);
    Module->Start.Rip = UtPc(Env, 0x1205); /* in C */

    memset(&Module->Entry, 0, sizeof(Module->Entry));
    Module->Entry.DllBase = Env->Image;
    Module->Entry.SizeOfImage = UT_IMAGE_SIZE;
    RtlInitUnicodeString(&Module->Entry.BaseDllName, L"unwindtest.sys");
    Module->Entry.FullDllName = Module->Entry.BaseDllName;
    InsertTailList(&PsLoadedModuleList, &Module->Entry.InLoadOrderLinks);
}

KTEST(unwind, walker_follows_frames_and_stops)
{
    static UT_MODULE Module;
    ULONG_PTR Frames[8];
    ULONG_PTR Low, High;
    ULONG Count;

    memset(&Module, 0, sizeof(Module));
    if (!UtCreate(&Module.Env, 3)) {
        UtDestroy(&Module.Env);
        KT_FAIL_(return, "out of memory for the synthetic image");
    }
    UtBuildCallChain(&Module);
    Low = (ULONG_PTR)Module.Env.Bounds.StackLow;
    High = (ULONG_PTR)Module.Env.Bounds.StackHigh;

    Count = RtlpWalkFrames(&Module.Start, Low, High, 0, Frames, 8);
    KT_EXPECT_EQ(Count, 3);
    KT_EXPECT_EQ(Frames[0], UtPc(&Module.Env, 0x1205));
    KT_EXPECT_EQ(Frames[1], UtPc(&Module.Env, 0x1110));
    KT_EXPECT_EQ(Frames[2], UtPc(&Module.Env, 0x1010));
    KT_EXPECT_EQ(Module.Start.Rip, UtPc(&Module.Env, 0x1205)); /* not modified */

    /* MaxFrames and skipping. */
    KT_EXPECT_EQ(RtlpWalkFrames(&Module.Start, Low, High, 0, Frames, 2), 2);
    Count = RtlpWalkFrames(&Module.Start, Low, High, 1, Frames, 8);
    KT_EXPECT_EQ(Count, 2);
    KT_EXPECT_EQ(Frames[0], UtPc(&Module.Env, 0x1110));

    /* A stack cut short ends the walk at the last frame it could read. */
    KT_EXPECT_EQ(
        RtlpWalkFrames(&Module.Start, Low, (ULONG_PTR)UtSlot(&Module.Env, 6), 0, Frames, 8), 2);

    /* A return address outside every module is recorded, then the walk
     * stops. */
    Module.Env.Stack[12] = 0x10;
    Count = RtlpWalkFrames(&Module.Start, Low, High, 0, Frames, 8);
    KT_EXPECT_EQ(Count, 4);
    KT_EXPECT_EQ(Frames[3], 0x10);
    Module.Env.Stack[12] = 0;

    /* A machine frame whose stack pointer goes down is corrupt. */
    Module.Env.Stack[20] = UtPc(&Module.Env, 0x1110);
    Module.Env.Stack[21] = 0x10;
    Module.Env.Stack[22] = 0x246;
    Module.Env.Stack[23] = UtSlot(&Module.Env, 0);
    Module.Env.Stack[24] = 0x18;
    Module.Start.Rip = UtPc(&Module.Env, 0x1310);
    Module.Start.Rsp = UtSlot(&Module.Env, 20);
    KT_EXPECT_EQ(RtlpWalkFrames(&Module.Start, Low, High, 0, Frames, 8), 1);

    RemoveEntryList(&Module.Entry.InLoadOrderLinks);
    UtDestroy(&Module.Env);
}

KTEST(unwind, public_api_on_a_loaded_module)
{
    static UT_MODULE Module;
    UNWIND_HISTORY_TABLE History;
    PRUNTIME_FUNCTION Entry, Again;
    PEXCEPTION_ROUTINE Handler;
    PVOID HandlerData = (PVOID)1;
    ULONG64 ImageBase = 0, Establisher = 0;
    CONTEXT Context;

    memset(&Module, 0, sizeof(Module));
    if (!UtCreate(&Module.Env, 3)) {
        UtDestroy(&Module.Env);
        KT_FAIL_(return, "out of memory for the synthetic image");
    }
    UtBuildCallChain(&Module);
    memset(&History, 0, sizeof(History));

    Entry = RtlLookupFunctionEntry(UtPc(&Module.Env, 0x1110), &ImageBase, &History);
    KT_EXPECT_EQ((ULONG_PTR)Entry, (ULONG_PTR)(Module.Env.Image + UT_PDATA + 12));
    KT_EXPECT_EQ(ImageBase, Module.Env.Bounds.ImageBase);
    KT_EXPECT_EQ(History.Count, 1);
    Again = RtlLookupFunctionEntry(UtPc(&Module.Env, 0x1120), &ImageBase, &History);
    KT_EXPECT_EQ(Again, Entry);
    KT_EXPECT_EQ(History.Count, 1); /* served from the history table */
    KT_EXPECT_NULL(RtlLookupFunctionEntry(UtPc(&Module.Env, 0x1205), &ImageBase, &History));
    KT_EXPECT_EQ(ImageBase, Module.Env.Bounds.ImageBase); /* a leaf in the module */

    /* Unwind B's frame through the exported routine. */
    memcpy(&Context, &Module.Start, sizeof(Context));
    Context.Rip = UtPc(&Module.Env, 0x1110);
    Context.Rsp = UtSlot(&Module.Env, 1);
    Handler = RtlVirtualUnwind(UNW_FLAG_NHANDLER, ImageBase, Context.Rip, Entry, &Context,
                               &HandlerData, &Establisher, NULL);
    KT_EXPECT_NULL(Handler);
    KT_EXPECT_NULL(HandlerData);
    KT_EXPECT_EQ(Establisher, UtSlot(&Module.Env, 1));
    KT_EXPECT_EQ(Context.Rip, UtPc(&Module.Env, 0x1010));
    KT_EXPECT_EQ(Context.Rsp, UtSlot(&Module.Env, 7));

    /* An image base that is no module fails by ending the stack. */
    Context.Rip = UtPc(&Module.Env, 0x1010);
    RtlVirtualUnwind(UNW_FLAG_NHANDLER, ImageBase + 0x1000, Context.Rip, Entry, &Context,
                     &HandlerData, &Establisher, NULL);
    KT_EXPECT_EQ(Context.Rip, 0);

    RemoveEntryList(&Module.Entry.InLoadOrderLinks);
    UtDestroy(&Module.Env);
}

/* Random unwind data, code bytes and stacks: whatever the unwinder does
 * with them, it reads nothing outside the image and the stack. Both live in
 * globals here so that the hosted build's AddressSanitizer sees any stray
 * read past them. */
static DECLSPEC_ALIGN(16) UCHAR UtRandomImage[UT_IMAGE_SIZE];
static DECLSPEC_ALIGN(16) ULONG64 UtRandomStack[128];

static ULONG64 UtNext(PULONG64 State)
{
    /* xorshift64 */
    *State ^= *State << 13;
    *State ^= *State >> 7;
    *State ^= *State << 17;
    return *State;
}

KTEST(unwind, random_data_never_faults)
{
    static const UCHAR Interesting[] = { 0x48, 0x83, 0xC4, 0x81, 0x8D, 0x65, 0x41, 0x5B,
                                         0x5D, 0x5E, 0xC3, 0xC2, 0xE9, 0xEB, 0xFF, 0x25 };
    ULONG64 State = 0x9E3779B97F4A7C15ull;
    ULONG Iteration, Unwound = 0, Rejected = 0;
    UT_ENV Env;

    memset(&Env, 0, sizeof(Env));
    Env.Image = UtRandomImage;
    Env.Stack = UtRandomStack;
    for (Iteration = 0; Iteration < 4000; Iteration++) {
        CONTEXT Context;
        KNONVOLATILE_CONTEXT_POINTERS Pointers;
        PEXCEPTION_ROUTINE Handler;
        PVOID HandlerData;
        ULONG64 Establisher;
        PRUNTIME_FUNCTION Entry;
        ULONG i, Begin = UT_CODE;

        UtWriteHeaders(&Env, 8);
        Env.Bounds.StackLow = (ULONG64)(ULONG_PTR)UtRandomStack;
        Env.Bounds.StackHigh = Env.Bounds.StackLow + sizeof(UtRandomStack);
        /* Sorted functions with unwind data that is mostly well formed
         * at the top and random below. */
        for (i = 0; i < 8; i++) {
            ULONG Length = 1 + (ULONG)(UtNext(&State) % 0x100);
            ULONG Unwind = UT_XDATA + i * 0x80;
            switch (UtNext(&State) % 8) {
            case 0:
                Unwind = (ULONG)UtNext(&State);
                break;
            case 1:
                Unwind = UT_PDATA + (ULONG)(UtNext(&State) % 8) * 12 + 1; /* indirect */
                break;
            case 2:
                Unwind += (ULONG)(UtNext(&State) % 4);
                break;
            default:
                break;
            }
            UtFunction(&Env, i, Begin, Begin + Length, Unwind);
            Begin += Length + (ULONG)(UtNext(&State) % 8);
        }
        for (i = UT_XDATA; i < UT_CODE; i++) {
            Env.Image[i] = (UCHAR)UtNext(&State);
        }
        for (i = 0; i < 8; i++) {
            PUCHAR Info = Env.Image + UT_XDATA + i * 0x80;
            static const UCHAR Flags[] = { 0, 0, 0, 1, 2, 3, 4, 4, 5 };
            Info[0] =
                (UCHAR)((1 + UtNext(&State) % 2) | (Flags[UtNext(&State) % sizeof(Flags)] << 3));
            Info[2] = (UCHAR)(UtNext(&State) % 12);
            /* Mostly valid codes with random operands. */
            for (ULONG Slot = 0; Slot < Info[2];) {
                static const UCHAR Ops[] = { 0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 0, 2, 4 };
                ULONG Op = Ops[UtNext(&State) % sizeof(Ops)];
                ULONG OpInfo = (ULONG)UtNext(&State) % 16;
                if (Op == UWOP_ALLOC_LARGE || Op == UWOP_PUSH_MACHFRAME) {
                    OpInfo %= 2;
                }
                Info[4 + Slot * 2] = (UCHAR)(UtNext(&State) % 16);
                Info[5 + Slot * 2] = (UCHAR)(Op | (OpInfo << 4));
                Slot += (Op == 1)              ? 2 + OpInfo
                        : (Op == 4 || Op == 8) ? 2
                        : (Op == 5 || Op == 9) ? 3
                                               : 1;
            }
            {
                ULONG Tail = UT_XDATA + i * 0x80 + 4 + ((Info[2] + 1u) & ~1u) * 2;
                if ((Info[0] >> 3) & UNW_FLAG_CHAININFO) {
                    /* A chained entry pointing at another info. */
                    RUNTIME_FUNCTION Chained = {
                        UT_CODE, UT_CODE + 0x100, { UT_XDATA + (ULONG)(UtNext(&State) % 8) * 0x80 }
                    };
                    memcpy(Env.Image + Tail, &Chained, sizeof(Chained));
                } else {
                    ULONG HandlerRva = (ULONG)(UtNext(&State) % (UT_IMAGE_SIZE + 0x10));
                    memcpy(Env.Image + Tail, &HandlerRva, sizeof(HandlerRva));
                }
            }
        }
        for (i = UT_CODE; i < UT_IMAGE_SIZE; i++) {
            Env.Image[i] = Interesting[UtNext(&State) % sizeof(Interesting)];
        }
        for (i = 0; i < RTL_NUMBER_OF(UtRandomStack); i++) {
            ULONG64 Value = UtNext(&State);
            UtRandomStack[i] = (Value & 1) ? UtSlot(&Env, (ULONG)(Value >> 8) % 128) : Value;
        }

        memset(&Context, 0, sizeof(Context));
        for (i = 0; i < 16; i++) {
            ULONG64 Value = UtNext(&State);
            Value = (Value & 1) ? UtSlot(&Env, (ULONG)(Value >> 8) % 140) : Value;
            memcpy((PUCHAR)&Context + FIELD_OFFSET(CONTEXT, Rax) + i * 8, &Value, sizeof(Value));
        }
        Context.Rsp = UtSlot(&Env, (ULONG)(UtNext(&State) % 136));
        memset(&Pointers, 0, sizeof(Pointers));

        Entry = RtlpLookupFunctionEntryImage(Env.Bounds.ImageBase, UT_IMAGE_SIZE,
                                             UtPc(&Env, UT_CODE + (ULONG)(UtNext(&State) % 0x900)));
        if (Entry == NULL) {
            /* Unvalidated entries go through RtlpVirtualUnwind's own checks. */
            Entry = (PRUNTIME_FUNCTION)(Env.Image + UT_PDATA + (UtNext(&State) % 8) * 12);
        }
        if (NT_SUCCESS(RtlpVirtualUnwind(
                (ULONG)(UtNext(&State) % 4), &Env.Bounds,
                UtPc(&Env, Entry->BeginAddress % UT_IMAGE_SIZE + (ULONG)(UtNext(&State) % 16)) %
                    (Env.Bounds.ImageBase + UT_IMAGE_SIZE),
                Entry, &Context, 0, &Handler, &HandlerData, &Establisher, &Pointers, NULL))) {
            Unwound++;
        } else {
            Rejected++;
        }
    }
    /* Both outcomes happen: the data reached the deep paths. */
    KT_EXPECT_GT(Unwound, 100);
    KT_EXPECT_GT(Rejected, 100);
}

/* ---- The live stack ------------------------------------------------------ */

static volatile ULONG UtSideEffect;

static __attribute__((noinline)) VOID UtCaptureHere(PCONTEXT Context)
{
    RtlCaptureContext(Context);
    UtSideEffect++;
}

KTEST(unwind, capture_context_sees_caller)
{
    CONTEXT Context;

    memset(&Context, 0xA5, sizeof(Context));
    UtCaptureHere(&Context);
    KT_EXPECT_GT(Context.Rip, (ULONG_PTR)UtCaptureHere);
    KT_EXPECT_LT(Context.Rip, (ULONG_PTR)UtCaptureHere + 0x100);
    KT_EXPECT_EQ(Context.ContextFlags & (CONTEXT_CONTROL | CONTEXT_INTEGER),
                 CONTEXT_CONTROL | CONTEXT_INTEGER);
    KT_EXPECT_NE(Context.SegCs, 0);
    /* RSP is the caller's, inside this test's frame or just below it. */
    KT_EXPECT_GT(Context.Rsp, (ULONG_PTR)&Context - 0x1000);
    KT_EXPECT_LT(Context.Rsp, (ULONG_PTR)&Context + 0x1000);
}

static __attribute__((noinline, disable_tail_calls)) ULONG UtLevel3(PULONG_PTR Frames, ULONG Max)
{
    CONTEXT Context;
    ULONG_PTR Low, High;

    RtlCaptureContext(&Context);
    if (!RtlpGetStackLimits((ULONG_PTR)Context.Rsp, &Low, &High)) {
        return 0;
    }
    return RtlpWalkFrames(&Context, Low, High, 0, Frames, Max);
}

static __attribute__((noinline, disable_tail_calls)) ULONG UtLevel2(PULONG_PTR Frames, ULONG Max)
{
    ULONG Count = UtLevel3(Frames, Max);
    UtSideEffect += 2;
    return Count;
}

static __attribute__((noinline, disable_tail_calls)) ULONG UtLevel1(PULONG_PTR Frames, ULONG Max)
{
    ULONG Count = UtLevel2(Frames, Max);
    UtSideEffect += 1;
    return Count;
}

/* TRUE when Address symbolizes as "<module>!Name+0x...". */
static BOOLEAN UtIsIn(ULONG_PTR Address, PCSTR Name)
{
    CHAR Text[160];
    SIZE_T NameLength = strlen(Name);
    PCSTR Bang;

    LdrFormatAddress(Address, Text, sizeof(Text));
    for (Bang = Text; *Bang != '\0' && *Bang != '!'; Bang++) {
    }
    return *Bang == '!' && memcmp(Bang + 1, Name, NameLength) == 0 && Bang[1 + NameLength] == '+';
}

KTEST(unwind, live_stack_three_functions)
{
    ULONG_PTR Frames[32];
    ULONG Count, i;
    BOOLEAN SawRunner = FALSE;

    if (LdrFindModuleByAddress((ULONG_PTR)UtLevel3) == NULL) {
        KT_SKIP("this code is not in a loaded PE image (hosted build)");
    }
    Count = UtLevel1(Frames, RTL_NUMBER_OF(Frames));
    KT_ASSERT_TRUE(Count >= 4);
    KT_EXPECT_TRUE(UtIsIn(Frames[0], "UtLevel3"));
    KT_EXPECT_TRUE(UtIsIn(Frames[1], "UtLevel2"));
    KT_EXPECT_TRUE(UtIsIn(Frames[2], "UtLevel1"));
    KT_EXPECT_TRUE(UtIsIn(Frames[3], "KtestRoutine_unwind_live_stack_three_functions"));
    /* And on through the test runner. */
    for (i = 4; i < Count; i++) {
        if (UtIsIn(Frames[i], "KtestRun")) {
            SawRunner = TRUE;
        }
    }
    KT_EXPECT_TRUE(SawRunner);
    if (KtContext->Failures != 0) {
        for (i = 0; i < Count; i++) {
            CHAR Text[160];
            LdrFormatAddress(Frames[i], Text, sizeof(Text));
            DbgPrint("# frame %u: %s\n", i, Text);
        }
    }
}

/* Every .pdata entry of the image this test runs in (ntoskrnl.exe) is
 * found again by the lookup and passes validation: the checks are not
 * stricter than what the linker really emits. */
KTEST(unwind, every_kernel_function_entry_validates)
{
    PKLDR_DATA_TABLE_ENTRY Module = LdrFindModuleByAddress((ULONG_PTR)UtLevel3);
    const IMAGE_DOS_HEADER *Dos;
    const IMAGE_NT_HEADERS64 *Nt;
    const IMAGE_DATA_DIRECTORY *Directory;
    const RUNTIME_FUNCTION *Table;
    ULONG64 Base;
    ULONG Count, i, Bad = 0;

    if (Module == NULL) {
        KT_SKIP("this code is not in a loaded PE image (hosted build)");
    }
    Base = (ULONG64)(ULONG_PTR)Module->DllBase;
    Dos = (const IMAGE_DOS_HEADER *)Module->DllBase;
    Nt = (const IMAGE_NT_HEADERS64 *)((const UCHAR *)Module->DllBase + Dos->e_lfanew);
    Directory = &Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION];
    Table = (const RUNTIME_FUNCTION *)((const UCHAR *)Module->DllBase + Directory->VirtualAddress);
    Count = Directory->Size / sizeof(RUNTIME_FUNCTION);
    KT_ASSERT_TRUE(Count > 100);
    for (i = 0; i < Count; i++) {
        if (RtlpLookupFunctionEntryImage(Base, Module->SizeOfImage, Base + Table[i].BeginAddress) !=
                &Table[i] ||
            RtlpLookupFunctionEntryImage(Base, Module->SizeOfImage,
                                         Base + Table[i].EndAddress - 1) != &Table[i]) {
            if (Bad++ < 4) {
                KT_FAIL_((void)0, "entry %u [0x%x, 0x%x) unwind 0x%x not found", (unsigned)i,
                         (unsigned)Table[i].BeginAddress, (unsigned)Table[i].EndAddress,
                         (unsigned)Table[i].UnwindData);
            }
        }
    }
    KT_EXPECT_EQ(Bad, 0);
}

static __attribute__((noinline, disable_tail_calls)) ULONG
UtCallWalkFrameChain(PVOID *Callers, ULONG Count, ULONG Flags)
{
    return RtlWalkFrameChain(Callers, Count, Flags);
}

static __attribute__((noinline, disable_tail_calls)) USHORT
UtCallBackTrace(ULONG Skip, PVOID *Trace, ULONG Count, PULONG Hash)
{
    return RtlCaptureStackBackTrace(Skip, Count, Trace, Hash);
}

KTEST(unwind, walk_frame_chain_and_back_trace)
{
    PVOID Callers[16];
    ULONG Count, Hash = 0, Sum = 0, i;

    memset(Callers, 0, sizeof(Callers));
    if (LdrFindModuleByAddress((ULONG_PTR)UtCallWalkFrameChain) == NULL) {
        /* Hosted: no PE images execute, so there is nothing to walk. */
        KT_EXPECT_EQ(UtCallWalkFrameChain(Callers, 16, 0), 0);
        KT_EXPECT_EQ(UtCallBackTrace(0, Callers, 16, &Hash), 0);
        return;
    }
    Count = UtCallWalkFrameChain(Callers, 16, 0);
    KT_ASSERT_TRUE(Count >= 2);
    KT_EXPECT_TRUE(UtIsIn((ULONG_PTR)Callers[0], "UtCallWalkFrameChain"));
    KT_EXPECT_TRUE(
        UtIsIn((ULONG_PTR)Callers[1], "KtestRoutine_unwind_walk_frame_chain_and_back_trace"));
    /* Frames to skip ride in the flags. */
    Count = UtCallWalkFrameChain(Callers, 16, 1 << RTL_STACK_WALKING_MODE_FRAMES_TO_SKIP_SHIFT);
    KT_ASSERT_TRUE(Count >= 1);
    KT_EXPECT_TRUE(
        UtIsIn((ULONG_PTR)Callers[0], "KtestRoutine_unwind_walk_frame_chain_and_back_trace"));
    KT_EXPECT_EQ(UtCallWalkFrameChain(Callers, 16, RTL_WALK_USER_MODE_STACK), 0);

    Count = UtCallBackTrace(0, Callers, 3, &Hash);
    KT_EXPECT_EQ(Count, 3);
    KT_EXPECT_TRUE(UtIsIn((ULONG_PTR)Callers[0], "UtCallBackTrace"));
    for (i = 0; i < Count; i++) {
        Sum += (ULONG)(ULONG_PTR)Callers[i];
    }
    KT_EXPECT_EQ(Hash, Sum);
    Count = UtCallBackTrace(1, Callers, 1, NULL);
    KT_EXPECT_EQ(Count, 1);
    KT_EXPECT_TRUE(
        UtIsIn((ULONG_PTR)Callers[0], "KtestRoutine_unwind_walk_frame_chain_and_back_trace"));
}

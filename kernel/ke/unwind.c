/*
 * unwind.c - walking the stack for the stop screen. PE code (ntoskrnl.exe,
 * drivers) follows the Microsoft x64 convention: RBP, when used, points
 * somewhere inside the frame rather than at the saved RBP, so frames are
 * unwound with the image's exception directory (.pdata RUNTIME_FUNCTIONs
 * and their UNWIND_INFO codes), as RtlVirtualUnwind does. Code outside any
 * loaded module (the hosted build's ELF code) keeps the classic RBP chain.
 * Every stack and image read is checked first: a corrupt stack ends the
 * walk, never faults.
 */
#include <ntddk.h>
#include <ntimage.h>
#include <arch.h>
#include <ke.h>
#include <ldr.h>

/* Register numbers of the x64 unwind codes. */
enum { KI_RAX, KI_RCX, KI_RDX, KI_RBX, KI_RSP, KI_RBP, KI_RSI, KI_RDI, KI_REGISTERS = 16 };

typedef struct _KI_UNWIND_CONTEXT {
    ULONG64 Gpr[KI_REGISTERS];
    ULONG64 Rip;
} KI_UNWIND_CONTEXT;

typedef struct _KI_RUNTIME_FUNCTION {
    ULONG BeginAddress;
    ULONG EndAddress;
    ULONG UnwindData;
} KI_RUNTIME_FUNCTION;

#define UWOP_PUSH_NONVOL     0
#define UWOP_ALLOC_LARGE     1
#define UWOP_ALLOC_SMALL     2
#define UWOP_SET_FPREG       3
#define UWOP_SAVE_NONVOL     4
#define UWOP_SAVE_NONVOL_FAR 5
#define UWOP_SAVE_XMM128     8
#define UWOP_SAVE_XMM128_FAR 9
#define UWOP_PUSH_MACHFRAME  10
#define UNW_FLAG_CHAININFO   0x4

static BOOLEAN KipRead64(ULONG64 Address, PULONG64 Value)
{
    if ((Address & 7) != 0 || Address > ~0ull - 8 || !MiArchIsAddressReadable(Address)) {
        return FALSE;
    }
    *Value = *(const volatile ULONG64 *)Address;
    return TRUE;
}

/* The image holding Address: a loaded module, or ntoskrnl.exe from the
 * loader block before the module list exists. */
static BOOLEAN KipFindImage(ULONG64 Address, PULONG64 Base, PULONG64 Size)
{
    PKLDR_DATA_TABLE_ENTRY Module = LdrFindModuleByAddress(Address);

    if (Module != NULL) {
        *Base = (ULONG64)Module->DllBase;
        *Size = Module->SizeOfImage;
        return TRUE;
    }
    if (KeLoaderBlock != NULL && Address >= KeLoaderBlock->KernelVirtualBase &&
        Address - KeLoaderBlock->KernelVirtualBase < KeLoaderBlock->KernelImageSize) {
        *Base = KeLoaderBlock->KernelVirtualBase;
        *Size = KeLoaderBlock->KernelImageSize;
        return TRUE;
    }
    return FALSE;
}

/* Binary search of the exception directory. */
static const KI_RUNTIME_FUNCTION *KipLookupFunction(ULONG64 Base, ULONG64 Size, ULONG Rva)
{
    const IMAGE_DOS_HEADER *Dos = (const IMAGE_DOS_HEADER *)Base;
    const IMAGE_NT_HEADERS64 *Nt;
    const IMAGE_DATA_DIRECTORY *Directory;
    const KI_RUNTIME_FUNCTION *Table;
    ULONG Low = 0, High;

    if (Size < sizeof(*Dos) || Dos->e_magic != IMAGE_DOS_SIGNATURE || Dos->e_lfanew < 0 ||
        (ULONG64)Dos->e_lfanew + sizeof(*Nt) > Size) {
        return NULL;
    }
    Nt = (const IMAGE_NT_HEADERS64 *)(Base + (ULONG)Dos->e_lfanew);
    if (Nt->Signature != IMAGE_NT_SIGNATURE ||
        Nt->OptionalHeader.NumberOfRvaAndSizes <= IMAGE_DIRECTORY_ENTRY_EXCEPTION) {
        return NULL;
    }
    Directory = &Nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION];
    if (Directory->VirtualAddress == 0 ||
        (ULONG64)Directory->VirtualAddress + Directory->Size > Size ||
        (Directory->VirtualAddress & 3) != 0) {
        return NULL;
    }
    Table = (const KI_RUNTIME_FUNCTION *)(Base + Directory->VirtualAddress);
    High = Directory->Size / sizeof(KI_RUNTIME_FUNCTION);
    while (Low < High) {
        ULONG Mid = Low + (High - Low) / 2;
        if (Rva < Table[Mid].BeginAddress) {
            High = Mid;
        } else if (Rva >= Table[Mid].EndAddress) {
            Low = Mid + 1;
        } else {
            return &Table[Mid];
        }
    }
    return NULL;
}

/* Undoes the prologue of one function (and its chained parts). */
static BOOLEAN KipVirtualUnwind(ULONG64 Base, ULONG64 Size, const KI_RUNTIME_FUNCTION *Function,
                                KI_UNWIND_CONTEXT *Context)
{
    ULONG Offset = (ULONG)(Context->Rip - Base) - Function->BeginAddress;
    BOOLEAN MachineFrame = FALSE;

    for (ULONG Chain = 0; Chain < 32; Chain++) {
        ULONG Info = Function->UnwindData;
        const UCHAR *Unwind;
        ULONG Count, FrameRegister, FrameOffset;

        if (Info == 0 || (ULONG64)Info + 4 > Size) {
            return FALSE;
        }
        Unwind = (const UCHAR *)(Base + Info);
        Count = Unwind[2];
        FrameRegister = Unwind[3] & 0xF;
        FrameOffset = Unwind[3] >> 4;
        if ((Unwind[0] & 7) > 2 || (ULONG64)Info + 4 + ((Count + 1) & ~1u) * 2 > Size) {
            return FALSE;
        }
        const UCHAR *Codes = Unwind + 4;

        /* Past the instruction that set the frame register, the fixed part
         * of the frame is found from it (RSP may have moved since). */
        if (FrameRegister != 0) {
            for (ULONG i = 0; i < Count; i++) {
                if ((Codes[i * 2 + 1] & 0xF) == UWOP_SET_FPREG && Offset >= Codes[i * 2]) {
                    Context->Gpr[KI_RSP] = Context->Gpr[FrameRegister] - FrameOffset * 16ull;
                }
            }
        }
        for (ULONG i = 0; i < Count;) {
            ULONG CodeOffset = Codes[i * 2], Op = Codes[i * 2 + 1] & 0xF,
                  OpInfo = Codes[i * 2 + 1] >> 4, Slots;
            BOOLEAN Apply = Offset >= CodeOffset;
            ULONG64 Value;

            switch (Op) {
            case UWOP_PUSH_NONVOL:
                Slots = 1;
                if (Apply) {
                    if (!KipRead64(Context->Gpr[KI_RSP], &Value)) {
                        return FALSE;
                    }
                    Context->Gpr[OpInfo] = Value;
                    Context->Gpr[KI_RSP] += 8;
                }
                break;
            case UWOP_ALLOC_LARGE:
                Slots = OpInfo == 0 ? 2 : 3;
                if (i + Slots > Count) {
                    return FALSE;
                }
                if (Apply) {
                    ULONG64 Bytes = OpInfo == 0
                                        ? (ULONG64)(Codes[i * 2 + 2] | Codes[i * 2 + 3] << 8) * 8
                                        : (ULONG64)(Codes[i * 2 + 2] | Codes[i * 2 + 3] << 8 |
                                                    (ULONG)Codes[i * 2 + 4] << 16 |
                                                    (ULONG)Codes[i * 2 + 5] << 24);
                    Context->Gpr[KI_RSP] += Bytes;
                }
                break;
            case UWOP_ALLOC_SMALL:
                Slots = 1;
                if (Apply) {
                    Context->Gpr[KI_RSP] += OpInfo * 8ull + 8;
                }
                break;
            case UWOP_SET_FPREG:
                Slots = 1; /* handled above */
                break;
            case UWOP_SAVE_NONVOL:
            case UWOP_SAVE_NONVOL_FAR:
                Slots = Op == UWOP_SAVE_NONVOL ? 2 : 3;
                if (i + Slots > Count) {
                    return FALSE;
                }
                if (Apply) {
                    ULONG64 Where = Op == UWOP_SAVE_NONVOL
                                        ? (ULONG64)(Codes[i * 2 + 2] | Codes[i * 2 + 3] << 8) * 8
                                        : (ULONG64)(Codes[i * 2 + 2] | Codes[i * 2 + 3] << 8 |
                                                    (ULONG)Codes[i * 2 + 4] << 16 |
                                                    (ULONG)Codes[i * 2 + 5] << 24);
                    if (!KipRead64(Context->Gpr[KI_RSP] + Where, &Value)) {
                        return FALSE;
                    }
                    Context->Gpr[OpInfo] = Value;
                }
                break;
            case UWOP_SAVE_XMM128:
            case UWOP_SAVE_XMM128_FAR:
                Slots = Op == UWOP_SAVE_XMM128 ? 2 : 3;
                break;
            case UWOP_PUSH_MACHFRAME:
                Slots = 1;
                if (Apply) {
                    ULONG64 Frame = Context->Gpr[KI_RSP] + (OpInfo ? 8 : 0), Rsp;
                    if (!KipRead64(Frame, &Value) || !KipRead64(Frame + 24, &Rsp)) {
                        return FALSE;
                    }
                    Context->Rip = Value;
                    Context->Gpr[KI_RSP] = Rsp;
                    MachineFrame = TRUE;
                }
                break;
            default:
                return FALSE;
            }
            i += Slots;
        }
        if (!(Unwind[0] >> 3 & UNW_FLAG_CHAININFO)) {
            break;
        }
        /* The chained entry follows the (even-padded) codes; its prologue
         * has fully run. */
        ULONG Chained = Info + 4 + ((Count + 1) & ~1u) * 2;
        if ((ULONG64)Chained + sizeof(KI_RUNTIME_FUNCTION) > Size) {
            return FALSE;
        }
        Function = (const KI_RUNTIME_FUNCTION *)(Base + Chained);
        Offset = ~0u;
    }
    if (MachineFrame) {
        return TRUE;
    }
    if (!KipRead64(Context->Gpr[KI_RSP], &Context->Rip)) {
        return FALSE;
    }
    Context->Gpr[KI_RSP] += 8;
    return TRUE;
}

static BOOLEAN KipUnwindFrame(KI_UNWIND_CONTEXT *Context, BOOLEAN FirstFrame)
{
    ULONG64 Base, Size, Rsp = Context->Gpr[KI_RSP];
    /* A return address may sit just past its function's end. */
    ULONG64 Lookup = FirstFrame ? Context->Rip : Context->Rip - 1;

    if (KipFindImage(Lookup, &Base, &Size)) {
        const KI_RUNTIME_FUNCTION *Function = KipLookupFunction(Base, Size, (ULONG)(Lookup - Base));
        if (Function != NULL) {
            if (!KipVirtualUnwind(Base, Size, Function, Context)) {
                return FALSE;
            }
        } else {
            /* A leaf function: nothing pushed, the return address is on
             * top. */
            if (!KipRead64(Rsp, &Context->Rip)) {
                return FALSE;
            }
            Context->Gpr[KI_RSP] += 8;
        }
        return Context->Gpr[KI_RSP] > Rsp;
    }

    /* Classic frame-pointer chain. */
    ULONG64 Frame = Context->Gpr[KI_RBP], Next;
    if (Frame < Rsp || !KipRead64(Frame, &Next) || !KipRead64(Frame + 8, &Context->Rip)) {
        return FALSE;
    }
    Context->Gpr[KI_RBP] = Next;
    Context->Gpr[KI_RSP] = Frame + 16;
    return TRUE;
}

ULONG KiCaptureStackBackTrace(const KTRAP_FRAME *Start, PULONG_PTR Frames, ULONG MaxFrames)
{
    KI_UNWIND_CONTEXT Context;
    ULONG Count = 0;

    memset(&Context, 0, sizeof(Context));
    Context.Gpr[KI_RAX] = Start->Rax;
    Context.Gpr[KI_RCX] = Start->Rcx;
    Context.Gpr[KI_RDX] = Start->Rdx;
    Context.Gpr[KI_RBX] = Start->Rbx;
    Context.Gpr[KI_RSP] = Start->Rsp;
    Context.Gpr[KI_RBP] = Start->Rbp;
    Context.Gpr[KI_RSI] = Start->Rsi;
    Context.Gpr[KI_RDI] = Start->Rdi;
    Context.Gpr[8] = Start->R8;
    Context.Gpr[9] = Start->R9;
    Context.Gpr[10] = Start->R10;
    Context.Gpr[11] = Start->R11;
    Context.Gpr[12] = Start->R12;
    Context.Gpr[13] = Start->R13;
    Context.Gpr[14] = Start->R14;
    Context.Gpr[15] = Start->R15;
    Context.Rip = Start->Rip;

    while (Count < MaxFrames && Context.Rip != 0) {
        Frames[Count++] = (ULONG_PTR)Context.Rip;
        if (!KipUnwindFrame(&Context, Count == 1)) {
            break;
        }
    }
    return Count;
}

/*
 * unwind.c - the x64 unwinder: RtlLookupFunctionEntry (a loaded module's
 * exception directory, .pdata), RtlVirtualUnwind (UNWIND_INFO versions 1
 * and 2: every unwind code, partially executed prologs, epilogs, chained
 * info, exception/termination handlers) and the bounded stack walker behind
 * RtlWalkFrameChain, RtlCaptureStackBackTrace and the stop screen.
 *
 * Everything read here may be garbage: a corrupt stack, a hostile driver's
 * unwind data. Image bytes are read only through RtlpReadImage (inside the
 * module's SizeOfImage) and stack slots only through RtlpReadStack (inside
 * the bounds the caller gave); every loop is bounded. A bad frame ends the
 * unwind with a status, never a fault.
 */
#include <wdm.h>
#include <ntimage.h>
#include <arch.h>
#include <ldr.h>
#include <mm.h>
#include <rtlp.h>

/* Limits that keep every walk finite. */
#define RTLP_MAX_CHAIN_DEPTH 32   /* chained UNWIND_INFOs followed */
#define RTLP_MAX_INDIRECT    4    /* indirect .pdata entries followed */
#define RTLP_MAX_EPILOG_POPS 16   /* pops in one epilog */
#define RTLP_MAX_WALK        1024 /* frames one walk visits */

/* The UNWIND_INFO header bits. */
#define RTLP_UNWIND_VERSION(Byte) ((Byte)&7)
#define RTLP_UNWIND_FLAGS(Byte)   ((Byte) >> 3)

/* Prolog offset meaning "the whole prolog has run". */
#define RTLP_PROLOG_DONE MAXULONG

/* One UNWIND_INFO copied out of the image (after validation). */
typedef struct _RTLP_UNWIND_INFO {
    UCHAR Version;
    UCHAR Flags;
    UCHAR SizeOfProlog;
    UCHAR CountOfCodes;
    UCHAR FrameRegister;
    UCHAR FrameOffset;
    ULONG64 TailRva;          /* handler RVA or chained entry follows the codes */
    ULONG HandlerRva;         /* UNW_FLAG_EHANDLER / UHANDLER */
    RUNTIME_FUNCTION Chained; /* UNW_FLAG_CHAININFO */
    UCHAR Codes[2 * 256];
} RTLP_UNWIND_INFO, *PRTLP_UNWIND_INFO;

/* What an epilog still has to do, as decoded from ControlPc. */
typedef struct _RTLP_EPILOG {
    BOOLEAN Adjust;        /* add rsp / lea rsp still to run */
    BOOLEAN AdjustLea;     /* lea rsp, [Base + Displacement] */
    ULONG Base;            /* lea base register */
    LONGLONG Displacement; /* add: bytes; lea: displacement */
    ULONG PopCount;
    UCHAR Pops[RTLP_MAX_EPILOG_POPS];
    ULONG ReturnExtra; /* ret imm16 */
} RTLP_EPILOG, *PRTLP_EPILOG;

/* ---- Checked reads --------------------------------------------------------- */

/* Copies Size image bytes at Rva; FALSE unless all of them lie inside the
 * image. */
static BOOLEAN RtlpReadImage(const RTLP_UNWIND_BOUNDS *Bounds, ULONG64 Rva, PVOID Buffer,
                             SIZE_T Size)
{
    if (Rva > Bounds->ImageSize || Size > Bounds->ImageSize - Rva) {
        return FALSE;
    }
    memcpy(Buffer, (const VOID *)(ULONG_PTR)(Bounds->ImageBase + Rva), Size);
    return TRUE;
}

/* The one routine that reads the stack: Size bytes at Address, all inside
 * [StackLow, StackHigh). */
static BOOLEAN RtlpReadStack(const RTLP_UNWIND_BOUNDS *Bounds, ULONG64 Address, PVOID Buffer,
                             SIZE_T Size)
{
    if (Address < Bounds->StackLow || Address >= Bounds->StackHigh ||
        Size > Bounds->StackHigh - Address) {
        return FALSE;
    }
    memcpy(Buffer, (const VOID *)(ULONG_PTR)Address, Size);
    return TRUE;
}

static BOOLEAN RtlpAdd64(ULONG64 Left, ULONG64 Right, PULONG64 Sum)
{
    *Sum = Left + Right;
    return *Sum >= Left;
}

/* The integer register numbered as in unwind codes (CONTEXT keeps them in
 * that order from Rax). */
static PULONG64 RtlpRegister(PCONTEXT Context, ULONG Number)
{
    return (PULONG64)((PUCHAR)Context + FIELD_OFFSET(CONTEXT, Rax) + Number * sizeof(ULONG64));
}

/* ---- Unwind data -------------------------------------------------------- */

static USHORT RtlpCodeSlot(const RTLP_UNWIND_INFO *Info, ULONG Index)
{
    return (USHORT)(Info->Codes[Index * 2] | (Info->Codes[Index * 2 + 1] << 8));
}

static ULONG RtlpCodeOffset(const RTLP_UNWIND_INFO *Info, ULONG Index)
{
    return Info->Codes[Index * 2];
}

static ULONG RtlpCodeOp(const RTLP_UNWIND_INFO *Info, ULONG Index)
{
    return Info->Codes[Index * 2 + 1] & 0xF;
}

static ULONG RtlpCodeInfo(const RTLP_UNWIND_INFO *Info, ULONG Index)
{
    return Info->Codes[Index * 2 + 1] >> 4;
}

/* The 32-bit operand in the two slots after Index. */
static ULONG RtlpCodeLong(const RTLP_UNWIND_INFO *Info, ULONG Index)
{
    return (ULONG)RtlpCodeSlot(Info, Index + 1) | ((ULONG)RtlpCodeSlot(Info, Index + 2) << 16);
}

/* Slots one code occupies (0 = not a valid code). Version 2 reuses the
 * obsolete codes 6 and 7: UWOP_EPILOG descriptors are walked one slot at a
 * time (see RtlpFindEpilogV2). */
static ULONG RtlpCodeSlots(const RTLP_UNWIND_INFO *Info, ULONG Index)
{
    ULONG OpInfo = RtlpCodeInfo(Info, Index);

    switch (RtlpCodeOp(Info, Index)) {
    case UWOP_PUSH_NONVOL:
    case UWOP_ALLOC_SMALL:
    case UWOP_SET_FPREG:
    case UWOP_PUSH_MACHFRAME:
        return 1;
    case UWOP_ALLOC_LARGE:
        return OpInfo == 0 ? 2 : OpInfo == 1 ? 3 : 0;
    case UWOP_SAVE_NONVOL:
    case UWOP_SAVE_XMM128:
        return 2;
    case UWOP_SAVE_NONVOL_FAR:
    case UWOP_SAVE_XMM128_FAR:
        return 3;
    case UWOP_EPILOG: /* version 1: the obsolete UWOP_SAVE_XMM */
        return Info->Version == 2 ? 1 : 2;
    case UWOP_SPARE_CODE: /* version 1: the obsolete UWOP_SAVE_XMM_FAR */
        return 3;
    default:
        return 0;
    }
}

/* Copies and validates the UNWIND_INFO at Rva: header, codes, handler or
 * chained entry all inside the image, a known version, consistent flags and
 * every code well formed. */
static NTSTATUS RtlpLoadUnwindInfo(const RTLP_UNWIND_BOUNDS *Bounds, ULONG Rva,
                                   PRTLP_UNWIND_INFO Info)
{
    UCHAR Header[4];
    ULONG Index;

    if ((Rva & 3) != 0 || !RtlpReadImage(Bounds, Rva, Header, sizeof(Header))) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    Info->Version = RTLP_UNWIND_VERSION(Header[0]);
    Info->Flags = RTLP_UNWIND_FLAGS(Header[0]);
    Info->SizeOfProlog = Header[1];
    Info->CountOfCodes = Header[2];
    Info->FrameRegister = Header[3] & 0xF;
    Info->FrameOffset = Header[3] >> 4;
    Info->HandlerRva = 0;
    memset(&Info->Chained, 0, sizeof(Info->Chained));
    if (Info->Version != 1 && Info->Version != 2) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    /* Chained info is secondary: it cannot carry a handler. */
    if ((Info->Flags & UNW_FLAG_CHAININFO) != 0 &&
        (Info->Flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) != 0) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    if (!RtlpReadImage(Bounds, (ULONG64)Rva + 4, Info->Codes, Info->CountOfCodes * 2u)) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    /* The array is padded to an even number of slots. */
    Info->TailRva = (ULONG64)Rva + 4 + ((Info->CountOfCodes + 1u) & ~1u) * 2;

    for (Index = 0; Index < Info->CountOfCodes;) {
        ULONG Slots = RtlpCodeSlots(Info, Index);
        if (Slots == 0 || Index + Slots > Info->CountOfCodes) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        Index += Slots;
    }

    if ((Info->Flags & UNW_FLAG_CHAININFO) != 0) {
        if (!RtlpReadImage(Bounds, Info->TailRva, &Info->Chained, sizeof(Info->Chained)) ||
            Info->Chained.BeginAddress > Info->Chained.EndAddress ||
            Info->Chained.EndAddress > Bounds->ImageSize) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
    } else if ((Info->Flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) != 0) {
        if (!RtlpReadImage(Bounds, Info->TailRva, &Info->HandlerRva, sizeof(Info->HandlerRva)) ||
            Info->HandlerRva >= Bounds->ImageSize) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
    }
    return STATUS_SUCCESS;
}

/* Loads the UNWIND_INFO Next chains to (a direct one: an indirect entry
 * is no valid chain target). */
static NTSTATUS RtlpLoadChained(const RTLP_UNWIND_BOUNDS *Bounds, const RTLP_UNWIND_INFO *Info,
                                PRTLP_UNWIND_INFO Next)
{
    if ((Info->Chained.UnwindData & 1) != 0) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    return RtlpLoadUnwindInfo(Bounds, Info->Chained.UnwindData, Next);
}

/* TRUE once the frame register holds its frame value: always outside the
 * prolog and in chained info, otherwise after the UWOP_SET_FPREG code. */
static BOOLEAN RtlpFrameEstablished(const RTLP_UNWIND_INFO *Info, ULONG PrologOffset)
{
    ULONG Index;

    if (PrologOffset == RTLP_PROLOG_DONE || (Info->Flags & UNW_FLAG_CHAININFO) != 0) {
        return TRUE;
    }
    for (Index = 0; Index < Info->CountOfCodes; Index += RtlpCodeSlots(Info, Index)) {
        if (RtlpCodeOp(Info, Index) == UWOP_SET_FPREG &&
            PrologOffset >= RtlpCodeOffset(Info, Index)) {
            return TRUE;
        }
    }
    return FALSE;
}

/* ---- Epilogs ---------------------------------------------------------------- */

/* Decodes the instructions at Rva as the rest of an x64 epilog (the only
 * forms the ABI allows): an optional "add rsp, imm" or "lea rsp, [frame
 * register + disp]", then pops of nonvolatile registers, then "ret", "rep
 * ret", "ret imm16", or a tail jump out of the function. */
static BOOLEAN RtlpDecodeEpilog(const RTLP_UNWIND_BOUNDS *Bounds, ULONG Rva,
                                const RUNTIME_FUNCTION *Function, ULONG FrameRegister,
                                PRTLP_EPILOG Epilog)
{
    UCHAR Bytes[8];
    ULONG64 Pc = Rva;

    memset(Epilog, 0, sizeof(*Epilog));
    memset(Bytes, 0, sizeof(Bytes));
    /* Reads short of the image end are padded with zeroes: no epilog form
     * starts with 00. */
    for (ULONG i = 0; i < sizeof(Bytes) && RtlpReadImage(Bounds, Pc + i, &Bytes[i], 1); i++) {
    }

    if (Bytes[0] == 0x48 && Bytes[1] == 0x83 && Bytes[2] == 0xC4) {
        /* add rsp, imm8 */
        Epilog->Adjust = TRUE;
        Epilog->Displacement = (CHAR)Bytes[3];
        Pc += 4;
    } else if (Bytes[0] == 0x48 && Bytes[1] == 0x81 && Bytes[2] == 0xC4) {
        /* add rsp, imm32 */
        LONG Immediate;
        memcpy(&Immediate, &Bytes[3], sizeof(Immediate));
        Epilog->Adjust = TRUE;
        Epilog->Displacement = Immediate;
        Pc += 7;
    } else if ((Bytes[0] & 0xFE) == 0x48 && Bytes[1] == 0x8D && ((Bytes[2] >> 3) & 7) == 4) {
        /* lea rsp, [base + disp8/disp32]: the base must be the frame
         * register (r12 as base needs a SIB byte). */
        ULONG Mod = Bytes[2] >> 6, Rm = Bytes[2] & 7;
        ULONG Length = 3;
        if (FrameRegister == 0 || (Mod != 1 && Mod != 2)) {
            return FALSE;
        }
        if (Rm == 4) {
            if (Bytes[3] != 0x24) {
                return FALSE;
            }
            Length++;
        }
        Epilog->Base = Rm + ((Bytes[0] & 1) ? 8 : 0);
        if (Epilog->Base != FrameRegister) {
            return FALSE;
        }
        if (Mod == 1) {
            Epilog->Displacement = (CHAR)Bytes[Length];
            Length += 1;
        } else {
            LONG Displacement;
            memcpy(&Displacement, &Bytes[Length], sizeof(Displacement));
            Epilog->Displacement = Displacement;
            Length += 4;
        }
        Epilog->Adjust = TRUE;
        Epilog->AdjustLea = TRUE;
        Pc += Length;
    }

    for (;;) {
        UCHAR Byte0 = 0, Byte1 = 0;
        if (!RtlpReadImage(Bounds, Pc, &Byte0, 1)) {
            return FALSE;
        }
        RtlpReadImage(Bounds, Pc + 1, &Byte1, 1);
        if ((Byte0 & 0xF8) == 0x58) {
            if (Epilog->PopCount == RTLP_MAX_EPILOG_POPS) {
                return FALSE;
            }
            Epilog->Pops[Epilog->PopCount++] = Byte0 & 7;
            Pc += 1;
        } else if (Byte0 == 0x41 && (Byte1 & 0xF8) == 0x58) {
            if (Epilog->PopCount == RTLP_MAX_EPILOG_POPS) {
                return FALSE;
            }
            Epilog->Pops[Epilog->PopCount++] = 8 + (Byte1 & 7);
            Pc += 2;
        } else {
            break;
        }
    }

    memset(Bytes, 0, sizeof(Bytes));
    for (ULONG i = 0; i < 6 && RtlpReadImage(Bounds, Pc + i, &Bytes[i], 1); i++) {
    }
    if (Bytes[0] == 0xC3 || (Bytes[0] == 0xF3 && Bytes[1] == 0xC3)) {
        return TRUE;
    }
    if (Bytes[0] == 0xC2) {
        Epilog->ReturnExtra = Bytes[1] | (Bytes[2] << 8);
        return TRUE;
    }
    if (Bytes[0] == 0xE9 || Bytes[0] == 0xEB) {
        /* A jump is a tail call only when it leaves the function. */
        LONGLONG Target;
        if (Bytes[0] == 0xE9) {
            LONG Relative;
            memcpy(&Relative, &Bytes[1], sizeof(Relative));
            Target = (LONGLONG)Pc + 5 + Relative;
        } else {
            Target = (LONGLONG)Pc + 2 + (CHAR)Bytes[1];
        }
        return Target < (LONGLONG)Function->BeginAddress ||
               Target >= (LONGLONG)Function->EndAddress;
    }
    if (Bytes[0] == 0xFF && Bytes[1] == 0x25) {
        return TRUE; /* jmp [rip + disp32]: through an import slot */
    }
    if ((Bytes[0] & 0xF8) == 0x48 && Bytes[1] == 0xFF && ((Bytes[2] >> 3) & 7) == 4) {
        return TRUE; /* rex.w jmp r/m64 */
    }
    return FALSE;
}

/* Version 2: is Rva inside one of the epilogs the UWOP_EPILOG descriptors
 * list? The first descriptor holds the size every epilog shares (and, in
 * OpInfo bit 0, "one epilog ends the function"); each further one the
 * distance from the function's end back to an epilog (0 = padding). An
 * epilog here starts at its first pop: the stack has been deallocated. */
static BOOLEAN RtlpFindEpilogV2(const RTLP_UNWIND_INFO *Info, const RUNTIME_FUNCTION *Function,
                                ULONG Rva, PULONG EpilogOffset)
{
    ULONG Size, Index;

    if (Info->CountOfCodes == 0 || RtlpCodeOp(Info, 0) != UWOP_EPILOG) {
        return FALSE;
    }
    Size = RtlpCodeOffset(Info, 0);
    if ((RtlpCodeInfo(Info, 0) & 1) != 0 && Size <= Function->EndAddress - Function->BeginAddress &&
        Rva >= Function->EndAddress - Size && Rva < Function->EndAddress) {
        *EpilogOffset = Rva - (Function->EndAddress - Size);
        return TRUE;
    }
    for (Index = 1; Index < Info->CountOfCodes && RtlpCodeOp(Info, Index) == UWOP_EPILOG; Index++) {
        ULONG Distance = RtlpCodeOffset(Info, Index) | (RtlpCodeInfo(Info, Index) << 8);
        ULONG Start;
        if (Distance == 0 || Distance > Function->EndAddress - Function->BeginAddress) {
            continue;
        }
        Start = Function->EndAddress - Distance;
        if (Rva >= Start && Rva - Start < Size) {
            *EpilogOffset = Rva - Start;
            return TRUE;
        }
    }
    return FALSE;
}

/* Version 2: the epilog is the mirror of the prolog's pushes (the order of
 * the UWOP_PUSH_NONVOL codes, through the chain), so the pops still to run
 * follow from the offset into it: pop r is 1 byte, 2 for r8-r15. */
static NTSTATUS RtlpEpilogFromPushesV2(const RTLP_UNWIND_BOUNDS *Bounds,
                                       const RTLP_UNWIND_INFO *First, ULONG EpilogOffset,
                                       PRTLP_EPILOG Epilog)
{
    RTLP_UNWIND_INFO Storage;
    const RTLP_UNWIND_INFO *Info = First;
    ULONG Position = 0, Depth = 0;
    NTSTATUS Status;

    memset(Epilog, 0, sizeof(*Epilog));
    for (;;) {
        for (ULONG Index = 0; Index < Info->CountOfCodes; Index += RtlpCodeSlots(Info, Index)) {
            ULONG Register, Length;
            if (RtlpCodeOp(Info, Index) != UWOP_PUSH_NONVOL) {
                continue;
            }
            Register = RtlpCodeInfo(Info, Index);
            Length = Register >= 8 ? 2 : 1;
            if (Position + Length > EpilogOffset) {
                if (Epilog->PopCount == RTLP_MAX_EPILOG_POPS) {
                    return STATUS_INVALID_IMAGE_FORMAT;
                }
                Epilog->Pops[Epilog->PopCount++] = (UCHAR)Register;
            }
            Position += Length;
        }
        if ((Info->Flags & UNW_FLAG_CHAININFO) == 0) {
            return STATUS_SUCCESS;
        }
        if (++Depth > RTLP_MAX_CHAIN_DEPTH) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }
        Status = RtlpLoadChained(Bounds, Info, &Storage);
        if (!NT_SUCCESS(Status)) {
            return Status;
        }
        Info = &Storage;
    }
}

/* Runs the rest of an epilog on Context. */
static NTSTATUS RtlpEmulateEpilog(const RTLP_UNWIND_BOUNDS *Bounds, const RTLP_EPILOG *Epilog,
                                  PCONTEXT Context, PKNONVOLATILE_CONTEXT_POINTERS Pointers)
{
    ULONG64 Value;

    if (Epilog->Adjust) {
        ULONG64 From = Epilog->AdjustLea ? *RtlpRegister(Context, Epilog->Base) : Context->Rsp;
        Context->Rsp = From + (ULONG64)Epilog->Displacement;
    }
    for (ULONG i = 0; i < Epilog->PopCount; i++) {
        ULONG Register = Epilog->Pops[i];
        if (Register == RTLP_REG_RSP ||
            !RtlpReadStack(Bounds, Context->Rsp, &Value, sizeof(Value))) {
            return STATUS_ACCESS_VIOLATION;
        }
        *RtlpRegister(Context, Register) = Value;
        if (Pointers != NULL) {
            Pointers->IntegerContext[Register] = (PULONG64)(ULONG_PTR)Context->Rsp;
        }
        Context->Rsp += 8;
    }
    if (!RtlpReadStack(Bounds, Context->Rsp, &Value, sizeof(Value))) {
        return STATUS_ACCESS_VIOLATION;
    }
    Context->Rip = Value;
    Context->Rsp += 8 + Epilog->ReturnExtra;
    return STATUS_SUCCESS;
}

/* ---- Prolog codes ---------------------------------------------------------- */

/* Undoes the codes of one UNWIND_INFO whose CodeOffset <= PrologOffset.
 * FrameBase is the fixed allocation's base the save codes are relative
 * to. */
static NTSTATUS RtlpUndoCodes(const RTLP_UNWIND_BOUNDS *Bounds, const RTLP_UNWIND_INFO *Info,
                              ULONG PrologOffset, ULONG64 FrameBase, PCONTEXT Context,
                              PKNONVOLATILE_CONTEXT_POINTERS Pointers, PBOOLEAN MachineFrame)
{
    ULONG Index = 0;

    while (Index < Info->CountOfCodes) {
        ULONG Op = RtlpCodeOp(Info, Index);
        ULONG OpInfo = RtlpCodeInfo(Info, Index);
        ULONG Slots = RtlpCodeSlots(Info, Index);
        ULONG64 Address, Value;
        M128A Xmm;

        if (PrologOffset < RtlpCodeOffset(Info, Index) ||
            (Info->Version == 2 && Op == UWOP_EPILOG)) {
            Index += Slots;
            continue;
        }
        /* The machine frame is the first thing a trap "pushes": nothing in
         * the same frame can be undone after it. */
        if (*MachineFrame) {
            return STATUS_INVALID_IMAGE_FORMAT;
        }

        switch (Op) {
        case UWOP_PUSH_NONVOL:
            if (OpInfo == RTLP_REG_RSP ||
                !RtlpReadStack(Bounds, Context->Rsp, &Value, sizeof(Value))) {
                return OpInfo == RTLP_REG_RSP ? STATUS_INVALID_IMAGE_FORMAT
                                              : STATUS_ACCESS_VIOLATION;
            }
            *RtlpRegister(Context, OpInfo) = Value;
            if (Pointers != NULL) {
                Pointers->IntegerContext[OpInfo] = (PULONG64)(ULONG_PTR)Context->Rsp;
            }
            Context->Rsp += 8;
            break;

        case UWOP_ALLOC_LARGE:
        case UWOP_ALLOC_SMALL:
            if (Op == UWOP_ALLOC_SMALL) {
                Value = OpInfo * 8ull + 8;
            } else if (OpInfo == 0) {
                Value = RtlpCodeSlot(Info, Index + 1) * 8ull;
            } else {
                Value = RtlpCodeLong(Info, Index);
            }
            if (!RtlpAdd64(Context->Rsp, Value, &Context->Rsp)) {
                return STATUS_ACCESS_VIOLATION;
            }
            break;

        case UWOP_SET_FPREG:
            if (Info->FrameRegister == 0) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            /* Also discards whatever the body allocated dynamically. */
            Context->Rsp = *RtlpRegister(Context, Info->FrameRegister) - Info->FrameOffset * 16ull;
            break;

        case UWOP_SAVE_NONVOL:
        case UWOP_SAVE_NONVOL_FAR:
            Value = Op == UWOP_SAVE_NONVOL ? RtlpCodeSlot(Info, Index + 1) * 8ull
                                           : RtlpCodeLong(Info, Index);
            if (OpInfo == RTLP_REG_RSP) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            if (!RtlpAdd64(FrameBase, Value, &Address) ||
                !RtlpReadStack(Bounds, Address, &Value, sizeof(Value))) {
                return STATUS_ACCESS_VIOLATION;
            }
            *RtlpRegister(Context, OpInfo) = Value;
            if (Pointers != NULL) {
                Pointers->IntegerContext[OpInfo] = (PULONG64)(ULONG_PTR)Address;
            }
            break;

        case UWOP_SAVE_XMM128:
        case UWOP_SAVE_XMM128_FAR:
            Value = Op == UWOP_SAVE_XMM128 ? RtlpCodeSlot(Info, Index + 1) * 16ull
                                           : RtlpCodeLong(Info, Index);
            if (!RtlpAdd64(FrameBase, Value, &Address) ||
                !RtlpReadStack(Bounds, Address, &Xmm, sizeof(Xmm))) {
                return STATUS_ACCESS_VIOLATION;
            }
            Context->FltSave.XmmRegisters[OpInfo] = Xmm;
            if (Pointers != NULL) {
                Pointers->FloatingContext[OpInfo] = (PM128A)(ULONG_PTR)Address;
            }
            break;

        case UWOP_PUSH_MACHFRAME: {
            /* RIP, CS, RFLAGS, RSP, SS as the processor pushed them, above
             * an error code when OpInfo is 1. */
            ULONG64 Frame[5];
            if (OpInfo > 1) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            Address = Context->Rsp + OpInfo * 8ull;
            if (Address < Context->Rsp || !RtlpReadStack(Bounds, Address, Frame, sizeof(Frame))) {
                return STATUS_ACCESS_VIOLATION;
            }
            Context->Rip = Frame[0];
            Context->SegCs = (USHORT)Frame[1];
            Context->EFlags = (ULONG)Frame[2];
            Context->Rsp = Frame[3];
            Context->SegSs = (USHORT)Frame[4];
            *MachineFrame = TRUE;
            break;
        }

        default:
            /* The obsolete version 1 XMM saves (6, 7) and version 2's spare
             * code restore nothing the walker or SEH uses. */
            break;
        }
        Index += Slots;
    }
    return STATUS_SUCCESS;
}

/* ---- RtlVirtualUnwind -------------------------------------------------------- */

NTSTATUS RtlpVirtualUnwind(ULONG HandlerType, const RTLP_UNWIND_BOUNDS *Bounds, ULONG64 ControlPc,
                           const RUNTIME_FUNCTION *FunctionEntry, PCONTEXT ContextRecord,
                           ULONG Flags, PEXCEPTION_ROUTINE *Handler, PVOID *HandlerData,
                           PULONG64 EstablisherFrame,
                           PKNONVOLATILE_CONTEXT_POINTERS ContextPointers, PBOOLEAN MachineFrame)
{
    RTLP_UNWIND_INFO First, Current;
    RUNTIME_FUNCTION Function;
    CONTEXT Context;
    KNONVOLATILE_CONTEXT_POINTERS Pointers;
    PKNONVOLATILE_CONTEXT_POINTERS PointersOut = ContextPointers != NULL ? &Pointers : NULL;
    ULONG Rva, PrologOffset, Depth = 0, EpilogOffset;
    BOOLEAN InFunction, InEpilog = FALSE, Machine = FALSE;
    ULONG64 FrameBase;
    RTLP_EPILOG Epilog;
    NTSTATUS Status;

    if (Bounds == NULL || FunctionEntry == NULL || ContextRecord == NULL ||
        ControlPc < Bounds->ImageBase || ControlPc - Bounds->ImageBase >= Bounds->ImageSize) {
        return STATUS_INVALID_PARAMETER;
    }
    memcpy(&Function, FunctionEntry, sizeof(Function));
    if (Function.BeginAddress > Function.EndAddress || Function.EndAddress > Bounds->ImageSize ||
        (Function.UnwindData & 1) != 0) {
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    Status = RtlpLoadUnwindInfo(Bounds, Function.UnwindData, &First);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    memcpy(&Context, ContextRecord, sizeof(Context));
    if (ContextPointers != NULL) {
        memcpy(&Pointers, ContextPointers, sizeof(Pointers));
    }

    /* A return address may sit just past its function (a call that does not
     * return ends it; RTLP_UNWIND_CALLER_PC): outside [Begin, End) the
     * prolog has run and there is no epilog. */
    Rva = (ULONG)(ControlPc - Bounds->ImageBase);
    InFunction = Rva >= Function.BeginAddress && Rva < Function.EndAddress;
    PrologOffset = InFunction ? Rva - Function.BeginAddress : RTLP_PROLOG_DONE;
    if (PrologOffset != RTLP_PROLOG_DONE && PrologOffset >= First.SizeOfProlog) {
        PrologOffset = RTLP_PROLOG_DONE;
    }

    /* The establisher frame is the base of the fixed allocation: from the
     * frame register once it is set, else RSP. Save codes are relative to
     * it (chained info shares the primary's frame register and offset). */
    if (First.FrameRegister != 0 && RtlpFrameEstablished(&First, PrologOffset)) {
        FrameBase = *RtlpRegister(&Context, First.FrameRegister) - First.FrameOffset * 16ull;
    } else {
        FrameBase = Context.Rsp;
    }

    if (InFunction && PrologOffset == RTLP_PROLOG_DONE) {
        if (First.Version == 2) {
            if (RtlpFindEpilogV2(&First, &Function, Rva, &EpilogOffset)) {
                Status = RtlpEpilogFromPushesV2(Bounds, &First, EpilogOffset, &Epilog);
                if (!NT_SUCCESS(Status)) {
                    return Status;
                }
                InEpilog = TRUE;
            }
        } else {
            /* At a return address this finds the epilog right after the
             * call, whose emulation gives the same caller state as the
             * prolog codes would. */
            InEpilog = RtlpDecodeEpilog(Bounds, Rva, &Function, First.FrameRegister, &Epilog);
        }
    }

    if (InEpilog) {
        Status = RtlpEmulateEpilog(Bounds, &Epilog, &Context, PointersOut);
        if (!NT_SUCCESS(Status)) {
            return Status;
        }
    } else {
        const RTLP_UNWIND_INFO *Info = &First;
        ULONG Offset = PrologOffset;

        for (;;) {
            Status =
                RtlpUndoCodes(Bounds, Info, Offset, FrameBase, &Context, PointersOut, &Machine);
            if (!NT_SUCCESS(Status)) {
                return Status;
            }
            if ((Info->Flags & UNW_FLAG_CHAININFO) == 0) {
                break;
            }
            if (Machine || ++Depth > RTLP_MAX_CHAIN_DEPTH) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            Status = RtlpLoadChained(Bounds, Info, &Current);
            if (!NT_SUCCESS(Status)) {
                return Status;
            }
            Info = &Current;
            /* The primary's prolog has fully run. */
            Offset = RTLP_PROLOG_DONE;
        }

        /* The handler is the primary's (chained info has none), and only
         * for a frame that is in its body. */
        if (Handler != NULL) {
            *Handler = NULL;
        }
        if (HandlerData != NULL) {
            *HandlerData = NULL;
        }
        if (PrologOffset == RTLP_PROLOG_DONE &&
            (Info->Flags & HandlerType & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER)) != 0) {
            if (Info->TailRva + 4 > Bounds->ImageSize) {
                return STATUS_INVALID_IMAGE_FORMAT;
            }
            if (Handler != NULL) {
                *Handler = (PEXCEPTION_ROUTINE)(ULONG_PTR)(Bounds->ImageBase + Info->HandlerRva);
            }
            if (HandlerData != NULL) {
                *HandlerData = (PVOID)(ULONG_PTR)(Bounds->ImageBase + Info->TailRva + 4);
            }
        }

        if (!Machine) {
            ULONG64 ReturnAddress;
            if (!RtlpReadStack(Bounds, Context.Rsp, &ReturnAddress, sizeof(ReturnAddress))) {
                return STATUS_ACCESS_VIOLATION;
            }
            Context.Rip = ReturnAddress;
            Context.Rsp += 8;
        }
    }

    if (InEpilog) {
        if (Handler != NULL) {
            *Handler = NULL;
        }
        if (HandlerData != NULL) {
            *HandlerData = NULL;
        }
    }
    if (EstablisherFrame != NULL) {
        *EstablisherFrame = FrameBase;
    }
    if (MachineFrame != NULL) {
        *MachineFrame = Machine;
    }
    memcpy(ContextRecord, &Context, sizeof(Context));
    if (ContextPointers != NULL) {
        memcpy(ContextPointers, &Pointers, sizeof(Pointers));
    }
    return STATUS_SUCCESS;
}

/* The loaded module whose image starts exactly at ImageBase. */
static PKLDR_DATA_TABLE_ENTRY RtlpModuleAt(ULONG64 ImageBase)
{
    PKLDR_DATA_TABLE_ENTRY Module = LdrFindModuleByAddress((ULONG_PTR)ImageBase);
    return Module != NULL && (ULONG64)(ULONG_PTR)Module->DllBase == ImageBase ? Module : NULL;
}

PEXCEPTION_ROUTINE NTAPI RtlVirtualUnwind(ULONG HandlerType, ULONG64 ImageBase, ULONG64 ControlPc,
                                          PRUNTIME_FUNCTION FunctionEntry, PCONTEXT ContextRecord,
                                          PVOID *HandlerData, PULONG64 EstablisherFrame,
                                          PKNONVOLATILE_CONTEXT_POINTERS ContextPointers)
{
    PKLDR_DATA_TABLE_ENTRY Module = RtlpModuleAt(ImageBase);
    RTLP_UNWIND_BOUNDS Bounds;
    PEXCEPTION_ROUTINE Handler = NULL;
    ULONG_PTR StackLow, StackHigh;
    NTSTATUS Status = STATUS_NOT_FOUND;

    if (HandlerData != NULL) {
        *HandlerData = NULL;
    }
    if (ContextRecord == NULL) {
        return NULL;
    }
    if (EstablisherFrame != NULL) {
        *EstablisherFrame = ContextRecord->Rsp;
    }
    if (Module != NULL &&
        RtlpGetStackLimits((ULONG_PTR)ContextRecord->Rsp, &StackLow, &StackHigh)) {
        Bounds.ImageBase = ImageBase;
        Bounds.ImageSize = Module->SizeOfImage;
        Bounds.StackLow = StackLow;
        Bounds.StackHigh = StackHigh;
        if (FunctionEntry == NULL) {
            /* A leaf: nothing pushed, the return address is on top. */
            ULONG64 ReturnAddress;
            if (RtlpReadStack(&Bounds, ContextRecord->Rsp, &ReturnAddress, sizeof(ReturnAddress))) {
                ContextRecord->Rip = ReturnAddress;
                ContextRecord->Rsp += 8;
                return NULL;
            }
            Status = STATUS_ACCESS_VIOLATION;
        } else {
            Status =
                RtlpVirtualUnwind(HandlerType, &Bounds, ControlPc, FunctionEntry, ContextRecord, 0,
                                  &Handler, HandlerData, EstablisherFrame, ContextPointers, NULL);
        }
    }
    if (!NT_SUCCESS(Status)) {
        /* NT would fault on a frame like this; Keel ends the stack instead
         * (RIP 0 stops every walker). */
        ContextRecord->Rip = 0;
        return NULL;
    }
    return Handler;
}

/* ---- RtlLookupFunctionEntry ---------------------------------------------------- */

/* The exception directory of the mapped image, validated against it. */
static BOOLEAN RtlpExceptionDirectory(const RTLP_UNWIND_BOUNDS *Bounds, PULONG DirectoryRva,
                                      PULONG DirectorySize)
{
    IMAGE_DOS_HEADER Dos;
    ULONG Signature, Count;
    IMAGE_FILE_HEADER FileHeader;
    USHORT Magic;
    ULONG64 NtRva, OptionalRva;
    IMAGE_DATA_DIRECTORY Directory;
    const ULONG DirectoryOffset = FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, DataDirectory) +
                                  IMAGE_DIRECTORY_ENTRY_EXCEPTION * sizeof(IMAGE_DATA_DIRECTORY);

    if (!RtlpReadImage(Bounds, 0, &Dos, sizeof(Dos)) || Dos.e_magic != IMAGE_DOS_SIGNATURE ||
        Dos.e_lfanew < 0) {
        return FALSE;
    }
    NtRva = (ULONG)Dos.e_lfanew;
    OptionalRva = NtRva + sizeof(ULONG) + sizeof(IMAGE_FILE_HEADER);
    if (!RtlpReadImage(Bounds, NtRva, &Signature, sizeof(Signature)) ||
        Signature != IMAGE_NT_SIGNATURE ||
        !RtlpReadImage(Bounds, NtRva + sizeof(ULONG), &FileHeader, sizeof(FileHeader)) ||
        !RtlpReadImage(Bounds, OptionalRva, &Magic, sizeof(Magic)) ||
        Magic != IMAGE_NT_OPTIONAL_HDR64_MAGIC ||
        !RtlpReadImage(Bounds,
                       OptionalRva + FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, NumberOfRvaAndSizes),
                       &Count, sizeof(Count)) ||
        Count <= IMAGE_DIRECTORY_ENTRY_EXCEPTION ||
        DirectoryOffset + sizeof(Directory) > FileHeader.SizeOfOptionalHeader ||
        !RtlpReadImage(Bounds, OptionalRva + DirectoryOffset, &Directory, sizeof(Directory))) {
        return FALSE;
    }
    if (Directory.VirtualAddress == 0 || Directory.Size < sizeof(RUNTIME_FUNCTION) ||
        (Directory.VirtualAddress & 3) != 0 ||
        (ULONG64)Directory.VirtualAddress + Directory.Size > Bounds->ImageSize) {
        return FALSE;
    }
    *DirectoryRva = Directory.VirtualAddress;
    *DirectorySize = Directory.Size;
    return TRUE;
}

/* Every UNWIND_INFO of the chain starting at Rva loads and validates. */
static BOOLEAN RtlpValidateUnwindChain(const RTLP_UNWIND_BOUNDS *Bounds, ULONG Rva)
{
    RTLP_UNWIND_INFO Info;
    ULONG Depth;

    for (Depth = 0; Depth <= RTLP_MAX_CHAIN_DEPTH; Depth++) {
        if (!NT_SUCCESS(RtlpLoadUnwindInfo(Bounds, Rva, &Info))) {
            return FALSE;
        }
        if ((Info.Flags & UNW_FLAG_CHAININFO) == 0) {
            return TRUE;
        }
        if ((Info.Chained.UnwindData & 1) != 0) {
            return FALSE;
        }
        Rva = Info.Chained.UnwindData;
    }
    return FALSE; /* too deep, or a cycle */
}

PRUNTIME_FUNCTION RtlpLookupFunctionEntryImage(ULONG64 ImageBase, ULONG64 ImageSize,
                                               ULONG64 ControlPc)
{
    RTLP_UNWIND_BOUNDS Bounds = { ImageBase, ImageSize, 0, 0 };
    ULONG DirectoryRva, DirectorySize, Rva, Low, High;
    ULONG64 EntryRva = 0;
    RUNTIME_FUNCTION Entry;
    BOOLEAN Found = FALSE;

    if (ControlPc < ImageBase || ControlPc - ImageBase >= ImageSize ||
        !RtlpExceptionDirectory(&Bounds, &DirectoryRva, &DirectorySize)) {
        return NULL;
    }
    Rva = (ULONG)(ControlPc - ImageBase);

    /* The table is sorted by address. */
    Low = 0;
    High = DirectorySize / sizeof(RUNTIME_FUNCTION);
    while (Low < High) {
        ULONG Middle = Low + (High - Low) / 2;
        EntryRva = DirectoryRva + (ULONG64)Middle * sizeof(RUNTIME_FUNCTION);
        if (!RtlpReadImage(&Bounds, EntryRva, &Entry, sizeof(Entry))) {
            return NULL;
        }
        if (Rva < Entry.BeginAddress) {
            High = Middle;
        } else if (Rva >= Entry.EndAddress) {
            Low = Middle + 1;
        } else {
            Found = TRUE;
            break;
        }
    }
    if (!Found) {
        return NULL;
    }

    /* An indirect entry (UnwindData bit 0) names the entry that describes
     * this code. */
    for (ULONG Hops = 0; (Entry.UnwindData & 1) != 0; Hops++) {
        EntryRva = Entry.UnwindData & ~1u;
        if (Hops == RTLP_MAX_INDIRECT || (EntryRva & 3) != 0 ||
            !RtlpReadImage(&Bounds, EntryRva, &Entry, sizeof(Entry))) {
            return NULL;
        }
    }
    if (Entry.BeginAddress > Entry.EndAddress || Entry.EndAddress > ImageSize ||
        !RtlpValidateUnwindChain(&Bounds, Entry.UnwindData)) {
        return NULL;
    }
    return (PRUNTIME_FUNCTION)(ULONG_PTR)(ImageBase + EntryRva);
}

/* Looks ControlPc up in the history table: only entries of Module count,
 * so a stale entry of an unloaded image is never dereferenced. */
static PRUNTIME_FUNCTION RtlpLookupHistory(PUNWIND_HISTORY_TABLE History,
                                           PKLDR_DATA_TABLE_ENTRY Module, ULONG64 ControlPc)
{
    ULONG64 Base = (ULONG64)(ULONG_PTR)Module->DllBase;

    if (History->Count > UNWIND_HISTORY_TABLE_SIZE || ControlPc < History->LowAddress ||
        ControlPc >= History->HighAddress) {
        return NULL;
    }
    for (ULONG i = 0; i < History->Count; i++) {
        ULONG64 EntryAddress = (ULONG64)(ULONG_PTR)History->Entry[i].FunctionEntry;
        RUNTIME_FUNCTION Entry;
        if (History->Entry[i].ImageBase != Base || EntryAddress < Base ||
            EntryAddress - Base > Module->SizeOfImage ||
            Module->SizeOfImage - (EntryAddress - Base) < sizeof(Entry)) {
            continue;
        }
        memcpy(&Entry, History->Entry[i].FunctionEntry, sizeof(Entry));
        if (ControlPc - Base >= Entry.BeginAddress && ControlPc - Base < Entry.EndAddress) {
            return History->Entry[i].FunctionEntry;
        }
    }
    return NULL;
}

static VOID RtlpRememberHistory(PUNWIND_HISTORY_TABLE History, ULONG64 Base,
                                PRUNTIME_FUNCTION FunctionEntry)
{
    RUNTIME_FUNCTION Entry;

    if (History->Count >= UNWIND_HISTORY_TABLE_SIZE) {
        return;
    }
    memcpy(&Entry, FunctionEntry, sizeof(Entry));
    if (History->Count == 0) {
        History->LowAddress = ~0ull;
        History->HighAddress = 0;
    }
    History->Entry[History->Count].ImageBase = Base;
    History->Entry[History->Count].FunctionEntry = FunctionEntry;
    History->Count++;
    if (Base + Entry.BeginAddress < History->LowAddress) {
        History->LowAddress = Base + Entry.BeginAddress;
    }
    if (Base + Entry.EndAddress > History->HighAddress) {
        History->HighAddress = Base + Entry.EndAddress;
    }
}

PRUNTIME_FUNCTION NTAPI RtlLookupFunctionEntry(ULONG64 ControlPc, PULONG64 ImageBase,
                                               PUNWIND_HISTORY_TABLE HistoryTable)
{
    PKLDR_DATA_TABLE_ENTRY Module = LdrFindModuleByAddress((ULONG_PTR)ControlPc);
    PRUNTIME_FUNCTION Entry = NULL;
    ULONG64 Base;

    if (ImageBase != NULL) {
        *ImageBase = 0;
    }
    if (Module == NULL) {
        return NULL;
    }
    Base = (ULONG64)(ULONG_PTR)Module->DllBase;
    if (HistoryTable != NULL) {
        Entry = RtlpLookupHistory(HistoryTable, Module, ControlPc);
    }
    if (Entry == NULL) {
        Entry = RtlpLookupFunctionEntryImage(Base, Module->SizeOfImage, ControlPc);
        if (Entry != NULL && HistoryTable != NULL) {
            RtlpRememberHistory(HistoryTable, Base, Entry);
        }
    }
    if (ImageBase != NULL) {
        *ImageBase = Base;
    }
    return Entry;
}

/* ---- Stack walking -------------------------------------------------------------- */

BOOLEAN RtlpGetStackLimits(ULONG_PTR StackPointer, PULONG_PTR StackLow, PULONG_PTR StackHigh)
{
    ULONG_PTR High;

    if (StackPointer == 0 || !MiArchIsAddressReadable(StackPointer)) {
        return FALSE;
    }
    /* The readable run of pages from the stack pointer up, bounded. */
    High = (StackPointer | (PAGE_SIZE - 1)) + 1;
    while (High != 0 && High - StackPointer < RTLP_MAX_STACK_SPAN &&
           MiArchIsAddressReadable(High)) {
        High += PAGE_SIZE;
    }
    if (High == 0 || High - StackPointer > RTLP_MAX_STACK_SPAN) {
        High = StackPointer + RTLP_MAX_STACK_SPAN;
        if (High < StackPointer) {
            High = MAXULONG_PTR;
        }
    }
    *StackLow = StackPointer;
    *StackHigh = High;
    return TRUE;
}

ULONG RtlpWalkFrames(const CONTEXT *Start, ULONG_PTR StackLow, ULONG_PTR StackHigh,
                     ULONG SkipFrames, PULONG_PTR Frames, ULONG MaxFrames)
{
    CONTEXT Context;
    ULONG Count = 0, Visited;
    /* The first RIP is where execution is (a trap or a capture); later
     * ones are return addresses, which may sit past their function's end
     * and are looked up one byte back. A machine frame yields an exact RIP
     * again. */
    BOOLEAN Exact = TRUE;

    if (Start == NULL || Frames == NULL) {
        return 0;
    }
    memcpy(&Context, Start, sizeof(Context));
    for (Visited = 0; Count < MaxFrames && Visited < RTLP_MAX_WALK; Visited++) {
        ULONG64 Pc = Context.Rip, OldSp = Context.Rsp, Lookup;
        PKLDR_DATA_TABLE_ENTRY Module;
        PRUNTIME_FUNCTION Entry;
        RTLP_UNWIND_BOUNDS Bounds;
        BOOLEAN Machine = FALSE;

        if (Pc == 0) {
            break;
        }
        if (Visited >= SkipFrames) {
            Frames[Count++] = (ULONG_PTR)Pc;
            if (Count == MaxFrames) {
                break;
            }
        }
        Lookup = Exact ? Pc : Pc - 1;
        Module = LdrFindModuleByAddress((ULONG_PTR)Lookup);
        if (Module == NULL) {
            break;
        }
        Bounds.ImageBase = (ULONG64)(ULONG_PTR)Module->DllBase;
        Bounds.ImageSize = Module->SizeOfImage;
        Bounds.StackLow = StackLow;
        Bounds.StackHigh = StackHigh;
        Entry = RtlpLookupFunctionEntryImage(Bounds.ImageBase, Bounds.ImageSize, Lookup);
        if (Entry == NULL) {
            /* A leaf function: the return address is on top. */
            if (!RtlpReadStack(&Bounds, Context.Rsp, &Context.Rip, sizeof(Context.Rip))) {
                break;
            }
            Context.Rsp += 8;
        } else if (!NT_SUCCESS(RtlpVirtualUnwind(UNW_FLAG_NHANDLER, &Bounds, Pc, Entry, &Context,
                                                 Exact ? 0 : RTLP_UNWIND_CALLER_PC, NULL, NULL,
                                                 NULL, NULL, &Machine))) {
            break;
        }
        Exact = Machine;
        if (Context.Rsp <= OldSp) {
            break; /* a stack that does not unwind upwards is corrupt */
        }
    }
    return Count;
}

/* Walks the current stack; the first two frames (this routine and its
 * exported caller) are skipped. */
static __attribute__((noinline)) ULONG RtlpCaptureCallers(ULONG SkipFrames, PVOID *Callers,
                                                          ULONG Count)
{
    CONTEXT Context;
    ULONG_PTR StackLow, StackHigh;

    RtlCaptureContext(&Context);
    if (!RtlpGetStackLimits((ULONG_PTR)Context.Rsp, &StackLow, &StackHigh)) {
        return 0;
    }
    return RtlpWalkFrames(&Context, StackLow, StackHigh, SkipFrames + 2, (PULONG_PTR)Callers,
                          Count);
}

__attribute__((disable_tail_calls)) ULONG NTAPI RtlWalkFrameChain(PVOID *Callers, ULONG Count,
                                                                  ULONG Flags)
{
    if (Callers == NULL || (Flags & RTL_WALK_USER_MODE_STACK) != 0) {
        return 0;
    }
    return RtlpCaptureCallers(Flags >> RTL_STACK_WALKING_MODE_FRAMES_TO_SKIP_SHIFT, Callers, Count);
}

__attribute__((disable_tail_calls)) USHORT NTAPI RtlCaptureStackBackTrace(ULONG FramesToSkip,
                                                                          ULONG FramesToCapture,
                                                                          PVOID *BackTrace,
                                                                          PULONG BackTraceHash)
{
    ULONG Count, Hash = 0;

    if (BackTrace == NULL || FramesToSkip >= RTLP_MAX_WALK) {
        return 0;
    }
    if (FramesToCapture > MAXUSHORT) {
        FramesToCapture = MAXUSHORT;
    }
    Count = RtlpCaptureCallers(FramesToSkip, BackTrace, FramesToCapture);
    /* As NT: the hash is the sum of the addresses. */
    for (ULONG i = 0; i < Count; i++) {
        Hash += (ULONG)(ULONG_PTR)BackTrace[i];
    }
    if (BackTraceHash != NULL) {
        *BackTraceHash = Hash;
    }
    return (USHORT)Count;
}

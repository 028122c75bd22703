/*
 * rtlp.h - kernel-internal runtime library routines (not exported to
 * drivers).
 */
#ifndef _RTLP_
#define _RTLP_

#include <ntdef.h>

/* The formatter behind DbgPrint. C99 snprintf semantics: always
 * NUL-terminates when BufferSize > 0 and returns the length the full output
 * would have had. Supports the C conversions (d i u x X o c s p %, flags
 * "-+ 0#", width, precision, '*', size prefixes hh h l ll z I I32 I64) and
 * NT's extensions: %wZ (PUNICODE_STRING), %Z (PANSI_STRING), %ws / %S /
 * %ls (NUL-terminated WCHAR string), %wc / %C (WCHAR). As in NT, 'l' is 32
 * bits; use ll or I64 for 64-bit values. */
SIZE_T RtlpFormatV(char *Buffer, SIZE_T BufferSize, const char *Format, va_list Args);
SIZE_T RtlpFormat(char *Buffer, SIZE_T BufferSize, const char *Format, ...);

/* TRUE when Name matches Filter: globs ('*' any run, '?' one character)
 * separated by ','; NULL or "" matches everything, an empty glob nothing.
 * The test and benchmark runners' command-line filters (string.c). */
BOOLEAN RtlpMatchFilter(const char *Filter, const char *Name);

/* ---- x64 unwinder and stack walker (kernel/rtl/unwind.c) ---------------- */

#include <wdm.h>

/* UNWIND_INFO / UNWIND_CODE encoding (the Microsoft x64 exception data). */
#define UWOP_PUSH_NONVOL     0  /* OpInfo = register; RSP -= 8 */
#define UWOP_ALLOC_LARGE     1  /* OpInfo 0: next slot * 8; OpInfo 1: next two slots */
#define UWOP_ALLOC_SMALL     2  /* OpInfo * 8 + 8 bytes */
#define UWOP_SET_FPREG       3  /* frame register = RSP + 16 * FrameOffset */
#define UWOP_SAVE_NONVOL     4  /* OpInfo = register, at frame base + next slot * 8 */
#define UWOP_SAVE_NONVOL_FAR 5  /* ... at frame base + next two slots */
#define UWOP_EPILOG          6  /* version 2: epilog descriptor */
#define UWOP_SPARE_CODE      7  /* version 2: reserved (2 extra slots) */
#define UWOP_SAVE_XMM128     8  /* OpInfo = XMM register, at frame base + next slot * 16 */
#define UWOP_SAVE_XMM128_FAR 9  /* ... at frame base + next two slots */
#define UWOP_PUSH_MACHFRAME  10 /* OpInfo 1: with an error code */

/* Register numbers used by unwind codes (CONTEXT order). */
#define RTLP_REG_RAX 0
#define RTLP_REG_RCX 1
#define RTLP_REG_RDX 2
#define RTLP_REG_RBX 3
#define RTLP_REG_RSP 4
#define RTLP_REG_RBP 5
#define RTLP_REG_RSI 6
#define RTLP_REG_RDI 7

/* What one unwind may read: image bytes inside [ImageBase, ImageBase +
 * ImageSize) and stack slots inside [StackLow, StackHigh). Anything
 * outside ends the unwind with an error instead of a fault. */
typedef struct _RTLP_UNWIND_BOUNDS {
    ULONG64 ImageBase;
    ULONG64 ImageSize;
    ULONG64 StackLow;
    ULONG64 StackHigh;
} RTLP_UNWIND_BOUNDS, *PRTLP_UNWIND_BOUNDS;

/* RtlpVirtualUnwind flags. */
/* ControlPc is a return address: FunctionEntry was looked up at ControlPc - 1
 * and ControlPc may equal its end. (The unwind needs no special case for it:
 * outside [Begin, End) it finds no prolog or epilog; the flag records the
 * caller's intent for future users such as SEH dispatch.) */
#define RTLP_UNWIND_CALLER_PC 0x1

/* RtlVirtualUnwind with explicit bounds and a status. On success
 * ContextRecord is the caller's context, *Handler / *HandlerData the frame's
 * handler (or NULL) and *MachineFrame tells whether the frame was a machine
 * frame (the new Rip is then an exact instruction address, not a return
 * address). On failure ContextRecord is unchanged. Handler, HandlerData,
 * EstablisherFrame, ContextPointers and MachineFrame may be NULL.
 * STATUS_INVALID_IMAGE_FORMAT: bad unwind data; STATUS_ACCESS_VIOLATION: a
 * stack slot outside the bounds. */
NTSTATUS RtlpVirtualUnwind(ULONG HandlerType, const RTLP_UNWIND_BOUNDS *Bounds, ULONG64 ControlPc,
                           const RUNTIME_FUNCTION *FunctionEntry, PCONTEXT ContextRecord,
                           ULONG Flags, PEXCEPTION_ROUTINE *Handler, PVOID *HandlerData,
                           PULONG64 EstablisherFrame,
                           PKNONVOLATILE_CONTEXT_POINTERS ContextPointers, PBOOLEAN MachineFrame);

/* Looks ControlPc up in the exception directory of the mapped image at
 * [ImageBase, ImageBase + ImageSize): binary search of the sorted
 * RUNTIME_FUNCTION array, indirect entries followed, and the entry's
 * UNWIND_INFO chain validated. NULL when there is no (valid) entry. */
PRUNTIME_FUNCTION RtlpLookupFunctionEntryImage(ULONG64 ImageBase, ULONG64 ImageSize,
                                               ULONG64 ControlPc);

/* Walks a stack: records Context->Rip, then unwinds frame by frame (the
 * unwind tables of the loaded module holding each RIP; a function without
 * an entry is a leaf: RIP = [RSP], RSP += 8). Stops at RIP 0, a RIP
 * outside every loaded module, a stack pointer that does not grow, a read
 * outside [StackLow, StackHigh), or MaxFrames. The first SkipFrames frames
 * are walked but not stored. Context is not modified. Returns the number
 * of addresses stored in Frames. */
ULONG RtlpWalkFrames(const CONTEXT *Context, ULONG_PTR StackLow, ULONG_PTR StackHigh,
                     ULONG SkipFrames, PULONG_PTR Frames, ULONG MaxFrames);

/* A readable range to walk the stack at StackPointer in: [StackPointer,
 * end of the readable run above it), at most RTLP_MAX_STACK_SPAN bytes.
 * FALSE when StackPointer itself is not readable. (Until threads record
 * their stack bounds, this is the conservative answer.) */
#define RTLP_MAX_STACK_SPAN 0x20000
BOOLEAN RtlpGetStackLimits(ULONG_PTR StackPointer, PULONG_PTR StackLow, PULONG_PTR StackHigh);

#endif /* _RTLP_ */

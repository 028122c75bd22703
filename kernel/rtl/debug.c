/*
 * debug.c - the kernel debugger print interface drivers see (DbgPrint,
 * DbgPrintEx, vDbgPrintEx), DbgBreakPoint and RtlAssert. Output goes to the
 * HAL's debug console; there is no kernel debugger transport yet.
 */
#include <ntddk.h>
#include <hal.h>
#include <rtlp.h>

/* NT formats each DbgPrint into a 512-byte buffer; longer messages are cut
 * and only the text that fit is printed. */
#define RTLP_DEBUG_PRINT_BUFFER 512

/* Which DbgPrintEx levels reach the console. NT shows only ERROR level for
 * most components by default; Keel has no debugger to raise the filter
 * from, so it shows every level and keeps the filter in one place. */
static ULONG RtlpDebugPrintLevelMask = 0xFFFFFFFF;

static BOOLEAN RtlpDebugPrintEnabled(ULONG ComponentId, ULONG Level)
{
    ULONG Mask;

    UNREFERENCED_PARAMETER(ComponentId);
    /* As in NT: Level 0..31 selects one bit; larger values are a mask. */
    Mask = (Level <= 31) ? (1U << Level) : Level;
    return (Mask & RtlpDebugPrintLevelMask) != 0;
}

static ULONG RtlpDebugPrint(PCSTR Format, va_list Arguments)
{
    char Buffer[RTLP_DEBUG_PRINT_BUFFER];
    SIZE_T Length;

    Length = RtlpFormatV(Buffer, sizeof(Buffer), Format, Arguments);
    if (Length >= sizeof(Buffer)) {
        Length = sizeof(Buffer) - 1;
    }
    HalPutDebugString(Buffer, Length);
    return STATUS_SUCCESS;
}

NTSYSAPI ULONG NTAPI vDbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, va_list arglist)
{
    if (!RtlpDebugPrintEnabled(ComponentId, Level)) {
        return STATUS_SUCCESS;
    }
    return RtlpDebugPrint(Format, arglist);
}

NTSYSAPI ULONG __cdecl DbgPrint(PCSTR Format, ...)
{
    va_list Arguments;
    ULONG Status;

    va_start(Arguments, Format);
    Status = RtlpDebugPrint(Format, Arguments);
    va_end(Arguments);
    return Status;
}

NTSYSAPI ULONG __cdecl DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    va_list Arguments;
    ULONG Status;

    va_start(Arguments, Format);
    Status = vDbgPrintEx(ComponentId, Level, Format, Arguments);
    va_end(Arguments);
    return Status;
}

NTSYSAPI VOID NTAPI DbgBreakPoint(VOID)
{
    /* int3: with no debugger attached the trap handler turns it into a stop
     * (KMODE_EXCEPTION_NOT_HANDLED / STATUS_BREAKPOINT), as on NT. */
    __builtin_debugtrap();
}

/*
 * An assertion in kernel mode with no debugger attached ends in a bug check
 * on NT: RtlAssert breaks into the debugger, and the unhandled breakpoint
 * becomes KMODE_EXCEPTION_NOT_HANDLED (0x1E) with exception code
 * STATUS_BREAKPOINT. Keel has no debugger, so it issues that same
 * documented stop directly (parameter 2 = the address of the failing
 * assertion's caller, as 0x1E reports the faulting address) rather than
 * relying on the trap path; the message is printed first so the cause is
 * on the console above the stop screen.
 */
NTSYSAPI VOID NTAPI RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber,
                              PSTR MutableMessage)
{
    PCSTR FailedAssertion = (PCSTR)VoidFailedAssertion;
    PCSTR FileName = (PCSTR)VoidFileName;

    DbgPrint("\n*** Assertion failed: %s%s\n***   Source File: %s, line %u\n\n",
             MutableMessage != NULL ? MutableMessage : "",
             FailedAssertion != NULL ? FailedAssertion : "(null)",
             FileName != NULL ? FileName : "(null)", LineNumber);
    KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)STATUS_BREAKPOINT,
                 (ULONG_PTR)__builtin_return_address(0), 0, 0);
}

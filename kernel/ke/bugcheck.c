/*
 * bugcheck.c - KeBugCheckEx/KeBugCheck: stop the system with a stop screen
 * on the debug console (stop code, its name and four parameters, the
 * registers of the trap or of the caller, a symbolized stack trace walked
 * with the images' unwind tables by RtlpWalkFrames) and end the machine with
 * HAL_EXIT_BUGCHECK. A bug check during
 * the bug check ends the machine at once.
 */
#include <ntddk.h>
#include <arch.h>
#include <hal.h>
#include <ke.h>
#include <ldr.h>
#include <rtlp.h>

#define KI_MAX_STACK_FRAMES 32

static volatile LONG KiBugCheckActive;

typedef struct _KI_BUGCHECK_NAME {
    ULONG Code;
    PCSTR Name;
} KI_BUGCHECK_NAME;

#define KI_NAME(x)                                                                                 \
    {                                                                                              \
        x, #x                                                                                      \
    }
static const KI_BUGCHECK_NAME KiBugCheckNames[] = {
    KI_NAME(APC_INDEX_MISMATCH),
    KI_NAME(INVALID_AFFINITY_SET),
    KI_NAME(INVALID_DATA_ACCESS_TRAP),
    KI_NAME(IRQL_NOT_GREATER_OR_EQUAL),
    KI_NAME(IRQL_NOT_LESS_OR_EQUAL),
    KI_NAME(NO_EXCEPTION_HANDLING_SUPPORT),
    KI_NAME(MUTEX_LEVEL_NUMBER_VIOLATION),
    KI_NAME(SPIN_LOCK_ALREADY_OWNED),
    KI_NAME(SPIN_LOCK_NOT_OWNED),
    KI_NAME(THREAD_NOT_MUTEX_OWNER),
    KI_NAME(BAD_POOL_HEADER),
    KI_NAME(MEMORY_MANAGEMENT),
    KI_NAME(KMODE_EXCEPTION_NOT_HANDLED),
    KI_NAME(KERNEL_APC_PENDING_DURING_EXIT),
    KI_NAME(PHASE0_INITIALIZATION_FAILED),
    KI_NAME(PHASE1_INITIALIZATION_FAILED),
    KI_NAME(SYSTEM_SERVICE_EXCEPTION),
    KI_NAME(NO_MORE_SYSTEM_PTES),
    KI_NAME(MULTIPLE_IRP_COMPLETE_REQUESTS),
    KI_NAME(NO_PAGES_AVAILABLE),
    KI_NAME(PFN_LIST_CORRUPT),
    KI_NAME(PAGE_FAULT_IN_NONPAGED_AREA),
    KI_NAME(KERNEL_STACK_INPAGE_ERROR),
    KI_NAME(INACCESSIBLE_BOOT_DEVICE),
    KI_NAME(SYSTEM_THREAD_EXCEPTION_NOT_HANDLED),
    KI_NAME(UNEXPECTED_KERNEL_MODE_TRAP),
    KI_NAME(ATTEMPTED_WRITE_TO_READONLY_MEMORY),
    KI_NAME(BAD_POOL_CALLER),
    KI_NAME(DRIVER_VERIFIER_DETECTED_VIOLATION),
    KI_NAME(DRIVER_CORRUPTED_EXPOOL),
    KI_NAME(PAGE_FAULT_IN_FREED_SPECIAL_POOL),
    KI_NAME(PAGE_FAULT_BEYOND_END_OF_ALLOCATION),
    KI_NAME(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS),
    KI_NAME(DRIVER_IRQL_NOT_LESS_OR_EQUAL),
    KI_NAME(SYSTEM_SCAN_AT_RAISED_IRQL_CAUGHT_IMPROPER_DRIVER_UNLOAD),
    KI_NAME(MANUALLY_INITIATED_CRASH),
    KI_NAME(ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY),
    KI_NAME(CLOCK_WATCHDOG_TIMEOUT),
    KI_NAME(MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED),
    KI_NAME(DPC_WATCHDOG_VIOLATION),
    KI_NAME(KERNEL_SECURITY_CHECK_FAILURE),
    KI_NAME(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION),
    KI_NAME(UNSUPPORTED_PROCESSOR),
    KI_NAME(MUTEX_ALREADY_OWNED),
    KI_NAME(WORKER_THREAD_RETURNED_AT_BAD_IRQL),
    KI_NAME(RESOURCE_NOT_OWNED),
    KI_NAME(WORKER_INVALID),
    KI_NAME(MAXIMUM_WAIT_OBJECTS_EXCEEDED),
    KI_NAME(ATTEMPTED_SWITCH_FROM_DPC),
};

PCSTR KiBugCheckName(ULONG BugCheckCode)
{
    for (ULONG i = 0; i < RTL_NUMBER_OF(KiBugCheckNames); i++) {
        if (KiBugCheckNames[i].Code == BugCheckCode) {
            return KiBugCheckNames[i].Name;
        }
    }
    return NULL;
}

/* Formats straight to the HAL: the stop screen must not depend on DbgPrint
 * state (filters, locks) that may be what failed. */
static VOID KipStopPrint(PCSTR Format, ...)
{
    char Line[256];
    va_list Args;
    SIZE_T Length;

    va_start(Args, Format);
    Length = RtlpFormatV(Line, sizeof(Line), Format, Args);
    va_end(Args);
    if (Length >= sizeof(Line)) {
        Length = sizeof(Line) - 1;
    }
    HalPutDebugString(Line, Length);
}

VOID KiTrapFrameToContext(const KTRAP_FRAME *TrapFrame, PCONTEXT Context)
{
    memset(Context, 0, sizeof(*Context));
    Context->ContextFlags = CONTEXT_CONTROL | CONTEXT_INTEGER;
    Context->Rax = TrapFrame->Rax;
    Context->Rbx = TrapFrame->Rbx;
    Context->Rcx = TrapFrame->Rcx;
    Context->Rdx = TrapFrame->Rdx;
    Context->Rsi = TrapFrame->Rsi;
    Context->Rdi = TrapFrame->Rdi;
    Context->Rbp = TrapFrame->Rbp;
    Context->R8 = TrapFrame->R8;
    Context->R9 = TrapFrame->R9;
    Context->R10 = TrapFrame->R10;
    Context->R11 = TrapFrame->R11;
    Context->R12 = TrapFrame->R12;
    Context->R13 = TrapFrame->R13;
    Context->R14 = TrapFrame->R14;
    Context->R15 = TrapFrame->R15;
    Context->Rip = TrapFrame->Rip;
    Context->Rsp = TrapFrame->Rsp;
    Context->SegCs = (USHORT)TrapFrame->SegCs;
    Context->SegSs = (USHORT)TrapFrame->SegSs;
    Context->EFlags = (ULONG)TrapFrame->EFlags;
}

ULONG KiWalkTrapFrameStack(const KTRAP_FRAME *TrapFrame, PULONG_PTR Frames, ULONG MaxFrames)
{
    CONTEXT Context;
    ULONG_PTR StackLow, StackHigh;

    KiTrapFrameToContext(TrapFrame, &Context);
    if (!RtlpGetStackLimits((ULONG_PTR)Context.Rsp, &StackLow, &StackHigh)) {
        /* Not even the stack pointer is readable: the faulting RIP is all
         * there is. */
        if (MaxFrames == 0) {
            return 0;
        }
        Frames[0] = (ULONG_PTR)Context.Rip;
        return 1;
    }
    return RtlpWalkFrames(&Context, StackLow, StackHigh, 0, Frames, MaxFrames);
}

static VOID KipPrintStack(const KTRAP_FRAME *TrapFrame)
{
    ULONG_PTR Frames[KI_MAX_STACK_FRAMES];
    ULONG Count = KiWalkTrapFrameStack(TrapFrame, Frames, KI_MAX_STACK_FRAMES);
    char Symbol[160];

    KipStopPrint("Stack trace:\n");
    for (ULONG i = 0; i < Count; i++) {
        LdrFormatAddress(Frames[i], Symbol, sizeof(Symbol));
        KipStopPrint("  #%u 0x%016llx %s\n", i, (ULONGLONG)Frames[i], Symbol);
    }
}

static VOID KipPrintRegisters(const KTRAP_FRAME *F)
{
    char Symbol[160];

    if (F->Vector < 256) {
        KipStopPrint("Trap 0x%02llx, error code 0x%llx, CR2 0x%016llx\n", F->Vector, F->ErrorCode,
                     F->Cr2);
    }
    KipStopPrint("RAX=%016llx RBX=%016llx RCX=%016llx\n", F->Rax, F->Rbx, F->Rcx);
    KipStopPrint("RDX=%016llx RSI=%016llx RDI=%016llx\n", F->Rdx, F->Rsi, F->Rdi);
    KipStopPrint("RBP=%016llx RSP=%016llx R8 =%016llx\n", F->Rbp, F->Rsp, F->R8);
    KipStopPrint("R9 =%016llx R10=%016llx R11=%016llx\n", F->R9, F->R10, F->R11);
    KipStopPrint("R12=%016llx R13=%016llx R14=%016llx\n", F->R12, F->R13, F->R14);
    KipStopPrint("R15=%016llx EFL=%016llx\n", F->R15, F->EFlags);
    LdrFormatAddress((ULONG_PTR)F->Rip, Symbol, sizeof(Symbol));
    KipStopPrint("RIP=%016llx CS=%04llx SS=%04llx  %s\n", F->Rip, F->SegCs, F->SegSs, Symbol);
}

DECLSPEC_NORETURN VOID KiBugCheckTrap(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                      ULONG_PTR P4, PKTRAP_FRAME TrapFrame)
{
    KTRAP_FRAME Captured;
    PCSTR Name;

    KiDisableInterrupts();
    KiWriteIrql(HIGH_LEVEL);
    if (__atomic_fetch_add(&KiBugCheckActive, 1, __ATOMIC_SEQ_CST) != 0) {
        static const char Recursive[] = "\n*** STOP: recursive bug check, halting\n";
        HalPutDebugString(Recursive, sizeof(Recursive) - 1);
        HalTerminateSystem(HAL_EXIT_BUGCHECK);
    }
    if (TrapFrame == NULL) {
        KiCaptureTrapFrame(&Captured);
        TrapFrame = &Captured;
    }

    Name = KiBugCheckName(BugCheckCode);
    KipStopPrint("\n*** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX)\n", BugCheckCode,
                 (ULONGLONG)P1, (ULONGLONG)P2, (ULONGLONG)P3, (ULONGLONG)P4);
    KipStopPrint("%s\n\n", Name != NULL ? Name : "UNKNOWN_BUGCHECK_CODE");
    KipPrintRegisters(TrapFrame);
    KipPrintStack(TrapFrame);
    KipStopPrint("\nSystem halted.\n");
    HalTerminateSystem(HAL_EXIT_BUGCHECK);
}

DECLSPEC_NORETURN VOID NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1,
                                          ULONG_PTR BugCheckParameter2,
                                          ULONG_PTR BugCheckParameter3,
                                          ULONG_PTR BugCheckParameter4)
{
    KiBugCheckTrap(BugCheckCode, BugCheckParameter1, BugCheckParameter2, BugCheckParameter3,
                   BugCheckParameter4, NULL);
}

DECLSPEC_NORETURN VOID NTAPI KeBugCheck(ULONG BugCheckCode)
{
    KiBugCheckTrap(BugCheckCode, 0, 0, 0, 0, NULL);
}

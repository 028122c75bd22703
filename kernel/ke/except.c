/*
 * except.c - what an unhandled processor exception becomes: the stop code
 * and parameters NT uses. Exceptions that have an NTSTATUS (page fault,
 * divide error, invalid opcode, ...) become SYSTEM_THREAD_EXCEPTION_NOT_
 * HANDLED below DISPATCH_LEVEL; a page fault at or above DISPATCH_LEVEL is
 * IRQL_NOT_LESS_OR_EQUAL (DRIVER_IRQL_NOT_LESS_OR_EQUAL when a driver
 * faulted); writes to read-only and execution of no-execute kernel memory
 * get their own codes; traps the kernel never survives (double fault, NMI,
 * machine check, TSS/segment faults) are UNEXPECTED_KERNEL_MODE_TRAP.
 */
#include <ntddk.h>
#include <arch.h>
#include <ex.h>
#include <ke.h>
#include <ldr.h>

/* x86 page fault error code bits. */
#define KI_PF_PRESENT 0x01
#define KI_PF_WRITE   0x02
#define KI_PF_FETCH   0x10

static NTSTATUS KipExceptionStatus(ULONG64 Vector)
{
    switch (Vector) {
    case 0:
        return STATUS_INTEGER_DIVIDE_BY_ZERO;
    case 1:
        return STATUS_SINGLE_STEP;
    case 3:
        return STATUS_BREAKPOINT;
    case 4:
        return STATUS_INTEGER_OVERFLOW;
    case 5:
        return STATUS_ARRAY_BOUNDS_EXCEEDED;
    case 6:
        return STATUS_ILLEGAL_INSTRUCTION;
    case 13:
    case 14:
        return STATUS_ACCESS_VIOLATION;
    case 16:
    case 19:
        return STATUS_FLOAT_DIVIDE_BY_ZERO;
    case 17:
        return STATUS_DATATYPE_MISALIGNMENT;
    default:
        return 0;
    }
}

static BOOLEAN KipIsDriverAddress(ULONG_PTR Address)
{
    PKLDR_DATA_TABLE_ENTRY Module = LdrFindModuleByAddress(Address);
    PKLDR_DATA_TABLE_ENTRY Kernel;

    if (Module == NULL || IsListEmpty(&PsLoadedModuleList)) {
        return FALSE;
    }
    Kernel = CONTAINING_RECORD(PsLoadedModuleList.Flink, KLDR_DATA_TABLE_ENTRY, InLoadOrderLinks);
    return Module != Kernel;
}

DECLSPEC_NORETURN VOID KiUnhandledTrap(PKTRAP_FRAME TrapFrame)
{
    ULONG64 Vector = TrapFrame->Vector;
    NTSTATUS Status = KipExceptionStatus(Vector);
    KIRQL Irql = KiReadIrql();
    ULONG_PTR Rip = (ULONG_PTR)TrapFrame->Rip;

    if (Status == 0) {
        KiBugCheckTrap(UNEXPECTED_KERNEL_MODE_TRAP, (ULONG_PTR)Vector, 0, 0, 0, TrapFrame);
    }
    if (Vector == 14) {
        ULONG_PTR Address = (ULONG_PTR)TrapFrame->Cr2;
        ULONG64 Error = TrapFrame->ErrorCode;
        ULONG_PTR Access = (Error & KI_PF_FETCH) ? 8 : (Error & KI_PF_WRITE) ? 1 : 0;

        /* The guard page after a special pool block: an overrun (checked
         * first, as NT does). Returns if it is not one. */
        ExpCheckSpecialPoolFault(Address, (Error & KI_PF_WRITE) != 0, TrapFrame);
        if (Irql >= DISPATCH_LEVEL) {
            KiBugCheckTrap(KipIsDriverAddress(Rip) ? DRIVER_IRQL_NOT_LESS_OR_EQUAL
                                                   : IRQL_NOT_LESS_OR_EQUAL,
                           Address, Irql, Access, Rip, TrapFrame);
        }
        if ((Error & KI_PF_PRESENT) && (Error & KI_PF_FETCH)) {
            KiBugCheckTrap(ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, Address, 0, (ULONG_PTR)TrapFrame,
                           0, TrapFrame);
        }
        if ((Error & KI_PF_PRESENT) && (Error & KI_PF_WRITE)) {
            KiBugCheckTrap(ATTEMPTED_WRITE_TO_READONLY_MEMORY, Address, 0, (ULONG_PTR)TrapFrame, 0,
                           TrapFrame);
        }
        KiBugCheckTrap(SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)Status, Rip,
                       (ULONG_PTR)TrapFrame, Address, TrapFrame);
    }
    if (Irql >= DISPATCH_LEVEL) {
        KiBugCheckTrap(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)Status, Rip, 0, 0, TrapFrame);
    }
    KiBugCheckTrap(SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(ULONG)Status, Rip,
                   (ULONG_PTR)TrapFrame, 0, TrapFrame);
}

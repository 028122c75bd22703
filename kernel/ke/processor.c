/*
 * processor.c - the set of processors, portable: KiProcessorBlock (every
 * started processor's PRCB), KeActiveProcessors and KeNumberProcessors,
 * how a processor joins them (KiRegisterProcessor, called by the x64 boot
 * and AP startup paths and by the hosted HAL for each host-thread
 * processor), and the exported WDK queries over them. There is one
 * processor group (group 0), as on any NT system with at most 64
 * processors.
 */
#include <ntddk.h>
#include <ke.h>

PKPRCB KiProcessorBlock[MAXIMUM_PROCESSORS];
volatile KAFFINITY KeActiveProcessors;
volatile CCHAR KeNumberProcessors;
ULONG KiMaximumProcessors;

VOID KiRegisterProcessor(PKPRCB Prcb)
{
    ULONG Number = Prcb->Number;

    if (Number >= MAXIMUM_PROCESSORS || KiProcessorBlock[Number] != NULL) {
        KeBugCheckEx(MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED, Number,
                     (ULONG_PTR)KiProcessorBlock[Number < MAXIMUM_PROCESSORS ? Number : 0], 0, 0);
    }
    Prcb->SetMember = (KAFFINITY)1 << Number;
    KiProcessorBlock[Number] = Prcb;
    /* The PRCB pointer is visible before the active bit that announces it
     * (IPI senders index KiProcessorBlock by the bits they see). */
    __atomic_or_fetch(&KeActiveProcessors, Prcb->SetMember, __ATOMIC_RELEASE);
    __atomic_add_fetch(&KeNumberProcessors, 1, __ATOMIC_RELEASE);
}

ULONG NTAPI KeGetCurrentProcessorNumber(VOID)
{
    return KeGetCurrentPrcb()->Number;
}

ULONG NTAPI KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber)
{
    ULONG Number = KeGetCurrentPrcb()->Number;

    if (ProcNumber != NULL) {
        ProcNumber->Group = 0;
        ProcNumber->Number = (UCHAR)Number;
        ProcNumber->Reserved = 0;
    }
    return Number;
}

KAFFINITY NTAPI KeQueryActiveProcessors(VOID)
{
    return __atomic_load_n(&KeActiveProcessors, __ATOMIC_ACQUIRE);
}

ULONG NTAPI KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors)
{
    KAFFINITY Active = KeQueryActiveProcessors();

    if (ActiveProcessors != NULL) {
        *ActiveProcessors = Active;
    }
    return (ULONG)__builtin_popcountll(Active);
}

ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber)
{
    if (GroupNumber != 0 && GroupNumber != ALL_PROCESSOR_GROUPS) {
        return 0;
    }
    return KeQueryActiveProcessorCount(NULL);
}

ULONG NTAPI KeQueryMaximumProcessorCount(VOID)
{
    /* The processors the firmware described, started or not (NT counts
     * hot-add capable ones too); never fewer than are running. */
    ULONG Active = KeQueryActiveProcessorCount(NULL);
    return KiMaximumProcessors > Active ? KiMaximumProcessors : Active;
}

ULONG NTAPI KeQueryMaximumProcessorCountEx(USHORT GroupNumber)
{
    if (GroupNumber != 0 && GroupNumber != ALL_PROCESSOR_GROUPS) {
        return 0;
    }
    return KeQueryMaximumProcessorCount();
}

USHORT NTAPI KeQueryActiveGroupCount(VOID)
{
    return 1;
}

USHORT NTAPI KeQueryMaximumGroupCount(VOID)
{
    return 1;
}

ULONG NTAPI KeGetProcessorIndexFromNumber(PPROCESSOR_NUMBER ProcNumber)
{
    if (ProcNumber == NULL || ProcNumber->Group != 0 ||
        ProcNumber->Number >= KeQueryMaximumProcessorCount()) {
        return INVALID_PROCESSOR_INDEX;
    }
    return ProcNumber->Number;
}

NTSTATUS NTAPI KeGetProcessorNumberFromIndex(ULONG ProcIndex, PPROCESSOR_NUMBER ProcNumber)
{
    if (ProcNumber == NULL || ProcIndex >= KeQueryMaximumProcessorCount()) {
        return STATUS_INVALID_PARAMETER;
    }
    ProcNumber->Group = 0;
    ProcNumber->Number = (UCHAR)ProcIndex;
    ProcNumber->Reserved = 0;
    return STATUS_SUCCESS;
}

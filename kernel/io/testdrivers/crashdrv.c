/*
 * crashdrv.c - a test driver that faults in DriverEntry (a write through a
 * NULL pointer in a named function), so the smoke test can check that the
 * stop screen's stack trace names crashdrv.sys!CrashdrvWriteThroughNull.
 */
#include <ntddk.h>

DRIVER_INITIALIZE DriverEntry;

/* noinline: the faulting frame must be this function, not DriverEntry. */
__attribute__((noinline)) static VOID CrashdrvWriteThroughNull(volatile ULONG *Target)
{
    *Target = 0xDEAD;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    /* Hidden from the optimizer so the store really happens at address 0. */
    volatile ULONG *volatile Target = NULL;

    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    DbgPrint("crashdrv: about to write through a NULL pointer\n");
    CrashdrvWriteThroughNull(Target);
    return STATUS_SUCCESS;
}

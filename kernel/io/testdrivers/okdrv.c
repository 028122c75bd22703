/*
 * okdrv.c - a test driver whose DriverEntry prints one line and succeeds:
 * the smoke test's proof that a well-formed driver loads and runs.
 */
#include <ntddk.h>

DRIVER_INITIALIZE DriverEntry;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DbgPrint("okdrv: DriverEntry called for %wZ (%wZ)\n", &DriverObject->DriverName, RegistryPath);
    return STATUS_SUCCESS;
}

/*
 * badimport.c - a test driver that imports a routine ntoskrnl.exe does not
 * export (declared here, resolved at link time by the small import library
 * built from missing.def). The loader must refuse it, naming the symbol.
 */
#include <ntddk.h>

DRIVER_INITIALIZE DriverEntry;

__declspec(dllimport) VOID NTAPI KeKeelRoutineThatDoesNotExist(VOID);

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    KeKeelRoutineThatDoesNotExist();
    return STATUS_SUCCESS;
}

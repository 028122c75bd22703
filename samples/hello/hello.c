/*
 * hello.c - a minimal Keel kernel-mode driver built out of tree against the
 * DDK kit: DriverEntry says hello with its registry path and registers an
 * unload routine.
 */
#include <ntddk.h>

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD HelloUnload;

static VOID NTAPI HelloUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    DbgPrint("hello: unloading\n");
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DbgPrint("hello: DriverEntry called, registry path %wZ\n", RegistryPath);
    DriverObject->DriverUnload = HelloUnload;
    return STATUS_SUCCESS;
}

/*
 * call_native.c - IopCallDriverEntry for ntoskrnl.exe: the driver is PE
 * code with the same (Microsoft x64) calling convention as the kernel, so
 * its entry point is called directly.
 */
#include "iop.h"

NTSTATUS IopCallDriverEntry(PDRIVER_INITIALIZE DriverEntry, PDRIVER_OBJECT DriverObject,
                            PUNICODE_STRING RegistryPath)
{
    return DriverEntry(DriverObject, RegistryPath);
}

VOID IopCallDriverUnload(PDRIVER_UNLOAD DriverUnload, PDRIVER_OBJECT DriverObject)
{
    DriverUnload(DriverObject);
}

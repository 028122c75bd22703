/*
 * call_hosted.c - IopCallDriverEntry for the hosted kernel: a driver image
 * is Microsoft-ABI PE code bound against ntoskrnl.exe's exports, which a
 * Linux process cannot run, so the image is loaded and checked but its
 * DriverEntry is not executed; the load is reported as successful. Tests
 * that need a DriverEntry result install IopDriverEntryHook.
 */
#include "iop.h"

NTSTATUS IopCallDriverEntry(PDRIVER_INITIALIZE DriverEntry, PDRIVER_OBJECT DriverObject,
                            PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverEntry);
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    return STATUS_SUCCESS;
}

VOID IopCallDriverUnload(PDRIVER_UNLOAD DriverUnload, PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverUnload);
    UNREFERENCED_PARAMETER(DriverObject);
}

/*
 * query.c - address queries: MmGetPhysicalAddress, MmGetVirtualForPhysical
 * (through the physical map) and MmIsAddressValid.
 */
#include <ntddk.h>
#include <arch.h>
#include <mm.h>

PVOID NTAPI MmGetVirtualForPhysical(PHYSICAL_ADDRESS PhysicalAddress)
{
    ULONG64 Pa = (ULONG64)PhysicalAddress.QuadPart;
    if (MmPhysicalMapBase == 0 || Pa >= MiPhysicalMapSize) {
        return NULL;
    }
    return (PVOID)(MmPhysicalMapBase + Pa);
}

PHYSICAL_ADDRESS NTAPI MmGetPhysicalAddress(PVOID BaseAddress)
{
    PHYSICAL_ADDRESS Result;
    ULONG64 Pa;

    Result.QuadPart = 0;
    if (MiArchTranslate((ULONG_PTR)BaseAddress, &Pa)) {
        Result.QuadPart = (LONGLONG)Pa;
    }
    return Result;
}

BOOLEAN NTAPI MmIsAddressValid(PVOID VirtualAddress)
{
    /* Nonpaged everything: valid means a read would not fault now. */
    return MiArchIsAddressReadable((ULONG_PTR)VirtualAddress);
}

/*
 * iospace.c - device memory in system space: MmMapIoSpace / MmMapIoSpaceEx
 * / MmUnmapIoSpace. Each mapping takes a run of system PTEs plus an
 * unmapped guard page and maps the physical pages with the requested
 * caching type (uncached for registers). The pages are not RAM the PFN
 * database hands out, so unmapping never frees them.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <mm.h>

BOOLEAN MiCacheTypeFromProtect(ULONG Protect, PULONG CacheType)
{
    switch (Protect & (PAGE_NOCACHE | PAGE_WRITECOMBINE)) {
    case 0:
        *CacheType = MmCached;
        return TRUE;
    case PAGE_NOCACHE:
        *CacheType = MmNonCached;
        return TRUE;
    case PAGE_WRITECOMBINE:
        *CacheType = MmWriteCombined;
        return TRUE;
    default:
        return FALSE; /* both at once is not a caching type */
    }
}

PVOID MiMapPhysicalRange(ULONG64 PhysicalAddress, SIZE_T Bytes, ULONG Protect, ULONG CacheType)
{
    ULONG64 Offset = PhysicalAddress & (PAGE_SIZE - 1);
    SIZE_T Pages;
    ULONG_PTR Va;
    PFN_NUMBER Pfn;

    if (Bytes == 0 || Bytes > MiSystemVaPages * PAGE_SIZE ||
        PhysicalAddress + Bytes < PhysicalAddress) {
        return NULL;
    }
    Pages = BYTES_TO_PAGES(Offset + Bytes);
    Va = MiReserveSystemPtes(Pages + 1);
    if (Va == 0) {
        return NULL;
    }
    for (SIZE_T i = 0; i < Pages; i++) {
        Pfn = (PFN_NUMBER)((PhysicalAddress >> PAGE_SHIFT) + i);
        if (!NT_SUCCESS(MiArchMapIoPage(Va + i * PAGE_SIZE, Pfn, Protect, CacheType))) {
            for (SIZE_T j = 0; j < i; j++) {
                MiArchUnmapPage(Va + j * PAGE_SIZE, &Pfn);
            }
            MiFlushTlbRange(Va, i);
            MiReleaseSystemPtes(Va, Pages + 1);
            return NULL;
        }
    }
    return (PVOID)(Va + Offset);
}

VOID MiUnmapPhysicalRange(PVOID Base, SIZE_T Bytes)
{
    ULONG_PTR Va = (ULONG_PTR)PAGE_ALIGN(Base);
    SIZE_T Pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(Base, Bytes);
    PFN_NUMBER Pfn;

    if (Bytes == 0 || !MiIsSystemPteRange(Va, Pages + 1)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41795, (ULONG_PTR)Base, Bytes, 0);
    }
    for (SIZE_T i = 0; i < Pages; i++) {
        if (!MiArchUnmapPage(Va + i * PAGE_SIZE, &Pfn)) {
            /* Unmapping what was never mapped: a wrong size or address. */
            KeBugCheckEx(MEMORY_MANAGEMENT, 0x41796, (ULONG_PTR)Base, Bytes, i);
        }
    }
    MiFlushTlbRange(Va, Pages);
    MiReleaseSystemPtes(Va, Pages + 1);
}

PVOID MiMapIoSpace(ULONG64 PhysicalAddress, SIZE_T Bytes)
{
    return MiMapPhysicalRange(PhysicalAddress, Bytes, PAGE_READWRITE, MmNonCached);
}

VOID MiUnmapIoSpace(PVOID Base, SIZE_T Bytes)
{
    MiUnmapPhysicalRange(Base, Bytes);
}

PVOID NTAPI MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes,
                         MEMORY_CACHING_TYPE CacheType)
{
    if ((ULONG)CacheType >= (ULONG)MmMaximumCacheType) {
        return NULL;
    }
    return MiMapPhysicalRange((ULONG64)PhysicalAddress.QuadPart, NumberOfBytes, PAGE_READWRITE,
                              (ULONG)CacheType);
}

PVOID NTAPI MmMapIoSpaceEx(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG Protect)
{
    ULONG Access = Protect & ~(ULONG)(PAGE_NOCACHE | PAGE_WRITECOMBINE);
    ULONG Cache;

    /* Data mappings only: device memory is never executable here. */
    if (Access != PAGE_READWRITE && Access != PAGE_READONLY) {
        return NULL;
    }
    if (!MiCacheTypeFromProtect(Protect, &Cache)) {
        return NULL;
    }
    return MiMapPhysicalRange((ULONG64)PhysicalAddress.QuadPart, NumberOfBytes, Access, Cache);
}

VOID NTAPI MmUnmapIoSpace(PVOID BaseAddress, SIZE_T NumberOfBytes)
{
    MiUnmapPhysicalRange(BaseAddress, NumberOfBytes);
}

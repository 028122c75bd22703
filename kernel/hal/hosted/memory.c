/*
 * memory.c - the hosted HAL's MMU. "Physical memory" is a memfd mapped once
 * at MmPhysicalMapBase (the physical map); kernel pages are further
 * MAP_SHARED views of the same file at page offsets inside a reserved
 * PROT_NONE range, so a page really is visible at two addresses as on bare
 * metal, and mprotect gives the protections.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ntddk.h>
#include <arch.h>
#include <mm.h>
#include "hosted_private.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define HALP_ASAN_FORGET_PAGE(Va) __asan_unpoison_memory_region((void *)(Va), PAGE_SIZE)
#endif
#endif
#if !defined(HALP_ASAN_FORGET_PAGE)
#define HALP_ASAN_FORGET_PAGE(Va) ((void)(Va))
#endif

/* Per page of the system range: PFN + 1 (0 = unmapped) and protection. */
typedef struct _HALP_SOFT_PTE {
    ULONG64 PfnPlusOne;
    ULONG Protect;
} HALP_SOFT_PTE;

static int HalpMemoryFd = -1;
static SIZE_T HalpPhysicalSize;
static HALP_SOFT_PTE *HalpSoftPtes;

static int HalpProtectToProt(ULONG Protect)
{
    /* Caching attributes mean nothing to a host mapping. */
    switch (Protect & ~(ULONG)PAGE_NOCACHE) {
    case PAGE_NOACCESS:
        return PROT_NONE;
    case PAGE_READONLY:
        return PROT_READ;
    case PAGE_READWRITE:
        return PROT_READ | PROT_WRITE;
    case PAGE_EXECUTE:
    case PAGE_EXECUTE_READ:
        return PROT_READ | PROT_EXEC;
    case PAGE_EXECUTE_READWRITE:
        return PROT_READ | PROT_WRITE | PROT_EXEC;
    default:
        return -1;
    }
}

BOOLEAN HalpInitializeHostedMemory(SIZE_T PhysicalSize, SIZE_T SystemVaSize)
{
    void *Map, *System;

    HalpMemoryFd = memfd_create("keel-physical-memory", MFD_CLOEXEC);
    if (HalpMemoryFd < 0 || ftruncate(HalpMemoryFd, (off_t)PhysicalSize) != 0) {
        return FALSE;
    }
    Map = mmap(NULL, PhysicalSize, PROT_READ | PROT_WRITE, MAP_SHARED, HalpMemoryFd, 0);
    if (Map == MAP_FAILED) {
        return FALSE;
    }
    System =
        mmap(NULL, SystemVaSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (System == MAP_FAILED) {
        return FALSE;
    }
    HalpSoftPtes = calloc(SystemVaSize / PAGE_SIZE, sizeof(HALP_SOFT_PTE));
    if (HalpSoftPtes == NULL) {
        return FALSE;
    }
    HalpPhysicalSize = PhysicalSize;
    MiPhysicalMapSize = PhysicalSize;
    MmPhysicalMapBase = (ULONG_PTR)Map;
    MiSystemVaStart = (ULONG_PTR)System;
    MiSystemVaPages = SystemVaSize / PAGE_SIZE;
    return TRUE;
}

static HALP_SOFT_PTE *HalpSoftPte(ULONG_PTR Va)
{
    if (HalpSoftPtes == NULL || Va < MiSystemVaStart || (Va & (PAGE_SIZE - 1)) != 0) {
        return NULL;
    }
    SIZE_T Index = (Va - MiSystemVaStart) / PAGE_SIZE;
    return Index < MiSystemVaPages ? &HalpSoftPtes[Index] : NULL;
}

NTSTATUS MiArchMapPage(ULONG_PTR Va, PFN_NUMBER Pfn, ULONG Protect)
{
    HALP_SOFT_PTE *Pte = HalpSoftPte(Va);
    int Prot = HalpProtectToProt(Protect);

    if (Pte == NULL || Prot < 0 || ((ULONG64)Pfn + 1) * PAGE_SIZE > HalpPhysicalSize) {
        return STATUS_INVALID_PARAMETER;
    }
    if (Pte->PfnPlusOne != 0) {
        return STATUS_CONFLICTING_ADDRESSES;
    }
    if (mmap((void *)Va, PAGE_SIZE, Prot, MAP_SHARED | MAP_FIXED, HalpMemoryFd,
             (off_t)(Pfn * PAGE_SIZE)) == MAP_FAILED) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    Pte->PfnPlusOne = Pfn + 1;
    Pte->Protect = Protect;
    return STATUS_SUCCESS;
}

BOOLEAN MiArchUnmapPage(ULONG_PTR Va, PPFN_NUMBER Pfn)
{
    HALP_SOFT_PTE *Pte = HalpSoftPte(Va);

    if (Pte == NULL || Pte->PfnPlusOne == 0) {
        return FALSE;
    }
    /* Put the reservation back rather than leaving a hole another mmap
     * could take. */
    mmap((void *)Va, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
         -1, 0);
    /* A kernel stack whose thread died mid-call leaves ASan's redzone
     * poison in the shadow of its pages; whatever the VA is used for next
     * (another stack, pool) starts clean, as fresh memory does. */
    HALP_ASAN_FORGET_PAGE(Va);
    *Pfn = (PFN_NUMBER)(Pte->PfnPlusOne - 1);
    Pte->PfnPlusOne = 0;
    Pte->Protect = 0;
    return TRUE;
}

NTSTATUS MiArchProtectPage(ULONG_PTR Va, ULONG Protect)
{
    HALP_SOFT_PTE *Pte = HalpSoftPte(Va);
    int Prot = HalpProtectToProt(Protect);

    if (Pte == NULL || Prot < 0) {
        return STATUS_INVALID_PARAMETER;
    }
    if (Pte->PfnPlusOne == 0) {
        return STATUS_INVALID_ADDRESS;
    }
    if (mprotect((void *)Va, PAGE_SIZE, Prot) != 0) {
        return STATUS_INVALID_PARAMETER;
    }
    Pte->Protect = Protect;
    return STATUS_SUCCESS;
}

BOOLEAN MiArchTranslate(ULONG_PTR Va, PULONG64 PhysicalAddress)
{
    ULONG_PTR Page = Va & ~(ULONG_PTR)(PAGE_SIZE - 1);
    HALP_SOFT_PTE *Pte = HalpSoftPte(Page);

    if (Pte != NULL) {
        if (Pte->PfnPlusOne == 0) {
            return FALSE;
        }
        *PhysicalAddress = (Pte->PfnPlusOne - 1) * PAGE_SIZE + (Va & (PAGE_SIZE - 1));
        return TRUE;
    }
    if (MmPhysicalMapBase != 0 && Va >= MmPhysicalMapBase &&
        Va - MmPhysicalMapBase < HalpPhysicalSize) {
        *PhysicalAddress = Va - MmPhysicalMapBase;
        return TRUE;
    }
    return FALSE;
}

VOID MiArchForgetContents(ULONG_PTR Va, SIZE_T Pages)
{
    for (SIZE_T i = 0; i < Pages; i++) {
        HALP_ASAN_FORGET_PAGE(Va + i * PAGE_SIZE);
    }
}

BOOLEAN MiArchIsAddressReadable(ULONG_PTR Va)
{
    ULONG_PTR Page = Va & ~(ULONG_PTR)(PAGE_SIZE - 1);
    HALP_SOFT_PTE *Pte = HalpSoftPte(Page);
    unsigned char Residency;

    if (Pte != NULL) {
        return Pte->PfnPlusOne != 0 && Pte->Protect != PAGE_NOACCESS;
    }
    /* Any other host address: mincore fails with ENOMEM when nothing is
     * mapped there. */
    return mincore((void *)Page, PAGE_SIZE, &Residency) == 0;
}

NTSTATUS MiArchMapIoPage(ULONG_PTR Va, PFN_NUMBER Pfn, ULONG Protect, ULONG CacheType)
{
    /* Only the memfd "RAM" exists to map; caching types mean nothing to a
     * host mapping but are still validated. */
    if ((Protect != PAGE_READWRITE && Protect != PAGE_READONLY) || CacheType > MmUSWCCached) {
        return STATUS_INVALID_PARAMETER;
    }
    return MiArchMapPage(Va, Pfn, Protect);
}

VOID MiArchInvalidateRange(ULONG_PTR Va, SIZE_T Pages)
{
    /* mmap/munmap keep every host thread's view coherent. */
    (void)Va;
    (void)Pages;
}

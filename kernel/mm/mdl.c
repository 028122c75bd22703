/*
 * mdl.c - memory descriptor lists for kernel buffers: IoAllocateMdl /
 * IoFreeMdl / IoBuildPartialMdl, MmBuildMdlForNonPagedPool,
 * MmProbeAndLockPages / MmUnlockPages (all memory is nonpaged, so locking
 * means recording each page's PFN and taking a PFN lock reference that
 * keeps the page from being reused even if its owner frees it), and
 * MmMapLockedPagesSpecifyCache / MmUnmapLockedPages (a second view of the
 * pages in system PTEs, guard page after). User-mode buffers and IRP
 * association wait for processes and the I/O manager's IRPs.
 *
 * MDL state the flags encode (checked on every transition):
 *   PAGES_LOCKED          - the PFN array is valid and holds references
 *   SOURCE_IS_NONPAGED_POOL - the PFN array is valid, no references, and
 *                           MappedSystemVa is the buffer itself
 *   MAPPED_TO_SYSTEM_VA   - MappedSystemVa is our mapping (or, with
 *                           PARENT_MAPPED_SYSTEM_VA, the parent's)
 */
#include <ntddk.h>
#include <arch.h>
#include <ex.h>
#include <ke.h>
#include <mm.h>

#define MI_MDL_PFN_VALID (MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL)

SIZE_T NTAPI MmSizeOfMdl(PVOID Base, SIZE_T Length)
{
    return sizeof(MDL) + sizeof(PFN_NUMBER) * ADDRESS_AND_SIZE_TO_SPAN_PAGES(Base, Length);
}

static SIZE_T MiMdlPages(PMDL Mdl)
{
    return ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), Mdl->ByteCount);
}

PMDL NTAPI IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
                         BOOLEAN ChargeQuota, PIRP Irp)
{
    SIZE_T Size = MmSizeOfMdl(VirtualAddress, Length);
    PMDL Mdl;

    /* Size is a CSHORT: about 16 MiB of buffer at most. Irp chaining and
     * quota charging come with the I/O manager's IRPs and processes. */
    (VOID) SecondaryBuffer;
    (VOID) ChargeQuota;
    (VOID) Irp;
    if (Length == 0 || Size > 0x7FFF) {
        return NULL;
    }
    Mdl = ExpAllocateKernelMemory(Size);
    if (Mdl == NULL) {
        return NULL;
    }
    MmInitializeMdl(Mdl, VirtualAddress, Length);
    Mdl->Process = NULL;
    Mdl->MappedSystemVa = NULL;
    return Mdl;
}

VOID NTAPI IoFreeMdl(PMDL Mdl)
{
    if (Mdl == NULL) {
        return;
    }
    /* A partial MDL mapped on its own still owns that mapping. */
    if ((Mdl->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED) &&
        !(Mdl->MdlFlags & MDL_PARENT_MAPPED_SYSTEM_VA)) {
        MmUnmapLockedPages(Mdl->MappedSystemVa, Mdl);
    }
    ExpFreeKernelMemory(Mdl);
}

/* The PFN behind one page of a kernel buffer; a page that is not mapped is
 * what a kernel access to it would be: PAGE_FAULT_IN_NONPAGED_AREA. */
static PFN_NUMBER MiPfnOfKernelPage(ULONG_PTR Va, BOOLEAN Write)
{
    ULONG64 Physical;

    if (!MiArchIsAddressReadable(Va) || !MiArchTranslate(Va, &Physical)) {
        KeBugCheckEx(PAGE_FAULT_IN_NONPAGED_AREA, Va, Write, 0, 0);
    }
    return (PFN_NUMBER)(Physical >> PAGE_SHIFT);
}

VOID NTAPI MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList)
{
    PMDL Mdl = MemoryDescriptorList;
    PPFN_NUMBER Pfns = MmGetMdlPfnArray(Mdl);
    SIZE_T Pages = MiMdlPages(Mdl);

    if (Mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41798, (ULONG_PTR)Mdl, Mdl->MdlFlags, 0);
    }
    for (SIZE_T i = 0; i < Pages; i++) {
        Pfns[i] = MiPfnOfKernelPage((ULONG_PTR)Mdl->StartVa + i * PAGE_SIZE, FALSE);
        if (!MiIsPhysicalPageOwned(Pfns[i])) {
            Mdl->MdlFlags |= MDL_IO_SPACE;
        }
    }
    Mdl->MappedSystemVa = MmGetMdlVirtualAddress(Mdl);
    Mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
}

VOID NTAPI MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                               LOCK_OPERATION Operation)
{
    PMDL Mdl = MemoryDescriptorList;
    PPFN_NUMBER Pfns = MmGetMdlPfnArray(Mdl);
    SIZE_T Pages = MiMdlPages(Mdl);
    BOOLEAN Write = Operation != IoReadAccess;

    /* Only kernel buffers exist so far; a user-mode probe has nothing to
     * probe (NT would raise STATUS_ACCESS_VIOLATION). */
    (VOID) AccessMode;
    if (Mdl->MdlFlags &
        (MDL_PAGES_LOCKED | MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL | MDL_MAPPED_TO_SYSTEM_VA)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41799, (ULONG_PTR)Mdl, Mdl->MdlFlags, 0);
    }
    for (SIZE_T i = 0; i < Pages; i++) {
        Pfns[i] = MiPfnOfKernelPage((ULONG_PTR)Mdl->StartVa + i * PAGE_SIZE, Write);
        if (!MiReferencePhysicalPage(Pfns[i])) {
            Mdl->MdlFlags |= MDL_IO_SPACE;
        }
    }
    Mdl->MdlFlags |= MDL_PAGES_LOCKED | (Write ? MDL_WRITE_OPERATION : 0);
}

VOID NTAPI MmUnlockPages(PMDL MemoryDescriptorList)
{
    PMDL Mdl = MemoryDescriptorList;
    PPFN_NUMBER Pfns = MmGetMdlPfnArray(Mdl);
    SIZE_T Pages = MiMdlPages(Mdl);

    if (!(Mdl->MdlFlags & MDL_PAGES_LOCKED) || (Mdl->MdlFlags & MDL_PARTIAL)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x4179A, (ULONG_PTR)Mdl, Mdl->MdlFlags, 0);
    }
    if ((Mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) &&
        !(Mdl->MdlFlags & MDL_PARENT_MAPPED_SYSTEM_VA)) {
        MmUnmapLockedPages(Mdl->MappedSystemVa, Mdl);
    }
    for (SIZE_T i = 0; i < Pages; i++) {
        /* Pages the database does not own were never referenced. */
        if (MiIsPhysicalPageOwned(Pfns[i]) && MiPhysicalPageLockCount(Pfns[i]) != 0) {
            MiDereferencePhysicalPage(Pfns[i]);
        }
    }
    Mdl->MdlFlags &= ~(MDL_PAGES_LOCKED | MDL_WRITE_OPERATION | MDL_IO_SPACE);
}

PVOID NTAPI MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                         MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress,
                                         ULONG BugCheckOnFailure, ULONG Priority)
{
    PMDL Mdl = MemoryDescriptorList;
    PPFN_NUMBER Pfns = MmGetMdlPfnArray(Mdl);
    SIZE_T Pages = MiMdlPages(Mdl);
    ULONG Protect = (Priority & MdlMappingNoWrite) ? PAGE_READONLY : PAGE_READWRITE;
    PFN_NUMBER Unused;
    ULONG_PTR Va;

    (VOID) RequestedAddress; /* only meaningful for user-mode mappings */
    if (AccessMode != KernelMode || (ULONG)CacheType >= (ULONG)MmMaximumCacheType) {
        return NULL;
    }
    if (!(Mdl->MdlFlags & MI_MDL_PFN_VALID)) {
        /* Mapping an MDL whose pages were never locked maps garbage PFNs. */
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x4179B, (ULONG_PTR)Mdl, Mdl->MdlFlags, 0);
    }
    if (Mdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_MAPPED_TO_SYSTEM_VA)) {
        /* The buffer already has a system address. */
        return Mdl->MappedSystemVa;
    }
    Va = MiReserveSystemPtes(Pages + 1);
    for (SIZE_T i = 0; Va != 0 && i < Pages; i++) {
        if (!NT_SUCCESS(MiArchMapIoPage(Va + i * PAGE_SIZE, Pfns[i], Protect, CacheType))) {
            for (SIZE_T j = 0; j < i; j++) {
                MiArchUnmapPage(Va + j * PAGE_SIZE, &Unused);
            }
            MiFlushTlbRange(Va, i);
            MiReleaseSystemPtes(Va, Pages + 1);
            Va = 0;
        }
    }
    if (Va == 0) {
        /* The one place NT stops for lack of system PTEs: a caller that
         * said it cannot handle failure. */
        if (BugCheckOnFailure) {
            KeBugCheckEx(NO_MORE_SYSTEM_PTES, 0, Pages + 1, MiSystemVaPages - MiSystemPtesInUse(),
                         MiSystemVaPages);
        }
        return NULL;
    }
    Mdl->MappedSystemVa = (PVOID)(Va + Mdl->ByteOffset);
    Mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA;
    if (Mdl->MdlFlags & MDL_PARTIAL) {
        Mdl->MdlFlags |= MDL_PARTIAL_HAS_BEEN_MAPPED;
    }
    return Mdl->MappedSystemVa;
}

PVOID NTAPI MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode)
{
    return MmMapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, MmCached, NULL, TRUE,
                                        HighPagePriority);
}

VOID NTAPI MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList)
{
    PMDL Mdl = MemoryDescriptorList;

    if ((Mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) && BaseAddress == Mdl->MappedSystemVa) {
        return; /* the buffer's own address: nothing was mapped */
    }
    if (!(Mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) || BaseAddress != Mdl->MappedSystemVa) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x4179C, (ULONG_PTR)BaseAddress, (ULONG_PTR)Mdl,
                     Mdl->MdlFlags);
    }
    if (!(Mdl->MdlFlags & MDL_PARENT_MAPPED_SYSTEM_VA)) {
        MiUnmapPhysicalRange(BaseAddress, Mdl->ByteCount);
    }
    Mdl->MdlFlags &=
        ~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_PARENT_MAPPED_SYSTEM_VA);
    Mdl->MappedSystemVa = NULL;
}

VOID NTAPI IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length)
{
    ULONG_PTR SourceStart = (ULONG_PTR)MmGetMdlVirtualAddress(SourceMdl);
    ULONG_PTR Offset = (ULONG_PTR)VirtualAddress - SourceStart;
    SIZE_T FirstPage, Pages;

    if ((ULONG_PTR)VirtualAddress < SourceStart || Offset >= SourceMdl->ByteCount ||
        !(SourceMdl->MdlFlags & MI_MDL_PFN_VALID)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x4179D, (ULONG_PTR)SourceMdl, (ULONG_PTR)VirtualAddress,
                     Length);
    }
    if (Length == 0 || Length > SourceMdl->ByteCount - Offset) {
        Length = (ULONG)(SourceMdl->ByteCount - Offset);
    }
    Pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(VirtualAddress, Length);
    if ((SIZE_T)TargetMdl->Size < sizeof(MDL) + Pages * sizeof(PFN_NUMBER)) {
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x4179E, (ULONG_PTR)TargetMdl, TargetMdl->Size, Pages);
    }
    FirstPage =
        ((ULONG_PTR)PAGE_ALIGN(VirtualAddress) - (ULONG_PTR)SourceMdl->StartVa) >> PAGE_SHIFT;
    TargetMdl->Process = SourceMdl->Process;
    TargetMdl->StartVa = PAGE_ALIGN(VirtualAddress);
    TargetMdl->ByteOffset = BYTE_OFFSET(VirtualAddress);
    TargetMdl->ByteCount = Length;
    TargetMdl->MdlFlags &= MDL_ALLOCATED_FIXED_SIZE | MDL_ALLOCATED_MUST_SUCCEED;
    TargetMdl->MdlFlags |=
        MDL_PARTIAL |
        (SourceMdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_IO_SPACE | MDL_WRITE_OPERATION));
    TargetMdl->MappedSystemVa = NULL;
    if (SourceMdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)) {
        /* Borrow the parent's view; unmapping the partial leaves it. */
        TargetMdl->MappedSystemVa = (PUCHAR)SourceMdl->MappedSystemVa + Offset;
        if (SourceMdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) {
            TargetMdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA | MDL_PARENT_MAPPED_SYSTEM_VA;
        }
    }
    memcpy(MmGetMdlPfnArray(TargetMdl), MmGetMdlPfnArray(SourceMdl) + FirstPage,
           Pages * sizeof(PFN_NUMBER));
}

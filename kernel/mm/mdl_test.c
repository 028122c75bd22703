/*
 * mdl_test.c - ktest cases for MDLs: the WDK layout and macros,
 * MmBuildMdlForNonPagedPool, probe/lock + map/unmap round trips comparing
 * contents both ways, partial MDLs, locked pages outliving their owner's
 * free, and pages/PTEs back at baseline.
 */
#include <ntddk.h>
#include <arch.h>
#include <ktest.h>
#include <ktestthreads.h>
#include <mm.h>

KTEST(mm_mdl, layout_and_macros)
{
    MDL Probe;
    PVOID Va = (PVOID)0xFFFFF90000001F00ull;

    KT_EXPECT_EQ(sizeof(MDL), 0x30);
    KT_EXPECT_EQ(offsetof(MDL, Size), 8);
    KT_EXPECT_EQ(offsetof(MDL, MdlFlags), 10);
    KT_EXPECT_EQ(offsetof(MDL, Process), 0x10);
    KT_EXPECT_EQ(offsetof(MDL, StartVa), 0x20);
    KT_EXPECT_EQ(offsetof(MDL, ByteCount), 0x28);
    KT_EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, 0x100), 1);
    KT_EXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, 0x101), 2);
    KT_EXPECT_EQ(MmSizeOfMdl(Va, 0x2000), sizeof(MDL) + 3 * sizeof(PFN_NUMBER));
    MmInitializeMdl(&Probe, Va, 0x2000);
    KT_EXPECT_EQ((ULONG_PTR)MmGetMdlBaseVa(&Probe), 0xFFFFF90000001000ull);
    KT_EXPECT_EQ(MmGetMdlByteOffset(&Probe), 0xF00);
    KT_EXPECT_EQ(MmGetMdlByteCount(&Probe), 0x2000);
    KT_EXPECT_EQ((ULONG_PTR)MmGetMdlVirtualAddress(&Probe), (ULONG_PTR)Va);
    KT_EXPECT_EQ(Probe.Size, (CSHORT)(sizeof(MDL) + 3 * sizeof(PFN_NUMBER)));
    KT_EXPECT_EQ((ULONG_PTR)MmGetMdlPfnArray(&Probe), (ULONG_PTR)(&Probe + 1));
}

KTEST(mm_mdl, nonpaged_pool_mdl)
{
    PUCHAR Buffer = MiAllocateKernelPages(3);
    PMDL Mdl;

    KT_ASSERT_NOT_NULL(Buffer);
    Mdl = IoAllocateMdl(Buffer + 100, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    KT_ASSERT_NOT_NULL(Mdl);
    KT_EXPECT_EQ(Mdl->Next, NULL);
    KT_EXPECT_EQ(Mdl->MdlFlags, 0);
    MmBuildMdlForNonPagedPool(Mdl);
    KT_EXPECT_TRUE(Mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL);
    KT_EXPECT_FALSE(Mdl->MdlFlags & MDL_IO_SPACE);
    for (ULONG i = 0; i < 3; i++) {
        KT_EXPECT_EQ(
            MmGetMdlPfnArray(Mdl)[i],
            (PFN_NUMBER)(MmGetPhysicalAddress(Buffer + i * PAGE_SIZE).QuadPart >> PAGE_SHIFT));
    }
    /* Nonpaged memory already has its system address. */
    KT_EXPECT_EQ((ULONG_PTR)MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority),
                 (ULONG_PTR)(Buffer + 100));
    MmUnmapLockedPages(Buffer + 100, Mdl);
    IoFreeMdl(Mdl);
    MiFreeKernelPages(Buffer, 3);
    KT_EXPECT_NULL(IoAllocateMdl(Buffer, 0, FALSE, FALSE, NULL));
}

KTEST(mm_mdl, lock_map_round_trip)
{
    PFN_NUMBER Free;
    SIZE_T Used;
    PUCHAR Buffer, View;
    ULONG Length = 2 * PAGE_SIZE + 500;
    BOOLEAN Same = TRUE;
    PMDL Mdl;

    /* Warm up the MDL allocator and let idle threads finish reaping earlier
     * tests' threads, so the counts below move only with this test. */
    IoFreeMdl(IoAllocateMdl((PVOID)0x1000, PAGE_SIZE, FALSE, FALSE, NULL));
    if (KtCanRunThreads()) {
        KiSettleTerminatedThreads();
    }
    Free = MiFreePhysicalPageCount();
    Used = MiSystemPtesInUse();
    Buffer = MiAllocateKernelPages(4);
    KT_ASSERT_NOT_NULL(Buffer);
    for (ULONG i = 0; i < 4 * PAGE_SIZE; i++) {
        Buffer[i] = (UCHAR)(i ^ (i >> 8));
    }
    Mdl = IoAllocateMdl(Buffer + 123, Length, FALSE, FALSE, NULL);
    KT_ASSERT_NOT_NULL(Mdl);
    MmProbeAndLockPages(Mdl, KernelMode, IoModifyAccess);
    KT_EXPECT_TRUE(Mdl->MdlFlags & MDL_PAGES_LOCKED);
    KT_EXPECT_TRUE(Mdl->MdlFlags & MDL_WRITE_OPERATION);
    for (ULONG i = 0; i < 3; i++) {
        KT_EXPECT_EQ(MiPhysicalPageLockCount(MmGetMdlPfnArray(Mdl)[i]), 1);
    }

    View = MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority | MdlMappingNoExecute);
    KT_ASSERT_NOT_NULL(View);
    KT_EXPECT_NE((ULONG_PTR)View, (ULONG_PTR)(Buffer + 123));
    KT_EXPECT_EQ(BYTE_OFFSET(View), 123);
    KT_EXPECT_TRUE(Mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);
    /* Asking again returns the same view. */
    KT_EXPECT_EQ((ULONG_PTR)MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority), (ULONG_PTR)View);
    for (ULONG i = 0; i < Length; i++) {
        Same = Same && View[i] == Buffer[123 + i];
    }
    KT_EXPECT_TRUE(Same);
    View[0] = 0xEE;
    View[Length - 1] = 0xDD;
    KT_EXPECT_EQ(Buffer[123], 0xEE);
    KT_EXPECT_EQ(Buffer[123 + Length - 1], 0xDD);
    /* The view ends in an unmapped guard page. */
    KT_EXPECT_FALSE(MiArchIsAddressReadable((ULONG_PTR)PAGE_ALIGN(View) + 3 * PAGE_SIZE));

    MmUnmapLockedPages(View, Mdl);
    KT_EXPECT_FALSE(Mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);
    KT_EXPECT_FALSE(MiArchIsAddressReadable((ULONG_PTR)View));
    MmUnlockPages(Mdl);
    KT_EXPECT_FALSE(Mdl->MdlFlags & MDL_PAGES_LOCKED);
    for (ULONG i = 0; i < 3; i++) {
        KT_EXPECT_EQ(MiPhysicalPageLockCount(MmGetMdlPfnArray(Mdl)[i]), 0);
    }
    IoFreeMdl(Mdl);
    MiFreeKernelPages(Buffer, 4);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

KTEST(mm_mdl, unlock_unmaps_and_read_only_view)
{
    SIZE_T Used = MiSystemPtesInUse();
    PULONG64 Buffer = MiAllocateKernelPages(1), View;
    PMDL Mdl;

    KT_ASSERT_NOT_NULL(Buffer);
    Buffer[7] = 0x77;
    Mdl = IoAllocateMdl(Buffer, PAGE_SIZE, FALSE, FALSE, NULL);
    KT_ASSERT_NOT_NULL(Mdl);
    MmProbeAndLockPages(Mdl, KernelMode, IoReadAccess);
    KT_EXPECT_FALSE(Mdl->MdlFlags & MDL_WRITE_OPERATION);
    View = MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE,
                                        HighPagePriority | MdlMappingNoWrite);
    KT_ASSERT_NOT_NULL(View);
    KT_EXPECT_EQ(View[7], 0x77);
    /* User-mode views need processes. */
    KT_EXPECT_NULL(
        MmMapLockedPagesSpecifyCache(Mdl, UserMode, MmCached, NULL, FALSE, NormalPagePriority));
    /* MmUnlockPages drops the system view too. */
    MmUnlockPages(Mdl);
    KT_EXPECT_FALSE(Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_PAGES_LOCKED));
    KT_EXPECT_FALSE(MiArchIsAddressReadable((ULONG_PTR)View));
    IoFreeMdl(Mdl);
    MiFreeKernelPages(Buffer, 1);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
}

KTEST(mm_mdl, locked_pages_outlive_owner_free)
{
    PFN_NUMBER Free;
    PULONG64 Buffer, View;
    PMDL Mdl;

    IoFreeMdl(IoAllocateMdl((PVOID)0x1000, PAGE_SIZE, FALSE, FALSE, NULL));
    Free = MiFreePhysicalPageCount();
    Buffer = MiAllocateKernelPages(2);
    KT_ASSERT_NOT_NULL(Buffer);
    Buffer[0] = 0x1234;
    Mdl = IoAllocateMdl(Buffer, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    KT_ASSERT_NOT_NULL(Mdl);
    MmProbeAndLockPages(Mdl, KernelMode, IoWriteAccess);
    View = MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority);
    KT_ASSERT_NOT_NULL(View);
    /* The owner frees its buffer while the I/O is in flight: the pages stay
     * the MDL's until it is unlocked. */
    MiFreeKernelPages(Buffer, 2);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free - 2);
    KT_EXPECT_EQ(View[0], 0x1234);
    View[1] = 5;
    MmUnlockPages(Mdl);
    IoFreeMdl(Mdl);
    KT_EXPECT_EQ(MiFreePhysicalPageCount(), Free);
}

KTEST(mm_mdl, partial_mdls)
{
    PUCHAR Buffer = MiAllocateKernelPages(4), View, Part;
    SIZE_T Used = MiSystemPtesInUse();
    PMDL Source, Target;

    KT_ASSERT_NOT_NULL(Buffer);
    for (ULONG i = 0; i < 4 * PAGE_SIZE; i++) {
        Buffer[i] = (UCHAR)(i / 16);
    }
    Source = IoAllocateMdl(Buffer, 4 * PAGE_SIZE, FALSE, FALSE, NULL);
    Target = IoAllocateMdl(NULL, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    KT_ASSERT_NOT_NULL(Source);
    KT_ASSERT_NOT_NULL(Target);
    MmProbeAndLockPages(Source, KernelMode, IoReadAccess);

    /* Unmapped source: the partial MDL maps its own pages. */
    IoBuildPartialMdl(Source, Target, Buffer + PAGE_SIZE + 16, PAGE_SIZE);
    KT_EXPECT_TRUE(Target->MdlFlags & MDL_PARTIAL);
    KT_EXPECT_EQ(MmGetMdlPfnArray(Target)[0], MmGetMdlPfnArray(Source)[1]);
    KT_EXPECT_EQ(MmGetMdlPfnArray(Target)[1], MmGetMdlPfnArray(Source)[2]);
    Part = MmGetSystemAddressForMdlSafe(Target, NormalPagePriority);
    KT_ASSERT_NOT_NULL(Part);
    KT_EXPECT_EQ(Part[0], Buffer[PAGE_SIZE + 16]);
    KT_EXPECT_EQ(Part[PAGE_SIZE - 1], Buffer[2 * PAGE_SIZE + 15]);
    KT_EXPECT_TRUE(Target->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED);
    MmUnmapLockedPages(Part, Target);

    /* Mapped source: the partial borrows the parent's view. */
    View = MmGetSystemAddressForMdlSafe(Source, NormalPagePriority);
    KT_ASSERT_NOT_NULL(View);
    IoBuildPartialMdl(Source, Target, Buffer + 3 * PAGE_SIZE, 0);
    KT_EXPECT_EQ(MmGetMdlByteCount(Target), PAGE_SIZE);
    Part = MmGetSystemAddressForMdlSafe(Target, NormalPagePriority);
    KT_EXPECT_EQ((ULONG_PTR)Part, (ULONG_PTR)(View + 3 * PAGE_SIZE));
    KT_EXPECT_EQ(Part[PAGE_SIZE - 1], Buffer[4 * PAGE_SIZE - 1]);
    IoFreeMdl(Target); /* leaves the parent's view alone */
    KT_EXPECT_EQ(View[3 * PAGE_SIZE], Buffer[3 * PAGE_SIZE]);

    MmUnlockPages(Source);
    IoFreeMdl(Source);
    MiFreeKernelPages(Buffer, 4);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used - 5);
}

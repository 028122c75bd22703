/*
 * iospace_test.c - ktest cases for MmMapIoSpace / MmMapIoSpaceEx /
 * MmUnmapIoSpace and MmIsAddressValid: RAM seen through a device-style
 * mapping with each caching type, the local APIC's registers on bare
 * metal, bad requests, and no leaked system PTEs.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <ktest.h>
#include <mm.h>

KTEST(mm_iospace, ram_page_each_cache_type)
{
    static const MEMORY_CACHING_TYPE Types[] = { MmNonCached, MmCached, MmWriteCombined };
    SIZE_T Used = MiSystemPtesInUse();
    PFN_NUMBER Pfn;
    PHYSICAL_ADDRESS Pa;
    PULONG64 Ram;

    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, TRUE));
    Pa.QuadPart = (LONGLONG)Pfn << PAGE_SHIFT;
    Ram = MmGetVirtualForPhysical(Pa);
    for (ULONG i = 0; i < RTL_NUMBER_OF(Types); i++) {
        PHYSICAL_ADDRESS At = Pa;
        At.QuadPart += 0x40;
        PULONG64 Io = MmMapIoSpace(At, 0x20, Types[i]);
        KT_ASSERT_NOT_NULL(Io);
        KT_EXPECT_EQ((ULONG_PTR)Io & (PAGE_SIZE - 1), 0x40);
        KT_EXPECT_TRUE(MmIsAddressValid(Io));
        KT_EXPECT_EQ(MmGetPhysicalAddress(Io).QuadPart, At.QuadPart);
        Ram[8] = 0x1111 * (i + 1);
        KT_EXPECT_EQ(Io[0], 0x1111 * (i + 1));
        Io[1] = 0xABCD0000 + i;
        KT_EXPECT_EQ(Ram[9], 0xABCD0000 + i);
        MmUnmapIoSpace(Io, 0x20);
        KT_EXPECT_FALSE(MmIsAddressValid(Io));
    }
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
    MiFreePhysicalPage(Pfn);
}

KTEST(mm_iospace, map_ex_protections)
{
    SIZE_T Used = MiSystemPtesInUse();
    PFN_NUMBER Pfn;
    PHYSICAL_ADDRESS Pa;
    PULONG64 Ro, Rw;

    KT_ASSERT_TRUE(MiAllocatePhysicalPage(&Pfn, TRUE));
    Pa.QuadPart = (LONGLONG)Pfn << PAGE_SHIFT;
    Rw = MmMapIoSpaceEx(Pa, PAGE_SIZE, PAGE_READWRITE | PAGE_NOCACHE);
    Ro = MmMapIoSpaceEx(Pa, PAGE_SIZE, PAGE_READONLY);
    KT_ASSERT_NOT_NULL(Rw);
    KT_ASSERT_NOT_NULL(Ro);
    Rw[5] = 0x55AA;
    KT_EXPECT_EQ(Ro[5], 0x55AA);
    /* Executable or contradictory requests are refused. */
    KT_EXPECT_NULL(MmMapIoSpaceEx(Pa, PAGE_SIZE, PAGE_EXECUTE_READWRITE));
    KT_EXPECT_NULL(
        MmMapIoSpaceEx(Pa, PAGE_SIZE, PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE));
    KT_EXPECT_NULL(MmMapIoSpace(Pa, 0, MmNonCached));
    KT_EXPECT_NULL(MmMapIoSpace(Pa, PAGE_SIZE, MmMaximumCacheType));
    MmUnmapIoSpace(Ro, PAGE_SIZE);
    MmUnmapIoSpace(Rw, PAGE_SIZE);
    KT_EXPECT_EQ(MiSystemPtesInUse(), Used);
    MiFreePhysicalPage(Pfn);
}

KTEST(mm_iospace, spans_pages)
{
    PFN_NUMBER Base;
    PHYSICAL_ADDRESS Pa;
    PUCHAR Io, Ram;

    KT_ASSERT_TRUE(MiAllocateContiguousPhysicalPages(3, MiPfnDatabaseSize(), &Base));
    Pa.QuadPart = ((LONGLONG)Base << PAGE_SHIFT) + PAGE_SIZE - 8;
    Ram = MmGetVirtualForPhysical(Pa);
    Io = MmMapIoSpace(Pa, PAGE_SIZE + 16, MmNonCached);
    KT_ASSERT_NOT_NULL(Io);
    for (ULONG i = 0; i < PAGE_SIZE + 16; i++) {
        Ram[i] = (UCHAR)(i * 7);
    }
    BOOLEAN Same = TRUE;
    for (ULONG i = 0; i < PAGE_SIZE + 16; i++) {
        Same = Same && Io[i] == (UCHAR)(i * 7);
    }
    KT_EXPECT_TRUE(Same);
    MmUnmapIoSpace(Io, PAGE_SIZE + 16);
    MiFreeContiguousPhysicalPages(Base, 3);
}

/* A real device page: the local APIC's version register. */
KTEST(mm_iospace, local_apic_registers)
{
    PHYSICAL_ADDRESS Pa;
    volatile ULONG *Apic;
    ULONG Version;

    if (KeLoaderBlock == NULL) {
        KT_SKIP("no local APIC in the hosted build");
    }
    Pa.QuadPart = 0xFEE00000;
    Apic = MmMapIoSpace(Pa, PAGE_SIZE, MmNonCached);
    KT_ASSERT_NOT_NULL(Apic);
    Version = Apic[0x30 / 4];
    /* Integrated xAPIC: version 0x1X, and at least the 4 LVT entries every
     * APIC has. */
    KT_EXPECT_EQ(Version & 0xF0, 0x10);
    KT_EXPECT_GE((Version >> 16) & 0xFF, 3);
    KT_EXPECT_EQ(MmGetPhysicalAddress((PVOID)&Apic[0x30 / 4]).QuadPart, 0xFEE00030);
    MmUnmapIoSpace((PVOID)Apic, PAGE_SIZE);
}

KTEST(mm_iospace, is_address_valid)
{
    PUCHAR Page = MiAllocateKernelPages(1);

    KT_ASSERT_NOT_NULL(Page);
    KT_EXPECT_TRUE(MmIsAddressValid(Page));
    KT_EXPECT_TRUE(MmIsAddressValid(Page + PAGE_SIZE - 1));
    KT_EXPECT_FALSE(MmIsAddressValid(Page + PAGE_SIZE)); /* guard page */
    KT_EXPECT_FALSE(MmIsAddressValid((PVOID)0x8000000000000000ull));
    MiFreeKernelPages(Page, 1);
    KT_EXPECT_FALSE(MmIsAddressValid(Page));
}

/*
 * init.c - phase 0 on the boot processor, called by KiSystemStartup
 * (start.S) on the kernel's boot stack: debug port, descriptor tables and
 * KPCR, the loader block (validated, then copied into the kernel), time
 * base (TSC calibrated against the PIT, wall clock from the CMOS RTC), the
 * physical allocator and the kernel's page tables, the clock interrupt,
 * and then the portable phase 1 (KiBootSystem). Each phase is timed from
 * the loader's first instruction.
 */
#include <ntddk.h>
#include <ex.h>
#include <hal.h>
#include <ke.h>
#include <mm.h>
#include "archp.h"

static LOADER_PARAMETER_BLOCK KiLoaderBlockCopy;

static VOID KipValidateLoaderBlock(PLOADER_PARAMETER_BLOCK Block)
{
    ULONG Reason = 0;

    if (Block == NULL) {
        Reason = 1;
    } else if (Block->Signature != LOADER_BLOCK_SIGNATURE) {
        Reason = 2;
    } else if (Block->Version != LOADER_BLOCK_VERSION) {
        Reason = 3;
    } else if (Block->Size != sizeof(LOADER_PARAMETER_BLOCK)) {
        Reason = 4;
    } else if (Block->MemoryDescriptorCount == 0 ||
               Block->MemoryDescriptorCount > LOADER_MAX_MEMORY_DESCRIPTORS) {
        Reason = 5;
    } else if (Block->PhysicalMapBase == 0 || Block->PhysicalMapSize == 0 ||
               (Block->PhysicalMapBase & (PAGE_SIZE - 1)) != 0) {
        Reason = 6;
    } else if (Block->KernelVirtualBase == 0 || Block->KernelImageSize == 0 ||
               (Block->KernelPhysicalBase & (PAGE_SIZE - 1)) != 0) {
        Reason = 7;
    }
    if (Reason != 0) {
        DbgPrint("KiSystemStartup: invalid loader parameter block (reason %u)\n", Reason);
        KeBugCheckEx(PHASE0_INITIALIZATION_FAILED, Reason, (ULONG_PTR)Block,
                     Block != NULL ? Block->Signature : 0, Block != NULL ? Block->Version : 0);
    }
}

static VOID KipFail(PCSTR What, NTSTATUS Status)
{
    DbgPrint("KiSystemStartup: %s failed (0x%08x)\n", What, (ULONG)Status);
    KeBugCheckEx(PHASE0_INITIALIZATION_FAILED, (ULONG_PTR)(ULONG)Status, 0, 0, 0);
}

VOID KiInitializeKernel(PLOADER_PARAMETER_BLOCK LoaderBlock)
{
    PLOADER_PARAMETER_BLOCK Block = &KiLoaderBlockCopy;
    ULONG64 ProcessorReady, MemoryReady, ClockReady, Frequency, Now, WallClock = 0;
    NTSTATUS Status;

    HalpInitializeDebugPort();
    KiInitializeProcessor();
    KiRegisterProcessor(KeGetCurrentPrcb()); /* smp: processor 0 */
    ProcessorReady = KiReadTimestamp();

    KipValidateLoaderBlock(LoaderBlock);
    memcpy(Block, LoaderBlock, sizeof(*Block));
    Block->CommandLine[LOADER_MAX_COMMAND_LINE - 1] = '\0';
    KeLoaderBlock = Block;

    Frequency = HalpCalibrateTimestampCounter();
    Now = KiReadTimestamp();
    KiInitializeTime(Frequency, Block->TscLoaderEntry, 0);
    if (HalpQueryRealTimeClock(&WallClock)) {
        /* The clock was read now; boot (loader entry) was a bit earlier. */
        ULONG64 SinceBoot = KiTimestampTo100ns(Now - Block->TscLoaderEntry);
        KiInitializeTime(Frequency, Block->TscLoaderEntry,
                         WallClock > SinceBoot ? WallClock - SinceBoot : 0);
    }

    KiPrintBanner();
    KiPrintBootPhase("loader entry", Block->TscLoaderEntry);
    KiPrintBootPhase("kernel entry", KiKernelEntryTimestamp);
    KiPrintBootPhase("processor initialized", ProcessorReady);
    KiPrintBootPhase("clock calibrated", Now);

    MmPhysicalMapBase = Block->PhysicalMapBase;
    MiPhysicalMapSize = Block->PhysicalMapSize;
    Status = MiInitializePhysicalAllocator(Block->MemoryDescriptors, Block->MemoryDescriptorCount);
    if (!NT_SUCCESS(Status)) {
        KipFail("MiInitializePhysicalAllocator", Status);
    }
    Status = MiInitializeKernelAddressSpace(Block);
    if (!NT_SUCCESS(Status)) {
        KipFail("MiInitializeKernelAddressSpace", Status);
    }
    Status = MiInitializeKernelPages();
    if (!NT_SUCCESS(Status)) {
        KipFail("MiInitializeKernelPages", Status);
    }
    MemoryReady = KiReadTimestamp();
    KiPrintBootPhase("memory manager initialized", MemoryReady);
    /* The executive pool's boot options (specialpool=). */
    ExpInitializePool(Block->CommandLine);

    Status = HalpStartClock(KI_TIME_INCREMENT / 10);
    if (!NT_SUCCESS(Status)) {
        KipFail("HalpStartClock", Status);
    }
    KiWriteIrql(PASSIVE_LEVEL);
    KiRestoreInterrupts(TRUE);
    ClockReady = KiReadTimestamp();
    KiPrintBootPhase("clock started", ClockReady);

    /* kecore: the boot code becomes processor 0's idle thread. */
    KiInitializeScheduler();

    /* smp: the application processors (each ends in its idle loop). */
    KiStartSecondaryProcessors();

    /* kecore: phase 1 in a system thread; this processor idles. */
    KiStartPhase1((PVOID)Block->KernelVirtualBase, (ULONG)Block->KernelImageSize,
                  Block->BootImageSize != 0
                      ? (const VOID *)(MmPhysicalMapBase + Block->BootImagePhysical)
                      : NULL,
                  (SIZE_T)Block->BootImageSize, Block->CommandLine);
    KiIdleLoop();
}

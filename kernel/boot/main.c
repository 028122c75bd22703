/*
 * main.c - keelldr's flow, from the PVH start info to the jump into
 * ntoskrnl.exe: read what QEMU handed over (memory map, boot image,
 * command line, RSDP), find System32/ntoskrnl.exe in the boot image, map
 * it at its base (relocating it if that base is unusable), build the page
 * tables and the loader parameter block, and enter KiSystemStartup.
 * Any failure is reported on COM1 and ends the QEMU run (BlFatal).
 */
#include "bootp.h"
#include <wdm.h>
#include <cpio.h>
#include <ldr.h>

#define BLP_KERNEL_PATH "System32/ntoskrnl.exe"
#define BLP_STACK_SIZE  0x10000ULL
#define BLP_FOUR_GIB    0x100000000ULL
#define BLP_HIGHER_HALF 0xFFFF800000000000ULL

static CHAR BlpCommandLine[LOADER_MAX_COMMAND_LINE];

/* TRUE when the space-separated command line has Option as a word. */
static BOOLEAN BlpHasOption(PCSTR Option)
{
    SIZE_T Length = strlen(Option);
    PCSTR Cursor = BlpCommandLine;

    while (*Cursor != 0) {
        while (*Cursor == ' ') {
            Cursor++;
        }
        if (memcmp(Cursor, Option, Length) == 0 && (Cursor[Length] == ' ' || Cursor[Length] == 0)) {
            return TRUE;
        }
        while (*Cursor != 0 && *Cursor != ' ') {
            Cursor++;
        }
    }
    return FALSE;
}

static VOID BlpCopyCommandLine(UINT64 Physical)
{
    const CHAR *Source = (const CHAR *)(ULONG_PTR)Physical;
    ULONG Index;

    if (Physical == 0 || Physical >= BLP_FOUR_GIB) {
        return;
    }
    for (Index = 0; Index < LOADER_MAX_COMMAND_LINE - 1 && Source[Index] != 0; Index++) {
        BlpCommandLine[Index] = Source[Index];
    }
    BlpCommandLine[Index] = 0;
}

/* The kernel must live in the canonical higher half, clear of the
 * physical map's PML4 slots. */
static BOOLEAN BlpUsableKernelBase(UINT64 Base, UINT64 Size, UINT64 PhysicalMapSize)
{
    UINT64 PhysicalMapEnd =
        BL_PHYSICAL_MAP_BASE + ((PhysicalMapSize + 0x7FFFFFFFFFULL) & ~0x7FFFFFFFFFULL);

    if (Base < BLP_HIGHER_HALF || Base + Size < Base || Base + Size == 0) {
        return FALSE;
    }
    return Base >= PhysicalMapEnd;
}

static const CHAR *const BlpTypeNames[] = {
    [LoaderFree] = "Free",
    [LoaderLoadedProgram] = "LoadedProgram",
    [LoaderFirmwarePermanent] = "FirmwarePermanent",
    [LoaderOsloaderStack] = "OsloaderStack",
    [LoaderSystemCode] = "SystemCode",
    [LoaderRegistryData] = "RegistryData",
    [LoaderMemoryData] = "MemoryData",
};

static VOID BlpDumpBlock(const LOADER_PARAMETER_BLOCK *Block)
{
    ULONG Index;

    BlPutString("keelldr: kernel at ");
    BlPutHex(Block->KernelVirtualBase);
    BlPutString(" (physical ");
    BlPutHex(Block->KernelPhysicalBase);
    BlPutString("), entry ");
    BlPutHex(Block->KernelEntry);
    BlPutString("\nkeelldr: boot image at ");
    BlPutHex(Block->BootImagePhysical);
    BlPutString(", ");
    BlPutDecimal(Block->BootImageSize);
    BlPutString(" bytes\n");
    for (Index = 0; Index < Block->MemoryDescriptorCount; Index++) {
        const MEMORY_ALLOCATION_DESCRIPTOR *Descriptor = &Block->MemoryDescriptors[Index];
        PCSTR Name = Descriptor->MemoryType < RTL_NUMBER_OF(BlpTypeNames)
                         ? BlpTypeNames[Descriptor->MemoryType]
                         : NULL;
        BlPutString("keelldr: memory ");
        BlPutHex(Descriptor->BasePage * BL_PAGE_SIZE);
        BlPutString(" pages ");
        BlPutDecimal(Descriptor->PageCount);
        BlPutString(" ");
        BlPutString(Name != NULL ? Name : "?");
        BlPutString("\n");
    }
}

DECLSPEC_NORETURN VOID BlMain(UINT32 StartInfoPhysical)
{
    const HVM_START_INFO *StartInfo = (const HVM_START_INFO *)(ULONG_PTR)StartInfoPhysical;
    HVM_MODLIST_ENTRY Module;
    CPIO_ENTRY Kernel;
    LDR_IMAGE_INFO Info;
    PLOADER_PARAMETER_BLOCK Block;
    PCSTR Defect = NULL;
    NTSTATUS Status;
    UINT64 KernelPhysical;
    UINT64 KernelPages;
    UINT64 KernelBase;
    UINT64 PhysicalMapSize;
    UINT64 Stack;
    UINT64 StackTop;
    UINT64 Page;

    BlConsoleInitialize();
    if (StartInfo == NULL || StartInfo->Magic != HVM_START_MAGIC_VALUE) {
        BlFatal("no PVH start info (bad magic in EBX)", NULL);
    }
    if (StartInfo->Version < 1 || StartInfo->MemmapPaddr == 0 || StartInfo->MemmapEntries == 0 ||
        StartInfo->MemmapPaddr >= BLP_FOUR_GIB) {
        BlFatal("no memory map in the PVH start info (version 0?)", NULL);
    }

    /* Copy everything out of the start info before allocating anything. */
    BlpCopyCommandLine(StartInfo->CmdlinePaddr);
    BlMemoryInitialize((const HVM_MEMMAP_ENTRY *)(ULONG_PTR)StartInfo->MemmapPaddr,
                       StartInfo->MemmapEntries < 128 ? StartInfo->MemmapEntries : 128);
    BlMemoryReserve((UINT64)(ULONG_PTR)BlpLoaderStart,
                    (UINT64)(ULONG_PTR)(BlpLoaderEnd - BlpLoaderStart), LoaderLoadedProgram);
    if (StartInfo->NrModules == 0 || StartInfo->ModlistPaddr == 0 ||
        StartInfo->ModlistPaddr >= BLP_FOUR_GIB) {
        BlFatal("no boot image: start QEMU with -initrd <image.cpio>", NULL);
    }
    Module = *(const HVM_MODLIST_ENTRY *)(ULONG_PTR)StartInfo->ModlistPaddr;
    if (Module.Size == 0 || Module.Paddr >= BLP_FOUR_GIB ||
        Module.Size > BLP_FOUR_GIB - Module.Paddr) {
        BlFatal("the boot image is empty or above 4 GiB", NULL);
    }
    BlMemoryReserve(Module.Paddr, Module.Size, LoaderRegistryData);

    /* The kernel file, inside the boot image. */
    Status = RtlCpioFindFile((const VOID *)(ULONG_PTR)Module.Paddr, Module.Size, BLP_KERNEL_PATH,
                             &Kernel);
    if (Status == STATUS_OBJECT_NAME_NOT_FOUND) {
        BlFatal(BLP_KERNEL_PATH " not found in the boot image", NULL);
    } else if (!NT_SUCCESS(Status)) {
        BlFatal("the boot image is not a valid cpio (newc) archive", NULL);
    }
    Status = LdrValidateImageEx(Kernel.Data, Kernel.DataSize, &Info, &Defect);
    if (!NT_SUCCESS(Status)) {
        BlFatal("ntoskrnl.exe is not a valid x64 PE image: ", Defect);
    }
    if (Info.EntryPointRva == 0) {
        BlFatal("ntoskrnl.exe has no entry point", NULL);
    }

    /* Map it, physically contiguous, and move it if its base is unusable. */
    PhysicalMapSize = BlHighestRamAddress();
    if (PhysicalMapSize < BLP_FOUR_GIB) {
        PhysicalMapSize = BLP_FOUR_GIB;
    }
    PhysicalMapSize = (PhysicalMapSize + 0x3FFFFFFFULL) & ~0x3FFFFFFFULL;
    KernelPages = BL_PAGES((UINT64)Info.SizeOfImage);
    /* LdrMapImage zero-fills what it does not copy. */
    KernelPhysical = BlAllocatePagesNoZero(KernelPages, LoaderSystemCode);
    Status = LdrMapImage(Kernel.Data, Kernel.DataSize, (PVOID)(ULONG_PTR)KernelPhysical,
                         KernelPages * BL_PAGE_SIZE);
    if (!NT_SUCCESS(Status)) {
        BlFatal("ntoskrnl.exe could not be mapped", NULL);
    }
    KernelBase = Info.ImageBase;
    if (!BlpUsableKernelBase(KernelBase, KernelPages * BL_PAGE_SIZE, PhysicalMapSize)) {
        KernelBase = BL_FALLBACK_KERNEL_BASE;
        Status = LdrRelocateImage((PVOID)(ULONG_PTR)KernelPhysical, KernelPages * BL_PAGE_SIZE,
                                  KernelBase);
        if (Status == STATUS_CONFLICTING_ADDRESSES) {
            BlFatal("ntoskrnl.exe must move from its base but has no relocations", NULL);
        } else if (!NT_SUCCESS(Status)) {
            BlFatal("ntoskrnl.exe has bad base relocations", NULL);
        }
    }

    Block = (PLOADER_PARAMETER_BLOCK)(ULONG_PTR)BlAllocatePages(
        BL_PAGES(sizeof(LOADER_PARAMETER_BLOCK)), LoaderMemoryData);
    Stack = BlAllocatePages(BLP_STACK_SIZE / BL_PAGE_SIZE, LoaderOsloaderStack);

    BlPagingInitialize(BlpCpuHasNx());
    BlMapPhysicalMemory(PhysicalMapSize);
    for (Page = 0; Page < KernelPages; Page++) {
        BlMapPage(KernelBase + Page * BL_PAGE_SIZE, KernelPhysical + Page * BL_PAGE_SIZE);
    }

    /* The block; the memory map goes last, after the final allocation. */
    StackTop = BL_PHYSICAL_MAP_BASE + Stack + BLP_STACK_SIZE;
    Block->Signature = LOADER_BLOCK_SIGNATURE;
    Block->Version = LOADER_BLOCK_VERSION;
    Block->Size = sizeof(LOADER_PARAMETER_BLOCK);
    Block->KernelVirtualBase = KernelBase;
    Block->KernelPhysicalBase = KernelPhysical;
    Block->KernelImageSize = Info.SizeOfImage;
    Block->KernelEntry = KernelBase + Info.EntryPointRva;
    Block->BootImagePhysical = Module.Paddr;
    Block->BootImageSize = Module.Size;
    Block->PhysicalMapBase = BL_PHYSICAL_MAP_BASE;
    Block->PhysicalMapSize = PhysicalMapSize;
    Block->PageTableRoot = BlPageTableRoot();
    Block->KernelStackTop = StackTop;
    Block->KernelStackSize = BLP_STACK_SIZE;
    Block->AcpiRsdpPhysical = StartInfo->RsdpPaddr;
    Block->TscLoaderEntry = BlpTscAtEntry;
    memcpy(Block->CommandLine, BlpCommandLine, sizeof(Block->CommandLine));
    Block->CommandLine[LOADER_MAX_COMMAND_LINE - 1] = 0;
    Block->MemoryDescriptorCount =
        BlBuildMemoryDescriptors(Block->MemoryDescriptors, LOADER_MAX_MEMORY_DESCRIPTORS);
    if (BlpHasOption("ldrdebug")) {
        BlpDumpBlock(Block);
    }

    /* Microsoft x64 entry state: 32 bytes of home space above a (zero)
     * return address, so RSP + 8 is 16-byte aligned. The stack is reached
     * through the physical map; the identity-mapped copy of the same page
     * receives the zero return slot now. */
    *(UINT64 *)(ULONG_PTR)(Stack + BLP_STACK_SIZE - 40) = 0;
    Block->TscKernelJump = BlpReadTsc();
    BlpTransferToKernel(Block->KernelEntry, BL_PHYSICAL_MAP_BASE + (UINT64)(ULONG_PTR)Block,
                        StackTop - 40, Block->PageTableRoot);
}

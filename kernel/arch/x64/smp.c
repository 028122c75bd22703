/*
 * smp.c - starting the application processors (x64). The boot processor
 * finds the processors (HalpEnumerateProcessors: ACPI MADT, else fw_cfg),
 * copies the real-mode trampoline (apstart.S) to a page below 1 MiB,
 * builds a temporary PML4 below 4 GiB (the kernel's top level plus an
 * identity map of the low 2 MiB for the mode switch), and starts the
 * processors with INIT-SIPI-SIPI (Intel SDM vol. 3, 8.4.4): INIT to all,
 * one 10 ms wait, then one at a time a STARTUP, and a second STARTUP only
 * if the first did not wake the processor. Each gets a startup block (KPCR/KPRCB, GDT, TSS) and
 * stacks (its initial stack, which becomes its idle thread's, and the
 * three IST stacks) before it is woken; in KiSecondaryProcessorStartup it
 * switches to the kernel's page tables, loads its tables, starts its local
 * APIC and clock tick, prepares its scheduler state, registers itself and
 * enters KiIdleLoop. Every wait is bounded: a processor that does not
 * come up is reported, put back into wait-for-SIPI with INIT, and skipped.
 */
#include <ntddk.h>
#include <hal.h>
#include <ke.h>
#include <mm.h>
#include "archp.h"

#define MSR_EFER        0xC0000080
#define CR4_PCIDE       (1ull << 17)
#define PTE_PRESENT     0x001ull
#define PTE_WRITE       0x002ull
#define PTE_LARGE       0x080ull
#define KI_LOW_PAGE_MAX 0x9F     /* below the 0xA0000 legacy hole */
#define KI_BELOW_4G_MAX 0xFFFFFu /* last PFN below 4 GiB */

/* Microseconds: the INIT settle time from the SDM, how long a woken
 * processor may take to reach the trampoline, and to reach its idle loop
 * (generous: a TCG vCPU thread may wait for a host core). */
#define KI_INIT_DELAY_US   10000
#define KI_ALIVE_WAIT_US   20000
#define KI_STARTUP_WAIT_US 2000000

/* Shared with apstart.S (offsets there). */
typedef struct _KI_AP_TRAMPOLINE_DATA {
    ULONG Cr4;
    ULONG Efer;
    ULONG Cr0;
    ULONG Cr3; /* the temporary PML4 (below 4 GiB) */
    ULONG64 Entry;
    ULONG64 Stack;
    ULONG64 Argument;
    volatile ULONG Alive;
    ULONG Reserved;
} KI_AP_TRAMPOLINE_DATA;

_Static_assert(sizeof(KI_AP_TRAMPOLINE_DATA) == 48, "apstart.S reserves 48 bytes");
_Static_assert(offsetof(KI_AP_TRAMPOLINE_DATA, Alive) == 40, "apstart.S AP_ALIVE");

/* Everything one application processor owns from the start. */
typedef struct _KI_AP_BLOCK {
    KPCR Pcr;
    KI_PROCESSOR_TABLES Tables __attribute__((aligned(16)));
    ULONG Number;
    ULONG ApicId;
    ULONG64 KernelCr3;
    ULONG_PTR StackBase;
    ULONG_PTR StackLimit;
    ULONG64 Ist[TSS_IST_NMI + 1];
    volatile LONG Started;
} KI_AP_BLOCK, *PKI_AP_BLOCK;

extern UCHAR KiApTrampolineStart[];
extern UCHAR KiApTrampolineData[];
extern UCHAR KiApTrampolineEnd[];
extern UCHAR KiSecondaryStartupStub[];

DECLSPEC_NORETURN VOID KiSecondaryProcessorStartup(PKI_AP_BLOCK Block);

static PVOID KipPhysicalToVirtual(PFN_NUMBER Pfn)
{
    return (PVOID)(MmPhysicalMapBase + ((ULONG_PTR)Pfn << PAGE_SHIFT));
}

static BOOLEAN KipWaitFor(volatile ULONG *Flag, ULONG64 Microseconds)
{
    ULONG64 Start = KiReadTimestamp();

    while (__atomic_load_n(Flag, __ATOMIC_ACQUIRE) == 0) {
        if (KiTimestampToMicroseconds(KiReadTimestamp() - Start) > Microseconds) {
            return FALSE;
        }
        __builtin_ia32_pause();
    }
    return TRUE;
}

DECLSPEC_NORETURN VOID KiSecondaryProcessorStartup(PKI_AP_BLOCK Block)
{
    PKPRCB Prcb;
    NTSTATUS Status;

    /* Leave the temporary tables: the kernel's own, as on the boot
     * processor (the stack and this block are in the system range, mapped
     * in both). */
    KiWriteCr3(Block->KernelCr3);
    KiInitializeSecondaryProcessor(&Block->Tables, &Block->Pcr, Block->Number, Block->StackBase,
                                   Block->Ist);
    KiWriteIrql(DISPATCH_LEVEL);

    Prcb = KeGetCurrentPrcb();
    Prcb->ApicId = Block->ApicId;
    Prcb->TimestampFrequency = KiQueryTimestampFrequency();
    Status = HalpStartProcessorClock();
    if (!NT_SUCCESS(Status)) {
        /* Not registered: the boot processor times out and reports it. */
        KiHaltProcessor();
    }
    KiInitializeProcessorScheduler(Prcb);
    KiRegisterProcessor(Prcb);
    __atomic_store_n(&Block->Started, 1, __ATOMIC_RELEASE);

    KiIdleLoop();
}

/* Frees a block and whatever stacks it has (only for a processor that was
 * never sent a STARTUP). */
static VOID KipDeleteApBlock(PKI_AP_BLOCK Block)
{
    for (ULONG i = TSS_IST_PANIC; i <= TSS_IST_NMI; i++) {
        if (Block->Ist[i] != 0) {
            MmDeleteKernelStack((PVOID)Block->Ist[i], KI_IST_STACK_SIZE);
        }
    }
    if (Block->StackBase != 0) {
        MmDeleteKernelStack((PVOID)Block->StackBase, KERNEL_STACK_SIZE);
    }
    MiFreeKernelPages(Block, BYTES_TO_PAGES(sizeof(KI_AP_BLOCK)));
}

/* The per-processor block and stacks; NULL (nothing kept) on failure. */
static PKI_AP_BLOCK KipCreateApBlock(ULONG Number, ULONG ApicId)
{
    PKI_AP_BLOCK Block = MiAllocateKernelPages(BYTES_TO_PAGES(sizeof(KI_AP_BLOCK)));
    ULONG_PTR Limit;
    ULONG i;

    if (Block == NULL) {
        return NULL;
    }
    Block->Number = Number;
    Block->ApicId = ApicId;
    Block->KernelCr3 = KiReadCr3();
    Block->StackBase = (ULONG_PTR)MmCreateKernelStack(KERNEL_STACK_SIZE, &Block->StackLimit);
    if (Block->StackBase == 0) {
        goto Fail;
    }
    for (i = TSS_IST_PANIC; i <= TSS_IST_NMI; i++) {
        Block->Ist[i] = (ULONG64)MmCreateKernelStack(KI_IST_STACK_SIZE, &Limit);
        if (Block->Ist[i] == 0) {
            goto Fail;
        }
    }
    return Block;

Fail:
    KipDeleteApBlock(Block);
    return NULL;
}

/* SIPI-SIPI for one processor that has been sent INIT. TRUE once it
 * reached its idle loop. */
static BOOLEAN KipStartProcessor(KI_AP_TRAMPOLINE_DATA *Data, ULONG TrampolinePage,
                                 PKI_AP_BLOCK Block)
{
    Data->Stack = Block->StackBase;
    Data->Argument = (ULONG64)Block;
    __atomic_store_n(&Data->Alive, 0, __ATOMIC_RELEASE);

    if (!HalpSendStartupIpi(Block->ApicId, TrampolinePage)) {
        return FALSE;
    }
    if (!KipWaitFor(&Data->Alive, KI_ALIVE_WAIT_US)) {
        /* The SDM's second STARTUP, for processors that missed the first. */
        if (!HalpSendStartupIpi(Block->ApicId, TrampolinePage) ||
            !KipWaitFor(&Data->Alive, KI_ALIVE_WAIT_US)) {
            return FALSE;
        }
    }
    return KipWaitFor((volatile ULONG *)&Block->Started, KI_STARTUP_WAIT_US);
}

/* The temporary PML4: the kernel's top level (so the jump into the image
 * works) plus the low 2 MiB identity mapped with one large page. */
static BOOLEAN KipBuildStartupTables(PFN_NUMBER Tables[3])
{
    PULONG64 Pml4, Pdpt, Pd;

    for (ULONG i = 0; i < 3; i++) {
        if (!MiAllocateContiguousPhysicalPages(1, KI_BELOW_4G_MAX, &Tables[i])) {
            while (i-- > 0) {
                MiFreeContiguousPhysicalPages(Tables[i], 1);
            }
            return FALSE;
        }
    }
    Pml4 = KipPhysicalToVirtual(Tables[0]);
    Pdpt = KipPhysicalToVirtual(Tables[1]);
    Pd = KipPhysicalToVirtual(Tables[2]);
    memcpy(Pml4, (PVOID)(MmPhysicalMapBase + (KiReadCr3() & ~0xFFFull)), PAGE_SIZE);
    memset(Pdpt, 0, PAGE_SIZE);
    memset(Pd, 0, PAGE_SIZE);
    Pml4[0] = ((ULONG64)Tables[1] << PAGE_SHIFT) | PTE_PRESENT | PTE_WRITE;
    Pdpt[0] = ((ULONG64)Tables[2] << PAGE_SHIFT) | PTE_PRESENT | PTE_WRITE;
    Pd[0] = PTE_PRESENT | PTE_WRITE | PTE_LARGE;
    return TRUE;
}

VOID KiStartSecondaryProcessors(VOID)
{
    static ULONG ApicIds[MAXIMUM_PROCESSORS];
    static PKI_AP_BLOCK Blocks[MAXIMUM_PROCESSORS];
    PKPRCB BootPrcb = KeGetCurrentPrcb();
    KI_AP_TRAMPOLINE_DATA *Data;
    PFN_NUMBER TrampolinePfn, Tables[3];
    PCSTR Source;
    ULONG Count, Number = 1, Pending = 0, Failed = 0;
    PUCHAR Trampoline;

    BootPrcb->ApicId = HalpGetLocalApicId();
    Count = HalpEnumerateProcessors(KeLoaderBlock != NULL ? KeLoaderBlock->AcpiRsdpPhysical : 0,
                                    ApicIds, MAXIMUM_PROCESSORS, &Source);
    KiMaximumProcessors = Count > 1 ? Count : 1;

    if (Count > 1) {
        if (!MiAllocateContiguousPhysicalPages(1, KI_LOW_PAGE_MAX, &TrampolinePfn)) {
            DbgPrint("smp: no free page below 640 KiB for the startup code; "
                     "application processors not started\n");
            Count = 0;
        } else if (!KipBuildStartupTables(Tables)) {
            DbgPrint("smp: no memory for the startup page tables; "
                     "application processors not started\n");
            MiFreeContiguousPhysicalPages(TrampolinePfn, 1);
            Count = 0;
        }
    }

    if (Count > 1) {
        Trampoline = KipPhysicalToVirtual(TrampolinePfn);
        memcpy(Trampoline, KiApTrampolineStart, (SIZE_T)(KiApTrampolineEnd - KiApTrampolineStart));
        Data = (KI_AP_TRAMPOLINE_DATA *)(Trampoline + (KiApTrampolineData - KiApTrampolineStart));
        memset(Data, 0, sizeof(*Data));
        Data->Cr4 = (ULONG)(KiReadCr4() & ~CR4_PCIDE);
        Data->Efer = (ULONG)KiReadMsr(MSR_EFER);
        Data->Cr0 = (ULONG)KiReadCr0();
        Data->Cr3 = (ULONG)((ULONG64)Tables[0] << PAGE_SHIFT);
        Data->Entry = (ULONG64)KiSecondaryStartupStub;

        /* INIT every processor first and let them all settle during one
         * 10 ms wait; they then sit in wait-for-SIPI until started one at
         * a time (they share the trampoline's data block). */
        for (ULONG i = 0; i < Count && 1 + Pending < MAXIMUM_PROCESSORS; i++) {
            if (ApicIds[i] == BootPrcb->ApicId) {
                continue;
            }
            if (ApicIds[i] > 0xFF) {
                DbgPrint("smp: processor with APIC id %u needs x2APIC; skipped\n", ApicIds[i]);
                Failed++;
                continue;
            }
            Blocks[Pending] = KipCreateApBlock(1 + Pending, ApicIds[i]);
            if (Blocks[Pending] == NULL) {
                DbgPrint("smp: no memory for processor %u; skipped\n", 1 + Pending);
                Failed++;
                continue;
            }
            if (!HalpSendInitIpi(ApicIds[i])) {
                DbgPrint("smp: INIT to APIC id %u not accepted; skipped\n", ApicIds[i]);
                KipDeleteApBlock(Blocks[Pending]);
                Failed++;
                continue;
            }
            Pending++;
        }
        KeStallExecutionProcessor(KI_INIT_DELAY_US);

        for (ULONG i = 0; i < Pending; i++) {
            PKI_AP_BLOCK Block = Blocks[i];

            /* Numbers stay dense when a processor fails. */
            Block->Number = Number;
            if (KipStartProcessor(Data, (ULONG)TrampolinePfn, Block)) {
                Number++;
            } else {
                /* Back to wait-for-SIPI, so it can never run later on a
                 * trampoline that describes another processor. Its block
                 * is kept: it may have started to use it. */
                HalpSendInitIpi(Block->ApicId);
                DbgPrint("smp: processor with APIC id %u did not start; skipped\n", Block->ApicId);
                Failed++;
            }
        }
        MiFreeContiguousPhysicalPages(TrampolinePfn, 1);
        for (ULONG i = 0; i < 3; i++) {
            MiFreeContiguousPhysicalPages(Tables[i], 1);
        }
    }

    DbgPrint("smp: %u processor%s online (%s%s)\n", (ULONG)KeNumberProcessors,
             KeNumberProcessors == 1 ? "" : "s", Source, Failed != 0 ? ", some failed" : "");
    KiPrintBootPhase("processors started", KiReadTimestamp());
}

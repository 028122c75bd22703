/*
 * cpu.c - each processor's descriptor tables and control region: a GDT
 * with NT's x64 selectors (kernel code/data, user code/data for later, the
 * TSS), a TSS whose interrupt stacks catch double faults, NMIs and machine
 * checks on known-good stacks, the IDT (one, shared: the 32 exceptions
 * plus the clock, spurious and IPI vectors), and the KPCR/KPRCB reached
 * through GS. The boot processor's live in the image; the others' come
 * from smp.c. Also the raw
 * processor primitives arch.h asks for (CR8 as IRQL, the interrupt flag,
 * the TSC, halting).
 */
#include <ntddk.h>
#include <hal.h>
#include "archp.h"

#define IA32_GS_BASE        0xC0000101
#define IA32_KERNEL_GS_BASE 0xC0000102

#pragma pack(push, 1)
typedef struct _KIDTENTRY64 {
    USHORT OffsetLow;
    USHORT Selector;
    USHORT IstIndexAndType; /* IST in bits 0-2, type/DPL/P in 8-15 */
    USHORT OffsetMiddle;
    ULONG OffsetHigh;
    ULONG Reserved;
} KIDTENTRY64;

typedef struct _KDESCRIPTOR {
    USHORT Limit;
    ULONG64 Base;
} KDESCRIPTOR;
#pragma pack(pop)

_Static_assert(sizeof(KIDTENTRY64) == 16, "IDT entry layout");

/* Stub addresses in trap.S: vectors 0-31, then the clock, spurious and
 * IPI vectors. */
extern const ULONG64 KiTrapStubs[35];

UCHAR KiBootStack[KI_BOOT_STACK_SIZE] __attribute__((aligned(16)));
ULONG64 KiKernelEntryTimestamp;

static UCHAR KiPanicStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));
static UCHAR KiMcaStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));
static UCHAR KiNmiStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));

static ULONG64 KiGdt[KI_GDT_ENTRIES] __attribute__((aligned(16)));
static KTSS64 KiTss __attribute__((aligned(16)));
static KIDTENTRY64 KiIdt[256] __attribute__((aligned(16)));
static KPCR KiBootPcr __attribute__((aligned(64)));

static VOID KipSetTssDescriptor(PULONG64 Gdt, ULONG Selector, ULONG64 Base, ULONG Limit)
{
    ULONG Index = Selector / 8;
    /* Present, 64-bit available TSS (type 9). */
    Gdt[Index] = (Limit & 0xFFFFull) | ((Base & 0xFFFFFFull) << 16) | (0x89ull << 40) |
                 ((ULONG64)(Limit >> 16) & 0xF) << 48 | ((Base >> 24) & 0xFFull) << 56;
    Gdt[Index + 1] = Base >> 32;
}

static VOID KipSetIdtEntry(ULONG Vector, ULONG64 Handler, ULONG Ist)
{
    KIDTENTRY64 *Entry = &KiIdt[Vector];
    Entry->OffsetLow = (USHORT)Handler;
    Entry->Selector = KGDT64_R0_CODE;
    /* Present, DPL 0, 64-bit interrupt gate (interrupts stay off in the
     * handler until it decides otherwise). */
    Entry->IstIndexAndType = (USHORT)((Ist & 7) | (0x8E << 8));
    Entry->OffsetMiddle = (USHORT)(Handler >> 16);
    Entry->OffsetHigh = (ULONG)(Handler >> 32);
    Entry->Reserved = 0;
}

/* Fills a GDT and TSS for one processor, loads them (GDTR, segment
 * registers, task register) and the shared IDT. Every processor has its own
 * GDT because the TSS descriptor records "busy" and points at that
 * processor's TSS. */
static VOID KipLoadProcessorTables(PULONG64 Gdt, KTSS64 *Tss, ULONG64 Rsp0, const ULONG64 *Ist)
{
    KDESCRIPTOR Gdtr, Idtr;

    Gdt[KGDT64_NULL / 8] = 0;
    Gdt[1] = 0;
    Gdt[KGDT64_R0_CODE / 8] = 0x00209A0000000000ull;   /* 64-bit code, DPL 0 */
    Gdt[KGDT64_R0_DATA / 8] = 0x00CF92000000FFFFull;   /* data, DPL 0 */
    Gdt[KGDT64_R3_CMCODE / 8] = 0x00CFFA000000FFFFull; /* 32-bit code, DPL 3 */
    Gdt[KGDT64_R3_DATA / 8] = 0x00CFF2000000FFFFull;   /* data, DPL 3 */
    Gdt[KGDT64_R3_CODE / 8] = 0x0020FA0000000000ull;   /* 64-bit code, DPL 3 */
    Gdt[7] = 0;
    KipSetTssDescriptor(Gdt, KGDT64_SYS_TSS, (ULONG64)Tss, sizeof(*Tss) - 1);
    Gdt[KGDT64_R3_CMTEB / 8] = 0x00CFF2000000FFFFull; /* 32-bit TEB, DPL 3 */

    memset(Tss, 0, sizeof(*Tss));
    Tss->Rsp0 = Rsp0;
    Tss->Ist[TSS_IST_PANIC] = Ist[TSS_IST_PANIC];
    Tss->Ist[TSS_IST_MCA] = Ist[TSS_IST_MCA];
    Tss->Ist[TSS_IST_NMI] = Ist[TSS_IST_NMI];
    Tss->IoMapBase = sizeof(*Tss); /* no I/O permission bitmap */

    Gdtr.Limit = KI_GDT_ENTRIES * sizeof(ULONG64) - 1;
    Gdtr.Base = (ULONG64)Gdt;
    __asm__ volatile("lgdt %0" : : "m"(Gdtr) : "memory");
    /* Reload CS with a far return, then the data segments. */
    __asm__ volatile("pushq %0\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:"
                     :
                     : "i"(KGDT64_R0_CODE)
                     : "rax", "memory");
    __asm__ volatile("movw %w0, %%ds\n\t"
                     "movw %w0, %%es\n\t"
                     "movw %w0, %%ss\n\t"
                     "movw %w1, %%fs\n\t"
                     "movw %w1, %%gs"
                     :
                     : "r"(KGDT64_R0_DATA), "r"(0)
                     : "memory");
    __asm__ volatile("ltr %w0" : : "r"(KGDT64_SYS_TSS));

    Idtr.Limit = sizeof(KiIdt) - 1;
    Idtr.Base = (ULONG64)KiIdt;
    __asm__ volatile("lidt %0" : : "m"(Idtr) : "memory");
}

/* The control region: GS base in kernel mode; KERNEL_GS_BASE holds the
 * same until user mode gives swapgs something to swap with. */
static VOID KipInitializePcr(PKPCR Pcr, PULONG64 Gdt, KTSS64 *Tss, ULONG Number)
{
    memset(Pcr, 0, sizeof(*Pcr));
    Pcr->Self = Pcr;
    Pcr->CurrentPrcb = &Pcr->Prcb;
    Pcr->GdtBase = Gdt;
    Pcr->TssBase = Tss;
    Pcr->IdtBase = KiIdt;
    Pcr->Prcb.Number = (USHORT)Number;
    KiWriteMsr(IA32_GS_BASE, (ULONG64)Pcr);
    KiWriteMsr(IA32_KERNEL_GS_BASE, (ULONG64)Pcr);

    /* Supervisor writes honour read-only pages (for section protections). */
    KiWriteCr0(KiReadCr0() | (1ull << 16));
}

VOID KiInitializeProcessor(VOID)
{
    ULONG64 Ist[TSS_IST_NMI + 1] = { 0 };

    memset(KiIdt, 0, sizeof(KiIdt));
    for (ULONG Vector = 0; Vector < 32; Vector++) {
        ULONG IstIndex = Vector == 8    ? TSS_IST_PANIC
                         : Vector == 2  ? TSS_IST_NMI
                         : Vector == 18 ? TSS_IST_MCA
                                        : 0;
        KipSetIdtEntry(Vector, KiTrapStubs[Vector], IstIndex);
    }
    KipSetIdtEntry(HAL_CLOCK_VECTOR, KiTrapStubs[32], 0);
    KipSetIdtEntry(HAL_SPURIOUS_VECTOR, KiTrapStubs[33], 0);
    KipSetIdtEntry(HAL_IPI_VECTOR, KiTrapStubs[34], 0);

    Ist[TSS_IST_PANIC] = (ULONG64)&KiPanicStack[KI_IST_STACK_SIZE];
    Ist[TSS_IST_MCA] = (ULONG64)&KiMcaStack[KI_IST_STACK_SIZE];
    Ist[TSS_IST_NMI] = (ULONG64)&KiNmiStack[KI_IST_STACK_SIZE];
    KipLoadProcessorTables(KiGdt, &KiTss, (ULONG64)&KiBootStack[KI_BOOT_STACK_SIZE], Ist);
    KipInitializePcr(&KiBootPcr, KiGdt, &KiTss, 0);
}

VOID KiInitializeSecondaryProcessor(PKI_PROCESSOR_TABLES Tables, PKPCR Pcr, ULONG Number,
                                    ULONG64 Rsp0, const ULONG64 *Ist)
{
    KipLoadProcessorTables(Tables->Gdt, &Tables->Tss, Rsp0, Ist);
    KipInitializePcr(Pcr, Tables->Gdt, &Tables->Tss, Number);
}

KIRQL KiReadIrql(VOID)
{
    ULONG64 Cr8;
    __asm__ volatile("movq %%cr8, %0" : "=r"(Cr8));
    return (KIRQL)Cr8;
}

VOID KiWriteIrql(KIRQL Irql)
{
    /* On x64 CR8 is the APIC task priority: vectors whose class (vector >>
     * 4) is not above it stay pending. */
    __asm__ volatile("movq %0, %%cr8" : : "r"((ULONG64)Irql) : "memory");
}

BOOLEAN KiDisableInterrupts(VOID)
{
    ULONG64 Flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(Flags) : : "memory");
    return (Flags & 0x200) != 0;
}

VOID KiRestoreInterrupts(BOOLEAN Enable)
{
    if (Enable) {
        __asm__ volatile("sti" : : : "memory");
    }
}

ULONG64 KiReadTimestamp(VOID)
{
    ULONG Low, High;
    __asm__ volatile("rdtsc" : "=a"(Low), "=d"(High));
    return ((ULONG64)High << 32) | Low;
}

DECLSPEC_NORETURN VOID KiHaltProcessor(VOID)
{
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}

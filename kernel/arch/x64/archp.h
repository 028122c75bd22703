/*
 * archp.h - private interface between the files of kernel/arch/x64.
 */
#ifndef _ARCHP_
#define _ARCHP_

#include <ntddk.h>
#include <arc.h>
#include <arch.h>

/* NT x64 selector values. */
#define KGDT64_NULL      0x00
#define KGDT64_R0_CODE   0x10
#define KGDT64_R0_DATA   0x18
#define KGDT64_R3_CMCODE 0x20
#define KGDT64_R3_DATA   0x28
#define KGDT64_R3_CODE   0x30
#define KGDT64_SYS_TSS   0x40
#define KGDT64_R3_CMTEB  0x50
#define RPL_MASK         3

/* Interrupt stack table slots (NT's assignment). */
#define TSS_IST_PANIC 1 /* double fault */
#define TSS_IST_MCA   2 /* machine check */
#define TSS_IST_NMI   3

#define KI_BOOT_STACK_SIZE 0x10000
#define KI_IST_STACK_SIZE  0x4000

extern UCHAR KiBootStack[KI_BOOT_STACK_SIZE];
extern ULONG64 KiKernelEntryTimestamp;

#define KI_GDT_ENTRIES 11

#pragma pack(push, 1)
typedef struct _KTSS64 {
    ULONG Reserved0;
    ULONG64 Rsp0;
    ULONG64 Rsp1;
    ULONG64 Rsp2;
    ULONG64 Ist[8]; /* Ist[0] is reserved by the hardware */
    ULONG64 Reserved1;
    USHORT Reserved2;
    USHORT IoMapBase;
} KTSS64;
#pragma pack(pop)

_Static_assert(sizeof(KTSS64) == 0x68, "TSS layout");

/* A processor's own GDT and TSS (the IDT is shared). */
typedef struct _KI_PROCESSOR_TABLES {
    ULONG64 Gdt[KI_GDT_ENTRIES];
    ULONG64 Reserved;
    KTSS64 Tss;
} KI_PROCESSOR_TABLES, *PKI_PROCESSOR_TABLES;

/* cpu.c: GDT, TSS, IDT and the boot processor's KPCR (GS base). */
VOID KiInitializeProcessor(VOID);
/* cpu.c: the same for an application processor, on its own tables and
 * KPCR; Ist is indexed by TSS_IST_*. */
VOID KiInitializeSecondaryProcessor(PKI_PROCESSOR_TABLES Tables, PKPCR Pcr, ULONG Number,
                                    ULONG64 Rsp0, const ULONG64 *Ist);

/* mmu.c: builds the kernel's page tables from the loader block, switches
 * to them and frees the loader's temporary memory. */
NTSTATUS MiInitializeKernelAddressSpace(PLOADER_PARAMETER_BLOCK LoaderBlock);

FORCEINLINE ULONG64 KiReadCr0(VOID)
{
    ULONG64 Value;
    __asm__ volatile("movq %%cr0, %0" : "=r"(Value));
    return Value;
}

FORCEINLINE VOID KiWriteCr0(ULONG64 Value)
{
    __asm__ volatile("movq %0, %%cr0" : : "r"(Value) : "memory");
}

FORCEINLINE ULONG64 KiReadCr3(VOID)
{
    ULONG64 Value;
    __asm__ volatile("movq %%cr3, %0" : "=r"(Value));
    return Value;
}

FORCEINLINE VOID KiWriteCr3(ULONG64 Value)
{
    __asm__ volatile("movq %0, %%cr3" : : "r"(Value) : "memory");
}

FORCEINLINE ULONG64 KiReadCr4(VOID)
{
    ULONG64 Value;
    __asm__ volatile("movq %%cr4, %0" : "=r"(Value));
    return Value;
}

FORCEINLINE VOID KiInvalidatePage(ULONG_PTR Va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(Va) : "memory");
}

FORCEINLINE ULONG64 KiReadMsr(ULONG Msr)
{
    ULONG Low, High;
    __asm__ volatile("rdmsr" : "=a"(Low), "=d"(High) : "c"(Msr));
    return ((ULONG64)High << 32) | Low;
}

FORCEINLINE VOID KiWriteMsr(ULONG Msr, ULONG64 Value)
{
    __asm__ volatile("wrmsr" : : "c"(Msr), "a"((ULONG)Value), "d"((ULONG)(Value >> 32)));
}

#endif /* _ARCHP_ */

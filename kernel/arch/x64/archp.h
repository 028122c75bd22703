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

/* cpu.c: GDT, TSS, IDT and the boot processor's KPCR (GS base). */
VOID KiInitializeProcessor(VOID);

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

/*
 * halp.h - private helpers of the bare-metal HAL: port I/O, MSRs and the
 * local APIC registers.
 */
#ifndef _HALP_
#define _HALP_

#include <ntdef.h>

FORCEINLINE UCHAR HalpInByte(USHORT Port)
{
    UCHAR Value;
    __asm__ volatile("inb %1, %0" : "=a"(Value) : "Nd"(Port));
    return Value;
}

FORCEINLINE VOID HalpOutByte(USHORT Port, UCHAR Value)
{
    __asm__ volatile("outb %0, %1" : : "a"(Value), "Nd"(Port));
}

FORCEINLINE VOID HalpOutLong(USHORT Port, ULONG Value)
{
    __asm__ volatile("outl %0, %1" : : "a"(Value), "Nd"(Port));
}

FORCEINLINE ULONG64 HalpReadMsr(ULONG Msr)
{
    ULONG Low, High;
    __asm__ volatile("rdmsr" : "=a"(Low), "=d"(High) : "c"(Msr));
    return ((ULONG64)High << 32) | Low;
}

FORCEINLINE VOID HalpWriteMsr(ULONG Msr, ULONG64 Value)
{
    __asm__ volatile("wrmsr" : : "c"(Msr), "a"((ULONG)Value), "d"((ULONG)(Value >> 32)));
}

/* apic.c: the current processor's local APIC registers; enabling it (the
 * first call maps the register page). */
ULONG HalpApicRead(ULONG Register);
VOID HalpApicWrite(ULONG Register, ULONG Value);
NTSTATUS HalpInitializeLocalApic(VOID);

#endif /* _HALP_ */

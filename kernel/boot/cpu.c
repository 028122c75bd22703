/*
 * cpu.c - the few privileged instructions the loader needs, as small
 * functions so the C code stays free of inline assembly.
 */
#include "bootp.h"

UINT64 BlpReadTsc(VOID)
{
    UINT32 Low;
    UINT32 High;

    __asm__ volatile("rdtsc" : "=a"(Low), "=d"(High));
    return ((UINT64)High << 32) | Low;
}

VOID BlpOutByte(USHORT Port, UCHAR Value)
{
    __asm__ volatile("outb %0, %1" : : "a"(Value), "Nd"(Port));
}

UCHAR BlpInByte(USHORT Port)
{
    UCHAR Value;

    __asm__ volatile("inb %1, %0" : "=a"(Value) : "Nd"(Port));
    return Value;
}

VOID BlpOutLong(USHORT Port, UINT32 Value)
{
    __asm__ volatile("outl %0, %1" : : "a"(Value), "Nd"(Port));
}

BOOLEAN BlpCpuHasNx(VOID)
{
    UINT32 Eax = 0x80000000;
    UINT32 Ebx;
    UINT32 Ecx = 0;
    UINT32 Edx;

    __asm__ volatile("cpuid" : "+a"(Eax), "=b"(Ebx), "+c"(Ecx), "=d"(Edx));
    if (Eax < 0x80000001) {
        return FALSE;
    }
    Eax = 0x80000001;
    Ecx = 0;
    __asm__ volatile("cpuid" : "+a"(Eax), "=b"(Ebx), "+c"(Ecx), "=d"(Edx));
    return (Edx & (1u << 20)) != 0;
}

/*
 * poolboot.c - the pool's boot-time setup and boot options: the processor
 * check for the interlocked lists (cmpxchg16b, CPUID.1:ECX.CX16),
 * "specialpool=TAG" (special pool for one tag, as Driver Verifier's
 * PoolTag setting). Misuse that must end in a stop screen is tested by
 * the ex_pool_misuse bug check cases (pool_bugcheck_test.c).
 */
#include "poolp.h"

static BOOLEAN ExpProcessorHasCmpxchg16b(VOID)
{
    ULONG Eax = 1, Ebx, Ecx = 0, Edx;

    __asm__ volatile("cpuid" : "+a"(Eax), "=b"(Ebx), "+c"(Ecx), "=d"(Edx));
    return (Ecx & (1u << 13)) != 0;
}

/* "Tst1" on the command line is the tag a driver writes '1tsT' (the
 * characters in memory order, as poolmon shows them); shorter names are
 * padded with spaces. */
static ULONG ExpParseTag(PCSTR Value, SIZE_T Length)
{
    ULONG Tag = 0;

    for (ULONG i = 0; i < 4; i++) {
        UCHAR c = i < Length ? (UCHAR)Value[i] : ' ';
        Tag |= (ULONG)c << (8 * i);
    }
    return Tag;
}

VOID ExpInitializePool(PCSTR CommandLine)
{
    PCSTR Value;
    SIZE_T Length;

    if (!ExpProcessorHasCmpxchg16b()) {
        DbgPrint("pool: the processor lacks cmpxchg16b (CPUID.1:ECX.CX16)\n");
        KeBugCheckEx(UNSUPPORTED_PROCESSOR, 0x16, 0, 0, 0);
    }
    if (CommandLine != NULL &&
        KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "specialpool", &Value, &Length) &&
        Length != 0) {
        CHAR Text[5];
        ExpSetSpecialPoolTag(ExpParseTag(Value, Length));
        ExpFormatTag(ExpQuerySpecialPoolTag(), Text);
        DbgPrint("pool: special pool for tag '%s'\n", Text);
    }
}

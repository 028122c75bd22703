/*
 * mem.c - the C memory and string primitives of the kernel (memcpy,
 * memmove, memset, memcmp, strlen, strcmp, wcslen). ntoskrnl exports them because
 * drivers import them, exactly as on NT. Built only in the kernel toolchain:
 * the hosted build uses libc's versions, which ASan instruments.
 *
 * The kernel is compiled with -fno-builtin, so the compiler will not turn
 * these loops back into calls to themselves; it still emits calls to
 * memcpy/memset for structure copies, which land here.
 */
#include <ntddk.h>

/* wdm.h declares these without an import/export attribute (the compiler
 * also knows them as builtins), so they are exported by linker directive. */
#pragma comment(linker, "/EXPORT:memcpy")
#pragma comment(linker, "/EXPORT:memmove")
#pragma comment(linker, "/EXPORT:memset")
#pragma comment(linker, "/EXPORT:memcmp")
#pragma comment(linker, "/EXPORT:strlen")
#pragma comment(linker, "/EXPORT:strcmp")
#pragma comment(linker, "/EXPORT:wcslen")

void *__cdecl memcpy(void *Destination, const void *Source, size_t Count)
{
    UCHAR *To = Destination;
    const UCHAR *From = Source;

    /* rep movsb is fast on every CPU with ERMSB and needs no SSE. */
    __asm__ volatile("rep movsb" : "+D"(To), "+S"(From), "+c"(Count) : : "memory");
    return Destination;
}

void *__cdecl memmove(void *Destination, const void *Source, size_t Count)
{
    UCHAR *To = Destination;
    const UCHAR *From = Source;

    if (To == From || Count == 0) {
        return Destination;
    }
    if ((ULONG_PTR)To < (ULONG_PTR)From || (ULONG_PTR)To >= (ULONG_PTR)From + Count) {
        __asm__ volatile("rep movsb" : "+D"(To), "+S"(From), "+c"(Count) : : "memory");
    } else {
        /* Overlap with the destination above the source: copy backwards.
         * (A plain loop rather than std/rep movsb: an interrupt arriving
         * with the direction flag set would break the ABI's DF=0 rule.) */
        while (Count != 0) {
            Count--;
            To[Count] = From[Count];
        }
    }
    return Destination;
}

void *__cdecl memset(void *Destination, int Value, size_t Count)
{
    UCHAR *To = Destination;

    __asm__ volatile("rep stosb" : "+D"(To), "+c"(Count) : "a"(Value) : "memory");
    return Destination;
}

int __cdecl memcmp(const void *Buffer1, const void *Buffer2, size_t Count)
{
    const UCHAR *Left = Buffer1;
    const UCHAR *Right = Buffer2;

    for (size_t Index = 0; Index < Count; Index++) {
        if (Left[Index] != Right[Index]) {
            return Left[Index] < Right[Index] ? -1 : 1;
        }
    }
    return 0;
}

size_t __cdecl strlen(const char *String)
{
    size_t Length = 0;

    while (String[Length] != '\0') {
        Length++;
    }
    return Length;
}

int __cdecl strcmp(const char *String1, const char *String2)
{
    const unsigned char *A = (const unsigned char *)String1;
    const unsigned char *B = (const unsigned char *)String2;

    while (*A != '\0' && *A == *B) {
        A++;
        B++;
    }
    return (int)*A - (int)*B;
}

size_t __cdecl wcslen(const WCHAR *String)
{
    size_t Length = 0;

    while (String[Length] != 0) {
        Length++;
    }
    return Length;
}

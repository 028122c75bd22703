/*
 * libc.c - the memory routines the loader's C code (and the shared image
 * and cpio readers, and the compiler's struct copies) call. String
 * instructions are both small and fast under QEMU's TCG.
 */
#include <stddef.h>

/* Quadword string moves first: QEMU's TCG runs "rep" one element per
 * iteration, so eight bytes at a time is eight times faster there. */
void *memcpy(void *Destination, const void *Source, size_t Count)
{
    void *Result = Destination;
    size_t Quads = Count / 8;
    size_t Bytes = Count % 8;

    __asm__ volatile("rep movsq" : "+D"(Destination), "+S"(Source), "+c"(Quads) : : "memory");
    __asm__ volatile("rep movsb" : "+D"(Destination), "+S"(Source), "+c"(Bytes) : : "memory");
    return Result;
}

void *memmove(void *Destination, const void *Source, size_t Count)
{
    unsigned char *To = Destination;
    const unsigned char *From = Source;

    if (To <= From || To >= From + Count) {
        return memcpy(Destination, Source, Count);
    }
    while (Count != 0) {
        Count--;
        To[Count] = From[Count];
    }
    return Destination;
}

void *memset(void *Destination, int Value, size_t Count)
{
    void *Result = Destination;
    unsigned long long Pattern = 0x0101010101010101ULL * (unsigned char)Value;
    size_t Quads = Count / 8;
    size_t Bytes = Count % 8;

    __asm__ volatile("rep stosq" : "+D"(Destination), "+c"(Quads) : "a"(Pattern) : "memory");
    __asm__ volatile("rep stosb" : "+D"(Destination), "+c"(Bytes) : "a"(Pattern) : "memory");
    return Result;
}

int memcmp(const void *Buffer1, const void *Buffer2, size_t Count)
{
    const unsigned char *Left = Buffer1;
    const unsigned char *Right = Buffer2;
    size_t Index;

    for (Index = 0; Index < Count; Index++) {
        if (Left[Index] != Right[Index]) {
            return (int)Left[Index] - (int)Right[Index];
        }
    }
    return 0;
}

size_t strlen(const char *String)
{
    size_t Length = 0;

    while (String[Length] != 0) {
        Length++;
    }
    return Length;
}

/*
 * kmem.c - the kernel's phase-0 nonpaged allocator (ExpAllocateKernelMemory
 * / ExpFreeKernelMemory) until the executive pool exists: power-of-two size
 * classes from 32 bytes to 2 KiB carved out of kernel pages, and whole
 * kernel pages (with their guard page) for anything larger. Every block has
 * a 16-byte header so a bad or repeated free is caught (BAD_POOL_CALLER)
 * instead of corrupting the free lists.
 */
#include <ntddk.h>
#include <ex.h>
#include <ke.h>
#include <mm.h>

#define EXP_HEADER_SIZE 16
#define EXP_MIN_SHIFT   5  /* 32-byte blocks: 16 of header + 16 usable */
#define EXP_MAX_SHIFT   11 /* 2 KiB blocks */
#define EXP_CLASSES     (EXP_MAX_SHIFT - EXP_MIN_SHIFT + 1)
#define EXP_LARGE_CLASS 0xFFFF

#define EXP_MAGIC_BUSY 0x4B6D4578u /* 'xEmK' */
#define EXP_MAGIC_FREE 0x466D4578u /* 'xEmF' */

typedef struct _EXP_BLOCK_HEADER {
    ULONG Magic;
    USHORT Class; /* shift, or EXP_LARGE_CLASS */
    USHORT Reserved;
    ULONG64 Pages; /* large blocks: pages allocated */
} EXP_BLOCK_HEADER, *PEXP_BLOCK_HEADER;

_Static_assert(sizeof(EXP_BLOCK_HEADER) == EXP_HEADER_SIZE, "header keeps 16-byte alignment");

typedef struct _EXP_FREE_BLOCK {
    EXP_BLOCK_HEADER Header;
    struct _EXP_FREE_BLOCK *Next;
} EXP_FREE_BLOCK, *PEXP_FREE_BLOCK;

static PEXP_FREE_BLOCK ExpFreeLists[EXP_CLASSES];
static KI_LOCK ExpLock;

/* Carves a fresh page into blocks of one class. Caller holds the lock;
 * returns FALSE when no page is left. */
static BOOLEAN ExpRefillClass(ULONG Shift)
{
    PUCHAR Page = MiAllocateKernelPages(1);
    SIZE_T BlockSize = (SIZE_T)1 << Shift;

    if (Page == NULL) {
        return FALSE;
    }
    for (SIZE_T Offset = 0; Offset + BlockSize <= PAGE_SIZE; Offset += BlockSize) {
        PEXP_FREE_BLOCK Block = (PEXP_FREE_BLOCK)(Page + Offset);
        Block->Header.Magic = EXP_MAGIC_FREE;
        Block->Header.Class = (USHORT)Shift;
        Block->Next = ExpFreeLists[Shift - EXP_MIN_SHIFT];
        ExpFreeLists[Shift - EXP_MIN_SHIFT] = Block;
    }
    return TRUE;
}

PVOID ExpAllocateKernelMemory(SIZE_T Bytes)
{
    PEXP_BLOCK_HEADER Header;
    ULONG Shift = EXP_MIN_SHIFT;
    KIRQL OldIrql;

    if (Bytes == 0) {
        Bytes = 1;
    }
    if (Bytes > ((SIZE_T)1 << EXP_MAX_SHIFT) - EXP_HEADER_SIZE) {
        SIZE_T Pages;
        if (Bytes > (SIZE_T)MiTotalPhysicalPageCount() * PAGE_SIZE) {
            return NULL;
        }
        Pages = BYTES_TO_PAGES(Bytes + EXP_HEADER_SIZE);
        Header = MiAllocateKernelPages(Pages);
        if (Header == NULL) {
            return NULL;
        }
        Header->Magic = EXP_MAGIC_BUSY;
        Header->Class = EXP_LARGE_CLASS;
        Header->Pages = Pages;
        return Header + 1;
    }
    while (((SIZE_T)1 << Shift) - EXP_HEADER_SIZE < Bytes) {
        Shift++;
    }

    OldIrql = KiAcquireLock(&ExpLock);
    if (ExpFreeLists[Shift - EXP_MIN_SHIFT] == NULL && !ExpRefillClass(Shift)) {
        KiReleaseLock(&ExpLock, OldIrql);
        return NULL;
    }
    PEXP_FREE_BLOCK Block = ExpFreeLists[Shift - EXP_MIN_SHIFT];
    ExpFreeLists[Shift - EXP_MIN_SHIFT] = Block->Next;
    KiReleaseLock(&ExpLock, OldIrql);

    Header = &Block->Header;
    if (Header->Magic != EXP_MAGIC_FREE || Header->Class != Shift) {
        /* Someone wrote into a free block. */
        KeBugCheckEx(BAD_POOL_HEADER, 0x3, (ULONG_PTR)Header, Header->Magic, Shift);
    }
    Header->Magic = EXP_MAGIC_BUSY;
    /* Callers get zeroed memory, as from fresh kernel pages. */
    memset(Header + 1, 0, ((SIZE_T)1 << Shift) - EXP_HEADER_SIZE);
    return Header + 1;
}

VOID ExpFreeKernelMemory(PVOID Block)
{
    PEXP_BLOCK_HEADER Header;
    KIRQL OldIrql;

    if (Block == NULL) {
        return;
    }
    if (((ULONG_PTR)Block & (EXP_HEADER_SIZE - 1)) != 0) {
        KeBugCheckEx(BAD_POOL_CALLER, 0x46, (ULONG_PTR)Block, 0, 0);
    }
    Header = (PEXP_BLOCK_HEADER)Block - 1;
    if (Header->Magic == EXP_MAGIC_FREE) {
        /* NT: 0x7 = freeing a block that is already free. */
        KeBugCheckEx(BAD_POOL_CALLER, 0x7, (ULONG_PTR)Header, 0, (ULONG_PTR)Block);
    }
    if (Header->Magic != EXP_MAGIC_BUSY) {
        KeBugCheckEx(BAD_POOL_CALLER, 0x46, (ULONG_PTR)Block, Header->Magic, 0);
    }
    if (Header->Class == EXP_LARGE_CLASS) {
        Header->Magic = EXP_MAGIC_FREE;
        MiFreeKernelPages(Header, (SIZE_T)Header->Pages);
        return;
    }
    if (Header->Class < EXP_MIN_SHIFT || Header->Class > EXP_MAX_SHIFT) {
        KeBugCheckEx(BAD_POOL_HEADER, 0x5, (ULONG_PTR)Header, Header->Class, 0);
    }
    PEXP_FREE_BLOCK Free = (PEXP_FREE_BLOCK)Header;
    OldIrql = KiAcquireLock(&ExpLock);
    Header->Magic = EXP_MAGIC_FREE;
    Free->Next = ExpFreeLists[Header->Class - EXP_MIN_SHIFT];
    ExpFreeLists[Header->Class - EXP_MIN_SHIFT] = Free;
    KiReleaseLock(&ExpLock, OldIrql);
}

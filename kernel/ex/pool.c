/*
 * pool.c - the executive pool: ExAllocatePool2/3, ExAllocatePoolWithTag
 * and friends, ExFreePoolWithTag/ExFreePool, ExQueryPoolBlockSize, and the
 * small-block allocator behind them.
 *
 * Small blocks (header included, up to a page) come in 40 size classes.
 * Each processor has, per pool kind and class, a plain singly linked list
 * of free blocks (its lookaside) that only that processor touches, at
 * DISPATCH_LEVEL: raising the IRQL pins the thread to the processor, so the
 * fast path needs no locked instruction. Behind the lookasides, per kind
 * and class, a shared free list under a queued spin lock refills them in
 * batches and takes their excess; it grows by carving fresh segments of
 * kernel pages, which stay in the pool. Blocks of a page or more are whole
 * pages (poolbig.c). A page bitmap says which system pages hold small
 * blocks, so a free of a pointer the pool never returned is caught before
 * its "header" is read.
 */
#include "poolp.h"

/* Kernel pages carved at once into blocks of one class. */
#define EXP_SEGMENT_PAGES 8
/* Bytes a processor's lookaside may cache per class. */
#define EXP_LOOKASIDE_BYTES 16384

const USHORT ExpClassSize[EXP_CLASS_COUNT] = {
    32,  48,  64,   80,   96,   112,  128,  144,  160,  176,  192,  208,  224, 240,
    256, 288, 320,  352,  384,  416,  448,  480,  512,  576,  640,  704,  768, 832,
    896, 960, 1024, 1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048, 4096,
};

/* A processor's free blocks of one kind and class: touched only by that
 * processor at DISPATCH_LEVEL. */
typedef struct _EXP_LOOKASIDE {
    PSLIST_ENTRY Head;
    ULONG Depth;
    ULONG Reserved;
} EXP_LOOKASIDE, *PEXP_LOOKASIDE;

typedef struct DECLSPEC_ALIGN(64) _EXP_POOL_PROCESSOR {
    EXP_LOOKASIDE Lookaside[EXP_KINDS][EXP_CLASS_COUNT];
} EXP_POOL_PROCESSOR;

typedef struct DECLSPEC_ALIGN(64) _EXP_CLASS_LIST {
    KSPIN_LOCK Lock;
    ULONG Count;
    PSLIST_ENTRY Head;
} EXP_CLASS_LIST;

static EXP_POOL_PROCESSOR ExpPoolProcessors[MAXIMUM_PROCESSORS];
static EXP_CLASS_LIST ExpClassLists[EXP_KINDS][EXP_CLASS_COUNT];
static volatile SIZE_T ExpSegmentPages;

/* One bit per system-range page that holds small blocks: 4 GiB of range. */
#define EXP_BITMAP_PAGES (1u << 20)
static ULONG64 ExpPoolPageBitmap[EXP_BITMAP_PAGES / 64];

/* ---- Page bitmap ------------------------------------------------------- */

static BOOLEAN ExpPageIndex(ULONG_PTR Va, PSIZE_T Index)
{
    SIZE_T Page;

    if (Va < MiSystemVaStart) {
        return FALSE;
    }
    Page = (Va - MiSystemVaStart) >> PAGE_SHIFT;
    if (Page >= MiSystemVaPages || Page >= EXP_BITMAP_PAGES) {
        return FALSE;
    }
    *Index = Page;
    return TRUE;
}

VOID ExpMarkPoolPages(ULONG_PTR Va, SIZE_T Pages, BOOLEAN Set)
{
    SIZE_T Index;

    for (SIZE_T i = 0; i < Pages; i++) {
        if (!ExpPageIndex(Va + i * PAGE_SIZE, &Index)) {
            continue;
        }
        if (Set) {
            __atomic_fetch_or(&ExpPoolPageBitmap[Index / 64], 1ull << (Index % 64),
                              __ATOMIC_RELEASE);
        } else {
            __atomic_fetch_and(&ExpPoolPageBitmap[Index / 64], ~(1ull << (Index % 64)),
                               __ATOMIC_RELEASE);
        }
    }
}

BOOLEAN ExpIsPoolPage(ULONG_PTR Va)
{
    SIZE_T Index;

    if (!ExpPageIndex(Va, &Index)) {
        return FALSE;
    }
    return (__atomic_load_n(&ExpPoolPageBitmap[Index / 64], __ATOMIC_ACQUIRE) >> (Index % 64)) & 1;
}

SIZE_T ExpPoolPagesInUse(VOID)
{
    return ExpSegmentPages;
}

/* ---- Small blocks ------------------------------------------------------ */

/* Raises from CurrentIrql to DISPATCH_LEVEL (unless the caller is there
 * already; an interrupt always restores the IRQL it found): from
 * then on the thread cannot be preempted or migrate, so this processor's
 * lookasides and counters are ours alone. */
static inline VOID ExpRaiseToDpc(KIRQL CurrentIrql)
{
    if (CurrentIrql < DISPATCH_LEVEL) {
        KiWriteIrql(DISPATCH_LEVEL);
    }
}

/* Back to the caller's IRQL; KeLowerIrql runs DPCs and a reschedule that
 * became pending meanwhile. */
static inline VOID ExpLowerFromDpc(KIRQL OldIrql)
{
    if (OldIrql < DISPATCH_LEVEL) {
        KeLowerIrql(OldIrql);
    }
}

static inline ULONG ExpCurrentProcessor(VOID)
{
    return KeGetCurrentPrcb()->Number & (MAXIMUM_PROCESSORS - 1);
}

static inline USHORT ExpLookasideDepth(ULONG Class)
{
    ULONG Depth = EXP_LOOKASIDE_BYTES / ExpClassSize[Class];
    return (USHORT)(Depth < 4 ? 4 : Depth > 256 ? 256 : Depth);
}

static inline PEXP_POOL_HEADER ExpHeaderOfEntry(PSLIST_ENTRY Entry)
{
    return (PEXP_POOL_HEADER)Entry - 1;
}

/* Carves a new segment into free blocks of Class and adds them to the
 * shared list. FALSE when the memory manager has no pages left. */
static BOOLEAN ExpGrowClass(ULONG Kind, ULONG Class)
{
    EXP_CLASS_LIST *List = &ExpClassLists[Kind][Class];
    SIZE_T Pages = EXP_SEGMENT_PAGES;
    ULONG BlockSize = ExpClassSize[Class];
    PSLIST_ENTRY First = NULL, Last = NULL;
    ULONG Count = 0;
    PUCHAR Segment;
    KLOCK_QUEUE_HANDLE LockHandle;

    Segment = MiAllocateKernelPages(Pages);
    if (Segment == NULL) {
        Pages = 1;
        Segment = MiAllocateKernelPages(Pages);
        if (Segment == NULL) {
            return FALSE;
        }
    }
    if (Kind == EXP_KIND_EXECUTE &&
        !NT_SUCCESS(MiProtectKernelPages(Segment, Pages, PAGE_EXECUTE_READWRITE))) {
        MiFreeKernelPages(Segment, Pages);
        return FALSE;
    }
    for (SIZE_T Page = 0; Page < Pages; Page++) {
        for (ULONG Offset = 0; Offset + BlockSize <= PAGE_SIZE; Offset += BlockSize) {
            PEXP_POOL_HEADER Header = (PEXP_POOL_HEADER)(Segment + Page * PAGE_SIZE + Offset);
            PSLIST_ENTRY Entry = (PSLIST_ENTRY)(Header + 1);

            Header->Class = (UCHAR)Class;
            Header->Flags = Kind == EXP_KIND_EXECUTE ? EXP_HF_EXECUTE : 0;
            Header->State = EXP_STATE_FREE;
            Header->Tag = 0;
            Header->Size = 0;
            ExpSealHeader(Header);
            Entry->Next = NULL;
            if (Last == NULL) {
                First = Entry;
            } else {
                Last->Next = Entry;
            }
            Last = Entry;
            Count++;
        }
    }
    ExpMarkPoolPages((ULONG_PTR)Segment, Pages, TRUE);
    __atomic_fetch_add(&ExpSegmentPages, Pages, __ATOMIC_RELAXED);

    KeAcquireInStackQueuedSpinLockAtDpcLevel(&List->Lock, &LockHandle);
    Last->Next = List->Head;
    List->Head = First;
    List->Count += Count;
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
    return TRUE;
}

/* The lookaside is empty (called at DISPATCH_LEVEL): takes one block and a
 * batch for the lookaside from the shared list, growing it when it is
 * empty too. */
static PEXP_POOL_HEADER ExpRefillLookaside(ULONG Kind, ULONG Class, PEXP_LOOKASIDE Lookaside)
{
    EXP_CLASS_LIST *List = &ExpClassLists[Kind][Class];
    ULONG Batch = ExpLookasideDepth(Class) / 2;
    KLOCK_QUEUE_HANDLE LockHandle;

    for (;;) {
        KeAcquireInStackQueuedSpinLockAtDpcLevel(&List->Lock, &LockHandle);
        if (List->Head != NULL) {
            PSLIST_ENTRY First = List->Head;
            List->Head = First->Next;
            List->Count--;
            while (Batch-- > 0 && List->Head != NULL) {
                PSLIST_ENTRY Entry = List->Head;
                List->Head = Entry->Next;
                List->Count--;
                Entry->Next = Lookaside->Head;
                Lookaside->Head = Entry;
                Lookaside->Depth++;
            }
            KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
            return ExpHeaderOfEntry(First);
        }
        KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
        if (!ExpGrowClass(Kind, Class)) {
            return NULL;
        }
    }
}

/* The lookaside is full (called at DISPATCH_LEVEL): hands all of it back
 * to the shared list. */
static VOID ExpTrimLookaside(ULONG Kind, ULONG Class, PEXP_LOOKASIDE Lookaside)
{
    EXP_CLASS_LIST *List = &ExpClassLists[Kind][Class];
    PSLIST_ENTRY First = Lookaside->Head, Last = First;
    ULONG Count = Lookaside->Depth;
    KLOCK_QUEUE_HANDLE LockHandle;

    if (First == NULL) {
        return;
    }
    while (Last->Next != NULL) {
        Last = Last->Next;
    }
    Lookaside->Head = NULL;
    Lookaside->Depth = 0;
    KeAcquireInStackQueuedSpinLockAtDpcLevel(&List->Lock, &LockHandle);
    Last->Next = List->Head;
    List->Head = First;
    List->Count += Count;
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&LockHandle);
}

/* Called at DISPATCH_LEVEL on processor Number; CallerIrql is reported
 * if the block turns out to be corrupted. */
static PVOID ExpAllocateSmall(ULONG Number, ULONG Kind, SIZE_T BlockBytes, SIZE_T Size, ULONG Tag,
                              UCHAR Flags, BOOLEAN CacheAligned, KIRQL CallerIrql)
{
    ULONG Class = ExpSizeToClass(BlockBytes);
    PEXP_LOOKASIDE Lookaside = &ExpPoolProcessors[Number].Lookaside[Kind][Class];
    PSLIST_ENTRY Entry = Lookaside->Head;
    PEXP_POOL_HEADER Header;
    PUCHAR User, Result;

    if (Entry != NULL) {
        Lookaside->Head = Entry->Next;
        Lookaside->Depth--;
        Header = ExpHeaderOfEntry(Entry);
    } else {
        Header = ExpRefillLookaside(Kind, Class, Lookaside);
        if (Header == NULL) {
            return NULL;
        }
    }
    if (Header->State != EXP_STATE_FREE || Header->Class != Class || !ExpHeaderSealed(Header)) {
        /* A free block was written to: the pool itself is corrupt. The
         * block is abandoned. */
        ExpPoolViolation(DRIVER_CORRUPTED_EXPOOL, (ULONG_PTR)Header, CallerIrql, 0,
                         (ULONG_PTR)__builtin_return_address(0), Header->Tag,
                         "free pool block corrupted (header overwritten)");
        return NULL;
    }
    User = Result = (PUCHAR)(Header + 1);
    if (CacheAligned) {
        PUCHAR Aligned = (PUCHAR)ALIGN_UP_BY(User, SYSTEM_CACHE_ALIGNMENT_SIZE);
        if (Aligned != User) {
            PEXP_POOL_HEADER Alias = (PEXP_POOL_HEADER)Aligned - 1;
            Alias->Class = EXP_CLASS_ALIAS;
            Alias->Flags = Flags;
            Alias->State = EXP_STATE_BUSY;
            Alias->Tag = Tag;
            Alias->Size = (ULONG)(Aligned - (PUCHAR)Header);
            ExpSealHeader(Alias);
            Size += (SIZE_T)(Aligned - User);
            Result = Aligned;
        }
    }
    Header->Flags = Flags | (Kind == EXP_KIND_EXECUTE ? EXP_HF_EXECUTE : 0);
    Header->State = EXP_STATE_BUSY;
    Header->Tag = Tag;
    Header->Size = (ULONG)Size;
    ExpSealHeader(Header);
    if (Flags & EXP_HF_GUARDED) {
        memset(User + Size, EXP_GUARD_BYTE, ExpClassSize[Class] - EXP_HEADER_SIZE - Size);
    }
    return Result;
}

/* The header of the small block P (resolving a cache-aligned alias);
 * reports and returns NULL when P is not a busy pool block. */
static PEXP_POOL_HEADER ExpCheckSmallBlock(PVOID P, PVOID Caller)
{
    PEXP_POOL_HEADER Header = (PEXP_POOL_HEADER)P - 1;

    if (Header->State == EXP_STATE_BUSY && Header->Class == EXP_CLASS_ALIAS &&
        ExpHeaderSealed(Header)) {
        /* The alias records how far back the real header is. */
        PEXP_POOL_HEADER Real = (PEXP_POOL_HEADER)((PUCHAR)P - Header->Size);
        if (Header->Size > SYSTEM_CACHE_ALIGNMENT_SIZE || Real >= Header ||
            PAGE_ALIGN(Real) != PAGE_ALIGN(Header) || Real->State != EXP_STATE_BUSY ||
            !ExpHeaderSealed(Real) || Real->Tag != Header->Tag) {
            ExpPoolViolation(BAD_POOL_HEADER, 0x7, 0, (ULONG_PTR)Header, (ULONG_PTR)Real,
                             Header->Tag, "cache-aligned pool block header corrupted");
            return NULL;
        }
        Header = Real;
    }
    if (Header->State == EXP_STATE_FREE && ExpHeaderSealed(Header)) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x7, 0, *(PULONG64)Header, (ULONG_PTR)P, Header->Tag,
                         "double free (block already free)");
        return NULL;
    }
    if (Header->State != EXP_STATE_BUSY && Header->State != EXP_STATE_FREE) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x99, (ULONG_PTR)P, 0, 0, 0,
                         "free of an address that is not a pool block");
        return NULL;
    }
    if (!ExpHeaderSealed(Header) ||
        (Header->Class >= EXP_CLASS_COUNT && Header->Class != EXP_CLASS_SPECIAL) ||
        (Header->Class < EXP_CLASS_COUNT &&
         Header->Size > (ULONG)ExpClassSize[Header->Class] - EXP_HEADER_SIZE)) {
        ExpPoolViolation(BAD_POOL_HEADER, 0x7, 0, *(PULONG64)Header, (ULONG_PTR)Header, Header->Tag,
                         "pool block header corrupted");
        return NULL;
    }
    UNREFERENCED_PARAMETER(Caller);
    return Header;
}

/* Called at DISPATCH_LEVEL on processor Number. */
static VOID ExpFreeSmall(ULONG Number, PEXP_POOL_HEADER Header)
{
    ULONG Kind = (Header->Flags & EXP_HF_EXECUTE) ? EXP_KIND_EXECUTE : EXP_KIND_NX;
    ULONG Class = Header->Class;
    PEXP_LOOKASIDE Lookaside = &ExpPoolProcessors[Number].Lookaside[Kind][Class];
    PSLIST_ENTRY Entry = (PSLIST_ENTRY)(Header + 1);

    Header->State = EXP_STATE_FREE;
    Header->Flags &= EXP_HF_EXECUTE;
    Header->Size = 0;
    ExpSealHeader(Header);
    if (Lookaside->Depth >= ExpLookasideDepth(Class)) {
        ExpTrimLookaside(Kind, Class, Lookaside);
    }
    Entry->Next = Lookaside->Head;
    Lookaside->Head = Entry;
    Lookaside->Depth++;
}

/* ---- Allocation front end ---------------------------------------------- */

#define EXP_OPT_ZERO          0x01
#define EXP_OPT_CACHE_ALIGNED 0x02
#define EXP_OPT_RAISE         0x04
#define EXP_OPT_SPECIAL       0x08
#define EXP_OPT_QUOTA         0x10

static ULONG ExpSpecialPoolTag;

VOID ExpSetSpecialPoolTag(ULONG Tag)
{
    __atomic_store_n(&ExpSpecialPoolTag, Tag, __ATOMIC_RELEASE);
}

ULONG ExpQuerySpecialPoolTag(VOID)
{
    return __atomic_load_n(&ExpSpecialPoolTag, __ATOMIC_ACQUIRE);
}

static PVOID ExpAllocationFailed(ULONG Options, ULONG PoolType, SIZE_T Size, ULONG Tag,
                                 PVOID Caller)
{
    if (Options & EXP_OPT_RAISE) {
        /* No SEH yet: an exception nobody can handle ends as NT ends an
         * unhandled kernel-mode exception. */
        ExpPoolViolation(KMODE_EXCEPTION_NOT_HANDLED,
                         (ULONG_PTR)(ULONG)STATUS_INSUFFICIENT_RESOURCES, (ULONG_PTR)Caller,
                         PoolType, Size, Tag, "pool allocation failed with raise-on-failure");
    }
    return NULL;
}

/* The common path of every allocation routine. PoolType is what the
 * caller asked for (reported in stop codes). */
static PVOID ExpAllocatePool(ULONG Kind, BOOLEAN Paged, SIZE_T Size, ULONG Tag, ULONG Options,
                             ULONG PoolType, PVOID Caller)
{
    KIRQL Irql = KeGetCurrentIrql();
    UCHAR Flags = 0;
    SIZE_T BlockBytes;
    PVOID Block = NULL;

    if (Paged && Irql > APC_LEVEL) {
        /* Paged pool may fault: touching it above APC_LEVEL is the stop NT
         * shows for a fault at raised IRQL. */
        ExpPoolViolation(IRQL_NOT_LESS_OR_EQUAL, 0, Irql, 0, (ULONG_PTR)Caller, Tag,
                         "paged pool allocation above APC_LEVEL");
        return NULL;
    }
    if (Irql > DISPATCH_LEVEL) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x8, Irql, PoolType, Size, Tag,
                         "pool allocation above DISPATCH_LEVEL");
        return NULL;
    }
    if (Size == 0) {
        Size = 1;
    }
    if (Size > (SIZE_T)MiTotalPhysicalPageCount() * PAGE_SIZE) {
        return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
    }
    Flags = (Paged ? EXP_HF_PAGED : 0) | (Kind == EXP_KIND_EXECUTE ? EXP_HF_EXECUTE : 0) |
            ((Options & EXP_OPT_QUOTA) ? EXP_HF_QUOTA : 0);
    if (ExpPoolVerify) {
        Flags |= EXP_HF_GUARDED;
    }

    if ((Options & EXP_OPT_SPECIAL) ||
        (Tag & ~EXP_PROTECTED_POOL) == (ExpQuerySpecialPoolTag() & ~EXP_PROTECTED_POOL)) {
        Block = ExpAllocateSpecialPool(Size, Tag, Flags & ~EXP_HF_GUARDED);
        if (Block != NULL) {
            goto Done;
        }
    }

    BlockBytes = Size + EXP_HEADER_SIZE;
    if (Flags & EXP_HF_GUARDED) {
        BlockBytes += EXP_GUARD_MIN;
    }
    if (Options & EXP_OPT_CACHE_ALIGNED) {
        BlockBytes += SYSTEM_CACHE_ALIGNMENT_SIZE - EXP_HEADER_SIZE;
    }
    if (Size < PAGE_SIZE && BlockBytes <= PAGE_SIZE) {
        /* The fast path: this processor's lookaside and counters, at
         * DISPATCH_LEVEL, with no locked instruction. */
        ULONG Number;

        ExpRaiseToDpc(Irql);
        Number = ExpCurrentProcessor();
        Block = ExpAllocateSmall(Number, Kind, BlockBytes, Size, Tag, Flags,
                                 (Options & EXP_OPT_CACHE_ALIGNED) != 0, Irql);
        if (Block != NULL) {
            ExpChargePoolTagAtDpc(Number, Tag, Paged, Size);
        }
        ExpLowerFromDpc(Irql);
        if (Block == NULL) {
            return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
        }
        goto Charged;
    }
    Block = ExpAllocateBigPages(Size, Tag, Flags);
    if (Block == NULL) {
        return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
    }
Done:
    ExpChargePoolTag(Tag, Paged, Size);
Charged:
    if (Options & EXP_OPT_ZERO) {
        memset(Block, 0, Size);
    }
    return Block;
}

/* Frees P, checking everything the free and checked builds check. */
static VOID ExpFreePool(PVOID P, ULONG Tag, PVOID Caller)
{
    KIRQL Irql = KeGetCurrentIrql();
    PEXP_POOL_HEADER Header;
    BOOLEAN Paged;
    PUCHAR Damage;
    ULONG Number;

    if (((ULONG_PTR)P & (EXP_HEADER_SIZE - 1)) != 0 || P == NULL) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x46, (ULONG_PTR)P, 0, 0, 0,
                         "free of an invalid pool address");
        return;
    }
    if (((ULONG_PTR)P & (PAGE_SIZE - 1)) == 0) {
        ExpFreeBigPages(P, Tag, Irql, Caller);
        return;
    }
    if (!ExpIsPoolPage((ULONG_PTR)P)) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x46, (ULONG_PTR)P, 0, 0, 0,
                         "free of an address outside the pool");
        return;
    }
    Header = ExpCheckSmallBlock(P, Caller);
    if (Header == NULL) {
        return;
    }
    Paged = (Header->Flags & EXP_HF_PAGED) != 0;
    if (Tag != 0 && (Tag & ~EXP_PROTECTED_POOL) != (Header->Tag & ~EXP_PROTECTED_POOL)) {
        ExpPoolViolation(BAD_POOL_CALLER, 0xA, (ULONG_PTR)P, Header->Tag, Tag, Header->Tag,
                         "free with the wrong tag");
        return;
    }
    if (Paged && Irql > APC_LEVEL) {
        ExpPoolViolation(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)P, Irql, 1, (ULONG_PTR)Caller,
                         Header->Tag, "paged pool freed above APC_LEVEL");
        return;
    }
    if (Irql > DISPATCH_LEVEL) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x9, Irql, Paged ? PagedPool : NonPagedPool, (ULONG_PTR)P,
                         Header->Tag, "pool freed above DISPATCH_LEVEL");
        return;
    }
    if (Header->Class == EXP_CLASS_SPECIAL) {
        ExpFreeSpecialPool(Header, Tag);
        return;
    }
    if (Header->Flags & EXP_HF_GUARDED) {
        PUCHAR User = (PUCHAR)(Header + 1);
        Damage =
            ExpFindGuardDamage(User + Header->Size, (PUCHAR)Header + ExpClassSize[Header->Class]);
        if (Damage != NULL) {
            ExpPoolViolation(BAD_POOL_HEADER, 0x21, (ULONG_PTR)P, Header->Size,
                             *(PULONG64)((ULONG_PTR)Damage & ~(ULONG_PTR)7), Header->Tag,
                             "buffer overrun: the bytes after the block were written");
            return;
        }
    }
    /* The fast path, as for allocation. */
    ExpRaiseToDpc(Irql);
    Number = ExpCurrentProcessor();
    ExpReturnPoolTagAtDpc(Number, Header->Tag, Paged,
                          Header->Size - (ULONG)((PUCHAR)P - (PUCHAR)(Header + 1)));
    ExpFreeSmall(Number, Header);
    ExpLowerFromDpc(Irql);
}

/* ---- Exported routines ------------------------------------------------- */

#define EXP_KNOWN_REQUIRED_FLAGS                                                                   \
    (POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_CACHE_ALIGNED |                     \
     POOL_FLAG_RAISE_ON_FAILURE | POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE |              \
     POOL_FLAG_PAGED)

static PVOID ExpAllocatePoolFlags(POOL_FLAGS Flags, SIZE_T Size, ULONG Tag, BOOLEAN Special,
                                  PVOID Caller)
{
    POOL_FLAGS Type = Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    ULONG Options = 0;
    ULONG Kind = EXP_KIND_NX;
    BOOLEAN Paged = FALSE;
    ULONG PoolType;

    if (Type == POOL_FLAG_PAGED) {
        Paged = TRUE;
        PoolType = PagedPool;
    } else if (Type == POOL_FLAG_NON_PAGED_EXECUTE) {
        Kind = EXP_KIND_EXECUTE;
        PoolType = NonPagedPoolExecute;
    } else {
        PoolType = NonPagedPoolNx;
    }
    if (!(Flags & POOL_FLAG_UNINITIALIZED)) {
        Options |= EXP_OPT_ZERO;
    }
    if (Flags & POOL_FLAG_CACHE_ALIGNED) {
        Options |= EXP_OPT_CACHE_ALIGNED;
    }
    if (Flags & POOL_FLAG_RAISE_ON_FAILURE) {
        Options |= EXP_OPT_RAISE;
    }
    if (Flags & POOL_FLAG_USE_QUOTA) {
        Options |= EXP_OPT_QUOTA;
    }
    if (Special || (Flags & POOL_FLAG_SPECIAL_POOL)) {
        Options |= EXP_OPT_SPECIAL;
    }
    /* Exactly one pool type; every required flag known; session pool does
     * not exist here; tag 0 is invalid. */
    if ((Type != POOL_FLAG_PAGED && Type != POOL_FLAG_NON_PAGED &&
         Type != POOL_FLAG_NON_PAGED_EXECUTE) ||
        (Flags & (POOL_FLAG_REQUIRED_END | (POOL_FLAG_REQUIRED_END - 1)) &
         ~EXP_KNOWN_REQUIRED_FLAGS) != 0 ||
        Tag == 0) {
        return ExpAllocationFailed(Options, PoolType, Size, Tag, Caller);
    }
    return ExpAllocatePool(Kind, Paged, Size, Tag, Options, PoolType, Caller);
}

PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePoolFlags(Flags, NumberOfBytes, Tag, FALSE, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                            PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                            ULONG ExtendedParametersCount)
{
    PVOID Caller = __builtin_return_address(0);
    BOOLEAN Special = FALSE;

    if (ExtendedParametersCount != 0 && ExtendedParameters == NULL) {
        return ExpAllocatePoolFlags(Flags | POOL_FLAG_SESSION, NumberOfBytes, Tag, FALSE, Caller);
    }
    for (ULONG i = 0; i < ExtendedParametersCount; i++) {
        switch (ExtendedParameters[i].Type) {
        case PoolExtendedParameterPriority:
            /* One priority: the pool does not ration memory by priority. */
            if ((ExtendedParameters[i].Priority & 8) != 0) {
                Special = TRUE;
            }
            break;
        case PoolExtendedParameterNumaNode:
            /* One node. */
            break;
        default:
            /* Secure pool and unknown parameters: fail unless optional. */
            if (!ExtendedParameters[i].Optional) {
                return ExpAllocatePoolFlags(Flags | POOL_FLAG_SESSION, NumberOfBytes, Tag, FALSE,
                                            Caller);
            }
            break;
        }
    }
    return ExpAllocatePoolFlags(Flags, NumberOfBytes, Tag, Special, Caller);
}

/* The POOL_TYPE routines: uninitialized memory unless POOL_ZERO_ALLOCATION. */
static PVOID ExpAllocatePoolType(POOL_TYPE PoolType, SIZE_T Size, ULONG Tag, ULONG Options,
                                 PVOID Caller)
{
    ULONG Type = (ULONG)PoolType;
    BOOLEAN Paged = (Type & 1) != 0;
    ULONG Kind = (Paged || (Type & POOL_NX_ALLOCATION)) ? EXP_KIND_NX : EXP_KIND_EXECUTE;

    if (Tag == 0) {
        ExpPoolViolation(BAD_POOL_CALLER, 0x9B, Type, Size, (ULONG_PTR)Caller, 0,
                         "pool allocation with tag 0");
        return NULL;
    }
    if ((Type & 2) != 0 && (Type & 1) == 0) {
        /* NonPagedPoolMustSucceed is gone from NT. */
        ExpPoolViolation(BAD_POOL_CALLER, 0x9A, Type, Size, Tag, Tag,
                         "must-succeed pool is not supported");
        return NULL;
    }
    if (Type & 4) {
        Options |= EXP_OPT_CACHE_ALIGNED;
    }
    if (Type & POOL_RAISE_IF_ALLOCATION_FAILURE) {
        Options |= EXP_OPT_RAISE;
    }
    if (Type & POOL_ZERO_ALLOCATION) {
        Options |= EXP_OPT_ZERO;
    }
    if ((Options & EXP_OPT_QUOTA) && !(Type & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE)) {
        Options |= EXP_OPT_RAISE;
    }
    return ExpAllocatePool(Kind, Paged, Size, Tag, Options, Type, Caller);
}

PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePoolType(PoolType, NumberOfBytes, Tag, 0, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePoolType(PoolType, NumberOfBytes, Tag, EXP_OPT_QUOTA,
                               __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                          EX_POOL_PRIORITY Priority)
{
    /* The *SpecialPoolOverrun priorities ask for special pool. */
    if ((Priority & 8) != 0 && NumberOfBytes < PAGE_SIZE) {
        ULONG Type = (ULONG)PoolType;
        PVOID Block =
            ExAllocatePool2(((Type & 1)                    ? POOL_FLAG_PAGED
                             : (Type & POOL_NX_ALLOCATION) ? POOL_FLAG_NON_PAGED
                                                           : POOL_FLAG_NON_PAGED_EXECUTE) |
                                POOL_FLAG_UNINITIALIZED | POOL_FLAG_SPECIAL_POOL,
                            NumberOfBytes, Tag);
        if (Block != NULL) {
            return Block;
        }
    }
    return ExpAllocatePoolType(PoolType, NumberOfBytes, Tag, 0, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return ExpAllocatePoolType(PoolType, NumberOfBytes, 'enoN', 0, __builtin_return_address(0));
}

PVOID NTAPI ExAllocatePoolWithQuota(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return ExpAllocatePoolType(PoolType, NumberOfBytes, 'enoN', EXP_OPT_QUOTA,
                               __builtin_return_address(0));
}

VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    ExpFreePool(P, Tag, __builtin_return_address(0));
}

VOID NTAPI ExFreePool(PVOID P)
{
    ExpFreePool(P, 0, __builtin_return_address(0));
}

VOID NTAPI ExFreePool2(PVOID P, ULONG Tag, PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                       ULONG ExtendedParametersCount)
{
    UNREFERENCED_PARAMETER(ExtendedParameters);
    UNREFERENCED_PARAMETER(ExtendedParametersCount);
    ExpFreePool(P, Tag, __builtin_return_address(0));
}

SIZE_T NTAPI ExQueryPoolBlockSize(PVOID PoolBlock, PBOOLEAN QuotaCharged)
{
    PEXP_POOL_HEADER Header;
    BOOLEAN Quota = FALSE;
    SIZE_T Size = 0;

    if (((ULONG_PTR)PoolBlock & (PAGE_SIZE - 1)) == 0) {
        Size = ExpQueryBigPagesSize(PoolBlock, &Quota);
    } else if (((ULONG_PTR)PoolBlock & (EXP_HEADER_SIZE - 1)) == 0 &&
               ExpIsPoolPage((ULONG_PTR)PoolBlock)) {
        Header = (PEXP_POOL_HEADER)PoolBlock - 1;
        if (Header->State == EXP_STATE_BUSY && ExpHeaderSealed(Header)) {
            if (Header->Class == EXP_CLASS_ALIAS) {
                Header = (PEXP_POOL_HEADER)((PUCHAR)PoolBlock - Header->Size);
            }
            Quota = (Header->Flags & EXP_HF_QUOTA) != 0;
            if (Header->Class == EXP_CLASS_SPECIAL || (Header->Flags & EXP_HF_GUARDED)) {
                Size = Header->Size - (SIZE_T)((PUCHAR)PoolBlock - (PUCHAR)(Header + 1));
            } else if (Header->Class < EXP_CLASS_COUNT) {
                Size = (SIZE_T)((PUCHAR)Header + ExpClassSize[Header->Class] - (PUCHAR)PoolBlock);
            }
        }
    }
    if (QuotaCharged != NULL) {
        *QuotaCharged = Quota;
    }
    return Size;
}

/*
 * lookaside.c - driver lookaside lists: ExInitialize/ExDelete for
 * NPAGED_LOOKASIDE_LIST, PAGED_LOOKASIDE_LIST and LOOKASIDE_LIST_EX, and
 * ExFlushLookasideListEx. Allocation and free are the WDK's inline routines
 * (wdm.h) over the list's SLIST and its Allocate/Free routines.
 *
 * Every list is linked on a global list per kind (as NT keeps them, for the
 * debugger and the balance set manager). NT's balance set manager adjusts
 * each list's Depth from its hit rate once a second; until system worker
 * threads exist, Depth is fixed at EX_MAXIMUM_LOOKASIDE_DEPTH_BASE.
 */
#include "poolp.h"

#define EXP_LOOKASIDE_DEPTH EX_MAXIMUM_LOOKASIDE_DEPTH_BASE

static LIST_ENTRY ExpNonPagedLookasideListHead = { &ExpNonPagedLookasideListHead,
                                                   &ExpNonPagedLookasideListHead };
static LIST_ENTRY ExpPagedLookasideListHead = { &ExpPagedLookasideListHead,
                                                &ExpPagedLookasideListHead };
static KI_LOCK ExpLookasideLock;

static VOID ExpLinkLookaside(PLIST_ENTRY Head, PLIST_ENTRY Entry)
{
    KIRQL OldIrql = KiAcquireLock(&ExpLookasideLock);
    InsertTailList(Head, Entry);
    KiReleaseLock(&ExpLookasideLock, OldIrql);
}

static VOID ExpUnlinkLookaside(PLIST_ENTRY Entry)
{
    KIRQL OldIrql = KiAcquireLock(&ExpLookasideLock);
    RemoveEntryList(Entry);
    KiReleaseLock(&ExpLookasideLock, OldIrql);
}

/* Common initialization of the GENERAL_LOOKASIDE fields. Blocks must hold
 * an SLIST_ENTRY while on the list. */
static VOID ExpInitializeGeneralLookaside(PGENERAL_LOOKASIDE_POOL L, POOL_TYPE Type, SIZE_T Size,
                                          ULONG Tag)
{
    InitializeSListHead(&L->ListHead);
    L->Depth = EXP_LOOKASIDE_DEPTH;
    L->MaximumDepth = EXP_LOOKASIDE_DEPTH;
    L->TotalAllocates = 0;
    L->AllocateMisses = 0;
    L->TotalFrees = 0;
    L->FreeMisses = 0;
    L->Type = Type;
    L->Tag = Tag;
    L->Size = (ULONG)(Size < sizeof(SLIST_ENTRY) ? sizeof(SLIST_ENTRY) : Size);
    L->LastTotalAllocates = 0;
    L->LastAllocateMisses = 0;
    L->Future[0] = L->Future[1] = 0;
}

/* Frees every block on a list through its Free routine. */
static VOID ExpDrainLookaside(PSLIST_HEADER ListHead, PFREE_FUNCTION Free, PFREE_FUNCTION_EX FreeEx,
                              PLOOKASIDE_LIST_EX Ex)
{
    PSLIST_ENTRY Entry;

    while ((Entry = InterlockedPopEntrySList(ListHead)) != NULL) {
        if (FreeEx != NULL) {
            FreeEx(Entry, Ex);
        } else {
            Free(Entry);
        }
    }
}

/* ---- NPAGED_LOOKASIDE_LIST / PAGED_LOOKASIDE_LIST ----------------------- */

static PVOID NTAPI ExpDefaultAllocate(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static VOID NTAPI ExpDefaultFree(PVOID Buffer)
{
    ExFreePool(Buffer);
}

/* Flags: POOL_RAISE_IF_ALLOCATION_FAILURE, POOL_NX_ALLOCATION and the other
 * POOL_TYPE modifiers, or-ed into the list's pool type. */
static VOID ExpInitializeLookasideList(PGENERAL_LOOKASIDE L, POOL_TYPE BaseType,
                                       PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
                                       ULONG Flags, SIZE_T Size, ULONG Tag, PLIST_ENTRY Head)
{
    ExpInitializeGeneralLookaside((PGENERAL_LOOKASIDE_POOL)L, (POOL_TYPE)(BaseType | Flags), Size,
                                  Tag);
    L->Allocate = Allocate != NULL ? Allocate : ExpDefaultAllocate;
    L->Free = Free != NULL ? Free : ExpDefaultFree;
    ExpLinkLookaside(Head, &L->ListEntry);
}

VOID NTAPI ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside,
                                           PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
                                           ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    UNREFERENCED_PARAMETER(Depth); /* NT ignores it too */
    ExpInitializeLookasideList(&Lookaside->L, NonPagedPool, Allocate, Free, Flags, Size, Tag,
                               &ExpNonPagedLookasideListHead);
}

VOID NTAPI ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    ExpUnlinkLookaside(&Lookaside->L.ListEntry);
    ExpDrainLookaside(&Lookaside->L.ListHead, Lookaside->L.Free, NULL, NULL);
}

VOID NTAPI ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside,
                                          PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
                                          ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    UNREFERENCED_PARAMETER(Depth);
    ExpInitializeLookasideList(&Lookaside->L, PagedPool, Allocate, Free, Flags, Size, Tag,
                               &ExpPagedLookasideListHead);
}

VOID NTAPI ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    ExpUnlinkLookaside(&Lookaside->L.ListEntry);
    ExpDrainLookaside(&Lookaside->L.ListHead, Lookaside->L.Free, NULL, NULL);
}

/* ---- LOOKASIDE_LIST_EX -------------------------------------------------- */

static PVOID NTAPI ExpDefaultAllocateEx(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                        PLOOKASIDE_LIST_EX Lookaside)
{
    UNREFERENCED_PARAMETER(Lookaside);
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static VOID NTAPI ExpDefaultFreeEx(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside)
{
    UNREFERENCED_PARAMETER(Lookaside);
    ExFreePool(Buffer);
}

NTSTATUS NTAPI ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside,
                                           PALLOCATE_FUNCTION_EX Allocate, PFREE_FUNCTION_EX Free,
                                           POOL_TYPE PoolType, ULONG Flags, SIZE_T Size, ULONG Tag,
                                           USHORT Depth)
{
    ULONG Type = (ULONG)PoolType;

    UNREFERENCED_PARAMETER(Depth);
    /* The two flags exclude each other; nothing else is defined. */
    if ((Flags & ~(EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL |
                   EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)) != 0 ||
        (Flags ==
         (EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)) ||
        Lookaside == NULL || Size == 0 || Size > MAXULONG) {
        return STATUS_INVALID_PARAMETER;
    }
    if (Flags & EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL) {
        Type |= POOL_RAISE_IF_ALLOCATION_FAILURE;
    }
    ExpInitializeGeneralLookaside(&Lookaside->L, (POOL_TYPE)Type, Size, Tag);
    Lookaside->L.AllocateEx = Allocate != NULL ? Allocate : ExpDefaultAllocateEx;
    Lookaside->L.FreeEx = Free != NULL ? Free : ExpDefaultFreeEx;
    ExpLinkLookaside((Type & 1) ? &ExpPagedLookasideListHead : &ExpNonPagedLookasideListHead,
                     &Lookaside->L.ListEntry);
    return STATUS_SUCCESS;
}

VOID NTAPI ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    ExpUnlinkLookaside(&Lookaside->L.ListEntry);
    ExpDrainLookaside(&Lookaside->L.ListHead, NULL, Lookaside->L.FreeEx, Lookaside);
}

VOID NTAPI ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    ExpDrainLookaside(&Lookaside->L.ListHead, NULL, Lookaside->L.FreeEx, Lookaside);
}

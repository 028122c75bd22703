/*
 * pooltag.c - per-tag pool accounting (what poolmon shows: allocations,
 * frees and bytes in use, paged and nonpaged) and its query routines.
 *
 * A global table maps each tag to a slot (open addressing; a slot is
 * claimed once with a compare-exchange and never released, so lookups take
 * no lock). The counters live per processor: each processor updates only
 * its own array, at DISPATCH_LEVEL (the thread cannot migrate mid-update),
 * with plain loads and stores, and a query sums all of them. A processor's
 * array is allocated on its first pool use; if that fails, it uses a
 * shared array with atomic adds.
 */
#include "poolp.h"

#define EXP_OVERFLOW_TAG 'lfvO'

#define EXP_TAG_COUNTER_PAGES BYTES_TO_PAGES((EXP_TAG_SLOTS + 1) * sizeof(EXP_TAG_COUNTERS))

ULONG ExpTagKeys[EXP_TAG_SLOTS];
PEXP_TAG_COUNTERS ExpTagCounters[MAXIMUM_PROCESSORS];
static EXP_TAG_COUNTERS ExpSharedTagCounters[EXP_TAG_SLOTS + 1];

ULONG ExpTagSlot(ULONG Tag)
{
    ULONG Slot = ExpTagHash(Tag);

    if (Tag == 0) {
        return EXP_TAG_OVERFLOW;
    }
    for (ULONG Probe = 0; Probe < EXP_TAG_SLOTS; Probe++) {
        ULONG Key = __atomic_load_n(&ExpTagKeys[Slot], __ATOMIC_ACQUIRE);
        if (Key == Tag) {
            return Slot;
        }
        if (Key == 0) {
            ULONG Expected = 0;
            if (__atomic_compare_exchange_n(&ExpTagKeys[Slot], &Expected, Tag, FALSE,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
                Expected == Tag) {
                return Slot;
            }
        }
        Slot = (Slot + 1) & (EXP_TAG_SLOTS - 1);
    }
    return EXP_TAG_OVERFLOW;
}

/* Processor Number's counters, allocated on its first pool use (at
 * DISPATCH_LEVEL on that processor, so nobody races for it); NULL if that
 * failed, the caller then uses the shared array. */
static PEXP_TAG_COUNTERS ExpProcessorCounters(ULONG Number)
{
    PEXP_TAG_COUNTERS Counters;

    if (Number >= MAXIMUM_PROCESSORS) {
        /* A host thread beyond the processor table (hosted only): it has
         * no counters of its own. */
        return NULL;
    }
    Counters = ExpTagCounters[Number];
    if (Counters == NULL) {
        Counters = MiAllocateKernelPages(EXP_TAG_COUNTER_PAGES);
        if (Counters != NULL) {
            __atomic_store_n(&ExpTagCounters[Number], Counters, __ATOMIC_RELEASE);
        }
    }
    return Counters;
}

VOID ExpCountPoolTagAtDpc(ULONG Number, ULONG Slot, BOOLEAN Paged, BOOLEAN Free, LONGLONG Bytes)
{
    PEXP_TAG_COUNTERS Counters = ExpProcessorCounters(Number);

    if (Counters != NULL) {
        ExpBumpTagCounters(Counters, Slot, Paged, Free, Bytes);
    } else {
        Counters = &ExpSharedTagCounters[Slot];
        __atomic_fetch_add(Free ? &Counters->Frees[Paged] : &Counters->Allocs[Paged], 1,
                           __ATOMIC_RELAXED);
        __atomic_fetch_add(&Counters->Bytes[Paged], Bytes, __ATOMIC_RELAXED);
    }
}

static VOID ExpCountPoolTag(ULONG Tag, BOOLEAN Paged, BOOLEAN Free, LONGLONG Bytes)
{
    KIRQL OldIrql = KeRaiseIrqlToDpcLevel();

    ExpCountPoolTagAtDpc(KeGetCurrentPrcb()->Number, ExpTagSlot(Tag), Paged, Free, Bytes);
    KeLowerIrql(OldIrql);
}

VOID ExpChargePoolTag(ULONG Tag, BOOLEAN Paged, SIZE_T Bytes)
{
    ExpCountPoolTag(Tag, Paged, FALSE, (LONGLONG)Bytes);
}

VOID ExpReturnPoolTag(ULONG Tag, BOOLEAN Paged, SIZE_T Bytes)
{
    ExpCountPoolTag(Tag, Paged, TRUE, -(LONGLONG)Bytes);
}

/* Sums one slot over every processor's counters. */
static VOID ExpSumSlot(ULONG Slot, ULONG Tag, PSYSTEM_POOLTAG Info)
{
    LONGLONG Allocs[2] = { 0, 0 }, Frees[2] = { 0, 0 }, Bytes[2] = { 0, 0 };

    for (ULONG p = 0; p <= MAXIMUM_PROCESSORS; p++) {
        PEXP_TAG_COUNTERS Counters = p == MAXIMUM_PROCESSORS
                                         ? ExpSharedTagCounters
                                         : __atomic_load_n(&ExpTagCounters[p], __ATOMIC_ACQUIRE);
        if (Counters == NULL) {
            continue;
        }
        for (ULONG k = 0; k < 2; k++) {
            Allocs[k] += __atomic_load_n(&Counters[Slot].Allocs[k], __ATOMIC_RELAXED);
            Frees[k] += __atomic_load_n(&Counters[Slot].Frees[k], __ATOMIC_RELAXED);
            Bytes[k] += __atomic_load_n(&Counters[Slot].Bytes[k], __ATOMIC_RELAXED);
        }
    }
    Info->TagUlong = Tag;
    Info->NonPagedAllocs = (ULONG)Allocs[0];
    Info->NonPagedFrees = (ULONG)Frees[0];
    Info->NonPagedUsed = (SIZE_T)Bytes[0];
    Info->PagedAllocs = (ULONG)Allocs[1];
    Info->PagedFrees = (ULONG)Frees[1];
    Info->PagedUsed = (SIZE_T)Bytes[1];
}

BOOLEAN ExpQueryPoolTag(ULONG Tag, PSYSTEM_POOLTAG Info)
{
    ULONG Slot = ExpTagHash(Tag);

    for (ULONG Probe = 0; Tag != 0 && Probe < EXP_TAG_SLOTS; Probe++) {
        ULONG Key = __atomic_load_n(&ExpTagKeys[Slot], __ATOMIC_ACQUIRE);
        if (Key == 0) {
            break;
        }
        if (Key == Tag) {
            ExpSumSlot(Slot, Tag, Info);
            return TRUE;
        }
        Slot = (Slot + 1) & (EXP_TAG_SLOTS - 1);
    }
    return FALSE;
}

NTSTATUS ExQueryPoolTagInformation(PSYSTEM_POOLTAG_INFORMATION Buffer, ULONG Length,
                                   PULONG ReturnLength)
{
    ULONG Count = 0, Stored = 0;
    ULONG Needed;

    for (ULONG Slot = 0; Slot < EXP_TAG_SLOTS; Slot++) {
        if (__atomic_load_n(&ExpTagKeys[Slot], __ATOMIC_ACQUIRE) != 0) {
            Count++;
        }
    }
    Count++; /* the overflow bucket */
    Needed =
        (ULONG)(FIELD_OFFSET(SYSTEM_POOLTAG_INFORMATION, TagInfo) + Count * sizeof(SYSTEM_POOLTAG));
    if (ReturnLength != NULL) {
        *ReturnLength = Needed;
    }
    if (Buffer == NULL || Length < Needed) {
        return STATUS_INFO_LENGTH_MISMATCH;
    }
    for (ULONG Slot = 0; Slot < EXP_TAG_SLOTS && Stored < Count - 1; Slot++) {
        ULONG Key = __atomic_load_n(&ExpTagKeys[Slot], __ATOMIC_ACQUIRE);
        if (Key != 0) {
            ExpSumSlot(Slot, Key, &Buffer->TagInfo[Stored++]);
        }
    }
    ExpSumSlot(EXP_TAG_OVERFLOW, EXP_OVERFLOW_TAG, &Buffer->TagInfo[Stored++]);
    Buffer->Count = Stored;
    return STATUS_SUCCESS;
}

/*
 * memory.c - physical memory as the loader sees it: the firmware's E820
 * map (copied out of the PVH start info), a first-fit page allocator over
 * its RAM ranges, and the sorted, non-overlapping memory descriptors of
 * the loader parameter block that tell the kernel what every page is.
 */
#include "bootp.h"
#include <wdm.h>

#define BLP_MAX_RANGES  128
#define BLP_MAX_RECORDS 64
#define BLP_LOW_LIMIT   0x100000ULL    /* never allocate below 1 MiB */
#define BLP_HIGH_LIMIT  0x100000000ULL /* nor above 4 GiB (the early identity map) */

typedef struct _BLP_RANGE {
    UINT64 Base; /* page aligned */
    UINT64 End;  /* page aligned, exclusive */
    TYPE_OF_MEMORY Type;
} BLP_RANGE;

/* RAM rounded inward to whole pages; everything else rounded outward. */
static BLP_RANGE BlpRam[BLP_MAX_RANGES];
static ULONG BlpRamCount;
static BLP_RANGE BlpFirmware[BLP_MAX_RANGES];
static ULONG BlpFirmwareCount;
/* What the loader allocated or found in use (loader, boot image). */
static BLP_RANGE BlpRecords[BLP_MAX_RECORDS];
static ULONG BlpRecordCount;

static UINT64 BlpAlignDown(UINT64 Value)
{
    return Value & ~(BL_PAGE_SIZE - 1);
}

static UINT64 BlpAlignUp(UINT64 Value)
{
    if (Value > ~0ULL - (BL_PAGE_SIZE - 1)) {
        return ~0ULL & ~(BL_PAGE_SIZE - 1);
    }
    return BlpAlignDown(Value + BL_PAGE_SIZE - 1);
}

static BOOLEAN BlpOverlaps(UINT64 Base, UINT64 End, const BLP_RANGE *Range)
{
    return Base < Range->End && Range->Base < End;
}

/* Insertion sort by base: the tables are small. */
static VOID BlpSortRanges(BLP_RANGE *Ranges, ULONG Count)
{
    ULONG Index;

    for (Index = 1; Index < Count; Index++) {
        BLP_RANGE Key = Ranges[Index];
        ULONG Position = Index;
        while (Position > 0 && Ranges[Position - 1].Base > Key.Base) {
            Ranges[Position] = Ranges[Position - 1];
            Position--;
        }
        Ranges[Position] = Key;
    }
}

VOID BlMemoryInitialize(const HVM_MEMMAP_ENTRY *Map, ULONG Count)
{
    ULONG Index;

    for (Index = 0; Index < Count; Index++) {
        HVM_MEMMAP_ENTRY Entry = Map[Index];
        UINT64 End;

        if (Entry.Size == 0) {
            continue;
        }
        End = Entry.Address + Entry.Size;
        if (End < Entry.Address) {
            End = ~0ULL;
        }
        if (Entry.Type == E820_TYPE_RAM) {
            UINT64 Base = BlpAlignUp(Entry.Address);
            End = BlpAlignDown(End);
            if (Base >= End) {
                continue;
            }
            if (BlpRamCount == BLP_MAX_RANGES) {
                BlFatal("firmware memory map has too many entries", NULL);
            }
            BlpRam[BlpRamCount++] = (BLP_RANGE){ Base, End, LoaderFree };
        } else {
            if (BlpFirmwareCount == BLP_MAX_RANGES) {
                BlFatal("firmware memory map has too many entries", NULL);
            }
            BlpFirmware[BlpFirmwareCount++] =
                (BLP_RANGE){ BlpAlignDown(Entry.Address), BlpAlignUp(End),
                             LoaderFirmwarePermanent };
        }
    }
    if (BlpRamCount == 0) {
        BlFatal("firmware memory map has no RAM", NULL);
    }
    BlpSortRanges(BlpRam, BlpRamCount);
    BlpSortRanges(BlpFirmware, BlpFirmwareCount);
}

static VOID BlpAddRecord(UINT64 Base, UINT64 End, TYPE_OF_MEMORY Type)
{
    ULONG Index;

    /* Consecutive allocations of one type (page tables) become one run. */
    for (Index = 0; Index < BlpRecordCount; Index++) {
        if (BlpRecords[Index].Type == Type && BlpRecords[Index].End == Base) {
            BlpRecords[Index].End = End;
            return;
        }
    }
    if (BlpRecordCount == BLP_MAX_RECORDS) {
        BlFatal("too many loader allocations", NULL);
    }
    BlpRecords[BlpRecordCount++] = (BLP_RANGE){ Base, End, Type };
}

VOID BlMemoryReserve(UINT64 Base, UINT64 Size, TYPE_OF_MEMORY Type)
{
    UINT64 End = Base + Size;

    if (End < Base) {
        End = ~0ULL;
    }
    BlpAddRecord(BlpAlignDown(Base), BlpAlignUp(End), Type);
}

/* Moves Candidate past anything already in use; FALSE if it no longer
 * fits below Limit. */
static BOOLEAN BlpFindRoom(UINT64 *Candidate, UINT64 Size, UINT64 Limit)
{
    ULONG Pass;
    ULONG Index;

    /* Each pass either finds no conflict or moves past one range, so
     * there are at most as many passes as ranges. */
    for (Pass = 0; Pass <= BLP_MAX_RECORDS + BLP_MAX_RANGES; Pass++) {
        BOOLEAN Moved = FALSE;

        if (*Candidate > Limit || Size > Limit - *Candidate) {
            return FALSE;
        }
        for (Index = 0; Index < BlpRecordCount && !Moved; Index++) {
            if (BlpOverlaps(*Candidate, *Candidate + Size, &BlpRecords[Index])) {
                *Candidate = BlpRecords[Index].End;
                Moved = TRUE;
            }
        }
        for (Index = 0; Index < BlpFirmwareCount && !Moved; Index++) {
            if (BlpOverlaps(*Candidate, *Candidate + Size, &BlpFirmware[Index])) {
                *Candidate = BlpFirmware[Index].End;
                Moved = TRUE;
            }
        }
        if (!Moved) {
            return TRUE;
        }
    }
    return FALSE;
}

UINT64 BlAllocatePages(UINT64 PageCount, TYPE_OF_MEMORY Type)
{
    UINT64 Base = BlAllocatePagesNoZero(PageCount, Type);

    memset((PVOID)(ULONG_PTR)Base, 0, PageCount * BL_PAGE_SIZE);
    return Base;
}

UINT64 BlAllocatePagesNoZero(UINT64 PageCount, TYPE_OF_MEMORY Type)
{
    UINT64 Size = PageCount * BL_PAGE_SIZE;
    ULONG Index;

    if (PageCount == 0 || PageCount > BLP_HIGH_LIMIT / BL_PAGE_SIZE) {
        BlFatal("bad allocation size", NULL);
    }
    for (Index = 0; Index < BlpRamCount; Index++) {
        UINT64 Candidate = BlpRam[Index].Base;
        UINT64 Limit = BlpRam[Index].End;

        if (Candidate < BLP_LOW_LIMIT) {
            Candidate = BLP_LOW_LIMIT;
        }
        if (Limit > BLP_HIGH_LIMIT) {
            Limit = BLP_HIGH_LIMIT;
        }
        if (BlpFindRoom(&Candidate, Size, Limit)) {
            BlpAddRecord(Candidate, Candidate + Size, Type);
            return Candidate;
        }
    }
    BlFatal("out of memory", NULL);
}

UINT64 BlHighestRamAddress(VOID)
{
    return BlpRam[BlpRamCount - 1].End;
}

BOOLEAN BlRangeHasRam(UINT64 Base, UINT64 Size)
{
    ULONG Index;

    for (Index = 0; Index < BlpRamCount; Index++) {
        if (BlpOverlaps(Base, Base + Size, &BlpRam[Index])) {
            return TRUE;
        }
    }
    return FALSE;
}

/* The type of the page at Address: the loader's own records first, then
 * firmware reservations, then RAM (free); FALSE for a hole in the map. */
static BOOLEAN BlpClassify(UINT64 Address, TYPE_OF_MEMORY *Type)
{
    ULONG Index;

    for (Index = 0; Index < BlpRecordCount; Index++) {
        if (Address >= BlpRecords[Index].Base && Address < BlpRecords[Index].End) {
            *Type = BlpRecords[Index].Type;
            return TRUE;
        }
    }
    for (Index = 0; Index < BlpFirmwareCount; Index++) {
        if (Address >= BlpFirmware[Index].Base && Address < BlpFirmware[Index].End) {
            *Type = LoaderFirmwarePermanent;
            return TRUE;
        }
    }
    for (Index = 0; Index < BlpRamCount; Index++) {
        if (Address >= BlpRam[Index].Base && Address < BlpRam[Index].End) {
            /* Page 0 holds the real-mode interrupt vectors; keeping it out
             * of use also keeps physical address 0 from looking valid. */
            *Type = Address == 0 ? LoaderFirmwarePermanent : LoaderFree;
            return TRUE;
        }
    }
    return FALSE;
}

ULONG BlBuildMemoryDescriptors(PMEMORY_ALLOCATION_DESCRIPTOR Descriptors, ULONG Capacity)
{
    static UINT64 Points[2 * (2 * BLP_MAX_RANGES + BLP_MAX_RECORDS) + 2];
    ULONG PointCount = 0;
    ULONG Count = 0;
    ULONG Index;

    /* Every range boundary, sorted and unique: between two consecutive
     * boundaries the type cannot change. */
    Points[PointCount++] = 0;
    Points[PointCount++] = BL_PAGE_SIZE;
    for (Index = 0; Index < BlpRamCount; Index++) {
        Points[PointCount++] = BlpRam[Index].Base;
        Points[PointCount++] = BlpRam[Index].End;
    }
    for (Index = 0; Index < BlpFirmwareCount; Index++) {
        Points[PointCount++] = BlpFirmware[Index].Base;
        Points[PointCount++] = BlpFirmware[Index].End;
    }
    for (Index = 0; Index < BlpRecordCount; Index++) {
        Points[PointCount++] = BlpRecords[Index].Base;
        Points[PointCount++] = BlpRecords[Index].End;
    }
    for (Index = 1; Index < PointCount; Index++) {
        UINT64 Key = Points[Index];
        ULONG Position = Index;
        while (Position > 0 && Points[Position - 1] > Key) {
            Points[Position] = Points[Position - 1];
            Position--;
        }
        Points[Position] = Key;
    }

    for (Index = 0; Index + 1 < PointCount; Index++) {
        UINT64 Base = Points[Index];
        UINT64 End = Points[Index + 1];
        TYPE_OF_MEMORY Type;
        PMEMORY_ALLOCATION_DESCRIPTOR Last = Count != 0 ? &Descriptors[Count - 1] : NULL;

        if (Base == End || !BlpClassify(Base, &Type)) {
            continue;
        }
        if (Last != NULL && Last->MemoryType == (UINT32)Type &&
            (Last->BasePage + Last->PageCount) * BL_PAGE_SIZE == Base) {
            Last->PageCount += (End - Base) / BL_PAGE_SIZE;
            continue;
        }
        if (Count == Capacity) {
            BlFatal("too many memory descriptors", NULL);
        }
        Descriptors[Count].MemoryType = (UINT32)Type;
        Descriptors[Count].Reserved = 0;
        Descriptors[Count].BasePage = Base / BL_PAGE_SIZE;
        Descriptors[Count].PageCount = (End - Base) / BL_PAGE_SIZE;
        Count++;
    }
    return Count;
}

/*
 * resource.c - ERESOURCE: shared/exclusive locks with recursion, FIFO
 * waiters and no starvation (docs/ex-sync.md).
 *
 * Everything is guarded by Resource->SpinLock. Owners: the exclusive owner
 * (or the first shared owner) in OwnerEntry, other shared owners in
 * OwnerTable (pool; OwnerTable[0].TableSize is its capacity, entries 1..n-1
 * are slots). A slot with OwnerThread 0 is free; OwnerCount 0 with a thread
 * is a shared waiter's reserved slot (not an owner yet). ActiveEntries
 * counts owners. Waiters queue, FIFO, on a list whose head lives in the
 * SharedWaiters/ExclusiveWaiters words (NT keeps a semaphore and an event
 * there; drivers never touch them): each waiter has a block on its stack,
 * and the releaser grants ownership before waking it, so a woken waiter
 * never re-checks. Grants: when the last owner releases, the exclusive
 * owner's release wakes all shared waiters (if any, else the first
 * exclusive one); a shared release wakes the first exclusive waiter (if
 * any, else the shared ones). A waiting exclusive request blocks new shared
 * owners (except ExAcquireSharedStarveExclusive and recursion), so neither
 * side starves.
 */
#include "exsyncp.h"

#define EXP_RESOURCE_TAG        0x74527845 /* 'ExRt' owner tables */
#define EXP_BOOST_REFRESH_100NS (-10LL * 10000)
#define EXP_INITIAL_OWNER_TABLE 4

typedef struct _EXP_RESOURCE_WAIT {
    LIST_ENTRY Link;
    PKTHREAD Thread;
    BOOLEAN Exclusive;
    volatile BOOLEAN Granted;
    KEVENT Event;
} EXP_RESOURCE_WAIT, *PEXP_RESOURCE_WAIT;

static PLIST_ENTRY ExpWaitList(PERESOURCE Resource)
{
    _Static_assert(__builtin_offsetof(ERESOURCE, ExclusiveWaiters) ==
                       __builtin_offsetof(ERESOURCE, SharedWaiters) + sizeof(PVOID),
                   "the waiter list head spans SharedWaiters and ExclusiveWaiters");
    return (PLIST_ENTRY)&Resource->SharedWaiters;
}

static BOOLEAN ExpIsExclusive(PERESOURCE Resource)
{
    return (Resource->Flag & ResourceOwnedExclusive) != 0;
}

static ULONG ExpTableSize(PERESOURCE Resource)
{
    return Resource->OwnerTable != NULL ? Resource->OwnerTable[0].TableSize : 0;
}

static VOID ExpSetActive(PERESOURCE Resource, ULONG Entries)
{
    Resource->ActiveEntries = Entries;
    Resource->ActiveCount = (SHORT)(Entries > 0x7FFF ? 0x7FFF : Entries);
}

/* The slot of Thread (owner, or reserved when IncludeReserved), or NULL. */
static POWNER_ENTRY ExpFindEntry(PERESOURCE Resource, ERESOURCE_THREAD Thread,
                                 BOOLEAN IncludeReserved)
{
    ULONG Size = ExpTableSize(Resource);

    if (Resource->OwnerEntry.OwnerThread == Thread &&
        (IncludeReserved || Resource->OwnerEntry.OwnerCount != 0)) {
        return &Resource->OwnerEntry;
    }
    for (ULONG i = 1; i < Size; i++) {
        POWNER_ENTRY Entry = &Resource->OwnerTable[i];
        if (Entry->OwnerThread == Thread && (IncludeReserved || Entry->OwnerCount != 0)) {
            return Entry;
        }
    }
    return NULL;
}

/* A free slot; OwnerEntry only when AllowEmbedded (never for reservations:
 * the exclusive owner always goes there). NULL when the table is full. */
static POWNER_ENTRY ExpFindFreeEntry(PERESOURCE Resource, BOOLEAN AllowEmbedded)
{
    ULONG Size = ExpTableSize(Resource);

    if (AllowEmbedded && Resource->OwnerEntry.OwnerThread == 0) {
        return &Resource->OwnerEntry;
    }
    for (ULONG i = 1; i < Size; i++) {
        if (Resource->OwnerTable[i].OwnerThread == 0) {
            return &Resource->OwnerTable[i];
        }
    }
    return NULL;
}

static VOID ExpFreeEntry(POWNER_ENTRY Entry)
{
    Entry->OwnerThread = 0;
    Entry->TableSize = 0;
}

/* Grows the owner table (lock released and re-taken: pool is allocated
 * outside the spin lock). FALSE when pool is exhausted. */
static BOOLEAN ExpExpandOwnerTable(PERESOURCE Resource, PKLOCK_QUEUE_HANDLE Lock)
{
    ULONG OldSize = ExpTableSize(Resource);
    ULONG NewSize = OldSize == 0 ? EXP_INITIAL_OWNER_TABLE : OldSize * 2;
    POWNER_ENTRY Table;
    POWNER_ENTRY Old = NULL;

    KeReleaseInStackQueuedSpinLock(Lock);
    Table = ExAllocatePool2(POOL_FLAG_NON_PAGED, NewSize * sizeof(OWNER_ENTRY), EXP_RESOURCE_TAG);
    KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, Lock);
    if (Table == NULL) {
        return FALSE;
    }
    if (ExpTableSize(Resource) != OldSize) {
        Old = Table; /* someone else grew it meanwhile */
    } else {
        if (OldSize != 0) {
            RtlCopyMemory(&Table[1], &Resource->OwnerTable[1], (OldSize - 1) * sizeof(OWNER_ENTRY));
        }
        Table[0].OwnerThread = 0;
        Table[0].TableSize = NewSize;
        Old = Resource->OwnerTable;
        Resource->OwnerTable = Table;
    }
    if (Old != NULL) {
        KeReleaseInStackQueuedSpinLock(Lock);
        ExFreePoolWithTag(Old, EXP_RESOURCE_TAG);
        KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, Lock);
    }
    return TRUE;
}

/* Raises every owner to Priority (the caller is about to wait). */
static VOID ExpBoostOwners(PERESOURCE Resource, KPRIORITY Priority)
{
    ULONG Size = ExpTableSize(Resource);
    PKTHREAD Self = KeGetCurrentThread();

    if (Resource->OwnerEntry.OwnerCount != 0 &&
        (PKTHREAD)Resource->OwnerEntry.OwnerThread != Self) {
        ExpBoostOwner((PKTHREAD)Resource->OwnerEntry.OwnerThread, Priority);
    }
    for (ULONG i = 1; i < Size; i++) {
        POWNER_ENTRY Entry = &Resource->OwnerTable[i];
        if (Entry->OwnerCount != 0 && (PKTHREAD)Entry->OwnerThread != Self) {
            ExpBoostOwner((PKTHREAD)Entry->OwnerThread, Priority);
        }
    }
}

/* Grants ownership to waiters after the owner count dropped to 0 (or a
 * conversion made the resource shared: PreferShared, shared waiters only).
 * Lock held. */
static VOID ExpGrantWaiters(PERESOURCE Resource, BOOLEAN PreferShared, BOOLEAN SharedOnly)
{
    PLIST_ENTRY Head = ExpWaitList(Resource);
    BOOLEAN GrantShared;

    if (IsListEmpty(Head)) {
        return;
    }
    if (SharedOnly) {
        GrantShared = TRUE;
    } else if (PreferShared) {
        GrantShared = Resource->NumberOfSharedWaiters != 0;
    } else {
        GrantShared = Resource->NumberOfExclusiveWaiters == 0;
    }

    if (!GrantShared) {
        for (PLIST_ENTRY Link = Head->Flink; Link != Head; Link = Link->Flink) {
            PEXP_RESOURCE_WAIT Wait = CONTAINING_RECORD(Link, EXP_RESOURCE_WAIT, Link);
            if (Wait->Exclusive) {
                RemoveEntryList(&Wait->Link);
                Resource->NumberOfExclusiveWaiters--;
                Resource->Flag |= ResourceOwnedExclusive;
                Resource->OwnerEntry.OwnerThread = (ERESOURCE_THREAD)Wait->Thread;
                Resource->OwnerEntry.TableSize = 0;
                Resource->OwnerEntry.OwnerCount = 1;
                ExpSetActive(Resource, 1);
                Wait->Granted = TRUE;
                KeSetEvent(&Wait->Event, EVENT_INCREMENT, FALSE);
                return;
            }
        }
        return;
    }

    for (PLIST_ENTRY Link = Head->Flink; Link != Head;) {
        PEXP_RESOURCE_WAIT Wait = CONTAINING_RECORD(Link, EXP_RESOURCE_WAIT, Link);
        Link = Link->Flink;
        if (!Wait->Exclusive) {
            POWNER_ENTRY Entry = ExpFindEntry(Resource, (ERESOURCE_THREAD)Wait->Thread, TRUE);
            RemoveEntryList(&Wait->Link);
            Resource->NumberOfSharedWaiters--;
            if (Entry == NULL || Entry->OwnerCount != 0) {
                KeBugCheckEx(RESOURCE_NOT_OWNED, (ULONG_PTR)Resource, (ULONG_PTR)Wait->Thread,
                             (ULONG_PTR)Resource->OwnerTable, 0x100);
            }
            Entry->OwnerCount = 1;
            ExpSetActive(Resource, Resource->ActiveEntries + 1);
            Wait->Granted = TRUE;
            KeSetEvent(&Wait->Event, EVENT_INCREMENT, FALSE);
        }
    }
}

/* Queues the caller, boosts the owners, and sleeps until granted. Entered
 * and left with the lock held. */
static VOID ExpWaitForResource(PERESOURCE Resource, BOOLEAN Exclusive, PKLOCK_QUEUE_HANDLE Lock)
{
    EXP_RESOURCE_WAIT Wait;
    LARGE_INTEGER Timeout = { .QuadPart = EXP_BOOST_REFRESH_100NS };
    KPRIORITY Priority;

    Wait.Thread = KeGetCurrentThread();
    Wait.Exclusive = Exclusive;
    Wait.Granted = FALSE;
    KeInitializeEvent(&Wait.Event, NotificationEvent, FALSE);
    InsertTailList(ExpWaitList(Resource), &Wait.Link);
    if (Exclusive) {
        Resource->NumberOfExclusiveWaiters++;
    } else {
        Resource->NumberOfSharedWaiters++;
    }
    Resource->ContentionCount++;
    Priority = KeQueryPriorityThread(Wait.Thread);

    while (!Wait.Granted) {
        /* Re-applied every refresh period: owners change while we wait. */
        ExpBoostOwners(Resource, Priority);
        KeReleaseInStackQueuedSpinLock(Lock);
        KeWaitForSingleObject(&Wait.Event, WrResource, KernelMode, FALSE, &Timeout);
        KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, Lock);
    }
    /* The grant and its KeSetEvent happened under the lock: the block on
     * our stack is no longer referenced. */
}

static VOID ExpCheckIrql(PERESOURCE Resource)
{
    KIRQL Irql = KeGetCurrentIrql();
    if (Irql > APC_LEVEL) {
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)Resource, Irql, 0,
                     (ULONG_PTR)__builtin_return_address(0));
    }
}

NTSTATUS NTAPI ExInitializeResourceLite(PERESOURCE Resource)
{
    RtlZeroMemory(Resource, sizeof(*Resource));
    InitializeListHead(ExpWaitList(Resource));
    KeInitializeSpinLock(&Resource->SpinLock);
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI ExReinitializeResourceLite(PERESOURCE Resource)
{
    POWNER_ENTRY Table = Resource->OwnerTable;
    ULONG Size = ExpTableSize(Resource);

    for (ULONG i = 1; i < Size; i++) {
        ExpFreeEntry(&Table[i]);
    }
    ExpFreeEntry(&Resource->OwnerEntry);
    InitializeListHead(ExpWaitList(Resource));
    Resource->Flag = 0;
    ExpSetActive(Resource, 0);
    Resource->ContentionCount = 0;
    Resource->NumberOfSharedWaiters = 0;
    Resource->NumberOfExclusiveWaiters = 0;
    KeInitializeSpinLock(&Resource->SpinLock);
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI ExDeleteResourceLite(PERESOURCE Resource)
{
    if (Resource->OwnerTable != NULL) {
        ExFreePoolWithTag(Resource->OwnerTable, EXP_RESOURCE_TAG);
        Resource->OwnerTable = NULL;
    }
    return STATUS_SUCCESS;
}

typedef enum _EXP_SHARED_KIND {
    ExpSharedNormal,
    ExpSharedStarveExclusive,
} EXP_SHARED_KIND;

static BOOLEAN ExpAcquireShared(PERESOURCE Resource, BOOLEAN Wait, EXP_SHARED_KIND Kind)
{
    ERESOURCE_THREAD Thread = (ERESOURCE_THREAD)KeGetCurrentThread();
    KLOCK_QUEUE_HANDLE Lock;
    POWNER_ENTRY Entry;

    ExpCheckIrql(Resource);
    KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, &Lock);
    for (;;) {
        if (ExpIsExclusive(Resource)) {
            if (Resource->OwnerEntry.OwnerThread == Thread) {
                Resource->OwnerEntry.OwnerCount++; /* exclusive owner: recursion */
                break;
            }
        } else {
            Entry = ExpFindEntry(Resource, Thread, FALSE);
            if (Entry != NULL) {
                Entry->OwnerCount++; /* shared owner: recursion, even past waiters */
                break;
            }
            if (Resource->NumberOfExclusiveWaiters == 0 || Kind == ExpSharedStarveExclusive) {
                Entry = ExpFindFreeEntry(Resource, TRUE);
                if (Entry == NULL) {
                    if (!ExpExpandOwnerTable(Resource, &Lock) && !Wait) {
                        KeReleaseInStackQueuedSpinLock(&Lock);
                        return FALSE;
                    }
                    continue; /* the state may have changed while unlocked */
                }
                Entry->OwnerThread = Thread;
                Entry->TableSize = 0;
                Entry->OwnerCount = 1;
                ExpSetActive(Resource, Resource->ActiveEntries + 1);
                break;
            }
        }

        /* Blocked: by an exclusive owner, or by a waiting exclusive request. */
        if (!Wait) {
            KeReleaseInStackQueuedSpinLock(&Lock);
            return FALSE;
        }
        Entry = ExpFindFreeEntry(Resource, FALSE);
        if (Entry == NULL) {
            if (!ExpExpandOwnerTable(Resource, &Lock)) {
                LARGE_INTEGER Delay = { .QuadPart = -10000 };
                KeReleaseInStackQueuedSpinLock(&Lock);
                KeDelayExecutionThread(KernelMode, FALSE, &Delay);
                KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, &Lock);
            }
            continue;
        }
        Entry->OwnerThread = Thread; /* reserved: OwnerCount 0 until granted */
        Entry->TableSize = 0;
        ExpWaitForResource(Resource, FALSE, &Lock);
        break;
    }
    KeReleaseInStackQueuedSpinLock(&Lock);
    return TRUE;
}

BOOLEAN NTAPI ExAcquireResourceSharedLite(PERESOURCE Resource, BOOLEAN Wait)
{
    return ExpAcquireShared(Resource, Wait, ExpSharedNormal);
}

BOOLEAN NTAPI ExAcquireSharedStarveExclusive(PERESOURCE Resource, BOOLEAN Wait)
{
    return ExpAcquireShared(Resource, Wait, ExpSharedStarveExclusive);
}

/* Shared access, yielding to exclusive waiters: a caller that does not own
 * the resource yet queues behind them, as with ExAcquireResourceSharedLite
 * (an owner's recursive acquire is granted: waiting would deadlock). */
BOOLEAN NTAPI ExAcquireSharedWaitForExclusive(PERESOURCE Resource, BOOLEAN Wait)
{
    return ExpAcquireShared(Resource, Wait, ExpSharedNormal);
}

BOOLEAN NTAPI ExAcquireResourceExclusiveLite(PERESOURCE Resource, BOOLEAN Wait)
{
    ERESOURCE_THREAD Thread = (ERESOURCE_THREAD)KeGetCurrentThread();
    KLOCK_QUEUE_HANDLE Lock;

    ExpCheckIrql(Resource);
    KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, &Lock);
    if (Resource->ActiveEntries == 0) {
        Resource->Flag |= ResourceOwnedExclusive;
        Resource->OwnerEntry.OwnerThread = Thread;
        Resource->OwnerEntry.TableSize = 0;
        Resource->OwnerEntry.OwnerCount = 1;
        ExpSetActive(Resource, 1);
    } else if (ExpIsExclusive(Resource) && Resource->OwnerEntry.OwnerThread == Thread) {
        Resource->OwnerEntry.OwnerCount++;
    } else if (!Wait) {
        KeReleaseInStackQueuedSpinLock(&Lock);
        return FALSE;
    } else {
        /* A shared owner asking for exclusive access deadlocks, as in NT. */
        ExpWaitForResource(Resource, TRUE, &Lock);
    }
    KeReleaseInStackQueuedSpinLock(&Lock);
    return TRUE;
}

VOID NTAPI ExReleaseResourceForThreadLite(PERESOURCE Resource, ERESOURCE_THREAD ResourceThreadId)
{
    KLOCK_QUEUE_HANDLE Lock;
    POWNER_ENTRY Entry;
    BOOLEAN WasExclusive;

    KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, &Lock);
    WasExclusive = ExpIsExclusive(Resource);
    Entry = ExpFindEntry(Resource, ResourceThreadId, FALSE);
    if (Entry == NULL || (WasExclusive && Entry != &Resource->OwnerEntry)) {
        KeReleaseInStackQueuedSpinLock(&Lock);
        KeBugCheckEx(RESOURCE_NOT_OWNED, (ULONG_PTR)Resource, ResourceThreadId,
                     (ULONG_PTR)Resource->OwnerTable, 0x2);
    }
    if (--Entry->OwnerCount == 0) {
        BOOLEAN Waiters = !IsListEmpty(ExpWaitList(Resource));
        ExpFreeEntry(Entry);
        ExpSetActive(Resource, Resource->ActiveEntries - 1);
        if (WasExclusive) {
            Resource->Flag &= ~ResourceOwnedExclusive;
        }
        if (Waiters) {
            /* The owner may carry a boost from the waiters: drop it while
             * it is surely alive (it owned the resource until now). */
            ExpRemoveOwnerBoost((PKTHREAD)ResourceThreadId);
            if (Resource->ActiveEntries == 0) {
                ExpGrantWaiters(Resource, WasExclusive, FALSE);
            }
        }
    }
    KeReleaseInStackQueuedSpinLock(&Lock);
}

VOID FASTCALL ExReleaseResourceLite(PERESOURCE Resource)
{
    ExReleaseResourceForThreadLite(Resource, (ERESOURCE_THREAD)KeGetCurrentThread());
}

VOID NTAPI ExConvertExclusiveToSharedLite(PERESOURCE Resource)
{
    ERESOURCE_THREAD Thread = (ERESOURCE_THREAD)KeGetCurrentThread();
    KLOCK_QUEUE_HANDLE Lock;

    KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, &Lock);
    if (!ExpIsExclusive(Resource) || Resource->OwnerEntry.OwnerThread != Thread) {
        KeReleaseInStackQueuedSpinLock(&Lock);
        KeBugCheckEx(RESOURCE_NOT_OWNED, (ULONG_PTR)Resource, Thread,
                     (ULONG_PTR)Resource->OwnerTable, 0x3);
    }
    /* The owner keeps its count, now shared; shared waiters join it. */
    Resource->Flag &= ~ResourceOwnedExclusive;
    if (Resource->NumberOfSharedWaiters != 0) {
        ExpGrantWaiters(Resource, TRUE, TRUE);
    }
    KeReleaseInStackQueuedSpinLock(&Lock);
}

BOOLEAN NTAPI ExIsResourceAcquiredExclusiveLite(PERESOURCE Resource)
{
    ERESOURCE_THREAD Thread = (ERESOURCE_THREAD)KeGetCurrentThread();
    KLOCK_QUEUE_HANDLE Lock;
    BOOLEAN Owned;

    KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, &Lock);
    Owned = ExpIsExclusive(Resource) && Resource->OwnerEntry.OwnerThread == Thread;
    KeReleaseInStackQueuedSpinLock(&Lock);
    return Owned;
}

/* The caller's acquisition count, shared or exclusive (0: not an owner). */
ULONG NTAPI ExIsResourceAcquiredSharedLite(PERESOURCE Resource)
{
    KLOCK_QUEUE_HANDLE Lock;
    POWNER_ENTRY Entry;
    ULONG Count;

    KeAcquireInStackQueuedSpinLock(&Resource->SpinLock, &Lock);
    Entry = ExpFindEntry(Resource, (ERESOURCE_THREAD)KeGetCurrentThread(), FALSE);
    Count = Entry != NULL ? Entry->OwnerCount : 0;
    KeReleaseInStackQueuedSpinLock(&Lock);
    return Count;
}

ULONG NTAPI ExGetExclusiveWaiterCount(PERESOURCE Resource)
{
    return __atomic_load_n(&Resource->NumberOfExclusiveWaiters, __ATOMIC_RELAXED);
}

ULONG NTAPI ExGetSharedWaiterCount(PERESOURCE Resource)
{
    return __atomic_load_n(&Resource->NumberOfSharedWaiters, __ATOMIC_RELAXED);
}

/* The combined forms return the current thread (NT returns it too). */
PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceExclusive(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(Resource, TRUE);
    return KeGetCurrentThread();
}

PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceShared(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(Resource, TRUE);
    return KeGetCurrentThread();
}

PVOID NTAPI ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    ExAcquireSharedWaitForExclusive(Resource, TRUE);
    return KeGetCurrentThread();
}

VOID FASTCALL ExReleaseResourceAndLeaveCriticalRegion(PERESOURCE Resource)
{
    ExReleaseResourceLite(Resource);
    KeLeaveCriticalRegion();
}

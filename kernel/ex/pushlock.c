/*
 * pushlock.c - EX_PUSH_LOCK: a one-word reader/writer lock (docs/ex-sync.md).
 *
 * The word: bit 0 Locked (exclusive owner), bit 1 Waiting (threads are
 * parked on this lock), bit 2 (NT's Waking position) an exclusive request
 * is parked: new shared acquirers park behind it so a stream of readers
 * cannot starve a writer; bits 4.. the shared owner count. The word never
 * points anywhere: parked threads wait in a hashed table of wait lists
 * (64 buckets, each a spin lock and a list of stack-resident blocks). A
 * thread parks only after setting Waiting under its bucket's lock while the
 * lock is still unavailable, so a releaser that sees Waiting and then takes
 * the bucket lock always finds it; the releaser wakes every thread parked
 * on the lock, clears the wait bits, and the woken threads retry.
 */
#include "exsyncp.h"

#define EXP_PL_LOCKED            ((ULONG_PTR)0x1)
#define EXP_PL_WAITING           ((ULONG_PTR)0x2)
#define EXP_PL_EXCLUSIVE_WAITING ((ULONG_PTR)0x4)
#define EXP_PL_SHARE_INC         ((ULONG_PTR)0x10)
#define EXP_PL_SHARE_MASK        (~(ULONG_PTR)0xF)
#define EXP_PL_BUCKETS           64

typedef struct _EXP_PL_BUCKET {
    KSPIN_LOCK Lock;
    LIST_ENTRY Waiters;
} EXP_PL_BUCKET;

typedef struct _EXP_PL_WAIT {
    LIST_ENTRY Link;
    PEX_PUSH_LOCK PushLock;
    KEVENT Event;
} EXP_PL_WAIT;

static EXP_PL_BUCKET ExpPushLockBuckets[EXP_PL_BUCKETS];
static volatile LONG ExpPushLockBucketsReady; /* ExpInitializeOnce */

static VOID ExpSetUpPushLockBuckets(VOID)
{
    for (ULONG i = 0; i < EXP_PL_BUCKETS; i++) {
        KeInitializeSpinLock(&ExpPushLockBuckets[i].Lock);
        InitializeListHead(&ExpPushLockBuckets[i].Waiters);
    }
}

static EXP_PL_BUCKET *ExpBucket(PEX_PUSH_LOCK PushLock)
{
    ULONG_PTR Key = (ULONG_PTR)PushLock >> 3;

    ExpInitializeOnce(&ExpPushLockBucketsReady, ExpSetUpPushLockBuckets);
    Key ^= Key >> 7;
    return &ExpPushLockBuckets[Key % EXP_PL_BUCKETS];
}

static ULONG_PTR ExpLoad(PEX_PUSH_LOCK PushLock)
{
    return __atomic_load_n(&PushLock->Value, __ATOMIC_SEQ_CST);
}

static BOOLEAN ExpCas(PEX_PUSH_LOCK PushLock, ULONG_PTR Old, ULONG_PTR New)
{
    return __atomic_compare_exchange_n(&PushLock->Value, &Old, New, FALSE, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

static BOOLEAN ExpAvailable(ULONG_PTR Value, BOOLEAN Exclusive)
{
    if (Exclusive) {
        return (Value & (EXP_PL_LOCKED | EXP_PL_SHARE_MASK)) == 0;
    }
    return (Value & (EXP_PL_LOCKED | EXP_PL_EXCLUSIVE_WAITING)) == 0;
}

/* Parks the caller until a release wakes it, unless the lock became
 * available meanwhile. The caller then retries. */
static VOID ExpParkPushLock(PEX_PUSH_LOCK PushLock, BOOLEAN Exclusive)
{
    EXP_PL_BUCKET *Bucket = ExpBucket(PushLock);
    KLOCK_QUEUE_HANDLE Lock;
    EXP_PL_WAIT Wait;
    ULONG_PTR Value;
    ULONG_PTR Bits = EXP_PL_WAITING | (Exclusive ? EXP_PL_EXCLUSIVE_WAITING : 0);

    KeAcquireInStackQueuedSpinLock(&Bucket->Lock, &Lock);
    do {
        Value = ExpLoad(PushLock);
        if (ExpAvailable(Value, Exclusive)) {
            KeReleaseInStackQueuedSpinLock(&Lock);
            return;
        }
    } while ((Value & Bits) != Bits && !ExpCas(PushLock, Value, Value | Bits));
    Wait.PushLock = PushLock;
    KeInitializeEvent(&Wait.Event, NotificationEvent, FALSE);
    InsertTailList(&Bucket->Waiters, &Wait.Link);
    KeReleaseInStackQueuedSpinLock(&Lock);

    KeWaitForSingleObject(&Wait.Event, WrPushLock, KernelMode, FALSE, NULL);
}

/* Wakes every thread parked on PushLock (they retry). */
static VOID ExpWakePushLock(PEX_PUSH_LOCK PushLock)
{
    EXP_PL_BUCKET *Bucket = ExpBucket(PushLock);
    KLOCK_QUEUE_HANDLE Lock;
    LIST_ENTRY Woken;
    ULONG_PTR Value;

    InitializeListHead(&Woken);
    KeAcquireInStackQueuedSpinLock(&Bucket->Lock, &Lock);
    do {
        Value = ExpLoad(PushLock);
    } while (!ExpCas(PushLock, Value, Value & ~(EXP_PL_WAITING | EXP_PL_EXCLUSIVE_WAITING)));
    for (PLIST_ENTRY Link = Bucket->Waiters.Flink; Link != &Bucket->Waiters;) {
        EXP_PL_WAIT *Wait = CONTAINING_RECORD(Link, EXP_PL_WAIT, Link);
        Link = Link->Flink;
        if (Wait->PushLock == PushLock) {
            RemoveEntryList(&Wait->Link);
            InsertTailList(&Woken, &Wait->Link);
        }
    }
    KeReleaseInStackQueuedSpinLock(&Lock);

    /* Each block stays valid until its event is set: its thread is
     * blocked on it. Read the link before setting. */
    while (!IsListEmpty(&Woken)) {
        EXP_PL_WAIT *Wait = CONTAINING_RECORD(RemoveHeadList(&Woken), EXP_PL_WAIT, Link);
        KeSetEvent(&Wait->Event, EVENT_INCREMENT, FALSE);
    }
}

static VOID ExpCheckPushLockIrql(PEX_PUSH_LOCK PushLock)
{
    KIRQL Irql = KeGetCurrentIrql();
    if (Irql > APC_LEVEL) {
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)PushLock, Irql, 0,
                     (ULONG_PTR)__builtin_return_address(0));
    }
}

VOID NTAPI ExInitializePushLock(PEX_PUSH_LOCK PushLock)
{
    PushLock->Value = 0;
}

VOID FASTCALL ExAcquirePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    (VOID) Flags;
    ExpCheckPushLockIrql(PushLock);
    for (;;) {
        ULONG_PTR Value = ExpLoad(PushLock);
        if (ExpAvailable(Value, TRUE)) {
            if (ExpCas(PushLock, Value, Value | EXP_PL_LOCKED)) {
                return;
            }
            continue;
        }
        ExpParkPushLock(PushLock, TRUE);
    }
}

VOID FASTCALL ExAcquirePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    (VOID) Flags;
    ExpCheckPushLockIrql(PushLock);
    for (;;) {
        ULONG_PTR Value = ExpLoad(PushLock);
        if (ExpAvailable(Value, FALSE)) {
            if (ExpCas(PushLock, Value, Value + EXP_PL_SHARE_INC)) {
                return;
            }
            continue;
        }
        ExpParkPushLock(PushLock, FALSE);
    }
}

VOID FASTCALL ExReleasePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    ULONG_PTR Old;

    (VOID) Flags;
    Old = __atomic_fetch_and(&PushLock->Value, ~EXP_PL_LOCKED, __ATOMIC_SEQ_CST);
    if (Old & EXP_PL_WAITING) {
        ExpWakePushLock(PushLock);
    }
}

VOID FASTCALL ExReleasePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags)
{
    ULONG_PTR New;

    (VOID) Flags;
    New = __atomic_sub_fetch(&PushLock->Value, EXP_PL_SHARE_INC, __ATOMIC_SEQ_CST);
    if ((New & EXP_PL_SHARE_MASK) == 0 && (New & EXP_PL_WAITING)) {
        ExpWakePushLock(PushLock);
    }
}

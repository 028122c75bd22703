/*
 * timer.c - KTIMER: one-shot and periodic timers with an optional DPC, on
 * one list ordered by due time (interrupt time, 100 ns units). The clock
 * interrupt compares the earliest due time (KiNextTimerDueTime) with the
 * interrupt time and requests a DISPATCH_LEVEL software interrupt, which
 * expires the due timers (KiTimerExpiration): signal, wake waiters,
 * re-arm periodic ones, queue their DPCs. Thread wait timeouts are timers
 * too (each thread's built-in KTIMER).
 */
#include "kisched.h"

static LIST_ENTRY KiTimerListHead = { &KiTimerListHead, &KiTimerListHead };
volatile ULONG64 KiNextTimerDueTime = ~0ull;

#define KI_MS_TO_100NS 10000ull

static VOID KiUpdateNextDueTime(VOID)
{
    ULONG64 Next = ~0ull;

    if (!IsListEmpty(&KiTimerListHead)) {
        Next = CONTAINING_RECORD(KiTimerListHead.Flink, KTIMER, TimerListEntry)->DueTime.QuadPart;
    }
    __atomic_store_n(&KiNextTimerDueTime, Next, __ATOMIC_RELAXED);
}

ULONG64 KiDueTimeToInterruptTime(LONGLONG DueTime)
{
    ULONG64 Now = KeQueryInterruptTime();
    LARGE_INTEGER SystemTime;

    if (DueTime < 0) {
        return Now + (ULONG64)(-DueTime);
    }
    /* Absolute: system time = boot system time + interrupt time. */
    KeQuerySystemTime(&SystemTime);
    if (DueTime <= SystemTime.QuadPart) {
        return Now;
    }
    return Now + (ULONG64)(DueTime - SystemTime.QuadPart);
}

/* Queues Timer by DueTime, due or not (a due one expires at the next
 * clock tick). */
static VOID KiLinkTimer(PKTIMER Timer, ULONG64 DueTime)
{
    PLIST_ENTRY Entry;

    Timer->DueTime.QuadPart = DueTime;
    /* After every timer due no later (FIFO among equals). */
    for (Entry = KiTimerListHead.Blink; Entry != &KiTimerListHead; Entry = Entry->Blink) {
        if (CONTAINING_RECORD(Entry, KTIMER, TimerListEntry)->DueTime.QuadPart <= DueTime) {
            break;
        }
    }
    InsertHeadList(Entry, &Timer->TimerListEntry);
    Timer->Header.TimerMiscFlags |= KI_TIMER_INSERTED;
    KiUpdateNextDueTime();
}

/* Queues Timer unless DueTime has already been reached: then it is not
 * queued and the caller expires it (KeSetTimerEx) or does not wait. */
BOOLEAN KiInsertTimer(PKTIMER Timer, ULONG64 DueTime)
{
    if (DueTime <= KeQueryInterruptTime()) {
        Timer->DueTime.QuadPart = DueTime;
        return FALSE;
    }
    KiLinkTimer(Timer, DueTime);
    return TRUE;
}

VOID KiRemoveTimer(PKTIMER Timer)
{
    if (Timer->Header.TimerMiscFlags & KI_TIMER_INSERTED) {
        RemoveEntryList(&Timer->TimerListEntry);
        Timer->Header.TimerMiscFlags &= (UCHAR)~KI_TIMER_INSERTED;
        KiUpdateNextDueTime();
    }
}

/* Signals an expired timer and re-arms it when periodic. Returns its DPC. */
static PKDPC KiSignalTimer(PKTIMER Timer, ULONG64 Now)
{
    Timer->Header.SignalState = 1;
    if (!IsListEmpty(&Timer->Header.WaitListHead)) {
        KiWaitTest(Timer, 0);
    }
    if (Timer->Period != 0) {
        ULONG64 Period = Timer->Period * KI_MS_TO_100NS;
        ULONG64 Next = Timer->DueTime.QuadPart + Period;
        if (Next <= Now) {
            Next = Now + Period; /* missed periods are not replayed */
        }
        /* Always queued: the clock may already have passed Next (Now was
         * read before the waiters were woken), and a periodic timer left
         * out of the list would never fire again. */
        KiLinkTimer(Timer, Next);
    }
    return Timer->Dpc;
}

static VOID KiQueueTimerDpc(PKDPC Dpc, ULONG64 Now)
{
    LARGE_INTEGER SystemTime;

    (VOID) Now;
    KeQuerySystemTime(&SystemTime);
    KeInsertQueueDpc(Dpc, (PVOID)(ULONG_PTR)SystemTime.LowPart,
                     (PVOID)(ULONG_PTR)(ULONG)SystemTime.HighPart);
}

VOID KiTimerExpiration(VOID)
{
    PKDPC Dpcs[16];
    ULONG Count;
    BOOLEAN More;

    do {
        ULONG64 Now;
        Count = 0;
        KiAcquireDispatcherLockAtDpcLevel();
        Now = KeQueryInterruptTime();
        while (!IsListEmpty(&KiTimerListHead) && Count < RTL_NUMBER_OF(Dpcs)) {
            PKTIMER Timer = CONTAINING_RECORD(KiTimerListHead.Flink, KTIMER, TimerListEntry);
            PKDPC Dpc;
            if (Timer->DueTime.QuadPart > Now) {
                break;
            }
            KiRemoveTimer(Timer);
            Dpc = KiSignalTimer(Timer, Now);
            if (Dpc != NULL) {
                Dpcs[Count++] = Dpc;
            }
        }
        More = !IsListEmpty(&KiTimerListHead) &&
               CONTAINING_RECORD(KiTimerListHead.Flink, KTIMER, TimerListEntry)->DueTime.QuadPart <=
                   Now;
        KiReleaseDispatcherLockFromDpcLevel();
        for (ULONG i = 0; i < Count; i++) {
            KiQueueTimerDpc(Dpcs[i], Now);
        }
    } while (More);
}

VOID NTAPI KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)
{
    KiInitializeDispatcherHeader(&Timer->Header,
                                 Type == NotificationTimer ? TimerNotificationObject
                                                           : TimerSynchronizationObject,
                                 sizeof(KTIMER) / sizeof(LONG), 0);
    Timer->DueTime.QuadPart = 0;
    Timer->TimerListEntry.Flink = Timer->TimerListEntry.Blink = NULL;
    Timer->Dpc = NULL;
    Timer->Processor = 0;
    Timer->Period = 0;
}

VOID NTAPI KeInitializeTimer(PKTIMER Timer)
{
    KeInitializeTimerEx(Timer, NotificationTimer);
}

BOOLEAN NTAPI KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    BOOLEAN WasInserted = (Timer->Header.TimerMiscFlags & KI_TIMER_INSERTED) != 0;
    PKDPC ExpiredDpc = NULL;
    ULONG64 Due;

    if (Period < 0) {
        KiReleaseDispatcherLock(OldIrql);
        KiRaiseStatus(STATUS_INVALID_PARAMETER_3);
    }
    KiRemoveTimer(Timer);
    Timer->Dpc = Dpc;
    Timer->Period = (ULONG)Period;
    Timer->Header.SignalState = 0;
    Due = KiDueTimeToInterruptTime(DueTime.QuadPart);
    if (!KiInsertTimer(Timer, Due)) {
        /* Already due: expires now. */
        ExpiredDpc = KiSignalTimer(Timer, KeQueryInterruptTime());
    }
    KiReleaseDispatcherLock(OldIrql);
    if (ExpiredDpc != NULL) {
        KiQueueTimerDpc(ExpiredDpc, 0);
    }
    return WasInserted;
}

BOOLEAN NTAPI KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc)
{
    return KeSetTimerEx(Timer, DueTime, 0, Dpc);
}

BOOLEAN NTAPI KeCancelTimer(PKTIMER Timer)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    BOOLEAN WasInserted = (Timer->Header.TimerMiscFlags & KI_TIMER_INSERTED) != 0;

    KiRemoveTimer(Timer);
    KiReleaseDispatcherLock(OldIrql);
    return WasInserted;
}

BOOLEAN NTAPI KeReadStateTimer(PKTIMER Timer)
{
    return __atomic_load_n(&Timer->Header.SignalState, __ATOMIC_RELAXED) != 0;
}

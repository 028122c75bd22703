/*
 * event.c - KEVENT: notification events (stay signaled, wake every
 * waiter) and synchronization events (wake one waiter and reset), with
 * KeSetEvent / KePulseEvent passing their priority increment to the woken
 * threads and the Wait argument keeping the dispatcher lock for an
 * immediately following wait.
 */
#include "kisched.h"

VOID NTAPI KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    KiInitializeDispatcherHeader(&Event->Header,
                                 Type == NotificationEvent ? EventNotificationObject
                                                           : EventSynchronizationObject,
                                 sizeof(KEVENT) / sizeof(LONG), State ? 1 : 0);
}

LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    LONG Previous = Event->Header.SignalState;

    if (Previous == 0) {
        PLIST_ENTRY First = Event->Header.WaitListHead.Flink;
        PKWAIT_BLOCK Block = CONTAINING_RECORD(First, KWAIT_BLOCK, WaitListEntry);

        if (First != &Event->Header.WaitListHead &&
            Event->Header.Type == EventSynchronizationObject && Block->WaitType == WaitAny) {
            /* What KiWaitTest would do, directly: the first waiter takes
             * the signal and the event stays clear. */
            KiUnwaitThread(Block->Thread, Block->WaitKey, Increment);
        } else {
            Event->Header.SignalState = 1;
            if (First != &Event->Header.WaitListHead) {
                KiWaitTest(Event, Increment);
            }
        }
    }
    KiExitDispatcher(OldIrql, Wait);
    return Previous;
}

LONG NTAPI KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    LONG Previous = Event->Header.SignalState;

    if (Previous == 0 && !IsListEmpty(&Event->Header.WaitListHead)) {
        Event->Header.SignalState = 1;
        KiWaitTest(Event, Increment);
    }
    Event->Header.SignalState = 0;
    KiExitDispatcher(OldIrql, Wait);
    return Previous;
}

LONG NTAPI KeResetEvent(PRKEVENT Event)
{
    KIRQL OldIrql = KiAcquireDispatcherLock();
    LONG Previous = Event->Header.SignalState;

    Event->Header.SignalState = 0;
    KiReleaseDispatcherLock(OldIrql);
    return Previous;
}

VOID NTAPI KeClearEvent(PRKEVENT Event)
{
    /* A plain store, as on NT: clearing never wakes anyone. */
    __atomic_store_n(&Event->Header.SignalState, 0, __ATOMIC_RELAXED);
}

LONG NTAPI KeReadStateEvent(PRKEVENT Event)
{
    return __atomic_load_n(&Event->Header.SignalState, __ATOMIC_RELAXED);
}

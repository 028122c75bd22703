/*
 * dpc.c - deferred procedure calls: one queue per processor (singly
 * linked, with a tail pointer), guarded by that processor's DpcLock taken
 * with interrupts disabled (a leaf lock: KeInsertQueueDpc is callable at
 * any IRQL). High importance goes to the head, others to the tail. A DPC
 * queued on the current processor requests a DISPATCH_LEVEL software
 * interrupt unless it is low importance and the queue is short (then the
 * next clock tick drains it); a DPC targeted at another processor
 * interrupts it with IPI_DPC unless it is low importance. Queues drain in
 * KiDispatchInterrupt, at DISPATCH_LEVEL, with interrupts enabled.
 */
#include "kisched.h"

static PKPRCB KiDpcTargetPrcb(PKDPC Dpc)
{
    USHORT Number = Dpc->Number;

    if (Number >= MAXIMUM_PROCESSORS) {
        PKPRCB Prcb = KiProcessorBlock[Number - MAXIMUM_PROCESSORS];
        if (Prcb != NULL) {
            return Prcb;
        }
    }
    return KeGetCurrentPrcb();
}

VOID NTAPI KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)
{
    Dpc->Type = DpcObject;
    Dpc->Importance = MediumImportance;
    Dpc->Number = 0;
    Dpc->DpcListEntry.Next = NULL;
    Dpc->ProcessorHistory = 0;
    Dpc->DeferredRoutine = DeferredRoutine;
    Dpc->DeferredContext = DeferredContext;
    Dpc->SystemArgument1 = NULL;
    Dpc->SystemArgument2 = NULL;
    Dpc->DpcData = NULL;
}

VOID NTAPI KeSetImportanceDpc(PRKDPC Dpc, KDPC_IMPORTANCE Importance)
{
    Dpc->Importance = (UCHAR)Importance;
}

VOID NTAPI KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number)
{
    Dpc->Number = (USHORT)(MAXIMUM_PROCESSORS + (UCHAR)Number);
}

BOOLEAN NTAPI KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2)
{
    BOOLEAN Enabled = KiDisableInterrupts();
    PKPRCB Prcb = KiDpcTargetPrcb(Dpc);
    PKDPC_DATA Data = &Prcb->DpcData;
    KDPC_LIST *List = &Data->DpcList;
    LONG Depth;

    KiAcquireSpinLockRaw(&Data->DpcLock);
    if (Dpc->DpcData != NULL) {
        KiReleaseSpinLockRaw(&Data->DpcLock);
        KiRestoreInterrupts(Enabled);
        return FALSE;
    }
    Dpc->SystemArgument1 = SystemArgument1;
    Dpc->SystemArgument2 = SystemArgument2;
    Dpc->DpcData = Data;
    Dpc->ProcessorHistory |= (KAFFINITY)1 << Prcb->Number;
    if (Dpc->Importance == HighImportance || List->ListHead.Next == NULL) {
        Dpc->DpcListEntry.Next = List->ListHead.Next;
        List->ListHead.Next = &Dpc->DpcListEntry;
        if (List->LastEntry == NULL) {
            List->LastEntry = &Dpc->DpcListEntry;
        }
    } else {
        Dpc->DpcListEntry.Next = NULL;
        List->LastEntry->Next = &Dpc->DpcListEntry;
        List->LastEntry = &Dpc->DpcListEntry;
    }
    Depth = ++Data->DpcQueueDepth;
    KiReleaseSpinLockRaw(&Data->DpcLock);

    if (Dpc->Importance != LowImportance || Depth >= KI_MAXIMUM_DPC_DEPTH) {
        if (Prcb == KeGetCurrentPrcb()) {
            KiRequestSoftwareInterrupt(DISPATCH_LEVEL);
        } else {
            KiIpiSend((KAFFINITY)1 << Prcb->Number, IPI_DPC);
        }
    }
    KiRestoreInterrupts(Enabled);
    /* Below DISPATCH_LEVEL the request is delivered at once, as NT's
     * DPC interrupt would be. */
    if (Enabled && KiReadIrql() < DISPATCH_LEVEL) {
        KiCheckSoftwareInterrupts();
    }
    return TRUE;
}

BOOLEAN NTAPI KeRemoveQueueDpc(PRKDPC Dpc)
{
    BOOLEAN Enabled = KiDisableInterrupts();
    PKDPC_DATA Data = Dpc->DpcData;
    BOOLEAN Removed = FALSE;

    if (Data != NULL) {
        KiAcquireSpinLockRaw(&Data->DpcLock);
        if (Dpc->DpcData == Data) {
            PSINGLE_LIST_ENTRY Previous = &Data->DpcList.ListHead;
            while (Previous->Next != &Dpc->DpcListEntry) {
                Previous = Previous->Next;
            }
            Previous->Next = Dpc->DpcListEntry.Next;
            if (Data->DpcList.LastEntry == &Dpc->DpcListEntry) {
                Data->DpcList.LastEntry = Previous == &Data->DpcList.ListHead ? NULL : Previous;
            }
            Data->DpcQueueDepth--;
            Dpc->DpcData = NULL;
            Removed = TRUE;
        }
        KiReleaseSpinLockRaw(&Data->DpcLock);
    }
    KiRestoreInterrupts(Enabled);
    return Removed;
}

VOID KiRetireDpcList(PKPRCB Prcb)
{
    PKDPC_DATA Data = &Prcb->DpcData;

    for (;;) {
        BOOLEAN Enabled = KiDisableInterrupts();
        PSINGLE_LIST_ENTRY Entry;
        PKDPC Dpc;
        PKDEFERRED_ROUTINE Routine;
        PVOID Context, Argument1, Argument2;

        KiAcquireSpinLockRaw(&Data->DpcLock);
        Entry = Data->DpcList.ListHead.Next;
        if (Entry == NULL) {
            KiReleaseSpinLockRaw(&Data->DpcLock);
            KiRestoreInterrupts(Enabled);
            return;
        }
        Data->DpcList.ListHead.Next = Entry->Next;
        if (Data->DpcList.LastEntry == Entry) {
            Data->DpcList.LastEntry = NULL;
        }
        Dpc = CONTAINING_RECORD(Entry, KDPC, DpcListEntry);
        Routine = Dpc->DeferredRoutine;
        Context = Dpc->DeferredContext;
        Argument1 = Dpc->SystemArgument1;
        Argument2 = Dpc->SystemArgument2;
        /* Free to be queued again from here on, even by its own routine. */
        Dpc->DpcData = NULL;
        Data->DpcQueueDepth--;
        Data->DpcCount++;
        KiReleaseSpinLockRaw(&Data->DpcLock);
        KiRestoreInterrupts(TRUE);

        Prcb->DpcRoutineActive = TRUE;
        Routine(Dpc, Context, Argument1, Argument2);
        Prcb->DpcRoutineActive = FALSE;
        if (KiReadIrql() != DISPATCH_LEVEL) {
            KIRQL Irql = KiReadIrql();
            KiWriteIrql(HIGH_LEVEL);
            KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)Routine, Irql, 0, (ULONG_PTR)Dpc);
        }
        (VOID) Enabled;
    }
}

VOID NTAPI KeFlushQueuedDpcs(VOID)
{
    KAFFINITY Active = KeQueryActiveProcessors();

    for (; Active != 0; Active &= Active - 1) {
        PKPRCB Prcb = KiProcessorBlock[__builtin_ctzll(Active)];
        if (Prcb == NULL) {
            continue;
        }
        while (Prcb->DpcData.DpcQueueDepth != 0 || Prcb->DpcRoutineActive) {
            if (Prcb == KeGetCurrentPrcb()) {
                KIRQL OldIrql = KfRaiseIrql(DISPATCH_LEVEL);
                KiRequestSoftwareInterrupt(DISPATCH_LEVEL);
                KeLowerIrql(OldIrql);
            } else {
                KiIpiSend((KAFFINITY)1 << Prcb->Number, IPI_DPC);
                KiArchSpinWait();
            }
        }
    }
}

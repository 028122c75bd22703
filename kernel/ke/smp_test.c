/*
 * smp_test.c - the processor set and IPIs: every active processor is
 * registered once with a distinct number and PRCB, packets reach each
 * processor and run there at IPI_LEVEL, KeIpiGenericCall runs its worker
 * exactly once per processor and all at once, request bits are serviced,
 * and a TLB shootdown makes every processor see a remapped page. With one
 * processor the same tests check the local paths.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include <ktest.h>
#include <mm.h>

extern volatile LONGLONG KiIpiInterruptsServiced;

static ULONG KtActiveCount(VOID)
{
    return KeQueryActiveProcessorCount(NULL);
}

KTEST(smp, processors_online_with_distinct_prcbs)
{
    KAFFINITY Active = 0;
    ULONG Count;
    PROCESSOR_NUMBER Number;

    if (KeNumberProcessors == 0) {
        KT_SKIP("no processor registered (hosted HAL without processors)");
    }
    Count = KeQueryActiveProcessorCount(&Active);
    KT_EXPECT_EQ(Count, (ULONG)KeNumberProcessors);
    KT_EXPECT_EQ((ULONG)__builtin_popcountll(Active), Count);
    KT_EXPECT_EQ(KeQueryActiveProcessors(), Active);
    KT_EXPECT_GE(KeQueryMaximumProcessorCount(), Count);
    KT_EXPECT_EQ(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), Count);
    KT_EXPECT_EQ(KeQueryActiveGroupCount(), 1);

    for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
        PKPRCB Prcb = KiProcessorBlock[i];
        if (!(Active & ((KAFFINITY)1 << i))) {
            continue;
        }
        KT_ASSERT_NOT_NULL(Prcb);
        KT_EXPECT_EQ((ULONG)Prcb->Number, i);
        KT_EXPECT_EQ(Prcb->SetMember, (KAFFINITY)1 << i);
        for (ULONG j = 0; j < i; j++) {
            if (Active & ((KAFFINITY)1 << j)) {
                KT_EXPECT_NE((ULONG_PTR)KiProcessorBlock[j], (ULONG_PTR)Prcb);
                /* Bare metal: every processor has its own local APIC. */
                if (KeLoaderBlock != NULL) {
                    KT_EXPECT_NE(KiProcessorBlock[j]->ApicId, Prcb->ApicId);
                }
            }
        }
    }

    ULONG Current = KeGetCurrentProcessorNumberEx(&Number);
    KT_EXPECT_EQ(Number.Group, 0);
    KT_EXPECT_EQ((ULONG)Number.Number, Current);
    KT_EXPECT_TRUE((Active & ((KAFFINITY)1 << Current)) != 0);
    KT_EXPECT_EQ(KeGetProcessorIndexFromNumber(&Number), Current);
    KT_EXPECT_SUCCESS(KeGetProcessorNumberFromIndex(Current, &Number));
    KT_EXPECT_EQ((ULONG)Number.Number, Current);
    KT_EXPECT_STATUS(KeGetProcessorNumberFromIndex(MAXIMUM_PROCESSORS, &Number),
                     STATUS_INVALID_PARAMETER);
}

typedef struct _KT_PACKET_RECORD {
    volatile LONG Runs;
    volatile ULONG Processor;
    volatile KIRQL Irql;
} KT_PACKET_RECORD;

static ULONG_PTR KtRecordWorker(ULONG_PTR Context)
{
    KT_PACKET_RECORD *Record = (KT_PACKET_RECORD *)Context;
    Record->Processor = KeGetCurrentProcessorNumber();
    Record->Irql = KeGetCurrentIrql();
    __atomic_add_fetch(&Record->Runs, 1, __ATOMIC_RELEASE);
    return 0;
}

KTEST(smp, packet_round_trip_to_each_processor)
{
    KAFFINITY Active = KeQueryActiveProcessors();
    ULONG Self, Reached = 0;
    KIRQL OldIrql;

    if (KtActiveCount() < 2) {
        KT_SKIP("one processor");
    }
    /* Stay on this processor while targeting the others. */
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Self = KeGetCurrentProcessorNumber();
    for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
        KT_PACKET_RECORD Record = { 0, 0xFFFFFFFFu, 0 };
        if (!(Active & ((KAFFINITY)1 << i)) || i == Self) {
            continue;
        }
        for (ULONG Round = 0; Round < 20; Round++) {
            KiIpiSendPacket((KAFFINITY)1 << i, KtRecordWorker, (ULONG_PTR)&Record);
        }
        KT_EXPECT_EQ(Record.Runs, 20);
        KT_EXPECT_EQ(Record.Processor, i);
        KT_EXPECT_EQ(Record.Irql, IPI_LEVEL);
        Reached++;
    }
    /* A packet to the sender alone is a no-op. */
    {
        KT_PACKET_RECORD Record = { 0, 0xFFFFFFFFu, 0 };
        KiIpiSendPacket((KAFFINITY)1 << Self, KtRecordWorker, (ULONG_PTR)&Record);
        KT_EXPECT_EQ(Record.Runs, 0);
    }
    KeLowerIrql(OldIrql);
    KT_EXPECT_EQ(Reached + 1, KtActiveCount());
}

typedef struct _KT_GENERIC_STATE {
    volatile LONG Runs[MAXIMUM_PROCESSORS];
    volatile LONG Arrived;
    volatile LONG Overlapped; /* workers that saw every processor arrive */
    volatile LONG WrongIrql;
    LONG Expected;
} KT_GENERIC_STATE;

static ULONG_PTR KtGenericWorker(ULONG_PTR Context)
{
    KT_GENERIC_STATE *State = (KT_GENERIC_STATE *)Context;
    ULONG Number = KeGetCurrentProcessorNumber();
    ULONG64 Start = KiReadTimestamp();

    if (KeGetCurrentIrql() != IPI_LEVEL) {
        __atomic_add_fetch(&State->WrongIrql, 1, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&State->Runs[Number], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&State->Arrived, 1, __ATOMIC_ACQ_REL);
    /* All processors run the worker at the same time: each waits (boundedly)
     * until every one has arrived. */
    while (__atomic_load_n(&State->Arrived, __ATOMIC_ACQUIRE) < State->Expected) {
        if (KiTimestampToMicroseconds(KiReadTimestamp() - Start) > 5000000) {
            return 0xDEAD;
        }
        __builtin_ia32_pause();
    }
    __atomic_add_fetch(&State->Overlapped, 1, __ATOMIC_RELAXED);
    return 0x1000 + Number;
}

KTEST(smp, generic_call_runs_once_on_every_processor)
{
    static KT_GENERIC_STATE State;
    KAFFINITY Active;
    ULONG_PTR Result;
    KIRQL OldIrql;

    if (KeNumberProcessors == 0) {
        KT_SKIP("no processor registered (hosted HAL without processors)");
    }
    for (ULONG Round = 0; Round < 5; Round++) {
        memset((PVOID)&State, 0, sizeof(State));
        Active = KeQueryActiveProcessors();
        State.Expected = (LONG)__builtin_popcountll(Active);
        KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
        ULONG Self = KeGetCurrentProcessorNumber();
        Result = KeIpiGenericCall(KtGenericWorker, (ULONG_PTR)&State);
        KT_EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
        KeLowerIrql(OldIrql);
        KT_EXPECT_EQ(Result, (ULONG_PTR)0x1000 + Self);
        for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
            KT_EXPECT_EQ(State.Runs[i], (Active & ((KAFFINITY)1 << i)) ? 1 : 0);
        }
        KT_EXPECT_EQ(State.Overlapped, State.Expected);
        KT_EXPECT_EQ(State.WrongIrql, 0);
    }
}

KTEST(smp, request_bits_are_serviced)
{
    KAFFINITY Others;
    LONGLONG Before;
    ULONG64 Start;
    KIRQL OldIrql;

    if (KtActiveCount() < 2) {
        KT_SKIP("one processor");
    }
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Others = KeQueryActiveProcessors() & ~KeGetCurrentPrcb()->SetMember;
    Before = __atomic_load_n(&KiIpiInterruptsServiced, __ATOMIC_ACQUIRE);
    KiIpiSend(Others, IPI_DPC);
    KeLowerIrql(OldIrql);
    Start = KiReadTimestamp();
    for (;;) {
        BOOLEAN Pending = FALSE;
        for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
            if ((Others & ((KAFFINITY)1 << i)) &&
                (__atomic_load_n(&KiProcessorBlock[i]->IpiRequests, __ATOMIC_ACQUIRE) & IPI_DPC)) {
                Pending = TRUE;
            }
        }
        if (!Pending || KiTimestampToMicroseconds(KiReadTimestamp() - Start) > 5000000) {
            KT_EXPECT_FALSE(Pending);
            break;
        }
        __builtin_ia32_pause();
    }
    KT_EXPECT_GE(__atomic_load_n(&KiIpiInterruptsServiced, __ATOMIC_ACQUIRE) - Before,
                 (LONGLONG)__builtin_popcountll(Others));
}

static ULONG_PTR KtReadWorker(ULONG_PTR Context)
{
    volatile ULONG **Slots = (volatile ULONG **)Context;
    volatile ULONG *Page = Slots[0];
    ULONG *Results = (ULONG *)Slots[1];
    Results[KeGetCurrentProcessorNumber()] = *Page;
    return 0;
}

/* A page is read on every processor (each caches the translation), then
 * remapped to another physical page with only a local flush plus
 * KiIpiFlushTlb: every processor must read the new page. */
KTEST(smp, tlb_flush_packet_reaches_every_processor)
{
    static ULONG Results[MAXIMUM_PROCESSORS];
    PVOID Slots[2];
    KAFFINITY Active;
    PFN_NUMBER Original, Replacement, Unmapped;
    PULONG Page;

    if (KeNumberProcessors == 0) {
        KT_SKIP("no processor registered (hosted HAL without processors)");
    }
    Page = MiAllocateKernelPages(1);
    KT_ASSERT_NOT_NULL(Page);
    if (!MiAllocatePhysicalPage(&Replacement, TRUE)) {
        MiFreeKernelPages(Page, 1);
        KT_ASSERT_TRUE(FALSE);
    }
    *Page = 0xAAAA5555u;
    *(PULONG)(MmPhysicalMapBase + ((ULONG_PTR)Replacement << PAGE_SHIFT)) = 0x5555AAAAu;
    Slots[0] = Page;
    Slots[1] = Results;
    Active = KeQueryActiveProcessors();

    memset(Results, 0, sizeof(Results));
    KeIpiGenericCall(KtReadWorker, (ULONG_PTR)Slots);
    for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
        if (Active & ((KAFFINITY)1 << i)) {
            KT_EXPECT_EQ(Results[i], 0xAAAA5555u);
        }
    }

    KT_ASSERT_TRUE(MiArchUnmapPage((ULONG_PTR)Page, &Original));
    KT_ASSERT_SUCCESS(MiArchMapPage((ULONG_PTR)Page, Replacement, PAGE_READWRITE));
    KiIpiFlushTlb((ULONG_PTR)Page, 1);

    memset(Results, 0, sizeof(Results));
    KeIpiGenericCall(KtReadWorker, (ULONG_PTR)Slots);
    for (ULONG i = 0; i < MAXIMUM_PROCESSORS; i++) {
        if (Active & ((KAFFINITY)1 << i)) {
            KT_EXPECT_EQ(Results[i], 0x5555AAAAu);
        }
    }

    /* Put the original page back before freeing the allocation. */
    KT_EXPECT_TRUE(MiArchUnmapPage((ULONG_PTR)Page, &Unmapped));
    KT_EXPECT_EQ(Unmapped, Replacement);
    KT_EXPECT_SUCCESS(MiArchMapPage((ULONG_PTR)Page, Original, PAGE_READWRITE));
    KiIpiFlushTlb((ULONG_PTR)Page, 1);
    MiFreePhysicalPage(Replacement);
    MiFreeKernelPages(Page, 1);
}

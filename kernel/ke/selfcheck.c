/*
 * selfcheck.c - the scheduler's boot self-check: four threads of
 * priorities 8, 12, 16 and 24, made ready together while their creator
 * runs above them, all bound to the creator's processor, must finish
 * highest priority first. Prints one line:
 *   sched: self-check: 4 threads at priorities 8/12/16/24 finished in priority order: ok
 */
#include "kisched.h"

#define KI_CHECK_THREADS 4

static const KPRIORITY KiCheckPriorities[KI_CHECK_THREADS] = { 8, 12, 16, 24 };

typedef struct _KI_SELF_CHECK {
    volatile LONG Finished;
    KPRIORITY Order[KI_CHECK_THREADS];
} KI_SELF_CHECK;

static KI_SELF_CHECK KiSelfCheck;

static VOID NTAPI KipSelfCheckThread(PVOID Context)
{
    /* A little work, so that a wrong order would have a chance to show. */
    for (ULONG i = 0; i < 20000; i++) {
        __asm__ volatile("" ::: "memory");
    }
    KiSelfCheck.Order[__atomic_fetch_add(&KiSelfCheck.Finished, 1, __ATOMIC_RELAXED)] =
        (KPRIORITY)(ULONG_PTR)Context;
}

BOOLEAN KiSchedulerSelfCheck(VOID)
{
    PKTHREAD Self = KeGetCurrentThread();
    PKTHREAD Threads[KI_CHECK_THREADS];
    KWAIT_BLOCK WaitBlocks[KI_CHECK_THREADS];
    KAFFINITY Processor = (KAFFINITY)1 << KeGetCurrentProcessorNumber();
    KPRIORITY OldPriority;
    BOOLEAN Ok = TRUE;
    ULONG Created = 0;

    KiSelfCheck.Finished = 0;
    KeSetSystemAffinityThreadEx((KAFFINITY)1 << KeGetCurrentProcessorNumber());
    Processor = (KAFFINITY)1 << KeGetCurrentProcessorNumber();
    OldPriority = KeSetPriorityThread(Self, HIGH_PRIORITY);
    for (ULONG i = 0; i < KI_CHECK_THREADS; i++) {
        if (!NT_SUCCESS(KiCreateThread(KipSelfCheckThread, (PVOID)(ULONG_PTR)KiCheckPriorities[i],
                                       KiCheckPriorities[i], &Threads[i]))) {
            Ok = FALSE;
            break;
        }
        Threads[i]->Affinity = Processor;
        Threads[i]->UserAffinity = Processor;
        Created++;
    }
    for (ULONG i = 0; i < Created; i++) {
        KiStartThread(Threads[i]);
    }
    /* Nothing ran yet: this thread is above all of them. */
    Ok = Ok && KiSelfCheck.Finished == 0;
    KeSetPriorityThread(Self, OldPriority);
    KeWaitForMultipleObjects(Created, (PVOID *)Threads, WaitAll, Executive, KernelMode, FALSE, NULL,
                             WaitBlocks);
    KeRevertToUserAffinityThreadEx(0);
    for (ULONG i = 0; i < Created; i++) {
        KiDereferenceThread(Threads[i]);
    }
    for (ULONG i = 0; Ok && i < KI_CHECK_THREADS; i++) {
        Ok = KiSelfCheck.Order[i] == KiCheckPriorities[KI_CHECK_THREADS - 1 - i];
    }
    DbgPrint("sched: self-check: %u threads at priorities %d/%d/%d/%d finished in priority "
             "order: %s\n",
             KI_CHECK_THREADS, (int)KiCheckPriorities[0], (int)KiCheckPriorities[1],
             (int)KiCheckPriorities[2], (int)KiCheckPriorities[3], Ok ? "ok" : "FAILED");
    if (!Ok) {
        DbgPrint("sched: self-check: order was %d/%d/%d/%d\n", (int)KiSelfCheck.Order[0],
                 (int)KiSelfCheck.Order[1], (int)KiSelfCheck.Order[2], (int)KiSelfCheck.Order[3]);
    }
    return Ok;
}

/*
 * ex.h - executive internals available before the real pool exists.
 */
#ifndef _EX_
#define _EX_

#include <wdm.h>

/* The kernel's own simple nonpaged allocator (phase 0): 16-byte aligned,
 * never fails silently (returns NULL). Not exported to drivers; the
 * executive pool (ExAllocatePool2 and friends) replaces it. */
PVOID ExpAllocateKernelMemory(SIZE_T Bytes);
VOID ExpFreeKernelMemory(PVOID Block);

/* ---- Executive pool internals (pool: kernel/ex/pool*.c) ---------------- */

/* Boot-time pool setup: checks the processor can run the interlocked
 * lists (cmpxchg16b) and reads the pool's boot options from CommandLine
 * ("specialpool=TAG"). The pool works before this is called; the hosted
 * HAL never calls it. */
VOID ExpInitializePool(PCSTR CommandLine);

/* Per-tag accounting, as poolmon shows it (NT's SYSTEM_POOLTAG). Counts are
 * summed over processors when queried. */
typedef struct _SYSTEM_POOLTAG {
    union {
        UCHAR Tag[4];
        ULONG TagUlong;
    };
    ULONG PagedAllocs;
    ULONG PagedFrees;
    SIZE_T PagedUsed;
    ULONG NonPagedAllocs;
    ULONG NonPagedFrees;
    SIZE_T NonPagedUsed;
} SYSTEM_POOLTAG, *PSYSTEM_POOLTAG;

typedef struct _SYSTEM_POOLTAG_INFORMATION {
    ULONG Count;
    SYSTEM_POOLTAG TagInfo[1];
} SYSTEM_POOLTAG_INFORMATION, *PSYSTEM_POOLTAG_INFORMATION;

/* Fills Buffer with every tag seen so far (what NtQuerySystemInformation's
 * SystemPoolTagInformation returns). STATUS_INFO_LENGTH_MISMATCH when
 * Length is too small; *ReturnLength is the size needed. */
NTSTATUS ExQueryPoolTagInformation(PSYSTEM_POOLTAG_INFORMATION Buffer, ULONG Length,
                                   PULONG ReturnLength);
/* One tag's counters; FALSE when the tag was never used. */
BOOLEAN ExpQueryPoolTag(ULONG Tag, PSYSTEM_POOLTAG Info);

/* Special pool: allocations with this tag (0 = none) each get a page of
 * their own, ending at an unmapped guard page. */
VOID ExpSetSpecialPoolTag(ULONG Tag);
ULONG ExpQuerySpecialPoolTag(VOID);
/* The page-fault path asks whether a faulting address is a special pool
 * guard page (an overrun: PAGE_FAULT_BEYOND_END_OF_ALLOCATION) and bug
 * checks if so; otherwise it returns. */
struct _KTRAP_FRAME;
VOID ExpCheckSpecialPoolFault(ULONG_PTR FaultAddress, BOOLEAN Write,
                              struct _KTRAP_FRAME *TrapFrame);

/* Pool verification: a guard pattern after each block, checked on free.
 * On by default in the checked build; tests may turn it on in any build
 * (blocks allocated while it was on stay checked). */
VOID ExpSetPoolVerification(BOOLEAN Enable);

/* The test seam: when a hook is installed, a detected misuse is reported
 * to it (and the pool call returns without touching the block) instead of
 * bug checking. Returns the previous hook. */
typedef VOID EXP_POOL_VIOLATION_HOOK(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                     ULONG_PTR P4, ULONG Tag);
typedef EXP_POOL_VIOLATION_HOOK *PEXP_POOL_VIOLATION_HOOK;
PEXP_POOL_VIOLATION_HOOK ExpSetPoolViolationHook(PEXP_POOL_VIOLATION_HOOK Hook);

/* Pool pages held by the small-block allocator (cached, never returned to
 * the memory manager). */
SIZE_T ExpPoolPagesInUse(VOID);

/* ---- Executive synchronization (exsync: kernel/ex, docs/ex-sync.md) ---- */

/* Starts the system worker threads (ExQueueWorkItem). Idempotent: phase 1
 * of the boot calls it; the hosted test program's tests call it before
 * using work items. Items queued earlier wait for the threads. */
NTSTATUS ExpInitializeWorkerThreads(VOID);

/* ---- end executive synchronization ---- */

#endif /* _EX_ */

/*
 * arch.h - the interface between portable kernel code (ke, mm, ex) and the
 * processor it runs on: the per-processor control region (KPCR/KPRCB), the
 * saved register frame of a trap, IRQL storage, the timestamp counter and
 * the page-mapping primitives. kernel/arch/x64 + kernel/hal/x64 implement it
 * on bare metal, kernel/hal/hosted inside a Linux process (where a "processor"
 * is a host thread and the MMU is mmap/mprotect).
 */
#ifndef _ARCH_
#define _ARCH_

#include <wdm.h>
#include <ketypes.h>

/* ---- Processor control region ------------------------------------------ */

/* The processor control block: per-processor kernel state. Only phase-0
 * fields for now; the scheduler adds its own. */
typedef struct _KPRCB {
    ULONG MxCsr;
    USHORT Number; /* processor number, 0 = boot processor */
    USHORT Reserved0;
    struct _KTHREAD *CurrentThread; /* running on this processor */
    struct _KTHREAD *NextThread;    /* chosen to run next (Standby), or NULL */
    struct _KTHREAD *IdleThread;
    volatile ULONG64 InterruptCount; /* clock interrupts taken */
    ULONG64 TimestampFrequency;      /* TSC ticks per second */
    /* ---- SMP (kernel/ke/processor.c, kernel/ke/ipi.c) ---- */
    KAFFINITY SetMember;       /* 1 << Number, set when the processor registers */
    ULONG ApicId;              /* x64: local APIC id; hosted: the number */
    volatile LONG IpiRequests; /* IPI_* bits (ke.h) not yet serviced */
    /* ---- end SMP ---- */
    /* ---- Scheduler (kecore: ketypes.h) ---- */
    KI_PRCB_SCHEDULER_FIELDS
    /* ---- end scheduler ---- */
} KPRCB, *PKPRCB;

/* The processor control region, reached through GS on bare metal. The first
 * fields keep the offsets NT x64 uses (Self at 0x18, CurrentPrcb at 0x20,
 * Irql at 0x50, Prcb at 0x180) so debugger habits carry over. */
typedef struct _KPCR {
    PVOID GdtBase;
    PVOID TssBase;
    ULONG64 UserRsp;
    struct _KPCR *Self;
    PKPRCB CurrentPrcb;
    PVOID LockArray;
    PVOID Used_Self;
    PVOID IdtBase;
    ULONG64 Unused[2];
    KIRQL Irql; /* hosted only: bare metal keeps IRQL in CR8 */
    UCHAR Reserved1[0x180 - 0x51];
    KPRCB Prcb;
} KPCR, *PKPCR;

_Static_assert(offsetof(KPCR, Self) == 0x18, "KPCR layout");
_Static_assert(offsetof(KPCR, CurrentPrcb) == 0x20, "KPCR layout");
_Static_assert(offsetof(KPCR, Irql) == 0x50, "KPCR layout");
_Static_assert(offsetof(KPCR, Prcb) == 0x180, "KPCR layout");

#if defined(_KERNEL_MODE)
FORCEINLINE PKPCR KeGetPcr(VOID)
{
    PKPCR Pcr;
    __asm__ volatile("movq %%gs:0x18, %0" : "=r"(Pcr));
    return Pcr;
}

FORCEINLINE PKPRCB KeGetCurrentPrcb(VOID)
{
    PKPRCB Prcb;
    __asm__ volatile("movq %%gs:0x20, %0" : "=r"(Prcb));
    return Prcb;
}
#else
/* Hosted: each host thread has its own KPCR (thread-local storage,
 * HalpThreadProcessor in kernel/hal/hosted/processor.c, KPCR first). The
 * PRCB is one %fs-relative load, as gs:0x20 on x64; it is NULL only before
 * the host thread's first kernel call, which KeGetPcr handles. */
PKPCR KeGetPcr(VOID);
/* An operand of one instruction on a field of HalpThreadProcessor (TLS,
 * local-exec): the field's offset is the asm operand numbered Operand. */
#define KI_HOSTED_TLS(Operand) "%%fs:HalpThreadProcessor@tpoff+%c" #Operand

FORCEINLINE PKPRCB KeGetCurrentPrcb(VOID)
{
    PKPRCB Prcb;
    __asm__ volatile("movq " KI_HOSTED_TLS(1) ", %0"
                     : "=r"(Prcb)
                     : "i"(offsetof(KPCR, CurrentPrcb)));
    if (__builtin_expect(Prcb == NULL, 0)) {
        Prcb = KeGetPcr()->CurrentPrcb;
    }
    return Prcb;
}
#endif

/* ---- Trap frame -------------------------------------------------------- */

/* The registers saved on a trap or interrupt (kernel/arch/x64/trap.S builds
 * it; KiCaptureTrapFrame fills one for the current caller). Like NT's
 * KTRAP_FRAME in purpose, not in layout: the stop screen prints it. */
typedef struct _KTRAP_FRAME {
    ULONG64 Rax, Rbx, Rcx, Rdx, Rsi, Rdi, Rbp;
    ULONG64 R8, R9, R10, R11, R12, R13, R14, R15;
    ULONG64 Cr2;
    ULONG64 Vector;
    ULONG64 ErrorCode;
    /* As pushed by the processor. */
    ULONG64 Rip, SegCs, EFlags, Rsp, SegSs;
} KTRAP_FRAME, *PKTRAP_FRAME;

_Static_assert(sizeof(KTRAP_FRAME) == 23 * 8, "KTRAP_FRAME layout (trap.S)");

/* Fills Frame with the caller's registers as they are when
 * KiCaptureTrapFrame returns: RIP is the return address, RSP the caller's
 * stack pointer after the return, callee-saved registers exact
 * (kernel/arch/x64/context.S; the hosted HAL's context.c). */
VOID KiCaptureTrapFrame(PKTRAP_FRAME Frame);

/* ---- IRQL, interrupts, timestamps -------------------------------------- */

/* Raw IRQL storage (CR8 on x64, the thread's KPCR hosted); no checks. */
KIRQL KiReadIrql(VOID);
VOID KiWriteIrql(KIRQL Irql);

/* Processor interrupt flag. KiDisableInterrupts returns whether they were
 * enabled. */
BOOLEAN KiDisableInterrupts(VOID);
VOID KiRestoreInterrupts(BOOLEAN Enable);

/* A monotonic counter (the TSC on bare metal) and its rate. */
ULONG64 KiReadTimestamp(VOID);

/* Stops this processor for good (used after a bug check). */
DECLSPEC_NORETURN VOID KiHaltProcessor(VOID);

/* ---- Hot-path IRQL and processor number (inline) ------------------------
 *
 * For paths that raise to DISPATCH_LEVEL and back on every call (the pool's
 * fast path): each access is one instruction on the processor's own state,
 * so a thread switched between two of them (hosted: resumed on another host
 * thread) still reads and writes the processor it is on at that moment.
 * x64: CR8 and gs: (the KPCR, its KPRCB at 0x180). Hosted: the host
 * thread's processor record in TLS (kernel/hal/hosted/processor.c), whose
 * first member is the KPCR; processor.c checks the offsets used here.
 * No checks: KfRaiseIrql/KeLowerIrql are the checked interface. */
#define KI_PCR_PRCB_NUMBER   (0x180 + offsetof(KPRCB, Number))
#define KI_PCR_PRCB_SOFTINTS (0x180 + offsetof(KPRCB, SoftwareInterruptPending))

VOID KiCheckSoftwareInterrupts(VOID);

#if defined(_KERNEL_MODE)
FORCEINLINE KIRQL KiReadIrqlInline(VOID)
{
    ULONG64 Cr8;
    __asm__ volatile("movq %%cr8, %0" : "=r"(Cr8));
    return (KIRQL)Cr8;
}

/* From below DISPATCH_LEVEL: pins the thread to this processor. */
FORCEINLINE VOID KiRaiseToDispatchInline(VOID)
{
    __asm__ volatile("movq %0, %%cr8" : : "r"((ULONG64)DISPATCH_LEVEL) : "memory");
}

/* At DISPATCH_LEVEL or above (the thread is pinned). */
FORCEINLINE ULONG KiCurrentProcessorNumberInline(VOID)
{
    USHORT Number;
    __asm__ volatile("movw %%gs:%c1, %0" : "=r"(Number) : "i"(KI_PCR_PRCB_NUMBER) : "memory");
    return Number;
}

/* Back from DISPATCH_LEVEL to OldIrql (below it): the APIC delivers what
 * CR8 held back; pending software interrupts run here, as in KeLowerIrql. */
FORCEINLINE VOID KiLowerFromDispatchInline(KIRQL OldIrql)
{
    ULONG Pending;

    __asm__ volatile("movq %0, %%cr8" : : "r"((ULONG64)OldIrql) : "memory");
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(Pending) : "i"(KI_PCR_PRCB_SOFTINTS) : "memory");
    if (__builtin_expect((Pending & ~((2u << OldIrql) - 1)) != 0, 0)) {
        KiCheckSoftwareInterrupts();
    }
}
#else
/* Hosted: HalpThreadProcessor (TLS, local-exec) starts with the KPCR; its
 * interrupt lines that arrived while masked follow the KPCR. */
#define KI_HOSTED_PENDING_INTERRUPTS (sizeof(KPCR) + 4)

/* The rare halves of the inline routines below, out of line: they keep
 * every register, so the hot path around them needs no spills. */
VOID HalpEnsureCurrentProcessor(VOID) __attribute__((preserve_most));
VOID HalpLowerIrqlSlow(KIRQL OldIrql) __attribute__((preserve_most));

FORCEINLINE KIRQL KiReadIrqlInline(VOID)
{
    KIRQL Irql;
    __asm__ volatile("movb " KI_HOSTED_TLS(1) ", %b0"
                     : "=q"(Irql)
                     : "i"(offsetof(KPCR, Irql))
                     : "memory");
    return Irql;
}

FORCEINLINE VOID KiRaiseToDispatchInline(VOID)
{
    PVOID Self;

    /* A host thread's first kernel call creates its processor record
     * (which sets the IRQL): before the store, not after. */
    __asm__ volatile("movq " KI_HOSTED_TLS(1) ", %0" : "=r"(Self) : "i"(offsetof(KPCR, Self)));
    if (__builtin_expect(Self == NULL, 0)) {
        HalpEnsureCurrentProcessor();
    }
    __asm__ volatile("movb %b0, " KI_HOSTED_TLS(1)
                     :
                     : "q"((KIRQL)DISPATCH_LEVEL), "i"(offsetof(KPCR, Irql))
                     : "memory");
}

FORCEINLINE ULONG KiCurrentProcessorNumberInline(VOID)
{
    USHORT Number;
    __asm__ volatile("movw " KI_HOSTED_TLS(1) ", %0"
                     : "=r"(Number)
                     : "i"(KI_PCR_PRCB_NUMBER)
                     : "memory");
    return Number;
}

FORCEINLINE VOID KiLowerFromDispatchInline(KIRQL OldIrql)
{
    LONG Lines;
    ULONG Pending;

    __asm__ volatile("movb %b0, " KI_HOSTED_TLS(1)
                     :
                     : "q"(OldIrql), "i"(offsetof(KPCR, Irql))
                     : "memory");
    /* Lowering unmasks: lines held back meanwhile are taken now, then the
     * software interrupts above OldIrql (HalpLowerIrqlSlow). */
    __asm__ volatile("movl " KI_HOSTED_TLS(1) ", %0"
                     : "=r"(Lines)
                     : "i"(KI_HOSTED_PENDING_INTERRUPTS)
                     : "memory");
    __asm__ volatile("movl " KI_HOSTED_TLS(1) ", %0"
                     : "=r"(Pending)
                     : "i"(KI_PCR_PRCB_SOFTINTS)
                     : "memory");
    if (__builtin_expect((Lines | (Pending & ~((2u << OldIrql) - 1))) != 0, 0)) {
        HalpLowerIrqlSlow(OldIrql);
    }
}
#endif

/* ---- Page mapping (the MMU behind kernel/mm) --------------------------- */

/* The system virtual range kernel pages come from. */
extern ULONG_PTR MiSystemVaStart;
extern SIZE_T MiSystemVaPages;

/* Maps one page of the system range to Pfn with Protect (PAGE_*). */
NTSTATUS MiArchMapPage(ULONG_PTR Va, PFN_NUMBER Pfn, ULONG Protect);
/* Unmaps one page; returns the PFN it mapped (or FALSE if none). */
BOOLEAN MiArchUnmapPage(ULONG_PTR Va, PPFN_NUMBER Pfn);
/* Changes the protection of one mapped page. */
NTSTATUS MiArchProtectPage(ULONG_PTR Va, ULONG Protect);
/* Translates a kernel virtual address; FALSE when it is not mapped. */
BOOLEAN MiArchTranslate(ULONG_PTR Va, PULONG64 PhysicalAddress);
/* TRUE when reading Va cannot fault (used by the stack walker). */
BOOLEAN MiArchIsAddressReadable(ULONG_PTR Va);
/* The contents of Pages mapped pages at Va are dead and the range is about
 * to be reused as it stands (a kernel stack kept for the next thread):
 * whatever the platform tracks about them goes, as when they are unmapped
 * (hosted: ASan's poison of stack frames that never returned; x64:
 * nothing). */
VOID MiArchForgetContents(ULONG_PTR Va, SIZE_T Pages);
/* Drops this processor's cached translations for Pages pages at Va (the
 * TLB shootdown worker; a no-op where the host keeps mappings coherent). */
VOID MiArchInvalidateRange(ULONG_PTR Va, SIZE_T Pages);
/* Whether other processors cache translations that a change here leaves
 * stale: x64 TLBs do; hosted, the host's mmap/mprotect already keeps
 * every host thread coherent, so a shootdown IPI would do nothing but cost
 * a signal round trip to every processor (MiFlushTlbRange skips it). */
#if defined(_KERNEL_MODE)
#define MI_ARCH_REMOTE_TLBS TRUE
#else
#define MI_ARCH_REMOTE_TLBS FALSE
#endif
/* Maps one page of the system range to a physical page that need not be
 * RAM the allocator owns (device memory), with a caching type
 * (MEMORY_CACHING_TYPE: MmNonCached -> PCD|PWT, MmWriteCombined -> PAT
 * write-combining, MmCached -> write-back). Protect is PAGE_READWRITE or
 * PAGE_READONLY. */
NTSTATUS MiArchMapIoPage(ULONG_PTR Va, PFN_NUMBER Pfn, ULONG Protect, ULONG CacheType);

/* ---- Inter-processor interrupts (smp; x64: kernel/arch/x64/ipi.c,
 * hosted: kernel/hal/hosted) ---- */

/* Interrupts every processor in Targets (never the caller unless its bit
 * is set) on the IPI vector; the handler runs KiIpiServiceRoutine (ke.h)
 * at IPI_LEVEL. Returns once the interrupts are sent, not serviced. */
VOID KiArchSendIpi(KAFFINITY Targets);

/* ---- end inter-processor interrupts ---- */

/* ---- Threads (kecore: kernel/arch/x64/thread.c, swap.S; kehost: hosted) ---- */

/* Lays out Thread's new stack (StackBase/StackLimit set) so that the first
 * KiSwapContext to it runs Startup() on that stack. Startup never returns;
 * it finds its start routine through the current thread. */
VOID KiInitializeContextThread(PKTHREAD Thread, VOID (*Startup)(VOID));
/* Saves Old's callee-saved state on its stack and its stack pointer in
 * Old->KernelStack, loads New->KernelStack and returns into New. Called at
 * DISPATCH_LEVEL; touches neither IRQL nor locks. */
VOID KiSwapContext(PKTHREAD Old, PKTHREAD New);
/* Enables interrupts and waits for one (x64 "sti; hlt": no interrupt can
 * slip in between); returns with interrupts enabled after it was taken. */
VOID KiHaltUntilInterrupt(VOID);

/* The stack size of the kernel's own threads (kehost): NT x64's
 * KERNEL_STACK_SIZE on bare metal; four times that in the hosted build,
 * whose code carries ASan redzones around every stack object and whose
 * interrupts are signals pushing ~3.5 KiB frames (AVX-512 state) onto the
 * interrupted kernel stack. */
#if defined(_KERNEL_MODE)
#define KI_KERNEL_STACK_SIZE KERNEL_STACK_SIZE
#else
#define KI_KERNEL_STACK_SIZE (KERNEL_STACK_SIZE * 4)
#endif

/* One iteration of a spin-wait loop (kehost). x64: PAUSE. Hosted: PAUSE,
 * and every so often the host CPU is given away (sched_yield), as a
 * hypervisor's pause-loop exiting does: hosted processors are host threads
 * that the host may preempt while one holds a spin lock, and without this
 * the others would spin through whole host time slices waiting for it. */
#if defined(_KERNEL_MODE)
FORCEINLINE VOID KiArchSpinWait(VOID)
{
    __builtin_ia32_pause();
}
#else
VOID KiArchSpinWait(VOID);
#endif

/* ---- end threads ---- */

#endif /* _ARCH_ */

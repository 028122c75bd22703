/*
 * thread.c - kernel threads on the host (contract 2): KiInitializeContextThread
 * lays out a new thread's first frame, KiSwapContext switches stacks with
 * the SysV routine in swap.S. Around the register switch it does the two
 * things only a hosted switch needs:
 *
 * - it tells AddressSanitizer, which otherwise takes the new stack for a
 *   wild overflow of the old one: __sanitizer_start_switch_fiber before
 *   (with the bounds of the stack being entered; a terminated thread passes
 *   NULL so its fake stack is released) and __sanitizer_finish_switch_fiber
 *   after, on the stack entered (in KiSwapContext when a thread resumes, in
 *   HalpThreadStartup when it runs for the first time);
 * - it keeps the emulated interrupt flag clear for the whole switch, so
 *   that no signal handler runs kernel code while ASan is between the two
 *   calls; the flag is the processor's, so the context that finishes the
 *   switch restores the value the processor had (SwitchInterrupts).
 *
 * KTHREAD.ArchData: [0] ASan fake-stack handle, [1]/[2] bottom and size of
 * the thread's stack as ASan must see it, [3] the interrupt frames standing
 * on it (interrupt.c). Threads made here use their
 * kernel stack; a thread that began life on a host thread's own stack (the
 * boot context of HalHostedInitialize, a processor's idle loop) gets the
 * host stack's bounds the first time it switches away, which is always on
 * the host thread it was born on.
 */
#define _GNU_SOURCE
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include "hosted_private.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HALP_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif
#endif

#define HALP_ARCH_FAKE_STACK   0
#define HALP_ARCH_STACK_BOTTOM 1
#define HALP_ARCH_STACK_SIZE   2

/* MXCSR and x87 control word a thread starts with (all exceptions masked,
 * round to nearest, 64-bit x87 precision): what the SysV ABI starts with. */
#define HALP_INITIAL_MXCSR 0x1F80ull
#define HALP_INITIAL_FPUCW 0x037Full

PVOID HalpInitializeStack(ULONG_PTR StackBase, VOID (*Routine)(PVOID), PVOID Argument)
{
    ULONG_PTR *Stack = (ULONG_PTR *)(StackBase & ~(ULONG_PTR)15);

    /* Read back by HalpSwitchStack and HalpThreadTrampoline (swap.S). */
    *--Stack = 0; /* the trampoline's "return address": end of the chain */
    *--Stack = (ULONG_PTR)HalpThreadTrampoline;
    *--Stack = 0;                   /* RBP */
    *--Stack = 0;                   /* RBX */
    *--Stack = (ULONG_PTR)Routine;  /* R12 */
    *--Stack = (ULONG_PTR)Argument; /* R13 */
    *--Stack = 0;                   /* R14 */
    *--Stack = 0;                   /* R15 */
    *--Stack = HALP_INITIAL_MXCSR | (HALP_INITIAL_FPUCW << 32);
    return Stack;
}

/* The rest of a switch, on the stack that was entered. */
static VOID HalpFinishSwitch(PVOID FakeStack)
{
#if defined(HALP_ASAN)
    __sanitizer_finish_switch_fiber(FakeStack, NULL, NULL);
#else
    (VOID) FakeStack;
#endif
    KiRestoreInterrupts(HalpCurrentProcessor()->SwitchInterrupts);
}

/* First code of every new kernel thread (R12 of its initial frame). */
static VOID HalpThreadStartup(PVOID Argument)
{
    VOID (*Startup)(VOID) = (VOID(*)(VOID))(ULONG_PTR)Argument;

    HalpFinishSwitch(NULL);
    Startup();
    /* Startup never returns (contract 2). */
    KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, STATUS_ILLEGAL_INSTRUCTION, (ULONG_PTR)Startup, 0, 0);
}

VOID KiInitializeContextThread(PKTHREAD Thread, VOID (*Startup)(VOID))
{
    Thread->ArchData[HALP_ARCH_FAKE_STACK] = 0;
    Thread->ArchData[HALP_ARCH_INTERRUPT_DEPTH] = 0;
    Thread->ArchData[HALP_ARCH_STACK_BOTTOM] = Thread->StackLimit;
    Thread->ArchData[HALP_ARCH_STACK_SIZE] = Thread->StackBase - Thread->StackLimit;
    Thread->KernelStack =
        HalpInitializeStack(Thread->StackBase, HalpThreadStartup, (PVOID)(ULONG_PTR)Startup);
}

VOID KiSwapContext(PKTHREAD Old, PKTHREAD New)
{
    BOOLEAN Enabled = KiDisableInterrupts();
    PHALP_PROCESSOR Processor = HalpCurrentProcessor();
    BOOLEAN Dying = Old->State == Terminated;

    Processor->SwitchInterrupts = Enabled;
    if (Old->ArchData[HALP_ARCH_STACK_BOTTOM] == 0) {
        /* Never switched away before: still on its birth host thread. */
        if (Processor->NativeStackBottom == 0) {
            HalpBindHostThread(Processor);
        }
        Old->ArchData[HALP_ARCH_STACK_BOTTOM] = Processor->NativeStackBottom;
        Old->ArchData[HALP_ARCH_STACK_SIZE] = Processor->NativeStackSize;
    }
#if defined(HALP_ASAN)
    {
        ULONG_PTR Bottom = New->ArchData[HALP_ARCH_STACK_BOTTOM];
        SIZE_T Size = New->ArchData[HALP_ARCH_STACK_SIZE];

        if (Bottom == 0) {
            Bottom = New->StackLimit;
            Size = New->StackBase - New->StackLimit;
        }
        __sanitizer_start_switch_fiber(Dying ? NULL : (void **)&Old->ArchData[HALP_ARCH_FAKE_STACK],
                                       (const void *)Bottom, Size);
    }
#else
    (VOID) Dying;
#endif
    HalpSwitchStack(&Old->KernelStack, New->KernelStack);
    /* Old runs again, on whichever host thread resumed it. */
    HalpFinishSwitch((PVOID)Old->ArchData[HALP_ARCH_FAKE_STACK]);
}

/*
 * thread.c - the x64 side of kernel threads: the first frame of a new
 * thread's stack (what KiSwapContext in swap.S pops) and the idle halt.
 *
 * A new stack, from its top (StackBase, 16-byte aligned):
 *   StackBase - 32 .. StackBase   home space of the startup routine
 *   StackBase - 40                0, its "return address" (ends stack walks)
 *   StackBase - 48                the startup routine (KiSwapContext's ret)
 *   StackBase - 112               RBP RBX RDI RSI R12-R15, all zero
 * so the startup routine is entered with RSP = StackBase - 40, which is
 * 8 modulo 16 as after a call.
 */
#include <ntddk.h>
#include <arch.h>
#include <ke.h>
#include "archp.h"

_Static_assert(offsetof(KTHREAD, KernelStack) == 0x18, "swap.S KTHREAD_KERNEL_STACK");

#define KI_SWAP_FRAME_REGISTERS 8

VOID KiInitializeContextThread(PKTHREAD Thread, VOID (*Startup)(VOID))
{
    PULONG_PTR Top = (PULONG_PTR)(Thread->StackBase & ~(ULONG_PTR)15);
    PULONG_PTR Frame;

    Top[-5] = 0;                  /* StackBase - 40: no return address */
    Top[-6] = (ULONG_PTR)Startup; /* StackBase - 48 */
    Frame = Top - 6 - KI_SWAP_FRAME_REGISTERS;
    for (ULONG i = 0; i < KI_SWAP_FRAME_REGISTERS; i++) {
        Frame[i] = 0;
    }
    Thread->KernelStack = Frame;
}

VOID KiHaltUntilInterrupt(VOID)
{
    /* STI delays interrupts by one instruction: none can be taken between
     * it and the HLT, so a wake-up is never lost. */
    __asm__ volatile("sti; hlt" ::: "memory");
}

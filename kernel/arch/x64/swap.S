/*
 * swap.S - KiSwapContext(PKTHREAD Old, PKTHREAD New) for the bare-metal
 * kernel (Microsoft x64 ABI: RCX = Old, RDX = New). Pushes the
 * callee-saved integer registers (RBP RBX RDI RSI R12-R15) on Old's stack,
 * stores RSP in Old->KernelStack, loads New->KernelStack, pops New's
 * registers and returns into New. XMM6-15 are not saved: the kernel is
 * built -mgeneral-regs-only and leaves CR4.OSFXSR clear, so no kernel code
 * can hold SSE state (saving them becomes necessary the day OSFXSR is
 * set). IRQL, interrupts and locks are the scheduler's business.
 *
 * KiInitializeContextThread (thread.c) builds the same frame on a new
 * stack: eight zero registers, then the startup routine as the return
 * address.
 */
    .set KTHREAD_KERNEL_STACK, 0x18    /* offsetof(KTHREAD, KernelStack), checked in thread.c */

    .text
    .globl KiSwapContext
    .seh_proc KiSwapContext
KiSwapContext:
    pushq %rbp
    .seh_pushreg %rbp
    pushq %rbx
    .seh_pushreg %rbx
    pushq %rdi
    .seh_pushreg %rdi
    pushq %rsi
    .seh_pushreg %rsi
    pushq %r12
    .seh_pushreg %r12
    pushq %r13
    .seh_pushreg %r13
    pushq %r14
    .seh_pushreg %r14
    pushq %r15
    .seh_pushreg %r15
    .seh_endprologue
    movq %rsp, KTHREAD_KERNEL_STACK(%rcx)
    movq KTHREAD_KERNEL_STACK(%rdx), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rsi
    popq %rdi
    popq %rbx
    popq %rbp
    ret
    .seh_endproc

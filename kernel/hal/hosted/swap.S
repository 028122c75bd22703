/*
 * swap.S - the hosted build's stack switch (SysV x86_64): the register half
 * of KiSwapContext and the first frame of a new kernel thread. thread.c
 * wraps both with the ASan fiber annotations and the interrupt window.
 *
 * A saved context is the stack of a suspended HalpSwitchStack call; its
 * stack pointer (the thread's KernelStack) points at
 *   +0   MXCSR (4 bytes), x87 control word (2 bytes), 2 bytes unused
 *   +8   R15, R14, R13, R12, RBX, RBP (the SysV callee-saved registers)
 *   +56  return address
 * Only the control parts of the floating-point state are callee-saved in
 * the SysV ABI (rounding modes, exception masks), so only they travel.
 */
    .text

/* VOID HalpSwitchStack(PVOID *SaveStack, PVOID NewStack)
 * Saves the callee-saved state on the current stack, stores the stack
 * pointer in *SaveStack, continues on NewStack and returns through the
 * context saved there. */
    .globl HalpSwitchStack
    .type HalpSwitchStack, @function
HalpSwitchStack:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)

    movq %rsp, (%rdi)
    movq %rsi, %rsp

    /* From here on the frame is the new context's (same shape). */
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size HalpSwitchStack, . - HalpSwitchStack

/* The first return of HalpSwitchStack into a new thread lands here (the
 * frame thread.c builds): R12 holds the routine to start, R13 its argument.
 * RSP is 8 below a 16-byte boundary with a zero "return address" above it,
 * as at the entry of a function nobody called, so pushing a zero RBP makes
 * the frame chain end here and aligns the call. */
    .globl HalpThreadTrampoline
    .type HalpThreadTrampoline, @function
HalpThreadTrampoline:
    .cfi_startproc
    .cfi_undefined %rip
    xorl %ebp, %ebp
    pushq %rbp
    movq %rsp, %rbp
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size HalpThreadTrampoline, . - HalpThreadTrampoline

    .section .note.GNU-stack, "", @progbits

/*
 * swap_test.S - a probe for hosted_test.c: calls KiSwapContext with known
 * values in every SysV callee-saved register and reports what they hold
 * when the call returns (after the other context ran and switched back).
 */
    .text

/* VOID HalpTestSwapProbe(PKTHREAD Old, PKTHREAD New, ULONG64 After[6])
 * Before the call RBX, RBP, R12-R15 hold 0x...B0 .. 0x...B5 patterns. */
    .globl HalpTestSwapProbe
    .type HalpTestSwapProbe, @function
HalpTestSwapProbe:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    pushq %rbx
    .cfi_offset %rbx, -24
    pushq %r12
    .cfi_offset %r12, -32
    pushq %r13
    .cfi_offset %r13, -40
    pushq %r14
    .cfi_offset %r14, -48
    pushq %r15
    .cfi_offset %r15, -56
    pushq %rdx              /* After; keeps the call aligned */

    movabsq $0x5A5A0000000000B0, %rbx
    movabsq $0x5A5A0000000000B2, %r12
    movabsq $0x5A5A0000000000B3, %r13
    movabsq $0x5A5A0000000000B4, %r14
    movabsq $0x5A5A0000000000B5, %r15
    pushq %rbp
    movabsq $0x5A5A0000000000B1, %rbp
    subq $8, %rsp
    callq KiSwapContext
    addq $8, %rsp
    movq %rbp, %rax
    popq %rbp

    movq -48(%rbp), %rdx
    movq %rbx, 0(%rdx)
    movq %rax, 8(%rdx)
    movq %r12, 16(%rdx)
    movq %r13, 24(%rdx)
    movq %r14, 32(%rdx)
    movq %r15, 40(%rdx)

    popq %rdx
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size HalpTestSwapProbe, . - HalpTestSwapProbe

/* VOID HalpTestClobberAndSwap(PKTHREAD Old, PKTHREAD New)
 * The other side: puts garbage in every callee-saved register (saving its
 * own) and switches back. */
    .globl HalpTestClobberAndSwap
    .type HalpTestClobberAndSwap, @function
HalpTestClobberAndSwap:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    pushq %rbx
    .cfi_offset %rbx, -24
    pushq %r12
    .cfi_offset %r12, -32
    pushq %r13
    .cfi_offset %r13, -40
    pushq %r14
    .cfi_offset %r14, -48
    pushq %r15
    .cfi_offset %r15, -56
    subq $8, %rsp

    movq $-1, %rbx
    movq $-2, %r12
    movq $-3, %r13
    movq $-4, %r14
    movq $-5, %r15
    callq KiSwapContext

    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size HalpTestClobberAndSwap, . - HalpTestClobberAndSwap

    .section .note.GNU-stack, "", @progbits

/*
 * swap_registers.S - the floor of a thread switch: the least a switch
 * between two contexts on one host thread must do (SysV x86_64). Saves the
 * callee-saved registers on the current stack, stores the stack pointer,
 * loads the other context's and returns through it. No floating-point
 * control state, no interrupt window, no bookkeeping: the hosted kernel's
 * HalpSwitchStack does this plus the MXCSR/x87 control word.
 *
 * void BenchRegisterSwap(void **SaveStack, void *NewStack)
 * A new context's stack holds six zero registers and then the address to
 * "return" to (BenchRegisterSwapContextInitialize in register_swap.c).
 */
    .text
    .globl BenchRegisterSwap
    .type BenchRegisterSwap, @function
BenchRegisterSwap:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size BenchRegisterSwap, . - BenchRegisterSwap

    .section .note.GNU-stack, "", @progbits

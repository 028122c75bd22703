/*
 * trap.S - the processor's way into the kernel: one stub per exception and
 * interrupt vector the IDT routes (the 32 exceptions, the clock and the
 * APIC spurious vector). Each stub makes the stack look the same (error
 * code, vector), the common path saves the general registers and CR2 into
 * a KTRAP_FRAME (arch.h) and calls KiDispatchTrap(TrapFrame) with the
 * Microsoft x64 ABI, then restores and returns with iretq. Only kernel-mode
 * traps exist so far, so there is no swapgs.
 */
    .text

.macro TRAP_NOERR vector
    .globl KiTrap\vector
KiTrap\vector:
    pushq $0
    pushq $\vector
    jmp KiTrapCommon
.endm

.macro TRAP_ERR vector
    .globl KiTrap\vector
KiTrap\vector:
    pushq $\vector
    jmp KiTrapCommon
.endm

TRAP_NOERR 0
TRAP_NOERR 1
TRAP_NOERR 2
TRAP_NOERR 3
TRAP_NOERR 4
TRAP_NOERR 5
TRAP_NOERR 6
TRAP_NOERR 7
TRAP_ERR 8
TRAP_NOERR 9
TRAP_ERR 10
TRAP_ERR 11
TRAP_ERR 12
TRAP_ERR 13
TRAP_ERR 14
TRAP_NOERR 15
TRAP_NOERR 16
TRAP_ERR 17
TRAP_NOERR 18
TRAP_NOERR 19
TRAP_NOERR 20
TRAP_ERR 21
TRAP_NOERR 22
TRAP_NOERR 23
TRAP_NOERR 24
TRAP_NOERR 25
TRAP_NOERR 26
TRAP_NOERR 27
TRAP_NOERR 28
TRAP_ERR 29
TRAP_ERR 30
TRAP_NOERR 31
TRAP_NOERR 209
TRAP_NOERR 255

KiTrapCommon:
    cld
    subq $128, %rsp
    movq %rax, 0(%rsp)
    movq %rbx, 8(%rsp)
    movq %rcx, 16(%rsp)
    movq %rdx, 24(%rsp)
    movq %rsi, 32(%rsp)
    movq %rdi, 40(%rsp)
    movq %rbp, 48(%rsp)
    movq %r8, 56(%rsp)
    movq %r9, 64(%rsp)
    movq %r10, 72(%rsp)
    movq %r11, 80(%rsp)
    movq %r12, 88(%rsp)
    movq %r13, 96(%rsp)
    movq %r14, 104(%rsp)
    movq %r15, 112(%rsp)
    movq %cr2, %rax
    movq %rax, 120(%rsp)

    movq %rsp, %rbx             /* callee-saved: the frame */
    movq %rsp, %rcx
    andq $-16, %rsp
    subq $32, %rsp
    call KiDispatchTrap
    movq %rbx, %rsp

    movq 0(%rsp), %rax
    movq 8(%rsp), %rbx
    movq 16(%rsp), %rcx
    movq 24(%rsp), %rdx
    movq 32(%rsp), %rsi
    movq 40(%rsp), %rdi
    movq 48(%rsp), %rbp
    movq 56(%rsp), %r8
    movq 64(%rsp), %r9
    movq 72(%rsp), %r10
    movq 80(%rsp), %r11
    movq 88(%rsp), %r12
    movq 96(%rsp), %r13
    movq 104(%rsp), %r14
    movq 112(%rsp), %r15
    addq $144, %rsp             /* registers, CR2, vector, error code */
    iretq

/* The stub addresses, indexed like KiTrapVectors in cpu.c. */
    .data
    .balign 8
    .globl KiTrapStubs
KiTrapStubs:
    .quad KiTrap0, KiTrap1, KiTrap2, KiTrap3, KiTrap4, KiTrap5, KiTrap6, KiTrap7
    .quad KiTrap8, KiTrap9, KiTrap10, KiTrap11, KiTrap12, KiTrap13, KiTrap14, KiTrap15
    .quad KiTrap16, KiTrap17, KiTrap18, KiTrap19, KiTrap20, KiTrap21, KiTrap22, KiTrap23
    .quad KiTrap24, KiTrap25, KiTrap26, KiTrap27, KiTrap28, KiTrap29, KiTrap30, KiTrap31
    .quad KiTrap209, KiTrap255

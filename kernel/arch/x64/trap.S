/*
 * trap.S - the processor's way into the kernel: one stub per exception and
 * interrupt vector the IDT routes (the 32 exceptions, the clock and the
 * APIC spurious vector). Each stub makes the stack look the same (error
 * code, vector), the common path saves the general registers and CR2 into
 * a KTRAP_FRAME (arch.h) and calls KiDispatchTrap(TrapFrame) with the
 * Microsoft x64 ABI, then restores and returns with iretq. Only kernel-mode
 * traps exist so far, so there is no swapgs.
 *
 * Every stub and KiTrapCommon carry x64 unwind data (.pdata/.xdata through
 * the .seh_* directives) describing exactly what they push, ending in
 * UWOP_PUSH_MACHFRAME: a stack walk that starts in a C trap handler steps
 * through them to the interrupted RIP and RSP (and the interrupted
 * nonvolatile registers, from the trap frame).
 *
 * Stack at the call to KiDispatchTrap (the processor aligned RSP to 16
 * before pushing its frame, so the layout is static and needs no frame
 * register):
 *   RSP +   0  home space for KiDispatchTrap (32 bytes) + 8 to align
 *   RSP +  40  KTRAP_FRAME: RAX ... R15, CR2 (128 bytes)
 *   RSP + 168  vector
 *   RSP + 176  error code (0 when the processor pushes none)
 *   RSP + 184  RIP, CS, RFLAGS, RSP, SS (the machine frame)
 */
    .text

/* The prolog of a stub ends after its jmp: inside the stub every code
 * applies, and the jmp out of the function is never taken for an epilog
 * (a tail call) by the unwinder. */
.macro TRAP_NOERR vector
    .globl KiTrap\vector
    .seh_proc KiTrap\vector
KiTrap\vector:
    .seh_pushframe
    pushq $0
    .seh_stackalloc 8
    pushq $\vector
    .seh_stackalloc 8
    jmp KiTrapCommon
    .seh_endprologue
    .seh_endproc
.endm

.macro TRAP_ERR vector
    .globl KiTrap\vector
    .seh_proc KiTrap\vector
KiTrap\vector:
    .seh_pushframe @code
    pushq $\vector
    .seh_stackalloc 8
    jmp KiTrapCommon
    .seh_endprologue
    .seh_endproc
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
TRAP_NOERR 225 /* HAL_IPI_VECTOR (smp) */

/* Entered from a stub with the vector on top of the error code and the
 * machine frame. Only the nonvolatile registers need unwind codes; the
 * epilog restores from the frame without moving RSP, so until the final
 * add the body's codes still describe the stack (only the iretq itself is
 * not described). */
    .seh_proc KiTrapCommon
KiTrapCommon:
    .seh_pushframe @code
    .seh_stackalloc 8
    cld
    subq $168, %rsp
    .seh_stackalloc 168
    movq %rax, 40(%rsp)
    movq %rbx, 48(%rsp)
    .seh_savereg %rbx, 48
    movq %rcx, 56(%rsp)
    movq %rdx, 64(%rsp)
    movq %rsi, 72(%rsp)
    .seh_savereg %rsi, 72
    movq %rdi, 80(%rsp)
    .seh_savereg %rdi, 80
    movq %rbp, 88(%rsp)
    .seh_savereg %rbp, 88
    movq %r8, 96(%rsp)
    movq %r9, 104(%rsp)
    movq %r10, 112(%rsp)
    movq %r11, 120(%rsp)
    movq %r12, 128(%rsp)
    .seh_savereg %r12, 128
    movq %r13, 136(%rsp)
    .seh_savereg %r13, 136
    movq %r14, 144(%rsp)
    .seh_savereg %r14, 144
    movq %r15, 152(%rsp)
    .seh_savereg %r15, 152
    .seh_endprologue
    movq %cr2, %rax
    movq %rax, 160(%rsp)

    leaq 40(%rsp), %rcx         /* the KTRAP_FRAME */
    call KiDispatchTrap

    movq 40(%rsp), %rax
    movq 48(%rsp), %rbx
    movq 56(%rsp), %rcx
    movq 64(%rsp), %rdx
    movq 72(%rsp), %rsi
    movq 80(%rsp), %rdi
    movq 88(%rsp), %rbp
    movq 96(%rsp), %r8
    movq 104(%rsp), %r9
    movq 112(%rsp), %r10
    movq 120(%rsp), %r11
    movq 128(%rsp), %r12
    movq 136(%rsp), %r13
    movq 144(%rsp), %r14
    movq 152(%rsp), %r15
    addq $184, %rsp             /* home space, registers, CR2, vector, error code */
    iretq
    .seh_endproc

/* The stub addresses, indexed like KiTrapVectors in cpu.c. */
    .data
    .balign 8
    .globl KiTrapStubs
KiTrapStubs:
    .quad KiTrap0, KiTrap1, KiTrap2, KiTrap3, KiTrap4, KiTrap5, KiTrap6, KiTrap7
    .quad KiTrap8, KiTrap9, KiTrap10, KiTrap11, KiTrap12, KiTrap13, KiTrap14, KiTrap15
    .quad KiTrap16, KiTrap17, KiTrap18, KiTrap19, KiTrap20, KiTrap21, KiTrap22, KiTrap23
    .quad KiTrap24, KiTrap25, KiTrap26, KiTrap27, KiTrap28, KiTrap29, KiTrap30, KiTrap31
    .quad KiTrap209, KiTrap255, KiTrap225

/*
 * context.S - KiCaptureTrapFrame(PKTRAP_FRAME Frame) for the bare-metal
 * kernel (Microsoft x64 ABI, RCX = Frame): the caller's registers as they
 * will be once this routine returns, in the layout trap.S builds, so the
 * stop screen and the unwinder treat a capture like a trap.
 */
    .text
    .globl KiCaptureTrapFrame
KiCaptureTrapFrame:
    movq %rax, 0(%rcx)
    movq %rbx, 8(%rcx)
    movq %rcx, 16(%rcx)
    movq %rdx, 24(%rcx)
    movq %rsi, 32(%rcx)
    movq %rdi, 40(%rcx)
    movq %rbp, 48(%rcx)
    movq %r8, 56(%rcx)
    movq %r9, 64(%rcx)
    movq %r10, 72(%rcx)
    movq %r11, 80(%rcx)
    movq %r12, 88(%rcx)
    movq %r13, 96(%rcx)
    movq %r14, 104(%rcx)
    movq %r15, 112(%rcx)
    movq $0, 120(%rcx)          /* CR2 */
    movq $-1, 128(%rcx)         /* Vector: not a trap */
    movq $0, 136(%rcx)          /* ErrorCode */
    movq (%rsp), %rax
    movq %rax, 144(%rcx)        /* RIP: the return address */
    xorl %eax, %eax
    movw %cs, %ax
    movq %rax, 152(%rcx)
    pushfq
    popq %rax
    movq %rax, 160(%rcx)
    leaq 8(%rsp), %rax
    movq %rax, 168(%rcx)        /* RSP after the return */
    xorl %eax, %eax
    movw %ss, %ax
    movq %rax, 176(%rcx)
    movq 0(%rcx), %rax
    ret

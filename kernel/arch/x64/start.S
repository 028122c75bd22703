/*
 * start.S - KiSystemStartup, ntoskrnl's entry point. The loader calls it
 * with the Microsoft x64 ABI (RCX = loader parameter block), paging on and
 * interrupts off, on a loader-owned stack. Stamp the TSC, move to the
 * kernel's own boot stack (inside the image, so it survives the switch to
 * the kernel's page tables and the loader's memory can be reclaimed) and
 * enter C with a terminated frame-pointer chain.
 */
    .set KI_BOOT_STACK_SIZE, 0x10000    /* KiBootStack in cpu.c */

    .text
    .globl KiSystemStartup
KiSystemStartup:
    cli
    movq %rcx, %r12
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    movq %rax, KiKernelEntryTimestamp(%rip)

    leaq KiBootStack(%rip), %rsp
    addq $KI_BOOT_STACK_SIZE, %rsp
    andq $-16, %rsp
    xorl %ebp, %ebp
    pushq $0            /* fake return address ends the stack walk */
    pushq $0            /* and a null saved RBP */
    movq %rsp, %rbp
    subq $32, %rsp      /* home space for the callee */
    movq %r12, %rcx
    call KiInitializeKernel
1:
    cli
    hlt
    jmp 1b

/*
 * apstart.S - how an application processor gets from its STARTUP IPI to C.
 *
 * KiApTrampolineStart..KiApTrampolineEnd is a template smp.c copies to a
 * page below 1 MiB (the STARTUP vector names that page): the processor
 * starts there in real mode with CS = page << 8, IP = 0. The code is
 * position independent (every address is an offset from the start plus
 * the page's base, computed at run time from CS), so one copy serves any
 * page. It goes real mode -> protected mode (its own small GDT) -> long
 * mode with the CR0/CR4/EFER values the boot processor uses and a
 * temporary PML4 below 4 GiB (the kernel's top level plus an identity map
 * of the low 2 MiB, so the instruction after enabling paging exists), then
 * jumps to KiSecondaryStartupStub in the kernel image with the stack and
 * argument smp.c left in the data block (KI_AP_TRAMPOLINE_DATA).
 */
    .set AP_DATA, KiApTrampolineData - KiApTrampolineStart
    .set AP_CR4, AP_DATA + 0
    .set AP_EFER, AP_DATA + 4
    .set AP_CR0, AP_DATA + 8
    .set AP_CR3, AP_DATA + 12
    .set AP_ENTRY, AP_DATA + 16
    .set AP_STACK, AP_DATA + 24
    .set AP_ARGUMENT, AP_DATA + 32
    .set AP_ALIVE, AP_DATA + 40

    .set SEL_CODE64, 0x08
    .set SEL_CODE32, 0x10
    .set SEL_DATA, 0x18
    .set MSR_EFER, 0xC0000080

    .text
    .balign 16
    .globl KiApTrampolineStart
KiApTrampolineStart:
    .code16
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    movl $1, AP_ALIVE               /* tells the boot processor we woke */

    /* EBX = physical base of this page, for every address below. */
    xorl %ebx, %ebx
    movw %cs, %bx
    shll $4, %ebx
    leal (KiApGdt - KiApTrampolineStart)(%ebx), %eax
    movl %eax, (KiApGdtr - KiApTrampolineStart + 2)
    leal (KiApProtected - KiApTrampolineStart)(%ebx), %eax
    movl %eax, (KiApFar32 - KiApTrampolineStart)
    leal (KiApLong - KiApTrampolineStart)(%ebx), %eax
    movl %eax, (KiApFar64 - KiApTrampolineStart)

    lgdtl (KiApGdtr - KiApTrampolineStart)
    movl %cr0, %eax
    orl $1, %eax                    /* PE */
    movl %eax, %cr0
    ljmpl *(KiApFar32 - KiApTrampolineStart)

    .code32
KiApProtected:
    movl $SEL_DATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl AP_CR4(%ebx), %eax         /* PAE and the boot processor's features */
    movl %eax, %cr4
    movl AP_CR3(%ebx), %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    movl AP_EFER(%ebx), %eax        /* LME, NXE (the kernel's PTEs use NX) */
    xorl %edx, %edx
    wrmsr
    movl AP_CR0(%ebx), %eax         /* PG: long mode becomes active */
    movl %eax, %cr0
    ljmpl *(KiApFar64 - KiApTrampolineStart)(%ebx)

    .code64
KiApLong:
    movl %ebx, %ebx                 /* clear the upper half */
    movq AP_STACK(%rbx), %rsp
    movq AP_ARGUMENT(%rbx), %rcx
    movq AP_ENTRY(%rbx), %rax
    jmp *%rax

    .balign 8
KiApGdt:
    .quad 0
    .quad 0x00209A0000000000        /* 0x08: 64-bit code */
    .quad 0x00CF9A000000FFFF        /* 0x10: 32-bit code */
    .quad 0x00CF92000000FFFF        /* 0x18: data */
KiApGdtr:
    .word 4 * 8 - 1
    .long 0                         /* base: patched above */
KiApFar32:
    .long 0
    .word SEL_CODE32
KiApFar64:
    .long 0
    .word SEL_CODE64

    .balign 8
    .globl KiApTrampolineData
KiApTrampolineData:
    .fill 48, 1, 0
    .globl KiApTrampolineEnd
KiApTrampolineEnd:

/* In the kernel image, entered from KiApLong with RSP = the processor's
 * stack top and RCX = its startup block: a terminated frame chain, home
 * space, and C (Microsoft ABI). Never returns. */
    .balign 16
    .globl KiSecondaryStartupStub
KiSecondaryStartupStub:
    andq $-16, %rsp
    xorl %ebp, %ebp
    pushq $0            /* fake return address ends the stack walk */
    pushq $0            /* and a null saved RBP */
    movq %rsp, %rbp
    subq $32, %rsp
    call KiSecondaryProcessorStartup
1:
    cli
    hlt
    jmp 1b

/*
 * capture.S - RtlCaptureContext for the bare-metal kernel (Microsoft x64
 * ABI, RCX = ContextRecord): the caller's registers as they will be once
 * this routine returns. Rip is the return address and Rsp the caller's
 * stack pointer after the return, as NT captures them, so the context
 * unwinds like any other frame of the caller. Integer, segment and control
 * registers always; MXCSR and XMM0-15 only when the kernel has enabled SSE
 * (CR4.OSFXSR), since those instructions fault otherwise.
 */

    /* CONTEXT field offsets (checked against the C layout in wdm.h). */
    .set CxContextFlags, 0x30
    .set CxMxCsr, 0x34
    .set CxSegCs, 0x38
    .set CxSegDs, 0x3A
    .set CxSegEs, 0x3C
    .set CxSegFs, 0x3E
    .set CxSegGs, 0x40
    .set CxSegSs, 0x42
    .set CxEFlags, 0x44
    .set CxRax, 0x78
    .set CxRcx, 0x80
    .set CxRdx, 0x88
    .set CxRbx, 0x90
    .set CxRsp, 0x98
    .set CxRbp, 0xA0
    .set CxRsi, 0xA8
    .set CxRdi, 0xB0
    .set CxR8, 0xB8
    .set CxR9, 0xC0
    .set CxR10, 0xC8
    .set CxR11, 0xD0
    .set CxR12, 0xD8
    .set CxR13, 0xE0
    .set CxR14, 0xE8
    .set CxR15, 0xF0
    .set CxRip, 0xF8
    .set CxFltSaveMxCsr, 0x118
    .set CxXmm0, 0x1A0

    /* CONTEXT_AMD64 | CONTROL | INTEGER | SEGMENTS, then | FLOATING_POINT. */
    .set CONTEXT_CAPTURED, 0x00100007
    .set CONTEXT_FLOATING_BIT, 0x8
    .set CR4_OSFXSR_BIT, 9

    .text
    .globl RtlCaptureContext
    .def RtlCaptureContext
    .scl 2
    .type 32
    .endef
    .seh_proc RtlCaptureContext
RtlCaptureContext:
    /* The flags first, before anything can change them. */
    pushfq
    .seh_stackalloc 8
    .seh_endprologue

    movq %rax, CxRax(%rcx)
    movq %rcx, CxRcx(%rcx)
    movq %rdx, CxRdx(%rcx)
    movq %rbx, CxRbx(%rcx)
    movq %rbp, CxRbp(%rcx)
    movq %rsi, CxRsi(%rcx)
    movq %rdi, CxRdi(%rcx)
    movq %r8, CxR8(%rcx)
    movq %r9, CxR9(%rcx)
    movq %r10, CxR10(%rcx)
    movq %r11, CxR11(%rcx)
    movq %r12, CxR12(%rcx)
    movq %r13, CxR13(%rcx)
    movq %r14, CxR14(%rcx)
    movq %r15, CxR15(%rcx)

    movw %cs, CxSegCs(%rcx)
    movw %ds, CxSegDs(%rcx)
    movw %es, CxSegEs(%rcx)
    movw %fs, CxSegFs(%rcx)
    movw %gs, CxSegGs(%rcx)
    movw %ss, CxSegSs(%rcx)

    movl (%rsp), %eax
    movl %eax, CxEFlags(%rcx)
    movq 8(%rsp), %rax          /* the return address */
    movq %rax, CxRip(%rcx)
    leaq 16(%rsp), %rax         /* past the flags and the return address */
    movq %rax, CxRsp(%rcx)
    movl $CONTEXT_CAPTURED, CxContextFlags(%rcx)

    movq %cr4, %rax
    btq $CR4_OSFXSR_BIT, %rax
    jnc 1f
    stmxcsr CxMxCsr(%rcx)
    movl CxMxCsr(%rcx), %eax
    movl %eax, CxFltSaveMxCsr(%rcx)
    movups %xmm0, CxXmm0 + 0x00(%rcx)
    movups %xmm1, CxXmm0 + 0x10(%rcx)
    movups %xmm2, CxXmm0 + 0x20(%rcx)
    movups %xmm3, CxXmm0 + 0x30(%rcx)
    movups %xmm4, CxXmm0 + 0x40(%rcx)
    movups %xmm5, CxXmm0 + 0x50(%rcx)
    movups %xmm6, CxXmm0 + 0x60(%rcx)
    movups %xmm7, CxXmm0 + 0x70(%rcx)
    movups %xmm8, CxXmm0 + 0x80(%rcx)
    movups %xmm9, CxXmm0 + 0x90(%rcx)
    movups %xmm10, CxXmm0 + 0xA0(%rcx)
    movups %xmm11, CxXmm0 + 0xB0(%rcx)
    movups %xmm12, CxXmm0 + 0xC0(%rcx)
    movups %xmm13, CxXmm0 + 0xD0(%rcx)
    movups %xmm14, CxXmm0 + 0xE0(%rcx)
    movups %xmm15, CxXmm0 + 0xF0(%rcx)
    orl $CONTEXT_FLOATING_BIT, CxContextFlags(%rcx)
1:
    movq CxRax(%rcx), %rax
    addq $8, %rsp
    ret
    .seh_endproc

    /* Export it from ntoskrnl.exe (C declarations export through
     * dllexport; an assembly routine through the linker directive). */
    .section .drectve, "yn"
    .ascii " -export:RtlCaptureContext"

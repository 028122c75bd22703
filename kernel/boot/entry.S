/*
 * entry.S - keelldr's first instructions and its last one.
 *
 * QEMU finds BlpPvhEntry32 through the XEN_ELFNOTE_PHYS32_ENTRY note and
 * enters it in 32-bit protected mode, paging off, with EBX = physical
 * address of the hvm_start_info. We record the TSC, identity-map the first
 * 4 GiB with 2 MiB pages (static tables in .bss), enter long mode (PAE,
 * EFER.LME, EFER.NXE when the CPU has NX, paging) and call BlMain in C.
 * BlpTransferToKernel switches to the kernel's page tables and stack and
 * jumps to the PE entry point with the Microsoft x64 calling convention.
 */

#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_NW (1 << 29)
#define CR0_CD (1 << 30)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_PS 0x80

/* XEN_ELFNOTE_PHYS32_ENTRY (18): QEMU reads a 64-bit value from an ELF64
 * note, so the descriptor is a .quad. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4             /* namesz: "Xen\0" */
    .long 8             /* descsz */
    .long 18            /* type: XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad BlpPvhEntry32

    .section .bss
    .balign 4096
BlpEarlyPml4:
    .skip 4096
BlpEarlyPdpt:
    .skip 4096
BlpEarlyPd:
    .skip 4096 * 4
    .balign 16
BlpStackBottom:
    .skip 32768
BlpStackTop:

    .section .data
    .balign 8
    .globl BlpTscAtEntry
BlpTscAtEntry:
    .quad 0
BlpStartInfo:
    .long 0

    .balign 16
BlpGdt:
    .quad 0                     /* null */
    .quad 0x00AF9A000000FFFF    /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00CF92000000FFFF    /* 0x10: data, DPL 0 */
BlpGdtEnd:
BlpGdtr:
    .word BlpGdtEnd - BlpGdt - 1
    .quad BlpGdt

    .section .text.entry, "ax"
    .code32
    .globl BlpPvhEntry32
BlpPvhEntry32:
    cli
    cld
    /* First thing: the loader-entry timestamp. */
    rdtsc
    movl %eax, BlpTscAtEntry
    movl %edx, BlpTscAtEntry + 4
    movl %ebx, BlpStartInfo
    movl $BlpStackTop, %esp

    /* PML4[0] -> PDPT, PDPT[0..3] -> four PDs of 512 2 MiB pages. */
    movl $BlpEarlyPdpt + (PTE_P | PTE_RW), BlpEarlyPml4
    xorl %ecx, %ecx
1:
    movl %ecx, %eax
    shll $12, %eax
    addl $BlpEarlyPd + (PTE_P | PTE_RW), %eax
    movl %eax, BlpEarlyPdpt(, %ecx, 8)
    incl %ecx
    cmpl $4, %ecx
    jb 1b

    xorl %ecx, %ecx
2:
    movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_P | PTE_RW | PTE_PS), %eax
    movl %eax, BlpEarlyPd(, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax              /* high half of the 2 MiB frame address */
    movl %eax, BlpEarlyPd + 4(, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b

    movl %cr4, %eax
    orl $CR4_PAE, %eax
    movl %eax, %cr4
    movl $BlpEarlyPml4, %eax
    movl %eax, %cr3

    /* EFER.NXE only when CPUID says NX exists (setting it otherwise #GPs). */
    movl $0x80000000, %eax
    cpuid
    xorl %edi, %edi
    cmpl $0x80000001, %eax
    jb 3f
    movl $0x80000001, %eax
    cpuid
    btl $20, %edx
    jnc 3f
    movl $EFER_NXE, %edi
3:
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    orl %edi, %eax
    wrmsr

    /* Caches on: the firmware may leave CR0.CD set, which under KVM makes
     * every memory access uncached (tens of milliseconds of boot). */
    movl %cr0, %eax
    andl $~(CR0_CD | CR0_NW), %eax
    orl $(CR0_PG | CR0_WP | CR0_PE), %eax
    movl %eax, %cr0

    lgdt BlpGdtr
    ljmp $0x08, $BlpLongModeEntry

    .code64
BlpLongModeEntry:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movq $BlpStackTop, %rsp
    xorl %ebp, %ebp
    movl BlpStartInfo, %edi
    call BlMain
4:
    cli
    hlt
    jmp 4b

/* VOID BlpTransferToKernel(Entry (rdi), LoaderBlock (rsi), StackPointer (rdx),
 *                          PageTableRoot (rcx)) */
    .text
    .globl BlpTransferToKernel
BlpTransferToKernel:
    cli
    movq %rcx, %cr3
    movq %rdx, %rsp
    movq %rsi, %rcx             /* Microsoft x64: first argument in RCX */
    xorl %edx, %edx
    xorl %r8d, %r8d
    xorl %r9d, %r9d
    xorl %ebp, %ebp
    jmp *%rdi

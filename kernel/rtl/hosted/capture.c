/*
 * capture.c - RtlCaptureContext for the hosted build (SysV code in a Linux
 * process, compiled with frame pointers): the caller's return address,
 * stack pointer and callee-saved registers. There are no PE images running
 * in the hosted kernel, so the stack walker stops at the first frame; this
 * only has to be a faithful snapshot.
 */
#include <wdm.h>

__attribute__((noinline)) VOID NTAPI RtlCaptureContext(PCONTEXT ContextRecord)
{
    ULONG64 *Frame = __builtin_frame_address(0);
    ULONG64 Flags;

    memset(ContextRecord, 0, sizeof(*ContextRecord));
    __asm__ volatile("movq %%rbx, %0" : "=m"(ContextRecord->Rbx));
    __asm__ volatile("movq %%r12, %0" : "=m"(ContextRecord->R12));
    __asm__ volatile("movq %%r13, %0" : "=m"(ContextRecord->R13));
    __asm__ volatile("movq %%r14, %0" : "=m"(ContextRecord->R14));
    __asm__ volatile("movq %%r15, %0" : "=m"(ContextRecord->R15));
    __asm__ volatile("pushfq; popq %0" : "=r"(Flags));
    __asm__ volatile("movw %%cs, %0" : "=m"(ContextRecord->SegCs));
    __asm__ volatile("movw %%ss, %0" : "=m"(ContextRecord->SegSs));
    /* [rbp] = the caller's RBP, [rbp + 8] = the return address. */
    ContextRecord->Rbp = Frame[0];
    ContextRecord->Rip = Frame[1];
    ContextRecord->Rsp = (ULONG64)(ULONG_PTR)(Frame + 2);
    ContextRecord->EFlags = (ULONG)Flags;
    ContextRecord->ContextFlags = CONTEXT_CONTROL | CONTEXT_INTEGER | CONTEXT_SEGMENTS;
}

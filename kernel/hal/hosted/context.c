/*
 * context.c - KiCaptureTrapFrame for the hosted build: a register snapshot
 * of the caller for the stop screen. Host code is SysV ELF with classic
 * frame pointers ([rbp] = caller's RBP, [rbp + 8] = return address).
 */
#include <ntddk.h>
#include <arch.h>

__attribute__((noinline)) VOID KiCaptureTrapFrame(PKTRAP_FRAME Frame)
{
    ULONG64 *Rbp = __builtin_frame_address(0);
    ULONG64 Flags;
    USHORT Cs, Ss;

    memset(Frame, 0, sizeof(*Frame));
    __asm__ volatile("movq %%rbx, %0" : "=m"(Frame->Rbx));
    __asm__ volatile("movq %%rsi, %0" : "=m"(Frame->Rsi));
    __asm__ volatile("movq %%rdi, %0" : "=m"(Frame->Rdi));
    __asm__ volatile("movq %%r12, %0" : "=m"(Frame->R12));
    __asm__ volatile("movq %%r13, %0" : "=m"(Frame->R13));
    __asm__ volatile("movq %%r14, %0" : "=m"(Frame->R14));
    __asm__ volatile("movq %%r15, %0" : "=m"(Frame->R15));
    __asm__ volatile("pushfq; popq %0" : "=r"(Flags));
    __asm__ volatile("movw %%cs, %0" : "=r"(Cs));
    __asm__ volatile("movw %%ss, %0" : "=r"(Ss));
    Frame->Rbp = Rbp[0];
    Frame->Rip = Rbp[1];
    Frame->Rsp = (ULONG64)(Rbp + 2);
    Frame->EFlags = Flags;
    Frame->SegCs = Cs;
    Frame->SegSs = Ss;
    Frame->Vector = ~0ull;
}

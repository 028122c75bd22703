/*
 * trap_bugcheck_test.c - KTEST_BUGCHECK cases for faults in kernel mode: a
 * NULL write at PASSIVE_LEVEL (SYSTEM_THREAD_EXCEPTION_NOT_HANDLED with
 * STATUS_ACCESS_VIOLATION), a page fault at DISPATCH_LEVEL
 * (IRQL_NOT_LESS_OR_EQUAL naming the address), and a kernel stack overflow
 * into the guard page below the stack (the fault cannot push its frame, so
 * it becomes a double fault: UNEXPECTED_KERNEL_MODE_TRAP, P1 = 8).
 *
 * These go through the x64 trap path, so they skip in the hosted build:
 * there a fault is a host SIGSEGV that AddressSanitizer reports (a stack
 * overflow too: "stack-overflow on address ..."), and the hosted HAL does
 * not turn it into a kernel trap.
 */
#include <ntddk.h>
#include <ktest.h>
#include <ke.h>
#include <ketypes.h>
#include <ldr.h>

/* Zero, but opaque to the optimizer: the NULL access must really happen. */
static volatile ULONG_PTR KtNullAddress;

#define KT_REQUIRE_TRAPS()                                                                         \
    do {                                                                                           \
        if (LdrFindModuleByAddress((ULONG_PTR)&KtNullAddress) == NULL)                             \
            KT_SKIP("hosted build: a fault is a host SIGSEGV, not a kernel trap");                 \
    } while (0)

KTEST_BUGCHECK_P1(ke_trap, null_write_at_passive, SYSTEM_THREAD_EXCEPTION_NOT_HANDLED,
                  (ULONG)STATUS_ACCESS_VIOLATION)
{
    KT_REQUIRE_TRAPS();
    *(volatile ULONG *)KtNullAddress = 0xBAD;
}

KTEST_BUGCHECK_P1(ke_trap, page_fault_at_dispatch, IRQL_NOT_LESS_OR_EQUAL, 0x10)
{
    KIRQL OldIrql;

    KT_REQUIRE_TRAPS();
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    *(volatile ULONG *)(KtNullAddress + 0x10) = 0xBAD;
    KeLowerIrql(OldIrql);
}

static volatile ULONG KtRecursionDepth;

static __attribute__((noinline)) ULONG KtOverflowStack(ULONG Depth)
{
    volatile UCHAR Frame[256];

    Frame[0] = (UCHAR)Depth;
    KtRecursionDepth = Depth;
    if (Depth == 0xFFFFFFFFu) {
        return Frame[0];
    }
    return KtOverflowStack(Depth + 1) + Frame[0];
}

static VOID NTAPI KtOverflowThread(PVOID Context)
{
    (VOID) Context;
    KtOverflowStack(0);
}

/* A system thread (stack from MmCreateKernelStack) recursing without end. */
KTEST_BUGCHECK_P1(ke_trap, kernel_stack_overflow, UNEXPECTED_KERNEL_MODE_TRAP, 8)
{
    PKTHREAD Thread;

    KT_REQUIRE_TRAPS();
    KT_ASSERT_SUCCESS(KiCreateThread(KtOverflowThread, NULL, KI_DEFAULT_PRIORITY, &Thread));
    KiStartThread(Thread);
    KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
    KiDereferenceThread(Thread);
}

/*
 * terminate.c - ending the machine: QEMU's isa-debug-exit device at port
 * 0xF4 turns a 32-bit write of V into the exit status (V << 1) | 1. Without
 * that device the processor simply halts with interrupts off.
 */
#include <ntddk.h>
#include <hal.h>
#include "halp.h"

#define HALP_DEBUG_EXIT_PORT 0xF4

DECLSPEC_NORETURN VOID HalTerminateSystem(ULONG ExitCode)
{
    HalpOutLong(HALP_DEBUG_EXIT_PORT, ExitCode);
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}

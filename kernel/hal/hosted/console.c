/*
 * console.c - the hosted HAL's debug console and shutdown: the "serial
 * port" is standard output and terminating the system ends the process
 * with the same exit code QEMU would report through isa-debug-exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ntdef.h>
#include <hal.h>
#include "hosted_private.h"

VOID HalPutDebugString(PCSTR Buffer, SIZE_T Length)
{
    while (Length > 0) {
        ssize_t Written = write(STDOUT_FILENO, Buffer, Length);
        if (Written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        Buffer += Written;
        Length -= (SIZE_T)Written;
    }
}

DECLSPEC_NORETURN VOID HalTerminateSystem(ULONG ExitCode)
{
    /* No more interrupts: exit() runs on whatever host thread this kernel
     * thread is on while the other processors may still be running. Then
     * exit() (not _exit) so sanitizer reports and stdio buffers still run. */
    HalpStopProcessors();
    fflush(NULL);
    exit((int)ExitCode);
}

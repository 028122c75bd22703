/*
 * console.c - the hosted HAL's debug console and shutdown: the "serial
 * port" is standard output and terminating the system ends the process
 * with the same exit code QEMU would report through isa-debug-exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ntdef.h>
#include <hal.h>

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
    /* exit() (not _exit) so sanitizer reports and stdio buffers still run. */
    fflush(NULL);
    exit((int)ExitCode);
}

/*
 * create.c - system threads: PsCreateSystemThread (a kernel thread in the
 * system process at priority 8, started at once; a handle and/or client id
 * returned), PsTerminateSystemThread (only from a system thread, on
 * itself) and the current-thread queries.
 */
#include "psp.h"

#define PSP_SYSTEM_PROCESS_ID ((HANDLE)4)

NTSTATUS NTAPI PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess,
                                    POBJECT_ATTRIBUTES ObjectAttributes, HANDLE ProcessHandle,
                                    PCLIENT_ID ClientId, PKSTART_ROUTINE StartRoutine,
                                    PVOID StartContext)
{
    PKTHREAD Thread;
    NTSTATUS Status;

    (VOID) DesiredAccess;
    (VOID) ObjectAttributes;
    if (ProcessHandle != NULL || StartRoutine == NULL) {
        /* Only the system process exists. */
        return ProcessHandle != NULL ? STATUS_INVALID_HANDLE : STATUS_INVALID_PARAMETER;
    }
    if (KeGetCurrentIrql() != PASSIVE_LEVEL) {
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)StartRoutine, KeGetCurrentIrql(), 0,
                     (ULONG_PTR)__builtin_return_address(0));
    }
    Status = KiCreateThread(StartRoutine, StartContext, KI_DEFAULT_PRIORITY, &Thread);
    if (!NT_SUCCESS(Status)) {
        return Status;
    }
    if (ThreadHandle != NULL) {
        /* The creator's reference moves into the handle. */
        Status = PspCreateThreadHandle(Thread, ThreadHandle);
        if (!NT_SUCCESS(Status)) {
            KiDiscardThread(Thread);
            return Status;
        }
    }
    if (ClientId != NULL) {
        *ClientId = Thread->Cid;
    }
    KiStartThread(Thread);
    if (ThreadHandle == NULL) {
        KiDereferenceThread(Thread);
    }
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS ExitStatus)
{
    PKTHREAD Thread = KeGetCurrentThread();

    if (Thread == NULL || !Thread->SystemThread || Thread->IdleThread) {
        return STATUS_INVALID_PARAMETER;
    }
    KiTerminateThread(ExitStatus);
}

PETHREAD NTAPI PsGetCurrentThread(VOID)
{
    return (PETHREAD)KeGetCurrentThread();
}

HANDLE NTAPI PsGetThreadId(PETHREAD Thread)
{
    return Thread->Tcb.Cid.UniqueThread;
}

HANDLE NTAPI PsGetCurrentThreadId(VOID)
{
    PKTHREAD Thread = KeGetCurrentThread();
    return Thread != NULL ? Thread->Cid.UniqueThread : NULL;
}

HANDLE NTAPI PsGetCurrentProcessId(VOID)
{
    return PSP_SYSTEM_PROCESS_ID;
}

BOOLEAN NTAPI PsIsSystemThread(PETHREAD Thread)
{
    return Thread->Tcb.SystemThread;
}

/*
 * handle.c - a minimal kernel handle table for thread handles, until the
 * object manager exists: a fixed table of referenced thread pointers
 * guarded by a spin lock. Handle values look like NT kernel handles (high
 * bit set, multiples of 4). ZwClose closes them.
 */
#include "psp.h"

#define PSP_MAX_HANDLES   4096
#define PSP_KERNEL_HANDLE 0xFFFFFFFF80000000ull

static PKTHREAD PspHandleTable[PSP_MAX_HANDLES];
static KSPIN_LOCK PspHandleLock;
static ULONG PspHandleHint;

static LONG PspHandleIndex(HANDLE Handle)
{
    ULONG_PTR Value = (ULONG_PTR)Handle;

    if ((Value & PSP_KERNEL_HANDLE) != PSP_KERNEL_HANDLE || (Value & 3) != 0) {
        return -1;
    }
    Value = (Value & ~PSP_KERNEL_HANDLE) / 4;
    if (Value == 0 || Value > PSP_MAX_HANDLES) {
        return -1;
    }
    return (LONG)(Value - 1);
}

NTSTATUS PspCreateThreadHandle(PKTHREAD Thread, PHANDLE Handle)
{
    KIRQL OldIrql;

    KeAcquireSpinLock(&PspHandleLock, &OldIrql);
    for (ULONG n = 0; n < PSP_MAX_HANDLES; n++) {
        ULONG i = (PspHandleHint + n) % PSP_MAX_HANDLES;
        if (PspHandleTable[i] == NULL) {
            PspHandleTable[i] = Thread;
            PspHandleHint = i + 1;
            KeReleaseSpinLock(&PspHandleLock, OldIrql);
            *Handle = (HANDLE)(PSP_KERNEL_HANDLE | ((ULONG_PTR)(i + 1) * 4));
            return STATUS_SUCCESS;
        }
    }
    KeReleaseSpinLock(&PspHandleLock, OldIrql);
    return STATUS_INSUFFICIENT_RESOURCES;
}

NTSTATUS PspCloseHandle(HANDLE Handle)
{
    LONG Index = PspHandleIndex(Handle);
    PKTHREAD Thread = NULL;
    KIRQL OldIrql;

    if (Index < 0) {
        return STATUS_INVALID_HANDLE;
    }
    KeAcquireSpinLock(&PspHandleLock, &OldIrql);
    Thread = PspHandleTable[Index];
    PspHandleTable[Index] = NULL;
    KeReleaseSpinLock(&PspHandleLock, OldIrql);
    if (Thread == NULL) {
        return STATUS_INVALID_HANDLE;
    }
    KiDereferenceThread(Thread);
    return STATUS_SUCCESS;
}

PKTHREAD PspReferenceThreadByHandle(HANDLE Handle)
{
    LONG Index = PspHandleIndex(Handle);
    PKTHREAD Thread = NULL;
    KIRQL OldIrql;

    if (Index < 0) {
        return NULL;
    }
    KeAcquireSpinLock(&PspHandleLock, &OldIrql);
    Thread = PspHandleTable[Index];
    if (Thread != NULL) {
        KiReferenceThread(Thread);
    }
    KeReleaseSpinLock(&PspHandleLock, OldIrql);
    return Thread;
}

NTSTATUS NTAPI ZwClose(HANDLE Handle)
{
    return PspCloseHandle(Handle);
}

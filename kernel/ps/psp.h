/*
 * psp.h - private interface between the files of kernel/ps.
 */
#ifndef _PSP_
#define _PSP_

#include <ntddk.h>
#include <ke.h>

/* The executive thread: the kernel thread is its first member, so a
 * PETHREAD and its PKTHREAD are the same address. */
typedef struct _ETHREAD {
    KTHREAD Tcb;
} ETHREAD;

/* Thread handles until Ob exists (handle.c): a handle names a referenced
 * thread; closing it drops the reference. */
NTSTATUS PspCreateThreadHandle(PKTHREAD Thread, PHANDLE Handle);
NTSTATUS PspCloseHandle(HANDLE Handle);
/* Returns the thread with a new reference, or NULL. */
PKTHREAD PspReferenceThreadByHandle(HANDLE Handle);

#endif /* _PSP_ */

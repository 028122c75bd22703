/*
 * ps_test.c - ktest cases for system threads: PsCreateSystemThread with a
 * handle and a client id, PsTerminateSystemThread, the current-thread
 * queries, ZwClose.
 */
#include <ntddk.h>
#include <ktest.h>
#include <ke.h>
#include "psp.h"

static volatile LONG PstExited;
static volatile HANDLE PstSeenId;

static VOID NTAPI PstStart(PVOID Context)
{
    PstSeenId = PsGetCurrentThreadId();
    (VOID) Context;
    __atomic_store_n(&PstExited, 1, __ATOMIC_RELEASE);
    PsTerminateSystemThread(STATUS_UNSUCCESSFUL);
    /* Never here. */
    __atomic_store_n(&PstExited, 2, __ATOMIC_RELEASE);
}

KTEST(ps_thread, create_system_thread)
{
    HANDLE Handle = NULL;
    CLIENT_ID Cid;
    PKTHREAD Thread;
    PKTHREAD Self = KeGetCurrentThread();

    if (Self == NULL || Self->IdleThread) {
        KT_SKIP("needs a schedulable thread");
    }
    PstExited = 0;
    KT_ASSERT_SUCCESS(
        PsCreateSystemThread(&Handle, THREAD_ALL_ACCESS, NULL, NULL, &Cid, PstStart, NULL));
    KT_EXPECT_NE((ULONG_PTR)Handle, 0);
    KT_EXPECT_EQ(Cid.UniqueProcess, PsGetCurrentProcessId());
    Thread = PspReferenceThreadByHandle(Handle);
    KT_ASSERT_NOT_NULL(Thread);
    KT_EXPECT_EQ(KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    KT_EXPECT_EQ(PstExited, 1);
    KT_EXPECT_EQ(PstSeenId, Cid.UniqueThread);
    KT_EXPECT_EQ(Thread->ExitStatus, STATUS_UNSUCCESSFUL);
    KT_EXPECT_TRUE(PsIsSystemThread((PETHREAD)Thread));
    KiDereferenceThread(Thread);
    KT_EXPECT_SUCCESS(ZwClose(Handle));
    KT_EXPECT_STATUS(ZwClose(Handle), STATUS_INVALID_HANDLE);
    KT_EXPECT_STATUS(ZwClose((HANDLE)0x1234), STATUS_INVALID_HANDLE);
}

KTEST(ps_thread, current_thread_queries)
{
    PKTHREAD Self = KeGetCurrentThread();

    if (Self == NULL) {
        KT_SKIP("no thread");
    }
    KT_EXPECT_EQ((PVOID)PsGetCurrentThread(), (PVOID)Self);
    KT_EXPECT_EQ(PsGetThreadId(PsGetCurrentThread()), PsGetCurrentThreadId());
    KT_EXPECT_STATUS(PsCreateSystemThread(NULL, 0, NULL, (HANDLE)8, NULL, PstStart, NULL),
                     STATUS_INVALID_HANDLE);
}

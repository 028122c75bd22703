/*
 * bugcheck.c - the registry of bug check cases (KTEST_BUGCHECK): misuse
 * scenarios that must end in a given stop code. KtestRun never sees them;
 * the "bugcheck=suite.name" boot option (kernel/ke/init.c) and
 * ktest_hosted --bugcheck (host_bugcheck.c) run one per system, because a
 * passing case ends the system it runs in.
 */
#include <ntddk.h>
#include <ktest.h>
#include <rtlp.h>

#if defined(_WIN64)
/* Same scheme as the ktest registry: .ktestb$a < .ktestb$m < .ktestb$z. */
__attribute__((section(".ktestb$a"), used)) static const KTEST_BUGCHECK_CASE *const KtpBcStart =
    NULL;
__attribute__((section(".ktestb$z"), used)) static const KTEST_BUGCHECK_CASE *const KtpBcEnd = NULL;
#define KTP_BC_FIRST (&KtpBcStart + 1)
#define KTP_BC_LAST  (&KtpBcEnd)
#else
extern const KTEST_BUGCHECK_CASE *const __start_ktest_bugcheck_cases[] __attribute__((weak));
extern const KTEST_BUGCHECK_CASE *const __stop_ktest_bugcheck_cases[] __attribute__((weak));
#define KTP_BC_FIRST (__start_ktest_bugcheck_cases)
#define KTP_BC_LAST  (__stop_ktest_bugcheck_cases)
#endif

ULONG KtestBugCheckCount(void)
{
    ULONG Count = 0;
    for (const KTEST_BUGCHECK_CASE *const *Entry = KTP_BC_FIRST; Entry < KTP_BC_LAST; Entry++) {
        if (*Entry != NULL) {
            Count++;
        }
    }
    return Count;
}

const KTEST_BUGCHECK_CASE *KtestBugCheckGet(ULONG Index)
{
    for (const KTEST_BUGCHECK_CASE *const *Entry = KTP_BC_FIRST; Entry < KTP_BC_LAST; Entry++) {
        if (*Entry != NULL && Index-- == 0) {
            return *Entry;
        }
    }
    return NULL;
}

const KTEST_BUGCHECK_CASE *KtestBugCheckFind(const char *FullName, SIZE_T Length)
{
    char Name[128];

    for (ULONG i = 0; i < KtestBugCheckCount(); i++) {
        const KTEST_BUGCHECK_CASE *Case = KtestBugCheckGet(i);
        SIZE_T NameLength =
            RtlpFormat(Name, sizeof(Name), "%s.%s", Case->Case.Suite, Case->Case.Name);
        if (NameLength == Length && memcmp(Name, FullName, Length) == 0) {
            return Case;
        }
    }
    return NULL;
}

BOOLEAN KtestRunBugCheck(const KTEST_BUGCHECK_CASE *Case)
{
    KTEST_CONTEXT Context = { 0 };

    if (Case->Flags & KTEST_BUGCHECK_CHECK_P1) {
        DbgPrint("ktest: bugcheck %s.%s expects STOP 0x%08X, P1 0x%llX\n", Case->Case.Suite,
                 Case->Case.Name, Case->Code, (ULONGLONG)Case->Parameter1);
    } else {
        DbgPrint("ktest: bugcheck %s.%s expects STOP 0x%08X\n", Case->Case.Suite, Case->Case.Name,
                 Case->Code);
    }
    Context.Case = &Case->Case;
    Case->Case.Routine(&Context);
    if (Context.Skipped && Context.Failures == 0) {
        DbgPrint("ktest: SKIP %s\n", Context.SkipReason != NULL ? Context.SkipReason : "");
        return TRUE;
    }
    DbgPrint("ktest: bugcheck %s.%s returned without a stop (%u failed expectations)\n",
             Case->Case.Suite, Case->Case.Name, Context.Failures);
    return FALSE;
}

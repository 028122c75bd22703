/*
 * ktest.c - the ktest runner: finds the registered cases in the linker
 * section, runs the ones the filter selects suite by suite, and prints
 * KTAP version 1 (suites are subtests) through DbgPrint.
 */
#include <ntddk.h>
#include <ktest.h>
#include <rtlp.h>

#if defined(_WIN64)
/* The PE linker orders .ktest$a, .ktest$m, .ktest$z by the text after '$'. */
__attribute__((section(".ktest$a"), used)) static const KTEST_CASE *const KtpStart = NULL;
__attribute__((section(".ktest$z"), used)) static const KTEST_CASE *const KtpEnd = NULL;
#define KTP_FIRST (&KtpStart + 1)
#define KTP_LAST  (&KtpEnd)
#else
/* Weak: a program that links the hosted kernel without any test case (a
 * benchmark, a fuzzer) has no ktest_cases section, and the range is empty. */
extern const KTEST_CASE *const __start_ktest_cases[] __attribute__((weak));
extern const KTEST_CASE *const __stop_ktest_cases[] __attribute__((weak));
#define KTP_FIRST (__start_ktest_cases)
#define KTP_LAST  (__stop_ktest_cases)
#endif

ULONG KtestCount(void)
{
    ULONG Count = 0;
    for (const KTEST_CASE *const *Entry = KTP_FIRST; Entry < KTP_LAST; Entry++) {
        if (*Entry != NULL) {
            Count++;
        }
    }
    return Count;
}

const KTEST_CASE *KtestGet(ULONG Index)
{
    for (const KTEST_CASE *const *Entry = KTP_FIRST; Entry < KTP_LAST; Entry++) {
        if (*Entry != NULL && Index-- == 0) {
            return *Entry;
        }
    }
    return NULL;
}

BOOLEAN KtestStringsEqual(const char *A, const char *B)
{
    if (A == NULL || B == NULL) {
        return A == B;
    }
    return strcmp(A, B) == 0;
}

BOOLEAN KtestCheck(PKTEST_CONTEXT Context, BOOLEAN Ok)
{
    Context->Expectations++;
    return Ok;
}

void KtestSkip(PKTEST_CONTEXT Context, const char *Reason)
{
    Context->Skipped = TRUE;
    Context->SkipReason = Reason;
}

void KtestReportFailure(PKTEST_CONTEXT Context, const char *File, int Line, const char *Format, ...)
{
    char Message[400];
    va_list Args;

    va_start(Args, Format);
    RtlpFormatV(Message, sizeof(Message), Format, Args);
    va_end(Args);
    Context->Failures++;
    if (Context->Quiet) {
        return;
    }
    DbgPrint("    # %s: EXPECTATION FAILED at %s:%d\n", Context->Case->Name, File, Line);
    DbgPrint("    # %s\n", Message);
}

BOOLEAN KtestSelected(const char *Filter, const KTEST_CASE *Case)
{
    char FullName[128];

    if (Filter == NULL || *Filter == '\0') {
        return TRUE; /* no name to format */
    }
    RtlpFormat(FullName, sizeof(FullName), "%s.%s", Case->Suite, Case->Name);
    return RtlpMatchFilter(Filter, FullName);
}

/* A suite is listed once, at the first case that names it. */
static BOOLEAN KtpFirstOfSuite(const KTEST_CASE *const *Entry)
{
    for (const KTEST_CASE *const *Prior = KTP_FIRST; Prior < Entry; Prior++) {
        if (*Prior != NULL && KtestStringsEqual((*Prior)->Suite, (*Entry)->Suite)) {
            return FALSE;
        }
    }
    return TRUE;
}

static ULONG KtpSuiteSelectedCount(const char *Filter, const char *Suite)
{
    ULONG Count = 0;
    for (const KTEST_CASE *const *Entry = KTP_FIRST; Entry < KTP_LAST; Entry++) {
        if (*Entry != NULL && KtestStringsEqual((*Entry)->Suite, Suite) &&
            KtestSelected(Filter, *Entry)) {
            Count++;
        }
    }
    return Count;
}

ULONG KtestRun(const char *Filter)
{
    ULONG SuiteCount = 0, SuiteNumber = 0, FailedTests = 0;
    const KTEST_CASE *const *Entry;

    for (Entry = KTP_FIRST; Entry < KTP_LAST; Entry++) {
        if (*Entry != NULL && KtpFirstOfSuite(Entry) &&
            KtpSuiteSelectedCount(Filter, (*Entry)->Suite) != 0) {
            SuiteCount++;
        }
    }

    DbgPrint("KTAP version 1\n");
    DbgPrint("1..%u\n", SuiteCount);
    for (Entry = KTP_FIRST; Entry < KTP_LAST; Entry++) {
        const char *Suite;
        ULONG CaseCount, CaseNumber = 0, SuiteFailures = 0;

        if (*Entry == NULL || !KtpFirstOfSuite(Entry)) {
            continue;
        }
        Suite = (*Entry)->Suite;
        CaseCount = KtpSuiteSelectedCount(Filter, Suite);
        if (CaseCount == 0) {
            continue;
        }
        SuiteNumber++;
        DbgPrint("    KTAP version 1\n");
        DbgPrint("    # Subtest: %s\n", Suite);
        DbgPrint("    1..%u\n", CaseCount);
        for (const KTEST_CASE *const *Case = Entry; Case < KTP_LAST; Case++) {
            KTEST_CONTEXT Context = { 0 };

            if (*Case == NULL || !KtestStringsEqual((*Case)->Suite, Suite) ||
                !KtestSelected(Filter, *Case)) {
                continue;
            }
            CaseNumber++;
            Context.Case = *Case;
            (*Case)->Routine(&Context);
            if (Context.Failures != 0) {
                SuiteFailures++;
                DbgPrint("    not ok %u %s\n", CaseNumber, (*Case)->Name);
            } else if (Context.Skipped) {
                DbgPrint("    ok %u %s # SKIP %s\n", CaseNumber, (*Case)->Name,
                         Context.SkipReason != NULL ? Context.SkipReason : "");
            } else {
                DbgPrint("    ok %u %s\n", CaseNumber, (*Case)->Name);
            }
        }
        DbgPrint("%s %u %s\n", SuiteFailures != 0 ? "not ok" : "ok", SuiteNumber, Suite);
        FailedTests += SuiteFailures;
    }
    return FailedTests;
}

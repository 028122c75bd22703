/*
 * ktest.h - Keel's KUnit-like test framework. A test is a function
 * registered with KTEST(suite, name) into the "ktest" linker section; the
 * same test sources link into the hosted test binary and into ntoskrnl.exe,
 * and KtestRun prints KTAP version 1 through DbgPrint.
 *
 *   KTEST(rtl_string, init_counts_bytes)
 *   {
 *       UNICODE_STRING s;
 *       RtlInitUnicodeString(&s, L"abc");
 *       KT_EXPECT_EQ(s.Length, 6);
 *   }
 *
 * KT_EXPECT_* records a failure and continues; KT_ASSERT_* records a failure
 * and returns from the test function (so use it in the test body itself).
 */
#ifndef _KTEST_
#define _KTEST_

#include <ntdef.h>

typedef struct _KTEST_CONTEXT {
    const struct _KTEST_CASE *Case;
    ULONG Failures;
    ULONG Expectations;
    BOOLEAN Skipped;
    BOOLEAN Quiet; /* record failures without printing them */
    const char *SkipReason;
} KTEST_CONTEXT, *PKTEST_CONTEXT;

typedef void KTEST_ROUTINE(PKTEST_CONTEXT KtContext);

typedef struct _KTEST_CASE {
    const char *Suite;
    const char *Name;
    KTEST_ROUTINE *Routine;
} KTEST_CASE, *PKTEST_CASE;

/* The registry is an array of pointers bracketed by start/end markers: on
 * PE the linker sorts .ktest$a < .ktest$m < .ktest$z; on ELF it provides
 * __start_/__stop_ symbols for a section with a C-identifier name. */
#if defined(_WIN64)
#define KTEST_SECTION __attribute__((section(".ktest$m"), used))
#else
#define KTEST_SECTION __attribute__((section("ktest_cases"), used))
#endif

#define KTEST(suite, name)                                                                         \
    static void KtestRoutine_##suite##_##name(PKTEST_CONTEXT KtContext);                           \
    static const KTEST_CASE KtestCase_##suite##_##name = { #suite, #name,                          \
                                                           KtestRoutine_##suite##_##name };        \
    KTEST_SECTION const KTEST_CASE *const KtestEntry_##suite##_##name =                            \
        &KtestCase_##suite##_##name;                                                               \
    static void KtestRoutine_##suite##_##name(PKTEST_CONTEXT KtContext)

/* ---- Bug check cases (kernel/ktest/bugcheck.c) ----
 *
 * A misuse scenario that must end in a stop screen with a given stop code
 * (and, optionally, first parameter). They live in their own registry, so
 * KtestRun never runs them; each one runs alone in a system that is thrown
 * away afterwards: "bugcheck=suite.name" on the kernel command line (QEMU),
 * or ktest_hosted --bugcheck, which starts one child process per case.
 *
 *   KTEST_BUGCHECK(ke_misuse, lower_irql_up, IRQL_NOT_LESS_OR_EQUAL)
 *   {
 *       KeLowerIrql(DISPATCH_LEVEL);
 *   }
 *
 * The body may KT_SKIP (e.g. a page fault in the hosted build); returning
 * otherwise means the misuse went undetected: the case fails. */
#define KTEST_BUGCHECK_CHECK_P1 0x1 /* also compare P1 with Parameter1 */

typedef struct _KTEST_BUGCHECK_CASE {
    KTEST_CASE Case;
    ULONG Code;
    ULONG Flags;
    ULONG_PTR Parameter1;
} KTEST_BUGCHECK_CASE, *PKTEST_BUGCHECK_CASE;

#if defined(_WIN64)
#define KTEST_BUGCHECK_SECTION __attribute__((section(".ktestb$m"), used))
#else
#define KTEST_BUGCHECK_SECTION __attribute__((section("ktest_bugcheck_cases"), used))
#endif

#define KTEST_BUGCHECK_(suite, name, code, flags, p1)                                              \
    static void KtestRoutine_##suite##_##name(PKTEST_CONTEXT KtContext);                           \
    static const KTEST_BUGCHECK_CASE KtestBugCheck_##suite##_##name = {                            \
        { #suite, #name, KtestRoutine_##suite##_##name }, (code), (flags), (ULONG_PTR)(p1)         \
    };                                                                                             \
    KTEST_BUGCHECK_SECTION const KTEST_BUGCHECK_CASE *const KtestBugCheckEntry_##suite##_##name =  \
        &KtestBugCheck_##suite##_##name;                                                           \
    static void KtestRoutine_##suite##_##name(PKTEST_CONTEXT KtContext)

/* Must stop with Code (any parameters). */
#define KTEST_BUGCHECK(suite, name, code) KTEST_BUGCHECK_(suite, name, code, 0, 0)
/* Must stop with Code and P1 == p1. */
#define KTEST_BUGCHECK_P1(suite, name, code, p1)                                                   \
    KTEST_BUGCHECK_(suite, name, code, KTEST_BUGCHECK_CHECK_P1, p1)

/* Registered bug check cases, and the one named "suite.name" (or NULL). */
ULONG KtestBugCheckCount(void);
const KTEST_BUGCHECK_CASE *KtestBugCheckGet(ULONG Index);
const KTEST_BUGCHECK_CASE *KtestBugCheckFind(const char *FullName, SIZE_T Length);
/* Prints "ktest: bugcheck suite.name expects STOP 0x%08X[, P1 0x..]" and
 * runs the case on the calling thread. Returns only if the case did not
 * stop the system: TRUE when it skipped (after printing "ktest: SKIP ..."),
 * FALSE when the misuse went undetected (after printing why). */
BOOLEAN KtestRunBugCheck(const KTEST_BUGCHECK_CASE *Case);

/* Reporting (ktest.c). */
void KtestReportFailure(PKTEST_CONTEXT Context, const char *File, int Line, const char *Format, ...)
    __attribute__((format(printf, 4, 5)));
BOOLEAN KtestCheck(PKTEST_CONTEXT Context, BOOLEAN Ok);
void KtestSkip(PKTEST_CONTEXT Context, const char *Reason);
BOOLEAN KtestStringsEqual(const char *A, const char *B);

/* Runs every registered test whose "suite.name" matches Filter (a glob
 * with '*' and '?'; several globs separated by ','; NULL or "" = all).
 * Prints KTAP version 1 and returns the number of failed tests. */
ULONG KtestRun(const char *Filter);
/* Whether Case ("suite.name") matches Filter, as KtestRun selects. */
BOOLEAN KtestSelected(const char *Filter, const KTEST_CASE *Case);
/* Number of registered tests, and the i-th one (for listing). */
ULONG KtestCount(void);
const KTEST_CASE *KtestGet(ULONG Index);

#define KT_FAIL_(ret, ...)                                                                         \
    do {                                                                                           \
        KtestReportFailure(KtContext, __FILE__, __LINE__, __VA_ARGS__);                            \
        ret;                                                                                       \
    } while (0)

#define KT_CHECK_(cond, ret, ...)                                                                  \
    do {                                                                                           \
        if (!KtestCheck(KtContext, (BOOLEAN) !!(cond)))                                            \
            KT_FAIL_(ret, __VA_ARGS__);                                                            \
    } while (0)

#define KT_CMP_(a, op, b, ret)                                                                     \
    do {                                                                                           \
        unsigned long long KtA_ = (unsigned long long)(a), KtB_ = (unsigned long long)(b);         \
        KT_CHECK_(KtA_ op KtB_, ret,                                                               \
                  "Expected %s %s %s, but %s == 0x%llx (%lld), %s == 0x%llx (%lld)", #a, #op, #b,  \
                  #a, KtA_, (long long)KtA_, #b, KtB_, (long long)KtB_);                           \
    } while (0)

#define KT_SCMP_(a, op, b, ret)                                                                    \
    do {                                                                                           \
        long long KtA_ = (long long)(a), KtB_ = (long long)(b);                                    \
        KT_CHECK_(KtA_ op KtB_, ret, "Expected %s %s %s, but %s == %lld, %s == %lld", #a, #op, #b, \
                  #a, KtA_, #b, KtB_);                                                             \
    } while (0)

#define KT_EXPECT_TRUE(c)     KT_CHECK_((c), (void)0, "Expected %s to be true", #c)
#define KT_EXPECT_FALSE(c)    KT_CHECK_(!(c), (void)0, "Expected %s to be false", #c)
#define KT_EXPECT_EQ(a, b)    KT_CMP_(a, ==, b, (void)0)
#define KT_EXPECT_NE(a, b)    KT_CMP_(a, !=, b, (void)0)
#define KT_EXPECT_LT(a, b)    KT_SCMP_(a, <, b, (void)0)
#define KT_EXPECT_LE(a, b)    KT_SCMP_(a, <=, b, (void)0)
#define KT_EXPECT_GT(a, b)    KT_SCMP_(a, >, b, (void)0)
#define KT_EXPECT_GE(a, b)    KT_SCMP_(a, >=, b, (void)0)
#define KT_EXPECT_NULL(p)     KT_CHECK_((p) == NULL, (void)0, "Expected %s to be NULL", #p)
#define KT_EXPECT_NOT_NULL(p) KT_CHECK_((p) != NULL, (void)0, "Expected %s to be non-NULL", #p)
#define KT_EXPECT_STREQ(a, b)                                                                      \
    KT_CHECK_(KtestStringsEqual((a), (b)), (void)0, "Expected %s == %s, but \"%s\" != \"%s\"", #a, \
              #b, (a) ? (a) : "(null)", (b) ? (b) : "(null)")
#define KT_EXPECT_STATUS(expr, status)                                                             \
    do {                                                                                           \
        NTSTATUS KtS_ = (expr);                                                                    \
        KT_CHECK_(KtS_ == (NTSTATUS)(status), (void)0,                                             \
                  "Expected %s to return %s (0x%08x), got 0x%08x", #expr, #status,                 \
                  (unsigned)(status), (unsigned)KtS_);                                             \
    } while (0)
#define KT_EXPECT_SUCCESS(expr) KT_EXPECT_STATUS(expr, STATUS_SUCCESS)

#define KT_ASSERT_TRUE(c)     KT_CHECK_((c), return, "Assertion failed: %s", #c)
#define KT_ASSERT_EQ(a, b)    KT_CMP_(a, ==, b, return )
#define KT_ASSERT_NE(a, b)    KT_CMP_(a, !=, b, return )
#define KT_ASSERT_NOT_NULL(p) KT_CHECK_((p) != NULL, return, "Assertion failed: %s is NULL", #p)
#define KT_ASSERT_SUCCESS(expr)                                                                    \
    do {                                                                                           \
        NTSTATUS KtS_ = (expr);                                                                    \
        KT_CHECK_(NT_SUCCESS(KtS_), return, "Assertion failed: %s returned 0x%08x", #expr,         \
                  (unsigned)KtS_);                                                                 \
    } while (0)
#define KT_SKIP(reason)                                                                            \
    do {                                                                                           \
        KtestSkip(KtContext, (reason));                                                            \
        return;                                                                                    \
    } while (0)

#endif /* _KTEST_ */

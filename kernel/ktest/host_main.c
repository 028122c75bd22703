/*
 * host_main.c - main() of ktest_hosted: boots the hosted kernel with N
 * processors (host threads, each with its clock) and runs the registered
 * ktest cases in a system thread, as the bare-metal kernel runs them in
 * its phase-1 thread, printing KTAP on standard output.
 *
 *   ktest_hosted [--processors N] [FILTER]   FILTER: "suite.name" globs separated by ','
 *   ktest_hosted --list                      one "suite.name" per line
 *   ktest_hosted [--processors N] --bugcheck [FILTER]
 *                                 the KTEST_BUGCHECK cases, one child process each
 *                                 (host_bugcheck.c), KTAP on standard output
 *   ktest_hosted --bugcheck-list  "suite.name 0xCODE [0xP1]" per bug check case
 *   ktest_hosted [--processors N] --bugcheck-one NAME
 *                                 runs one bug check case in this process: it
 *                                 ends in the stop screen (exit 0x12), or exits
 *                                 0x10 after a skip, 0x11 when nothing stopped
 *
 * Exit status: 0 when every test passed, 1 when some failed.
 */
#include <ntddk.h>
#include <hal.h>
#include <hosted.h>
#include <ktest.h>

static const char *KtFilter;
static const KTEST_BUGCHECK_CASE *KtBugCheckCase;

int KtHostRunBugChecks(const char *Self, ULONG Processors, const char *Filter);

static VOID KtRunBugCheck(PVOID Context)
{
    (VOID) Context;
    HalTerminateSystem(KtestRunBugCheck(KtBugCheckCase) ? HAL_EXIT_SUCCESS : HAL_EXIT_TEST_FAILED);
}

static VOID KtRunTests(PVOID Context)
{
    (VOID) Context;
    HalTerminateSystem(KtestRun(KtFilter) == 0 ? 0 : 1);
}

static BOOLEAN KtParseCount(const char *Text, ULONG *Count)
{
    ULONG Value = 0;

    if (*Text == '\0') {
        return FALSE;
    }
    for (; *Text != '\0'; Text++) {
        if (*Text < '0' || *Text > '9' || Value > 1000) {
            return FALSE;
        }
        Value = Value * 10 + (ULONG)(*Text - '0');
    }
    *Count = Value;
    return Value >= 1 && Value <= 64;
}

int main(int argc, char **argv)
{
    ULONG Processors = 1;
    int Argument = 1;

    if (argc > 1 && KtestStringsEqual(argv[1], "--list")) {
        for (ULONG i = 0; i < KtestCount(); i++) {
            const KTEST_CASE *Case = KtestGet(i);
            DbgPrint("%s.%s\n", Case->Suite, Case->Name);
        }
        return 0;
    }
    if (argc > 1 && KtestStringsEqual(argv[1], "--bugcheck-list")) {
        for (ULONG i = 0; i < KtestBugCheckCount(); i++) {
            const KTEST_BUGCHECK_CASE *Case = KtestBugCheckGet(i);
            if (Case->Flags & KTEST_BUGCHECK_CHECK_P1) {
                DbgPrint("%s.%s 0x%08X 0x%llX\n", Case->Case.Suite, Case->Case.Name, Case->Code,
                         (ULONGLONG)Case->Parameter1);
            } else {
                DbgPrint("%s.%s 0x%08X\n", Case->Case.Suite, Case->Case.Name, Case->Code);
            }
        }
        return 0;
    }
    if (argc > 2 && KtestStringsEqual(argv[1], "--processors")) {
        if (!KtParseCount(argv[2], &Processors)) {
            DbgPrint("ktest_hosted: --processors wants 1 to 64\n");
            return 2;
        }
        Argument = 3;
    }
    if (argc > Argument && KtestStringsEqual(argv[Argument], "--bugcheck")) {
        /* The parent stays single-threaded: no kernel here, only children. */
        return KtHostRunBugChecks("/proc/self/exe", Processors,
                                  argc > Argument + 1 ? argv[Argument + 1] : NULL);
    }
    if (argc > Argument + 1 && KtestStringsEqual(argv[Argument], "--bugcheck-one")) {
        const char *Name = argv[Argument + 1];

        KtBugCheckCase = KtestBugCheckFind(Name, strlen(Name));
        if (KtBugCheckCase == NULL) {
            DbgPrint("ktest_hosted: no bug check case named %s\n", Name);
            return 2;
        }
        HalHostedInitialize();
        HalHostedStartProcessors(Processors);
        HalHostedRunSystemThread(KtRunBugCheck, NULL);
    }
    if (argc > Argument) {
        KtFilter = argv[Argument];
    }
    HalHostedInitialize();
    HalHostedStartProcessors(Processors);
    HalHostedRunSystemThread(KtRunTests, NULL);
}

/*
 * host_main.c - main() of ktest_hosted: boots the hosted kernel with N
 * processors (host threads, each with its clock) and runs the registered
 * ktest cases in a system thread, as the bare-metal kernel runs them in
 * its phase-1 thread, printing KTAP on standard output.
 *
 *   ktest_hosted [--processors N] [FILTER]   FILTER: "suite.name" globs separated by ','
 *   ktest_hosted --list                      one "suite.name" per line
 *
 * Exit status: 0 when every test passed, 1 when some failed.
 */
#include <ntddk.h>
#include <hal.h>
#include <hosted.h>
#include <ktest.h>

static const char *KtFilter;

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
    if (argc > 2 && KtestStringsEqual(argv[1], "--processors")) {
        if (!KtParseCount(argv[2], &Processors)) {
            DbgPrint("ktest_hosted: --processors wants 1 to 64\n");
            return 2;
        }
        Argument = 3;
    }
    if (argc > Argument) {
        KtFilter = argv[Argument];
    }
    HalHostedInitialize();
    HalHostedStartProcessors(Processors);
    HalHostedRunSystemThread(KtRunTests, NULL);
}

/*
 * host_main.c - main() of ktest_hosted: boots the hosted kernel and runs the
 * registered ktest cases, printing KTAP on standard output.
 *
 *   ktest_hosted [FILTER]    FILTER: "suite.name" globs separated by ','
 *   ktest_hosted --list      one "suite.name" per line
 */
#include <ntddk.h>
#include <ktest.h>
#include <hosted.h>

int main(int argc, char **argv)
{
    const char *Filter = NULL;

    if (argc > 1 && KtestStringsEqual(argv[1], "--list")) {
        for (ULONG i = 0; i < KtestCount(); i++) {
            const KTEST_CASE *Case = KtestGet(i);
            DbgPrint("%s.%s\n", Case->Suite, Case->Name);
        }
        return 0;
    }
    if (argc > 1) {
        Filter = argv[1];
    }
    HalHostedInitialize();
    return KtestRun(Filter) == 0 ? 0 : 1;
}

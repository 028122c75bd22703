/*
 * ktest_test.c - tests of the ktest framework itself.
 */
#include <ntddk.h>
#include <ktest.h>

KTEST(ktest, registry_lists_this_case)
{
    BOOLEAN Found = FALSE;
    for (ULONG i = 0; i < KtestCount(); i++) {
        const KTEST_CASE *Case = KtestGet(i);
        if (KtestStringsEqual(Case->Suite, "ktest") &&
            KtestStringsEqual(Case->Name, "registry_lists_this_case")) {
            Found = TRUE;
        }
    }
    KT_EXPECT_TRUE(Found);
    KT_EXPECT_NULL(KtestGet(KtestCount()));
}

KTEST(ktest, failing_expectation_is_counted)
{
    /* Run an expectation against a private context to see it recorded
     * without failing this test. */
    KTEST_CONTEXT Inner = { 0 };
    KTEST_CASE InnerCase = { "inner", "inner", NULL };
    PKTEST_CONTEXT Outer = KtContext;
    Inner.Case = &InnerCase;
    Inner.Quiet = TRUE;
    {
        PKTEST_CONTEXT KtContext = &Inner;
        KT_EXPECT_EQ(1, 2);
        KT_EXPECT_EQ(3, 3);
    }
    KtContext = Outer;
    KT_EXPECT_EQ(Inner.Failures, 1);
    KT_EXPECT_EQ(Inner.Expectations, 2);
}

KTEST(ktest, strings_equal)
{
    KT_EXPECT_TRUE(KtestStringsEqual("abc", "abc"));
    KT_EXPECT_FALSE(KtestStringsEqual("abc", "abd"));
    KT_EXPECT_FALSE(KtestStringsEqual("ab", "abc"));
    KT_EXPECT_TRUE(KtestStringsEqual(NULL, NULL));
    KT_EXPECT_FALSE(KtestStringsEqual("a", NULL));
}

/* Bug check cases have their own registry: KtestRun never runs them, and
 * bugcheck=NAME finds them by "suite.name". */
KTEST(ktest, bugcheck_registry)
{
    static const char Name[] = "ke_misuse.lower_irql_raises";
    const KTEST_BUGCHECK_CASE *Case = KtestBugCheckFind(Name, sizeof(Name) - 1);

    KT_ASSERT_NOT_NULL(Case);
    KT_EXPECT_EQ(Case->Code, IRQL_NOT_LESS_OR_EQUAL);
    KT_EXPECT_NULL(KtestBugCheckFind(Name, sizeof(Name) - 2));
    KT_EXPECT_NULL(KtestBugCheckFind("ke_misuse.no_such_case", 22));
    for (ULONG i = 0; i < KtestCount(); i++) {
        KT_EXPECT_FALSE(KtestGet(i)->Routine == Case->Case.Routine);
    }
    KT_EXPECT_GE(KtestBugCheckCount(), 1);
}

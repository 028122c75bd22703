/*
 * cmdline_test.c - ktest cases for the boot option parser.
 */
#include <ntddk.h>
#include <ktest.h>
#include <ke.h>

static BOOLEAN Find(PCSTR Line, PCSTR Name, char *Value, SIZE_T ValueSize)
{
    PCSTR V;
    SIZE_T Length;

    if (!KiFindBootOption(Line, Line != NULL ? strlen(Line) + 1 : 0, Name, &V, &Length)) {
        return FALSE;
    }
    if (Length >= ValueSize) {
        Length = ValueSize - 1;
    }
    memcpy(Value, V, Length);
    Value[Length] = '\0';
    return TRUE;
}

KTEST(ke_cmdline, plain_option)
{
    char V[64];
    KT_EXPECT_TRUE(Find("ktest", "ktest", V, sizeof(V)));
    KT_EXPECT_STREQ(V, "");
    KT_EXPECT_TRUE(Find("  shutdown  ", "shutdown", V, sizeof(V)));
    KT_EXPECT_TRUE(Find("a b\tcrash", "crash", V, sizeof(V)));
}

KTEST(ke_cmdline, option_with_value)
{
    char V[64];
    KT_ASSERT_TRUE(Find("quiet ktest=rtl_*,ke_irql.* shutdown", "ktest", V, sizeof(V)));
    KT_EXPECT_STREQ(V, "rtl_*,ke_irql.*");
    KT_ASSERT_TRUE(Find("x=", "x", V, sizeof(V)));
    KT_EXPECT_STREQ(V, "");
    KT_ASSERT_TRUE(Find("x=a=b", "x", V, sizeof(V)));
    KT_EXPECT_STREQ(V, "a=b");
}

KTEST(ke_cmdline, case_insensitive_names)
{
    char V[64];
    KT_ASSERT_TRUE(Find("KTEST=Foo", "ktest", V, sizeof(V)));
    KT_EXPECT_STREQ(V, "Foo");
}

KTEST(ke_cmdline, no_partial_matches)
{
    char V[64];
    KT_EXPECT_FALSE(Find("ktests", "ktest", V, sizeof(V)));
    KT_EXPECT_FALSE(Find("kte", "ktest", V, sizeof(V)));
    KT_EXPECT_FALSE(Find("xktest", "ktest", V, sizeof(V)));
    KT_EXPECT_FALSE(Find("", "ktest", V, sizeof(V)));
    KT_EXPECT_FALSE(Find(NULL, "ktest", V, sizeof(V)));
    KT_EXPECT_FALSE(Find("=ktest", "ktest", V, sizeof(V)));
    KT_EXPECT_FALSE(Find("ktest", "", V, sizeof(V)));
}

KTEST(ke_cmdline, bounded_by_max_length)
{
    /* No NUL within the bound: the parser must stop at MaxLength. */
    static const char Line[8] = { 'a', ' ', 'c', 'r', 'a', 's', 'h', 'X' };
    PCSTR V;
    SIZE_T L;
    KT_EXPECT_FALSE(KiFindBootOption(Line, 7 - 1, "crash", &V, &L));
    KT_EXPECT_TRUE(KiFindBootOption(Line, 7, "crash", &V, &L));
    KT_EXPECT_FALSE(KiFindBootOption(Line, sizeof(Line), "crash", &V, &L));
}

KTEST(ke_cmdline, first_occurrence_wins)
{
    char V[64];
    KT_ASSERT_TRUE(Find("ktest=a ktest=b", "ktest", V, sizeof(V)));
    KT_EXPECT_STREQ(V, "a");
}

KTEST(ke_cmdline, numeric_option)
{
    ULONG V = 7;

    KT_EXPECT_TRUE(KiFindBootOptionUlong("bench benchtime=250", 20, "benchtime", &V));
    KT_EXPECT_EQ(V, 250);
    KT_EXPECT_TRUE(KiFindBootOptionUlong("benchtime=0", 12, "benchtime", &V));
    KT_EXPECT_EQ(V, 0);
    KT_EXPECT_TRUE(KiFindBootOptionUlong("n=4294967295", 13, "n", &V));
    KT_EXPECT_EQ(V, 0xFFFFFFFFu);
    V = 7;
    /* Absent, empty, not a number, too large, or a prefix of another name. */
    KT_EXPECT_FALSE(KiFindBootOptionUlong("bench", 6, "benchtime", &V));
    KT_EXPECT_FALSE(KiFindBootOptionUlong("benchtime", 10, "benchtime", &V));
    KT_EXPECT_FALSE(KiFindBootOptionUlong("benchtime=", 11, "benchtime", &V));
    KT_EXPECT_FALSE(KiFindBootOptionUlong("benchtime=5ms", 14, "benchtime", &V));
    KT_EXPECT_FALSE(KiFindBootOptionUlong("benchtime=-5", 13, "benchtime", &V));
    KT_EXPECT_FALSE(KiFindBootOptionUlong("n=4294967296", 13, "n", &V));
    KT_EXPECT_FALSE(KiFindBootOptionUlong("n=99999999999999999999999", 26, "n", &V));
    KT_EXPECT_FALSE(KiFindBootOptionUlong("benchtime=5", 11, "bench", &V));
    KT_EXPECT_EQ(V, 7);
}

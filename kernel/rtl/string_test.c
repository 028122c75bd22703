/*
 * string_test.c - ktest cases for the Rtl counted-string routines and
 * RtlCompareMemory (NT semantics: byte lengths, NULL sources, limits,
 * case-insensitive comparison, STATUS_BUFFER_TOO_SMALL on append).
 */
#include <ntddk.h>
#include <ktest.h>
#include <rtlp.h>

KTEST(rtl_string, init_counts_bytes)
{
    UNICODE_STRING String;
    ANSI_STRING Ansi;

    RtlInitUnicodeString(&String, L"abc");
    KT_EXPECT_EQ(String.Length, 6);
    KT_EXPECT_EQ(String.MaximumLength, 8);
    KT_EXPECT_EQ(String.Buffer[0], L'a');

    RtlInitUnicodeString(&String, L"");
    KT_EXPECT_EQ(String.Length, 0);
    KT_EXPECT_EQ(String.MaximumLength, 2);

    RtlInitAnsiString(&Ansi, "abcd");
    KT_EXPECT_EQ(Ansi.Length, 4);
    KT_EXPECT_EQ(Ansi.MaximumLength, 5);
    RtlInitString(&Ansi, "xy");
    KT_EXPECT_EQ(Ansi.Length, 2);
}

KTEST(rtl_string, init_null)
{
    UNICODE_STRING String = { 1, 2, (PWSTR)L"x" };
    ANSI_STRING Ansi = { 1, 2, "x" };

    RtlInitUnicodeString(&String, NULL);
    KT_EXPECT_EQ(String.Length, 0);
    KT_EXPECT_EQ(String.MaximumLength, 0);
    KT_EXPECT_NULL(String.Buffer);
    RtlInitAnsiString(&Ansi, NULL);
    KT_EXPECT_EQ(Ansi.Length, 0);
    KT_EXPECT_NULL(Ansi.Buffer);
}

KTEST(rtl_string, init_clamps_long_strings)
{
    static WCHAR Long[40000];
    static CHAR LongAnsi[70000];
    UNICODE_STRING String;
    ANSI_STRING Ansi;

    for (SIZE_T Index = 0; Index + 1 < RTL_NUMBER_OF(Long); Index++) {
        Long[Index] = L'a';
    }
    RtlInitUnicodeString(&String, Long);
    KT_EXPECT_EQ(String.Length, 0xFFFC);
    KT_EXPECT_EQ(String.MaximumLength, 0xFFFE);

    memset(LongAnsi, 'a', sizeof(LongAnsi) - 1);
    RtlInitAnsiString(&Ansi, LongAnsi);
    KT_EXPECT_EQ(Ansi.Length, 0xFFFE);
    KT_EXPECT_EQ(Ansi.MaximumLength, 0xFFFF);
}

KTEST(rtl_string, copy_truncates_and_terminates)
{
    WCHAR Storage[4];
    UNICODE_STRING Destination = { 0, sizeof(Storage), Storage };
    UNICODE_STRING Source;

    RtlInitUnicodeString(&Source, L"ab");
    RtlCopyUnicodeString(&Destination, &Source);
    KT_EXPECT_EQ(Destination.Length, 4);
    KT_EXPECT_EQ(Storage[2], 0);

    RtlInitUnicodeString(&Source, L"abcdef");
    RtlCopyUnicodeString(&Destination, &Source);
    KT_EXPECT_EQ(Destination.Length, 8);
    KT_EXPECT_EQ(Storage[3], L'd');

    RtlCopyUnicodeString(&Destination, NULL);
    KT_EXPECT_EQ(Destination.Length, 0);
}

KTEST(rtl_string, append)
{
    WCHAR Storage[6];
    UNICODE_STRING Destination = { 0, sizeof(Storage), Storage };
    UNICODE_STRING Source;

    KT_EXPECT_SUCCESS(RtlAppendUnicodeToString(&Destination, L"ab"));
    RtlInitUnicodeString(&Source, L"cd");
    KT_EXPECT_SUCCESS(RtlAppendUnicodeStringToString(&Destination, &Source));
    KT_EXPECT_EQ(Destination.Length, 8);
    KT_EXPECT_EQ(Storage[3], L'd');
    KT_EXPECT_EQ(Storage[4], 0);

    /* Too long: nothing changes. */
    KT_EXPECT_STATUS(RtlAppendUnicodeToString(&Destination, L"xyz"), STATUS_BUFFER_TOO_SMALL);
    RtlInitUnicodeString(&Source, L"xyz");
    KT_EXPECT_STATUS(RtlAppendUnicodeStringToString(&Destination, &Source),
                     STATUS_BUFFER_TOO_SMALL);
    KT_EXPECT_EQ(Destination.Length, 8);

    /* Filling exactly to MaximumLength works and leaves no room for NUL. */
    KT_EXPECT_SUCCESS(RtlAppendUnicodeToString(&Destination, L"ef"));
    KT_EXPECT_EQ(Destination.Length, 12);
    KT_EXPECT_EQ(Storage[5], L'f');
    KT_EXPECT_SUCCESS(RtlAppendUnicodeToString(&Destination, NULL));
    KT_EXPECT_SUCCESS(RtlAppendUnicodeToString(&Destination, L""));
}

KTEST(rtl_string, upcase)
{
    KT_EXPECT_EQ(RtlUpcaseUnicodeChar(L'a'), L'A');
    KT_EXPECT_EQ(RtlUpcaseUnicodeChar(L'z'), L'Z');
    KT_EXPECT_EQ(RtlUpcaseUnicodeChar(L'A'), L'A');
    KT_EXPECT_EQ(RtlUpcaseUnicodeChar(L'1'), L'1');
    KT_EXPECT_EQ(RtlUpcaseUnicodeChar(0x00E9), 0x00C9);
    KT_EXPECT_EQ(RtlUpcaseUnicodeChar(0x00F7), 0x00F7); /* division sign */
    KT_EXPECT_EQ(RtlUpcaseUnicodeChar(0x00FF), 0x0178);
}

KTEST(rtl_string, compare)
{
    UNICODE_STRING Lower, Upper, Shorter, Empty;

    RtlInitUnicodeString(&Lower, L"ntoskrnl.exe");
    RtlInitUnicodeString(&Upper, L"NTOSKRNL.EXE");
    RtlInitUnicodeString(&Shorter, L"ntos");
    RtlInitUnicodeString(&Empty, L"");

    KT_EXPECT_NE(RtlCompareUnicodeString(&Lower, &Upper, FALSE), 0);
    KT_EXPECT_GT(RtlCompareUnicodeString(&Lower, &Upper, FALSE), 0);
    KT_EXPECT_EQ(RtlCompareUnicodeString(&Lower, &Upper, TRUE), 0);
    KT_EXPECT_GT(RtlCompareUnicodeString(&Lower, &Shorter, FALSE), 0);
    KT_EXPECT_LT(RtlCompareUnicodeString(&Shorter, &Lower, FALSE), 0);
    KT_EXPECT_LT(RtlCompareUnicodeString(&Empty, &Shorter, TRUE), 0);
    KT_EXPECT_EQ(RtlCompareUnicodeString(&Empty, &Empty, TRUE), 0);

    KT_EXPECT_TRUE(RtlEqualUnicodeString(&Lower, &Upper, TRUE));
    KT_EXPECT_FALSE(RtlEqualUnicodeString(&Lower, &Upper, FALSE));
    KT_EXPECT_FALSE(RtlEqualUnicodeString(&Lower, &Shorter, TRUE));

    KT_EXPECT_TRUE(RtlPrefixUnicodeString(&Shorter, &Upper, TRUE));
    KT_EXPECT_FALSE(RtlPrefixUnicodeString(&Shorter, &Upper, FALSE));
    KT_EXPECT_FALSE(RtlPrefixUnicodeString(&Lower, &Shorter, TRUE));
    KT_EXPECT_TRUE(RtlPrefixUnicodeString(&Empty, &Lower, FALSE));
}

KTEST(rtl_string, integer_to_unicode)
{
    WCHAR Storage[34];
    UNICODE_STRING String = { 0, sizeof(Storage), Storage };
    UNICODE_STRING Expected;

    KT_EXPECT_SUCCESS(RtlIntegerToUnicodeString(1234, 10, &String));
    RtlInitUnicodeString(&Expected, L"1234");
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&String, &Expected, FALSE));
    KT_EXPECT_EQ(Storage[4], 0);

    KT_EXPECT_SUCCESS(RtlIntegerToUnicodeString(0xBEEF, 16, &String));
    RtlInitUnicodeString(&Expected, L"BEEF");
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&String, &Expected, FALSE));

    KT_EXPECT_SUCCESS(RtlIntegerToUnicodeString(8, 8, &String));
    RtlInitUnicodeString(&Expected, L"10");
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&String, &Expected, FALSE));

    KT_EXPECT_SUCCESS(RtlIntegerToUnicodeString(0xFFFFFFFF, 2, &String));
    KT_EXPECT_EQ(String.Length, 64);

    KT_EXPECT_SUCCESS(RtlIntegerToUnicodeString(0, 0, &String));
    RtlInitUnicodeString(&Expected, L"0");
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&String, &Expected, FALSE));

    KT_EXPECT_STATUS(RtlIntegerToUnicodeString(5, 7, &String), STATUS_INVALID_PARAMETER);

    /* "123" needs 8 bytes with its NUL. */
    String.MaximumLength = 6;
    KT_EXPECT_STATUS(RtlIntegerToUnicodeString(123, 10, &String), STATUS_BUFFER_OVERFLOW);
    String.MaximumLength = 8;
    KT_EXPECT_SUCCESS(RtlIntegerToUnicodeString(123, 10, &String));
}

static ULONG StringToInteger(PCWSTR Text, ULONG Base, NTSTATUS *Status)
{
    UNICODE_STRING String;
    ULONG Value = 0xDEADBEEF;

    RtlInitUnicodeString(&String, Text);
    *Status = RtlUnicodeStringToInteger(&String, Base, &Value);
    return Value;
}

KTEST(rtl_string, unicode_to_integer)
{
    NTSTATUS Status;

    KT_EXPECT_EQ(StringToInteger(L"123", 10, &Status), 123);
    KT_EXPECT_EQ(Status, STATUS_SUCCESS);
    KT_EXPECT_EQ(StringToInteger(L"-345", 10, &Status), (ULONG)-345);
    KT_EXPECT_EQ(StringToInteger(L"xyz", 10, &Status), 0);
    KT_EXPECT_EQ(Status, STATUS_SUCCESS);
    KT_EXPECT_EQ(StringToInteger(L"+678abc", 10, &Status), 678);
    KT_EXPECT_EQ(StringToInteger(L"+678abc", 16, &Status), 0x678ABC);
    KT_EXPECT_EQ(StringToInteger(L"  0x1F", 0, &Status), 0x1F);
    KT_EXPECT_EQ(StringToInteger(L"0o17", 0, &Status), 017);
    KT_EXPECT_EQ(StringToInteger(L"0b101", 0, &Status), 5);
    KT_EXPECT_EQ(StringToInteger(L"0", 0, &Status), 0);
    KT_EXPECT_EQ(StringToInteger(L"1012", 2, &Status), 5);
    StringToInteger(L"", 10, &Status);
    KT_EXPECT_EQ(Status, STATUS_INVALID_PARAMETER);
    StringToInteger(L"12", 7, &Status);
    KT_EXPECT_EQ(Status, STATUS_INVALID_PARAMETER);
}

KTEST(rtl_string, compare_memory)
{
    UCHAR A[] = { 1, 2, 3, 4 };
    UCHAR B[] = { 1, 2, 9, 4 };

    KT_EXPECT_EQ(RtlCompareMemory(A, B, 4), 2);
    KT_EXPECT_EQ(RtlCompareMemory(A, A, 4), 4);
    KT_EXPECT_EQ(RtlCompareMemory(A, B, 0), 0);
}

/* The runners' filters (ktest=, bench=): globs separated by commas. */
KTEST(rtl_string, match_filter_globs)
{
    KT_EXPECT_TRUE(RtlpMatchFilter(NULL, "guest_pingpong/cross:0"));
    KT_EXPECT_TRUE(RtlpMatchFilter("", "guest_pingpong/cross:0"));
    KT_EXPECT_TRUE(RtlpMatchFilter("guest_pingpong/cross:0", "guest_pingpong/cross:0"));
    KT_EXPECT_FALSE(RtlpMatchFilter("guest_pingpong", "guest_pingpong/cross:0"));
    KT_EXPECT_TRUE(RtlpMatchFilter("guest_pingpong*", "guest_pingpong/cross:1"));
    KT_EXPECT_TRUE(RtlpMatchFilter("*cross:?", "guest_dpc_latency/cross:1"));
    KT_EXPECT_FALSE(RtlpMatchFilter("*cross:?", "guest_ipi_roundtrip"));
    KT_EXPECT_TRUE(RtlpMatchFilter("guest_ipi*,guest_pool*", "guest_pool_alloc_free/size:64"));
    KT_EXPECT_TRUE(RtlpMatchFilter("nothing,*size:4096", "guest_pool_alloc_free/size:4096"));
    KT_EXPECT_FALSE(RtlpMatchFilter("nothing,*size:4096", "guest_pool_alloc_free/size:409"));
    KT_EXPECT_FALSE(RtlpMatchFilter("a*b*c", "aXbY"));
    KT_EXPECT_TRUE(RtlpMatchFilter("a*b*c", "aXbYbZc"));
    /* An empty glob between commas selects nothing by itself. */
    KT_EXPECT_FALSE(RtlpMatchFilter(",", "guest_ipi_roundtrip"));
}

/* strcmp (exported by ntoskrnl, as on NT): the sign of the first
 * difference, bytes compared as unsigned, a prefix sorts first. */
KTEST(rtl_string, strcmp_orders_as_unsigned_bytes)
{
    KT_EXPECT_EQ(strcmp("", ""), 0);
    KT_EXPECT_EQ(strcmp("keel", "keel"), 0);
    KT_EXPECT_LT(strcmp("kee", "keel"), 0);
    KT_EXPECT_GT(strcmp("keel", "kee"), 0);
    KT_EXPECT_LT(strcmp("abc", "abd"), 0);
    KT_EXPECT_GT(strcmp("\xE9", "e"), 0);
}

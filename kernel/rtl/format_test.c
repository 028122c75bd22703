/*
 * format_test.c - ktest cases for RtlpFormatV (every conversion, flags,
 * widths, precision, truncation and NT's counted/wide string extensions)
 * and for DbgPrint's return value.
 */
#include <ntddk.h>
#include <ktest.h>
#include <rtlp.h>

/* Formats into a 128-byte buffer and compares with Expected, also checking
 * the returned full length. */
#define FMT_EXPECT(Expected, ...)                                                                  \
    do {                                                                                           \
        char FmtBuffer_[128];                                                                      \
        SIZE_T FmtLength_ = RtlpFormat(FmtBuffer_, sizeof(FmtBuffer_), __VA_ARGS__);               \
        KT_EXPECT_STREQ(FmtBuffer_, (Expected));                                                   \
        KT_EXPECT_EQ(FmtLength_, strlen(Expected));                                                \
    } while (0)

KTEST(rtl_format, plain_text)
{
    FMT_EXPECT("", "");
    FMT_EXPECT("hello", "hello");
    FMT_EXPECT("100%", "100%%");
}

KTEST(rtl_format, signed_decimal)
{
    FMT_EXPECT("0 1 -1 42", "%d %i %d %i", 0, 1, -1, 42);
    FMT_EXPECT("-2147483648 2147483647", "%d %d", (INT32)0x80000000, 0x7FFFFFFF);
    FMT_EXPECT("+5 -5  5", "%+d %+d % d", 5, -5, 5);
    FMT_EXPECT("[   42][42   ][00042][-0042]", "[%5d][%-5d][%05d][%05d]", 42, 42, 42, -42);
    FMT_EXPECT("[  007][-007]", "[%5.3d][%.3d]", 7, -7);
    FMT_EXPECT("[][  ]", "[%.0d][%2.0d]", 0, 0);
}

KTEST(rtl_format, unsigned_hex_octal)
{
    FMT_EXPECT("4294967295 ffffffff FFFFFFFF 37777777777", "%u %x %X %o", 0xFFFFFFFFU, 0xFFFFFFFFU,
               0xFFFFFFFFU, 0xFFFFFFFFU);
    FMT_EXPECT("0x1f 0X1F 017 0 0", "%#x %#X %#o %#x %#o", 0x1F, 0x1F, 017, 0, 0);
    FMT_EXPECT("[0x00ff][    0xff][0xff    ]", "[%#06x][%#8x][%-#8x]", 0xFF, 0xFF, 0xFF);
    FMT_EXPECT("[0001f]", "[%.5x]", 0x1F);
}

KTEST(rtl_format, size_prefixes)
{
    /* NT: 'l' is 32 bits; ll, I64 and I are 64 bits on x64. */
    FMT_EXPECT("ffffffff", "%lx", (ULONG)0xFFFFFFFF);
    FMT_EXPECT("-1", "%ld", (LONG)-1);
    FMT_EXPECT("123456789abcdef0", "%llx", 0x123456789ABCDEF0ULL);
    FMT_EXPECT("123456789ABCDEF0", "%I64X", 0x123456789ABCDEF0ULL);
    FMT_EXPECT("-9223372036854775808", "%I64d", (LONGLONG)0x8000000000000000ULL);
    FMT_EXPECT("18446744073709551615", "%llu", ~0ULL);
    FMT_EXPECT("ffffffffffffffff", "%Ix", (ULONG_PTR)-1);
    FMT_EXPECT("ffffffffffffffff", "%zx", (SIZE_T)-1);
    FMT_EXPECT("abcd", "%I32x", 0xABCDU);
    FMT_EXPECT("ff -1 ffff -1", "%hhx %hhd %hx %hd", 0x1FF, 0xFF, 0x1FFFF, 0xFFFF);
}

KTEST(rtl_format, pointer)
{
    FMT_EXPECT("0000000000001234", "%p", (PVOID)0x1234);
    FMT_EXPECT("FFFFF80000400000", "%p", (PVOID)0xFFFFF80000400000ULL);
    FMT_EXPECT("0000000000000000", "%p", NULL);
}

KTEST(rtl_format, characters_and_strings)
{
    FMT_EXPECT("x|  y|z  |", "%c|%3c|%-3c|", 'x', 'y', 'z');
    FMT_EXPECT("abc|   ab|ab   |ab", "%s|%5s|%-5s|%.2s", "abc", "ab", "ab", "abc");
    FMT_EXPECT("(null)", "%s", (char *)NULL);
    FMT_EXPECT("(nu", "%.3s", (char *)NULL);
    FMT_EXPECT("narrow", "%hs", "narrow");
    FMT_EXPECT("  hello", "%*s", 7, "hello");
    FMT_EXPECT("hello  |", "%*s|", -7, "hello");
    FMT_EXPECT("he", "%.*s", 2, "hello");
}

KTEST(rtl_format, wide_strings)
{
    FMT_EXPECT("wide|wide|wide|ab", "%ws|%S|%ls|%.2ws", L"wide", L"wide", L"wide", L"abc");
    FMT_EXPECT("W|V|U", "%wc|%C|%lc", L'W', L'V', L'U');
    FMT_EXPECT("(null)", "%ws", (PCWSTR)NULL);
    FMT_EXPECT("  ab", "%4ws", L"ab");
    /* Non-ASCII is written as UTF-8 (the console encoding). */
    FMT_EXPECT("\xC3\xA9", "%ws", L"\x00E9");
    FMT_EXPECT("\xE2\x82\xAC", "%wc", (WCHAR)0x20AC);
    /* A precision never splits a multi-byte sequence. */
    FMT_EXPECT("a", "%.2ws", L"a\x00E9");
}

KTEST(rtl_format, counted_strings)
{
    WCHAR Text[] = L"hello";
    UNICODE_STRING Unicode = { 10, 12, Text };
    ANSI_STRING Ansi = { 3, 6, "abcdef" };

    FMT_EXPECT("hello", "%wZ", &Unicode);
    FMT_EXPECT("[  hello][hello  ][hel]", "[%7wZ][%-7wZ][%.3wZ]", &Unicode, &Unicode, &Unicode);
    /* Only Length counts: no NUL is needed, an odd length drops half a
     * character. */
    Unicode.Length = 5;
    FMT_EXPECT("he", "%wZ", &Unicode);
    Unicode.Length = 0;
    FMT_EXPECT("[]", "[%wZ]", &Unicode);
    Unicode.Buffer = NULL;
    Unicode.Length = 10;
    FMT_EXPECT("(null)", "%wZ", &Unicode);
    FMT_EXPECT("(null)", "%wZ", (PUNICODE_STRING)NULL);
    FMT_EXPECT("abc", "%Z", &Ansi);
    FMT_EXPECT("ab", "%.2Z", &Ansi);
    FMT_EXPECT("(null)", "%Z", (PANSI_STRING)NULL);
}

KTEST(rtl_format, truncation)
{
    char Buffer[8];
    SIZE_T Length;

    memset(Buffer, 'X', sizeof(Buffer));
    Length = RtlpFormat(Buffer, 4, "abcdef");
    KT_EXPECT_EQ(Length, 6);
    KT_EXPECT_STREQ(Buffer, "abc");
    KT_EXPECT_EQ(Buffer[4], 'X'); /* nothing written past BufferSize */

    Length = RtlpFormat(Buffer, 1, "abc");
    KT_EXPECT_EQ(Length, 3);
    KT_EXPECT_EQ(Buffer[0], '\0');

    memset(Buffer, 'X', sizeof(Buffer));
    Length = RtlpFormat(Buffer, 0, "abc%d", 12345);
    KT_EXPECT_EQ(Length, 8);
    KT_EXPECT_EQ(Buffer[0], 'X');

    Length = RtlpFormat(NULL, 0, "%s-%d", "abc", 42);
    KT_EXPECT_EQ(Length, 6);

    Length = RtlpFormat(Buffer, sizeof(Buffer), "%08x%08x", 1, 2);
    KT_EXPECT_EQ(Length, 16);
    KT_EXPECT_STREQ(Buffer, "0000000");
}

KTEST(rtl_format, hostile_directives)
{
    char Big[64];
    int Target = 7;

    /* Unsupported or dangling directives are printed as written. */
    FMT_EXPECT("[%y]", "[%y]");
    FMT_EXPECT("abc%", "abc%");
    FMT_EXPECT("abc%-5", "abc%-5");
    /* %n never writes. */
    FMT_EXPECT("ab", "a%nb", &Target);
    KT_EXPECT_EQ(Target, 7);
    /* Huge widths are capped rather than looping for billions of bytes. */
    KT_EXPECT_EQ(RtlpFormat(Big, sizeof(Big), "%999999999d", 1), 4096);
    KT_EXPECT_EQ(RtlpFormat(Big, sizeof(Big), "%*d", 0x7FFFFFFF, 1), 4096);
    KT_EXPECT_EQ(strlen(Big), sizeof(Big) - 1);
}

KTEST(rtl_format, dbgprint_returns_success)
{
    KT_EXPECT_EQ(DbgPrint(""), STATUS_SUCCESS);
    KT_EXPECT_EQ(DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, ""), STATUS_SUCCESS);
}

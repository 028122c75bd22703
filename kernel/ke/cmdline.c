/*
 * cmdline.c - the kernel command line: words separated by blanks, each
 * "name" or "name=value", names compared without regard to ASCII case (NT
 * boot options are case-insensitive). The line comes from the loader and
 * is bounded by the caller's maximum, NUL or not.
 */
#include <ntddk.h>
#include <ke.h>

static BOOLEAN KiIsBlank(CHAR c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static CHAR KiLowerAscii(CHAR c)
{
    return (c >= 'A' && c <= 'Z') ? (CHAR)(c - 'A' + 'a') : c;
}

BOOLEAN KiFindBootOption(PCSTR CommandLine, SIZE_T MaxLength, PCSTR Name, PCSTR *Value,
                         PSIZE_T ValueLength)
{
    SIZE_T i = 0;

    if (CommandLine == NULL || Name == NULL || Name[0] == '\0') {
        return FALSE;
    }
    while (i < MaxLength && CommandLine[i] != '\0') {
        SIZE_T WordStart, NameEnd, WordEnd, n;

        while (i < MaxLength && KiIsBlank(CommandLine[i])) {
            i++;
        }
        WordStart = i;
        while (i < MaxLength && CommandLine[i] != '\0' && !KiIsBlank(CommandLine[i])) {
            i++;
        }
        WordEnd = i;
        if (WordEnd == WordStart) {
            break;
        }
        NameEnd = WordStart;
        while (NameEnd < WordEnd && CommandLine[NameEnd] != '=') {
            NameEnd++;
        }
        for (n = 0; Name[n] != '\0' && WordStart + n < NameEnd; n++) {
            if (KiLowerAscii(Name[n]) != KiLowerAscii(CommandLine[WordStart + n])) {
                break;
            }
        }
        if (Name[n] == '\0' && WordStart + n == NameEnd) {
            if (Value != NULL) {
                *Value = NameEnd < WordEnd ? &CommandLine[NameEnd + 1] : &CommandLine[WordEnd];
            }
            if (ValueLength != NULL) {
                *ValueLength = NameEnd < WordEnd ? WordEnd - NameEnd - 1 : 0;
            }
            return TRUE;
        }
    }
    return FALSE;
}

BOOLEAN KiFindBootOptionUlong(PCSTR CommandLine, SIZE_T MaxLength, PCSTR Name, PULONG Value)
{
    PCSTR Text;
    SIZE_T Length;
    ULONG64 Number = 0;

    if (!KiFindBootOption(CommandLine, MaxLength, Name, &Text, &Length) || Length == 0) {
        return FALSE;
    }
    for (SIZE_T i = 0; i < Length; i++) {
        if (Text[i] < '0' || Text[i] > '9') {
            return FALSE;
        }
        Number = Number * 10 + (ULONG64)(Text[i] - '0');
        /* Checked per digit, so the running value never wraps. */
        if (Number > 0xFFFFFFFFull) {
            return FALSE;
        }
    }
    *Value = (ULONG)Number;
    return TRUE;
}

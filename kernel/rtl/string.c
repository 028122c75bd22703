/*
 * string.c - the counted-string routines of the DDK (UNICODE_STRING,
 * ANSI_STRING): initialisation, copy, append, comparison, case mapping and
 * integer conversion, plus RtlCompareMemory. Lengths are in bytes, as NT
 * defines them; no routine reads or writes beyond Length/MaximumLength.
 */
#include <ntddk.h>
#include <rtlp.h>

/* The largest even byte count a USHORT length can hold, minus room for the
 * terminating NUL: NT clamps RtlInitUnicodeString to these. */
#define RTLP_MAX_UNICODE_LENGTH ((MAXUSHORT & ~1) - sizeof(WCHAR))
#define RTLP_MAX_ANSI_LENGTH    (MAXUSHORT - sizeof(CHAR))

/* Not wcslen: in the hosted build libc's wcslen works on 32-bit wchar_t,
 * while WCHAR is 16 bits everywhere in Keel. */
static SIZE_T RtlpWideLength(PCWSTR String)
{
    SIZE_T Length = 0;

    while (String[Length] != 0) {
        Length++;
    }
    return Length;
}

NTSYSAPI SIZE_T NTAPI RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length)
{
    const UCHAR *Left = Source1;
    const UCHAR *Right = Source2;
    SIZE_T Index = 0;

    while (Index < Length && Left[Index] == Right[Index]) {
        Index++;
    }
    return Index;
}

NTSYSAPI VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    SIZE_T Length;

    if (SourceString == NULL) {
        DestinationString->Length = 0;
        DestinationString->MaximumLength = 0;
        DestinationString->Buffer = NULL;
        return;
    }
    Length = RtlpWideLength(SourceString) * sizeof(WCHAR);
    if (Length > RTLP_MAX_UNICODE_LENGTH) {
        Length = RTLP_MAX_UNICODE_LENGTH;
    }
    DestinationString->Length = (USHORT)Length;
    DestinationString->MaximumLength = (USHORT)(Length + sizeof(WCHAR));
    DestinationString->Buffer = (PWSTR)SourceString;
}

NTSYSAPI VOID NTAPI RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString)
{
    SIZE_T Length;

    if (SourceString == NULL) {
        DestinationString->Length = 0;
        DestinationString->MaximumLength = 0;
        DestinationString->Buffer = NULL;
        return;
    }
    Length = strlen(SourceString);
    if (Length > RTLP_MAX_ANSI_LENGTH) {
        Length = RTLP_MAX_ANSI_LENGTH;
    }
    DestinationString->Length = (USHORT)Length;
    DestinationString->MaximumLength = (USHORT)(Length + sizeof(CHAR));
    DestinationString->Buffer = (PCHAR)SourceString;
}

NTSYSAPI VOID NTAPI RtlInitString(PSTRING DestinationString, PCSZ SourceString)
{
    RtlInitAnsiString(DestinationString, SourceString);
}

/* Writes a NUL after the current contents when MaximumLength leaves room
 * (NT does the same; callers must not rely on it). */
static VOID RtlpTerminateUnicode(PUNICODE_STRING String)
{
    if ((SIZE_T)String->Length + sizeof(WCHAR) <= String->MaximumLength) {
        String->Buffer[String->Length / sizeof(WCHAR)] = 0;
    }
}

NTSYSAPI VOID NTAPI RtlCopyUnicodeString(PUNICODE_STRING DestinationString,
                                         PCUNICODE_STRING SourceString)
{
    SIZE_T Length;

    if (SourceString == NULL || SourceString->Buffer == NULL) {
        DestinationString->Length = 0;
        return;
    }
    /* Copies what fits, truncated to whole characters. */
    Length = SourceString->Length;
    if (Length > DestinationString->MaximumLength) {
        Length = DestinationString->MaximumLength;
    }
    Length &= ~(SIZE_T)1;
    memmove(DestinationString->Buffer, SourceString->Buffer, Length);
    DestinationString->Length = (USHORT)Length;
    RtlpTerminateUnicode(DestinationString);
}

/* Appends Length bytes at Source; all-or-nothing. */
static NTSTATUS RtlpAppendUnicode(PUNICODE_STRING Destination, const WCHAR *Source, SIZE_T Length)
{
    SIZE_T NewLength = (SIZE_T)Destination->Length + Length;

    if (Length == 0) {
        return STATUS_SUCCESS;
    }
    if (NewLength > Destination->MaximumLength) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    /* memmove: the source may alias the destination's own buffer. */
    memmove((PUCHAR)Destination->Buffer + Destination->Length, Source, Length);
    Destination->Length = (USHORT)NewLength;
    RtlpTerminateUnicode(Destination);
    return STATUS_SUCCESS;
}

NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeStringToString(PUNICODE_STRING Destination,
                                                       PCUNICODE_STRING Source)
{
    if (Source == NULL || Source->Buffer == NULL) {
        return STATUS_SUCCESS;
    }
    return RtlpAppendUnicode(Destination, Source->Buffer, Source->Length & ~1U);
}

NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source)
{
    if (Source == NULL) {
        return STATUS_SUCCESS;
    }
    return RtlpAppendUnicode(Destination, Source, RtlpWideLength(Source) * sizeof(WCHAR));
}

/* Upper case for the Basic Latin and Latin-1 Supplement letters (the
 * characters kernel names use); everything else maps to itself. */
NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR SourceCharacter)
{
    if (SourceCharacter >= L'a' && SourceCharacter <= L'z') {
        return (WCHAR)(SourceCharacter - (L'a' - L'A'));
    }
    if (SourceCharacter >= 0x00E0 && SourceCharacter <= 0x00FE && SourceCharacter != 0x00F7) {
        return (WCHAR)(SourceCharacter - 0x20);
    }
    if (SourceCharacter == 0x00FF) {
        return 0x0178; /* y with diaeresis: its capital is in Latin Extended-A */
    }
    return SourceCharacter;
}

NTSYSAPI LONG NTAPI RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                            BOOLEAN CaseInSensitive)
{
    SIZE_T Count1 = String1->Length / sizeof(WCHAR);
    SIZE_T Count2 = String2->Length / sizeof(WCHAR);
    SIZE_T Count = Count1 < Count2 ? Count1 : Count2;

    for (SIZE_T Index = 0; Index < Count; Index++) {
        WCHAR Left = String1->Buffer[Index];
        WCHAR Right = String2->Buffer[Index];
        if (CaseInSensitive) {
            Left = RtlUpcaseUnicodeChar(Left);
            Right = RtlUpcaseUnicodeChar(Right);
        }
        if (Left != Right) {
            return (LONG)Left - (LONG)Right;
        }
    }
    return (LONG)Count1 - (LONG)Count2;
}

NTSYSAPI BOOLEAN NTAPI RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                             BOOLEAN CaseInSensitive)
{
    if (String1->Length / sizeof(WCHAR) != String2->Length / sizeof(WCHAR)) {
        return FALSE;
    }
    return RtlCompareUnicodeString(String1, String2, CaseInSensitive) == 0;
}

/* TRUE when String1 is a prefix of String2. */
NTSYSAPI BOOLEAN NTAPI RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                              BOOLEAN CaseInSensitive)
{
    UNICODE_STRING Head;

    if (String1->Length / sizeof(WCHAR) > String2->Length / sizeof(WCHAR)) {
        return FALSE;
    }
    Head.Buffer = String2->Buffer;
    Head.Length = String1->Length & ~1U;
    Head.MaximumLength = Head.Length;
    return RtlCompareUnicodeString(String1, &Head, CaseInSensitive) == 0;
}

NTSYSAPI NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base, PUNICODE_STRING String)
{
    WCHAR Digits[33]; /* 32 binary digits */
    SIZE_T Count = 0;
    SIZE_T Bytes;

    if (Base == 0) {
        Base = 10;
    }
    if (Base != 2 && Base != 8 && Base != 10 && Base != 16) {
        return STATUS_INVALID_PARAMETER;
    }
    do {
        Digits[Count++] = (WCHAR)L"0123456789ABCDEF"[Value % Base];
        Value /= Base;
    } while (Value != 0);

    /* As in NT, the result must fit together with its terminating NUL. */
    Bytes = Count * sizeof(WCHAR);
    if (Bytes + sizeof(WCHAR) > String->MaximumLength) {
        return STATUS_BUFFER_OVERFLOW;
    }
    for (SIZE_T Index = 0; Index < Count; Index++) {
        String->Buffer[Index] = Digits[Count - 1 - Index];
    }
    String->Buffer[Count] = 0;
    String->Length = (USHORT)Bytes;
    return STATUS_SUCCESS;
}

static ULONG RtlpDigitValue(WCHAR Character)
{
    if (Character >= L'0' && Character <= L'9') {
        return Character - L'0';
    }
    if (Character >= L'a' && Character <= L'f') {
        return Character - L'a' + 10;
    }
    if (Character >= L'A' && Character <= L'F') {
        return Character - L'A' + 10;
    }
    return 0xFF;
}

/*
 * Documented behaviour: leading white space is skipped, an optional '+' or
 * '-' follows, Base 0 takes a 0x/0o/0b prefix (else decimal); the digits
 * end at the first character that is not a digit of the base; no digits
 * gives 0 with success; an empty string is STATUS_INVALID_PARAMETER.
 * Overflow wraps modulo 2^32, as NT's does.
 */
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base, PULONG Value)
{
    SIZE_T Count;
    SIZE_T Index = 0;
    BOOLEAN Negative = FALSE;
    ULONG Result = 0;

    if (String == NULL || Value == NULL) {
        return STATUS_INVALID_PARAMETER;
    }
    if (Base != 0 && Base != 2 && Base != 8 && Base != 10 && Base != 16) {
        return STATUS_INVALID_PARAMETER;
    }
    Count = (String->Buffer != NULL) ? String->Length / sizeof(WCHAR) : 0;
    if (Count == 0) {
        return STATUS_INVALID_PARAMETER;
    }

    while (Index < Count && String->Buffer[Index] <= L' ') {
        Index++;
    }
    if (Index < Count && (String->Buffer[Index] == L'+' || String->Buffer[Index] == L'-')) {
        Negative = (String->Buffer[Index] == L'-');
        Index++;
    }
    if (Base == 0) {
        Base = 10;
        if (Index + 1 < Count && String->Buffer[Index] == L'0') {
            WCHAR Prefix = String->Buffer[Index + 1];
            if (Prefix == L'x') {
                Base = 16;
            } else if (Prefix == L'o') {
                Base = 8;
            } else if (Prefix == L'b') {
                Base = 2;
            }
            if (Base != 10) {
                Index += 2;
            }
        }
    }

    while (Index < Count) {
        ULONG Digit = RtlpDigitValue(String->Buffer[Index]);
        if (Digit >= Base) {
            break;
        }
        Result = Result * Base + Digit;
        Index++;
    }

    *Value = Negative ? (ULONG)(0U - Result) : Result;
    return STATUS_SUCCESS;
}

/* One glob, [Pattern, PatternEnd), against all of Text; backtracks only to
 * the last '*'. */
static BOOLEAN RtlpGlobMatch(const char *Pattern, const char *PatternEnd, const char *Text)
{
    const char *Star = NULL, *StarText = NULL;

    while (*Text != '\0') {
        if (Pattern < PatternEnd && (*Pattern == '?' || *Pattern == *Text)) {
            Pattern++;
            Text++;
        } else if (Pattern < PatternEnd && *Pattern == '*') {
            Star = Pattern++;
            StarText = Text;
        } else if (Star != NULL) {
            Pattern = Star + 1;
            Text = ++StarText;
        } else {
            return FALSE;
        }
    }
    while (Pattern < PatternEnd && *Pattern == '*') {
        Pattern++;
    }
    return Pattern == PatternEnd;
}

BOOLEAN RtlpMatchFilter(const char *Filter, const char *Name)
{
    if (Filter == NULL || *Filter == '\0') {
        return TRUE;
    }
    for (;;) {
        const char *End = Filter;
        while (*End != '\0' && *End != ',') {
            End++;
        }
        if (End != Filter && RtlpGlobMatch(Filter, End, Name)) {
            return TRUE;
        }
        if (*End == '\0') {
            return FALSE;
        }
        Filter = End + 1;
    }
}

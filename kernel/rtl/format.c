/*
 * format.c - RtlpFormatV, the printf engine behind DbgPrint and every other
 * formatted string the kernel produces. It owns conversion parsing and
 * rendering; it never allocates and never writes past BufferSize.
 *
 * NT conventions that differ from C99 (see rtlp.h):
 *   - 'l' is 32 bits (LLP64), 'll' / 'I64' are 64 bits, 'I' is pointer-sized
 *   - %wZ / %Z print counted UNICODE_STRING / ANSI_STRING values
 *   - %S / %ws / %ls print a NUL-terminated WCHAR string, %C / %wc / %lc a WCHAR
 *   - %hs / %hc are explicitly narrow
 *   - %p prints the pointer as 16 upper-case hex digits, as NT's DbgPrint does
 *   - a NULL string argument prints "(null)"
 *   - %n is not supported (a classic format-string attack vector): the
 *     pointer is consumed and nothing is written through it
 * Floating point conversions are not supported (kernel code runs without
 * SSE state); they are printed literally so the mistake is visible.
 */
#include <ntddk.h>
#include <rtlp.h>

/* Output sink: counts every byte the full output would have, stores what
 * fits while keeping room for the terminating NUL. */
typedef struct _RTLP_SINK {
    char *Buffer;
    SIZE_T Size;
    SIZE_T Length;
} RTLP_SINK, *PRTLP_SINK;

static void RtlpPut(PRTLP_SINK Sink, char Character)
{
    if (Sink->Size != 0 && Sink->Length < Sink->Size - 1) {
        Sink->Buffer[Sink->Length] = Character;
    }
    Sink->Length++;
}

static void RtlpPutRepeated(PRTLP_SINK Sink, char Character, SIZE_T Count)
{
    while (Count-- != 0) {
        RtlpPut(Sink, Character);
    }
}

#define RTLP_FLAG_LEFT  0x01
#define RTLP_FLAG_PLUS  0x02
#define RTLP_FLAG_SPACE 0x04
#define RTLP_FLAG_ZERO  0x08
#define RTLP_FLAG_ALT   0x10

typedef enum _RTLP_SIZE {
    RtlpSizeDefault,
    RtlpSizeChar,  /* hh */
    RtlpSizeShort, /* h: also "narrow" for s and c */
    RtlpSizeLong,  /* l: 32 bits, "wide" for s and c */
    RtlpSize64,    /* ll, I64, L, q */
    RtlpSize32,    /* I32 */
    RtlpSizePtr,   /* z, t, j, I */
    RtlpSizeWide,  /* w */
} RTLP_SIZE;

typedef struct _RTLP_SPEC {
    ULONG Flags;
    SIZE_T Width;
    BOOLEAN HasPrecision;
    SIZE_T Precision;
    RTLP_SIZE Size;
} RTLP_SPEC, *PRTLP_SPEC;

/* Caps width and precision so a hostile format cannot make us loop for
 * billions of padding characters. */
#define RTLP_MAX_FIELD 4096

static void RtlpPadBefore(PRTLP_SINK Sink, const RTLP_SPEC *Spec, SIZE_T Length)
{
    if (!(Spec->Flags & RTLP_FLAG_LEFT) && Spec->Width > Length) {
        RtlpPutRepeated(Sink, ' ', Spec->Width - Length);
    }
}

static void RtlpPadAfter(PRTLP_SINK Sink, const RTLP_SPEC *Spec, SIZE_T Length)
{
    if ((Spec->Flags & RTLP_FLAG_LEFT) && Spec->Width > Length) {
        RtlpPutRepeated(Sink, ' ', Spec->Width - Length);
    }
}

/* Renders an integer conversion. Value is the magnitude; Negative says a
 * signed conversion had a negative value. */
static void RtlpFormatInteger(PRTLP_SINK Sink, const RTLP_SPEC *Spec, ULONGLONG Value,
                              BOOLEAN Negative, BOOLEAN Signed, ULONG Base, BOOLEAN Upper)
{
    const char *Digits = Upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char Text[24]; /* 22 octal digits hold 64 bits */
    SIZE_T DigitCount = 0;
    char Sign = 0;
    const char *Prefix = "";
    SIZE_T PrefixLength = 0;
    SIZE_T ZeroCount = 0;
    SIZE_T Total;

    /* C: precision 0 with value 0 prints no digits. */
    if (!(Spec->HasPrecision && Spec->Precision == 0 && Value == 0)) {
        do {
            Text[DigitCount++] = Digits[Value % Base];
            Value /= Base;
        } while (Value != 0);
    }

    if (Signed) {
        if (Negative) {
            Sign = '-';
        } else if (Spec->Flags & RTLP_FLAG_PLUS) {
            Sign = '+';
        } else if (Spec->Flags & RTLP_FLAG_SPACE) {
            Sign = ' ';
        }
    }

    if (Spec->Flags & RTLP_FLAG_ALT) {
        if (Base == 16 && DigitCount != 0 && !(DigitCount == 1 && Text[0] == '0')) {
            Prefix = Upper ? "0X" : "0x";
            PrefixLength = 2;
        } else if (Base == 8) {
            /* '#' with o: the first digit must be a zero. */
            BOOLEAN LeadingZero = (DigitCount != 0 && Text[DigitCount - 1] == '0');
            BOOLEAN PrecisionAddsZero = (Spec->HasPrecision && Spec->Precision > DigitCount);
            if (!LeadingZero && !PrecisionAddsZero) {
                Prefix = "0";
                PrefixLength = 1;
            }
        }
    }

    if (Spec->HasPrecision && Spec->Precision > DigitCount) {
        ZeroCount = Spec->Precision - DigitCount;
    }

    Total = (Sign != 0 ? 1 : 0) + PrefixLength + ZeroCount + DigitCount;

    /* '0' pads with zeros after the sign/prefix; ignored with '-' or a
     * precision, as C specifies. */
    if ((Spec->Flags & RTLP_FLAG_ZERO) && !(Spec->Flags & RTLP_FLAG_LEFT) && !Spec->HasPrecision &&
        Spec->Width > Total) {
        ZeroCount += Spec->Width - Total;
        Total = Spec->Width;
    }

    RtlpPadBefore(Sink, Spec, Total);
    if (Sign != 0) {
        RtlpPut(Sink, Sign);
    }
    for (SIZE_T Index = 0; Index < PrefixLength; Index++) {
        RtlpPut(Sink, Prefix[Index]);
    }
    RtlpPutRepeated(Sink, '0', ZeroCount);
    while (DigitCount != 0) {
        RtlpPut(Sink, Text[--DigitCount]);
    }
    RtlpPadAfter(Sink, Spec, Total);
}

/* Narrow string of known length (precision already applied). */
static void RtlpFormatNarrow(PRTLP_SINK Sink, const RTLP_SPEC *Spec, const char *Text,
                             SIZE_T Length)
{
    RtlpPadBefore(Sink, Spec, Length);
    for (SIZE_T Index = 0; Index < Length; Index++) {
        RtlpPut(Sink, Text[Index]);
    }
    RtlpPadAfter(Sink, Spec, Length);
}

static SIZE_T RtlpBoundedLength(const char *Text, SIZE_T Limit)
{
    SIZE_T Length = 0;
    while (Length < Limit && Text[Length] != '\0') {
        Length++;
    }
    return Length;
}

/* Converts one code point to UTF-8 (the console's encoding); returns the
 * number of bytes. Lone surrogates become '?'. */
static SIZE_T RtlpEncodeUtf8(ULONG CodePoint, char Out[4])
{
    if (CodePoint < 0x80) {
        Out[0] = (char)CodePoint;
        return 1;
    }
    if (CodePoint < 0x800) {
        Out[0] = (char)(0xC0 | (CodePoint >> 6));
        Out[1] = (char)(0x80 | (CodePoint & 0x3F));
        return 2;
    }
    if (CodePoint >= 0xD800 && CodePoint <= 0xDFFF) {
        Out[0] = '?';
        return 1;
    }
    if (CodePoint < 0x10000) {
        Out[0] = (char)(0xE0 | (CodePoint >> 12));
        Out[1] = (char)(0x80 | ((CodePoint >> 6) & 0x3F));
        Out[2] = (char)(0x80 | (CodePoint & 0x3F));
        return 3;
    }
    Out[0] = (char)(0xF0 | (CodePoint >> 18));
    Out[1] = (char)(0x80 | ((CodePoint >> 12) & 0x3F));
    Out[2] = (char)(0x80 | ((CodePoint >> 6) & 0x3F));
    Out[3] = (char)(0x80 | (CodePoint & 0x3F));
    return 4;
}

/* Walks Count WCHARs (or up to a NUL when Count is (SIZE_T)-1) and either
 * measures the UTF-8 output (Sink == NULL) or emits it. Stops before a
 * character that would make the output exceed Limit bytes, so a precision
 * never splits a multi-byte sequence. Returns the bytes produced. */
static SIZE_T RtlpWalkWide(PRTLP_SINK Sink, const WCHAR *Text, SIZE_T Count, SIZE_T Limit)
{
    SIZE_T Produced = 0;
    SIZE_T Index = 0;

    while (Index < Count) {
        ULONG CodePoint = Text[Index];
        SIZE_T Consumed = 1;
        char Bytes[4];
        SIZE_T ByteCount;

        if (Count == (SIZE_T)-1 && CodePoint == 0) {
            break;
        }
        if (CodePoint >= 0xD800 && CodePoint <= 0xDBFF && Index + 1 < Count) {
            ULONG Low = Text[Index + 1];
            if (Low >= 0xDC00 && Low <= 0xDFFF) {
                CodePoint = 0x10000 + ((CodePoint - 0xD800) << 10) + (Low - 0xDC00);
                Consumed = 2;
            }
        }
        ByteCount = RtlpEncodeUtf8(CodePoint, Bytes);
        if (Produced + ByteCount > Limit) {
            break;
        }
        if (Sink != NULL) {
            for (SIZE_T Byte = 0; Byte < ByteCount; Byte++) {
                RtlpPut(Sink, Bytes[Byte]);
            }
        }
        Produced += ByteCount;
        Index += Consumed;
    }
    return Produced;
}

static void RtlpFormatWide(PRTLP_SINK Sink, const RTLP_SPEC *Spec, const WCHAR *Text, SIZE_T Count)
{
    SIZE_T Limit = Spec->HasPrecision ? Spec->Precision : (SIZE_T)-1;
    SIZE_T Length = RtlpWalkWide(NULL, Text, Count, Limit);

    RtlpPadBefore(Sink, Spec, Length);
    RtlpWalkWide(Sink, Text, Count, Limit);
    RtlpPadAfter(Sink, Spec, Length);
}

static void RtlpFormatNull(PRTLP_SINK Sink, const RTLP_SPEC *Spec)
{
    static const char Null[] = "(null)";
    SIZE_T Length = sizeof(Null) - 1;

    if (Spec->HasPrecision && Spec->Precision < Length) {
        Length = Spec->Precision;
    }
    RtlpFormatNarrow(Sink, Spec, Null, Length);
}

/* Reads a decimal field (width or precision) from the format string. */
static SIZE_T RtlpParseNumber(const char **Cursor)
{
    SIZE_T Value = 0;

    while (**Cursor >= '0' && **Cursor <= '9') {
        if (Value < RTLP_MAX_FIELD) {
            Value = Value * 10 + (SIZE_T)(**Cursor - '0');
        }
        (*Cursor)++;
    }
    return Value < RTLP_MAX_FIELD ? Value : RTLP_MAX_FIELD;
}

/* Fetches an integer argument of the given size; sign-extends signed ones
 * and reports the magnitude plus the sign. */
static ULONGLONG RtlpFetchInteger(va_list *Args, RTLP_SIZE Size, BOOLEAN Signed, BOOLEAN *Negative)
{
    LONGLONG SignedValue;
    ULONGLONG Value;

    *Negative = FALSE;
    switch (Size) {
    case RtlpSize64:
    case RtlpSizePtr:
        Value = va_arg(*Args, ULONGLONG);
        SignedValue = (LONGLONG)Value;
        break;
    case RtlpSizeChar:
        Value = (UCHAR)va_arg(*Args, int);
        SignedValue = (signed char)Value;
        break;
    case RtlpSizeShort:
        Value = (USHORT)va_arg(*Args, int);
        SignedValue = (SHORT)Value;
        break;
    default:
        /* int, 'l' (32 bits on NT) and I32 are all 32 bits. */
        Value = va_arg(*Args, UINT32);
        SignedValue = (INT32)(UINT32)Value;
        break;
    }
    if (!Signed) {
        return Value;
    }
    if (SignedValue < 0) {
        *Negative = TRUE;
        /* Negate in unsigned arithmetic: well defined for LLONG_MIN too. */
        return 0 - (ULONGLONG)SignedValue;
    }
    return (ULONGLONG)SignedValue;
}

static void RtlpFormatCharacter(PRTLP_SINK Sink, const RTLP_SPEC *Spec, va_list *Args, BOOLEAN Wide)
{
    if (Wide) {
        WCHAR Character = (WCHAR)va_arg(*Args, int);
        RTLP_SPEC Plain = *Spec;
        Plain.HasPrecision = FALSE;
        RtlpFormatWide(Sink, &Plain, &Character, 1);
    } else {
        char Character = (char)va_arg(*Args, int);
        RtlpFormatNarrow(Sink, Spec, &Character, 1);
    }
}

static void RtlpFormatString(PRTLP_SINK Sink, const RTLP_SPEC *Spec, va_list *Args, BOOLEAN Wide)
{
    if (Wide) {
        const WCHAR *Text = va_arg(*Args, const WCHAR *);
        if (Text == NULL) {
            RtlpFormatNull(Sink, Spec);
        } else {
            RtlpFormatWide(Sink, Spec, Text, (SIZE_T)-1);
        }
    } else {
        const char *Text = va_arg(*Args, const char *);
        if (Text == NULL) {
            RtlpFormatNull(Sink, Spec);
        } else {
            SIZE_T Limit = Spec->HasPrecision ? Spec->Precision : (SIZE_T)-1;
            RtlpFormatNarrow(Sink, Spec, Text, RtlpBoundedLength(Text, Limit));
        }
    }
}

/* %Z and %wZ: counted strings. Only Length bytes are read (an odd Unicode
 * length drops the trailing half character); a NULL string or buffer
 * prints "(null)". */
static void RtlpFormatCounted(PRTLP_SINK Sink, const RTLP_SPEC *Spec, va_list *Args, BOOLEAN Wide)
{
    if (Wide) {
        PCUNICODE_STRING String = va_arg(*Args, PCUNICODE_STRING);
        if (String == NULL || String->Buffer == NULL) {
            RtlpFormatNull(Sink, Spec);
        } else {
            RtlpFormatWide(Sink, Spec, String->Buffer, String->Length / sizeof(WCHAR));
        }
    } else {
        PCANSI_STRING String = va_arg(*Args, PCANSI_STRING);
        if (String == NULL || String->Buffer == NULL) {
            RtlpFormatNull(Sink, Spec);
        } else {
            SIZE_T Length = String->Length;
            if (Spec->HasPrecision && Spec->Precision < Length) {
                Length = Spec->Precision;
            }
            RtlpFormatNarrow(Sink, Spec, String->Buffer, Length);
        }
    }
}

/* Parses the size prefix at *Cursor. */
static RTLP_SIZE RtlpParseSize(const char **Cursor)
{
    const char *Text = *Cursor;

    switch (Text[0]) {
    case 'h':
        if (Text[1] == 'h') {
            *Cursor += 2;
            return RtlpSizeChar;
        }
        *Cursor += 1;
        return RtlpSizeShort;
    case 'l':
        if (Text[1] == 'l') {
            *Cursor += 2;
            return RtlpSize64;
        }
        *Cursor += 1;
        return RtlpSizeLong;
    case 'L':
    case 'q':
        *Cursor += 1;
        return RtlpSize64;
    case 'z':
    case 't':
    case 'j':
        *Cursor += 1;
        return RtlpSizePtr;
    case 'w':
        *Cursor += 1;
        return RtlpSizeWide;
    case 'I':
        if (Text[1] == '6' && Text[2] == '4') {
            *Cursor += 3;
            return RtlpSize64;
        }
        if (Text[1] == '3' && Text[2] == '2') {
            *Cursor += 3;
            return RtlpSize32;
        }
        *Cursor += 1;
        return RtlpSizePtr;
    default:
        return RtlpSizeDefault;
    }
}

SIZE_T RtlpFormatV(char *Buffer, SIZE_T BufferSize, const char *Format, va_list Args)
{
    RTLP_SINK Sink = { Buffer, BufferSize, 0 };
    va_list Cursor;

    /* A va_list may be an array type; working on a copy through a pointer
     * keeps the helpers portable across ABIs. */
    va_copy(Cursor, Args);

    if (Format == NULL) {
        Format = "(null)";
    }

    while (*Format != '\0') {
        const char *Start = Format;
        RTLP_SPEC Spec = { 0 };
        BOOLEAN Negative;
        ULONGLONG Value;
        char Conversion;

        if (*Format != '%') {
            RtlpPut(&Sink, *Format++);
            continue;
        }
        Format++;

        for (;;) {
            if (*Format == '-') {
                Spec.Flags |= RTLP_FLAG_LEFT;
            } else if (*Format == '+') {
                Spec.Flags |= RTLP_FLAG_PLUS;
            } else if (*Format == ' ') {
                Spec.Flags |= RTLP_FLAG_SPACE;
            } else if (*Format == '0') {
                Spec.Flags |= RTLP_FLAG_ZERO;
            } else if (*Format == '#') {
                Spec.Flags |= RTLP_FLAG_ALT;
            } else {
                break;
            }
            Format++;
        }

        if (*Format == '*') {
            int Width = va_arg(Cursor, int);
            Format++;
            if (Width < 0) {
                /* C: a negative '*' width means '-' plus the magnitude. */
                Spec.Flags |= RTLP_FLAG_LEFT;
                Spec.Width = (Width < -RTLP_MAX_FIELD) ? RTLP_MAX_FIELD : (SIZE_T)(-(LONG)Width);
            } else {
                Spec.Width = (Width > RTLP_MAX_FIELD) ? RTLP_MAX_FIELD : (SIZE_T)Width;
            }
        } else {
            Spec.Width = RtlpParseNumber(&Format);
        }

        if (*Format == '.') {
            Format++;
            Spec.HasPrecision = TRUE;
            if (*Format == '*') {
                int Precision = va_arg(Cursor, int);
                Format++;
                if (Precision < 0) {
                    /* C: a negative precision is taken as if omitted. */
                    Spec.HasPrecision = FALSE;
                } else {
                    Spec.Precision = (SIZE_T)Precision;
                }
            } else {
                Spec.Precision = RtlpParseNumber(&Format);
            }
        }

        Spec.Size = RtlpParseSize(&Format);
        Conversion = *Format;
        if (Conversion == '\0') {
            /* A dangling '%...' at the end: print it as written. */
            while (Start < Format) {
                RtlpPut(&Sink, *Start++);
            }
            break;
        }
        Format++;

        switch (Conversion) {
        case 'd':
        case 'i':
            Value = RtlpFetchInteger(&Cursor, Spec.Size, TRUE, &Negative);
            RtlpFormatInteger(&Sink, &Spec, Value, Negative, TRUE, 10, FALSE);
            break;
        case 'u':
            Value = RtlpFetchInteger(&Cursor, Spec.Size, FALSE, &Negative);
            RtlpFormatInteger(&Sink, &Spec, Value, FALSE, FALSE, 10, FALSE);
            break;
        case 'x':
        case 'X':
            Value = RtlpFetchInteger(&Cursor, Spec.Size, FALSE, &Negative);
            RtlpFormatInteger(&Sink, &Spec, Value, FALSE, FALSE, 16, Conversion == 'X');
            break;
        case 'o':
            Value = RtlpFetchInteger(&Cursor, Spec.Size, FALSE, &Negative);
            RtlpFormatInteger(&Sink, &Spec, Value, FALSE, FALSE, 8, FALSE);
            break;
        case 'p': {
            /* NT: all 16 digits, upper case, no "0x" (unless '#'). */
            RTLP_SPEC Pointer = Spec;
            Value = (ULONGLONG)(ULONG_PTR)va_arg(Cursor, PVOID);
            if (!Pointer.HasPrecision) {
                Pointer.HasPrecision = TRUE;
                Pointer.Precision = sizeof(PVOID) * 2;
            }
            RtlpFormatInteger(&Sink, &Pointer, Value, FALSE, FALSE, 16, TRUE);
            break;
        }
        case 'c':
            RtlpFormatCharacter(&Sink, &Spec, &Cursor,
                                Spec.Size == RtlpSizeLong || Spec.Size == RtlpSizeWide);
            break;
        case 'C':
            RtlpFormatCharacter(&Sink, &Spec, &Cursor, Spec.Size != RtlpSizeShort);
            break;
        case 's':
            RtlpFormatString(&Sink, &Spec, &Cursor,
                             Spec.Size == RtlpSizeLong || Spec.Size == RtlpSizeWide);
            break;
        case 'S':
            RtlpFormatString(&Sink, &Spec, &Cursor, Spec.Size != RtlpSizeShort);
            break;
        case 'Z':
            RtlpFormatCounted(&Sink, &Spec, &Cursor, Spec.Size == RtlpSizeWide);
            break;
        case 'n':
            (void)va_arg(Cursor, PVOID);
            break;
        case '%':
            RtlpPut(&Sink, '%');
            break;
        default:
            /* Unknown (including floating point): print the directive as
             * written and consume nothing. */
            while (Start < Format) {
                RtlpPut(&Sink, *Start++);
            }
            break;
        }
    }

    va_end(Cursor);
    if (BufferSize != 0) {
        Buffer[Sink.Length < BufferSize ? Sink.Length : BufferSize - 1] = '\0';
    }
    return Sink.Length;
}

SIZE_T RtlpFormat(char *Buffer, SIZE_T BufferSize, const char *Format, ...)
{
    va_list Args;
    SIZE_T Length;

    va_start(Args, Format);
    Length = RtlpFormatV(Buffer, BufferSize, Format, Args);
    va_end(Args);
    return Length;
}

/*
 * cmdline_fuzzer.c - libFuzzer harness over the kernel command-line parser
 * (KiFindBootOption, kernel/ke/cmdline.c): the input is the line, read
 * with every maximum length up to its size from an exactly sized heap
 * block, for a set of option names. A found value lies inside the bytes
 * the parser was allowed to read, follows "name" or "name=", and holds
 * no blank; the same search with a NULL Value/ValueLength agrees.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ntddk.h>
#include <ke.h>

static void Check(int Condition)
{
    if (!Condition) {
        abort();
    }
}

static int IsBlank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int LowerEqual(char a, char b)
{
    if (a >= 'A' && a <= 'Z') {
        a = (char)(a - 'A' + 'a');
    }
    if (b >= 'A' && b <= 'Z') {
        b = (char)(b - 'A' + 'a');
    }
    return a == b;
}

static void CheckOption(const char *Line, size_t MaxLength, const char *Name)
{
    size_t NameLength = strlen(Name);
    PCSTR Value = NULL;
    SIZE_T ValueLength = (SIZE_T)-1;
    BOOLEAN Found = KiFindBootOption(Line, MaxLength, Name, &Value, &ValueLength);
    const char *NameStart;

    Check(KiFindBootOption(Line, MaxLength, Name, NULL, NULL) == Found);
    if (!Found) {
        return;
    }
    Check(NameLength != 0);
    /* The value is inside the readable bytes (it may be empty at the
     * end). */
    Check(Value >= Line && Value <= Line + MaxLength);
    Check(ValueLength <= MaxLength && ValueLength <= (size_t)(Line + MaxLength - Value));
    /* It follows "name=" or is the empty value right after "name". */
    if (ValueLength != 0 || (Value > Line && Value[-1] == '=')) {
        Check(Value - Line >= (ptrdiff_t)NameLength + 1 && Value[-1] == '=');
        NameStart = Value - 1 - NameLength;
    } else {
        Check(Value - Line >= (ptrdiff_t)NameLength);
        NameStart = Value - NameLength;
    }
    for (size_t i = 0; i < NameLength; i++) {
        Check(LowerEqual(NameStart[i], Name[i]));
    }
    /* A whole word: preceded by a blank or the start of the line. */
    Check(NameStart == Line || IsBlank(NameStart[-1]));
    for (size_t i = 0; i < ValueLength; i++) {
        Check(Value[i] != '\0' && !IsBlank(Value[i]));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    static const char *const Names[] = { "ktest", "crash", "shutdown", "idle", "KTEST",
                                         "x",     "a=b",   "quiet",    " ",    "" };
    char *Line;

    if (Size > 4096) {
        return 0;
    }
    /* Exactly Size bytes, no terminator: the maximum length is all that
     * bounds the parser. */
    Line = malloc(Size != 0 ? Size : 1);
    if (Line == NULL) {
        return 0;
    }
    memcpy(Line, Data, Size);
    for (size_t i = 0; i < sizeof(Names) / sizeof(Names[0]); i++) {
        CheckOption(Line, Size, Names[i]);
        if (Size != 0) {
            CheckOption(Line, Size / 2, Names[i]);
            CheckOption(Line, Size - 1, Names[i]);
        }
    }
    Check(!KiFindBootOption(NULL, Size, "ktest", NULL, NULL));
    Check(!KiFindBootOption(Line, Size, NULL, NULL, NULL));
    free(Line);
    return 0;
}

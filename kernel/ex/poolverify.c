/*
 * poolverify.c - how the pool reports misuse: a console line naming the
 * block's tag, then the stop code and parameters NT uses (the callers pick
 * them: BAD_POOL_CALLER, BAD_POOL_HEADER, DRIVER_CORRUPTED_EXPOOL, ...).
 * Tests install a hook instead and get the report back, the pool call then
 * returning without touching the block. Also owns the verification switch
 * (guard pattern after each block, checked on free): on in the checked
 * build, switchable at run time for tests (ExpSetPoolVerification, in
 * pool.c with the fast path's switch).
 */
#include "poolp.h"

BOOLEAN ExpPoolVerify = DBG ? TRUE : FALSE;

static PEXP_POOL_VIOLATION_HOOK ExpPoolViolationHook;

PEXP_POOL_VIOLATION_HOOK ExpSetPoolViolationHook(PEXP_POOL_VIOLATION_HOOK Hook)
{
    return __atomic_exchange_n(&ExpPoolViolationHook, Hook, __ATOMIC_ACQ_REL);
}

VOID ExpFormatTag(ULONG Tag, CHAR Text[5])
{
    for (ULONG i = 0; i < 4; i++) {
        UCHAR c = (UCHAR)(Tag >> (8 * i));
        Text[i] = (c >= 0x20 && c < 0x7F) ? (CHAR)c : '.';
    }
    Text[4] = '\0';
}

VOID ExpPoolViolation(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4, ULONG Tag,
                      PCSTR What)
{
    PEXP_POOL_VIOLATION_HOOK Hook = __atomic_load_n(&ExpPoolViolationHook, __ATOMIC_ACQUIRE);
    CHAR Text[5];

    if (Hook != NULL) {
        Hook(Code, P1, P2, P3, P4, Tag);
        return;
    }
    ExpFormatTag(Tag, Text);
    DbgPrint("pool: %s (tag '%s')\n", What, Text);
    KeBugCheckEx(Code, P1, P2, P3, P4);
}

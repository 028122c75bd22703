/*
 * rtlp.h - kernel-internal runtime library routines (not exported to
 * drivers).
 */
#ifndef _RTLP_
#define _RTLP_

#include <ntdef.h>

/* The formatter behind DbgPrint. C99 snprintf semantics: always
 * NUL-terminates when BufferSize > 0 and returns the length the full output
 * would have had. Supports the C conversions (d i u x X o c s p %, flags
 * "-+ 0#", width, precision, '*', size prefixes hh h l ll z I I32 I64) and
 * NT's extensions: %wZ (PUNICODE_STRING), %Z (PANSI_STRING), %ws / %S /
 * %ls (NUL-terminated WCHAR string), %wc / %C (WCHAR). As in NT, 'l' is 32
 * bits; use ll or I64 for 64-bit values. */
SIZE_T RtlpFormatV(char *Buffer, SIZE_T BufferSize, const char *Format, va_list Args);
SIZE_T RtlpFormat(char *Buffer, SIZE_T BufferSize, const char *Format, ...);

#endif /* _RTLP_ */

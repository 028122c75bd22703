/*
 * ntdef.h - the basic NT types, macros and structures shared by kernel-mode
 * and user-mode code (names and layouts follow the Windows SDK/WDK).
 */
#ifndef _NTDEF_
#define _NTDEF_

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* On the x64 PE target "long" is 32 bits (LLP64). The hosted build is LP64,
 * so the 32-bit NT types are spelled with int there to keep every layout
 * identical between bare metal and the hosted kernel. */
#if defined(_WIN64)
typedef unsigned long ULONG;
typedef long LONG;
#else
typedef unsigned int ULONG;
typedef int LONG;
#endif

typedef void VOID, *PVOID;
typedef const void *PCVOID;
typedef char CHAR, *PCHAR;
typedef unsigned char UCHAR, *PUCHAR;
typedef short SHORT, *PSHORT;
typedef unsigned short USHORT, *PUSHORT;
typedef ULONG *PULONG;
typedef LONG *PLONG;
typedef int INT;
typedef unsigned int UINT;
typedef long long LONGLONG, *PLONGLONG;
typedef unsigned long long ULONGLONG, *PULONGLONG;
typedef ULONGLONG DWORD64, *PDWORD64;
typedef ULONG DWORD, *PDWORD;
typedef USHORT WORD;
typedef UCHAR BYTE;
typedef UCHAR BOOLEAN, *PBOOLEAN;
typedef int BOOL;
typedef int64_t LONG_PTR, *PLONG_PTR;
typedef uint64_t ULONG_PTR, *PULONG_PTR;
typedef ULONG_PTR SIZE_T, *PSIZE_T;
typedef LONG_PTR SSIZE_T;
typedef ULONG_PTR KAFFINITY;
typedef LONG NTSTATUS, *PNTSTATUS;
typedef ULONG LOGICAL;
typedef ULONG_PTR ULONG64, *PULONG64;
typedef int32_t INT32;
typedef uint32_t UINT32;
typedef uint64_t UINT64;
typedef int64_t INT64;
typedef uint8_t UINT8;
typedef uint16_t UINT16;

/* WCHAR is 16 bits on both targets (the hosted build uses -fshort-wchar). */
typedef wchar_t WCHAR, *PWCHAR, *PWSTR, *LPWSTR;
typedef const WCHAR *PCWSTR, *LPCWSTR;
typedef CHAR *PSTR, *LPSTR;
typedef const CHAR *PCSTR, *LPCSTR, *PCSZ;
typedef PVOID HANDLE, *PHANDLE;
typedef UCHAR KIRQL, *PKIRQL;
typedef CHAR KPROCESSOR_MODE;
typedef LONG KPRIORITY;

_Static_assert(sizeof(WCHAR) == 2, "WCHAR must be 16 bits (build with -fshort-wchar)");
_Static_assert(sizeof(ULONG) == 4, "ULONG must be 32 bits");

#define VOID  void
#define CONST const
#define TRUE  1
#define FALSE 0
#ifndef NULL
#define NULL ((void *)0)
#endif

#define IN
#define OUT
#define OPTIONAL
#define UNALIGNED
#define FORCEINLINE               static inline __attribute__((always_inline))
#define DECLSPEC_NORETURN         __attribute__((noreturn))
#define DECLSPEC_ALIGN(x)         __attribute__((aligned(x)))
#define UNREFERENCED_PARAMETER(P) ((void)(P))

/* Calling conventions are the Microsoft x64 convention on the PE target; on
 * x64 __stdcall and __cdecl are accepted and ignored, as with MSVC. */
#if defined(_WIN64)
#define NTAPI           __stdcall
#define DECLSPEC_IMPORT __declspec(dllimport)
#define DECLSPEC_EXPORT __declspec(dllexport)
#else
#define NTAPI
#ifndef __cdecl
#define __cdecl
#endif
#ifndef __stdcall
#define __stdcall
#endif
#define DECLSPEC_IMPORT
#define DECLSPEC_EXPORT
#endif
#define WINAPI NTAPI

/* ntoskrnl defines _NTSYSTEM_ and so exports everything the DDK declares;
 * a driver sees the same declarations as imports. */
#if defined(_NTSYSTEM_)
#define NTKERNELAPI DECLSPEC_EXPORT
#define NTSYSAPI    DECLSPEC_EXPORT
#define NTHALAPI    DECLSPEC_EXPORT
#else
#define NTKERNELAPI DECLSPEC_IMPORT
#define NTSYSAPI    DECLSPEC_IMPORT
#define NTHALAPI    DECLSPEC_IMPORT
#endif
#define NTSYSCALLAPI NTSYSAPI

#define NT_SUCCESS(Status)     (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status)     ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status)       ((((ULONG)(Status)) >> 30) == 3)

#define FIELD_OFFSET(type, field)               ((LONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field)             (sizeof(((type *)0)->field))
#define RTL_NUMBER_OF(A)                        (sizeof(A) / sizeof((A)[0]))
#define ARRAYSIZE(A)                            RTL_NUMBER_OF(A)
#define CONTAINING_RECORD(address, type, field) ((type *)((PCHAR)(address)-offsetof(type, field)))
#define ALIGN_DOWN_BY(length, alignment)        ((ULONG_PTR)(length) & ~((ULONG_PTR)(alignment)-1))
#define ALIGN_UP_BY(length, alignment)                                                             \
    (ALIGN_DOWN_BY(((ULONG_PTR)(length) + (alignment)-1), (alignment)))
#define MAXULONG     0xffffffffU
#define MAXUSHORT    0xffff
#define MAXLONGLONG  0x7fffffffffffffffLL
#define MAXULONG_PTR (~(ULONG_PTR)0)

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    struct {
        ULONG LowPart;
        LONG HighPart;
    } u;
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
    struct {
        ULONG LowPart;
        ULONG HighPart;
    };
    struct {
        ULONG LowPart;
        ULONG HighPart;
    } u;
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
    struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

/* Counted strings: Length and MaximumLength are in bytes, not characters. */
typedef struct _UNICODE_STRING {
    USHORT Length;
    USHORT MaximumLength;
    PWSTR Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING, *PSTRING, ANSI_STRING, *PANSI_STRING, OEM_STRING, *POEM_STRING;
typedef const STRING *PCSTRING;
typedef const ANSI_STRING *PCANSI_STRING;

#define RTL_CONSTANT_STRING(s)                                                                     \
    {                                                                                              \
        sizeof(s) - sizeof((s)[0]), sizeof(s), (void *)(s)                                         \
    }

typedef struct _GUID {
    ULONG Data1;
    USHORT Data2;
    USHORT Data3;
    UCHAR Data4[8];
} GUID, *PGUID;

typedef struct _OBJECT_ATTRIBUTES {
    ULONG Length;
    HANDLE RootDirectory;
    PUNICODE_STRING ObjectName;
    ULONG Attributes;
    PVOID SecurityDescriptor;
    PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;

#endif /* _NTDEF_ */

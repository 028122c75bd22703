/*
 * cpio.h - reading the boot image, a cpio "newc" (070701) archive laid out
 * like a system root (System32/ntoskrnl.exe, System32/drivers/x.sys, ...).
 * Shared by the boot loader, the kernel and the hosted build; the archive is
 * untrusted and every header field is checked before use.
 */
#ifndef _CPIO_
#define _CPIO_

#include <ntdef.h>

typedef struct _CPIO_ENTRY {
    const char *Name; /* not NUL-terminated: NameLength bytes */
    ULONG NameLength; /* without the archive's trailing NUL */
    const VOID *Data;
    SIZE_T DataSize;
    ULONG Mode; /* st_mode: regular files have (Mode & 0170000) == 0100000 */
} CPIO_ENTRY, *PCPIO_ENTRY;

/* Iteration: *Offset starts at 0. Returns STATUS_SUCCESS with the next
 * entry, STATUS_NO_MORE_ENTRIES at the TRAILER!!! record (or a clean end),
 * STATUS_INVALID_IMAGE_FORMAT (or STATUS_DATA_ERROR) for a malformed
 * archive. */
NTSTATUS RtlCpioNextEntry(const VOID *Archive, SIZE_T ArchiveSize, PSIZE_T Offset,
                          PCPIO_ENTRY Entry);

/* Finds a regular file by path. Matching ignores ASCII case, treats '\\'
 * and '/' alike and ignores a leading "./" or "/" in the archive name. */
NTSTATUS RtlCpioFindFile(const VOID *Archive, SIZE_T ArchiveSize, PCSTR Path, PCPIO_ENTRY Entry);

#endif /* _CPIO_ */

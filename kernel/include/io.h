/*
 * io.h - the I/O manager's and system image loader's internal interface:
 * loading .sys images from the boot image and calling their DriverEntry.
 */
#ifndef _IO_
#define _IO_

#include <wdm.h>
#include <ldr.h>

/* Records ntoskrnl.exe as the first entry of PsLoadedModuleList. File is the
 * original file (for its export table is read from the mapped image, its
 * symbols from the file). */
VOID MiInitializeLoadedModuleList(PVOID KernelBase, ULONG SizeOfImage, const VOID *File,
                                  SIZE_T FileSize);

/* Maps a driver file into kernel memory: validate, map, relocate, bind its
 * imports against the modules already loaded (ntoskrnl.exe), apply section
 * protections, and append it to PsLoadedModuleList. On an unresolved import
 * the message names the driver and the symbol. Nothing is left allocated
 * on failure. */
NTSTATUS MmLoadSystemImage(const VOID *File, SIZE_T FileSize, PCUNICODE_STRING FileName,
                           PKLDR_DATA_TABLE_ENTRY *Entry);

/* MmLoadSystemImage that also explains a failure: Reason (if given)
 * receives a short NUL-terminated phrase such as "unresolved import
 * ntoskrnl.exe!Name" or "invalid image: section outside the file". */
NTSTATUS MmLoadSystemImageEx(const VOID *File, SIZE_T FileSize, PCUNICODE_STRING FileName,
                             PKLDR_DATA_TABLE_ENTRY *Entry, PCHAR Reason, SIZE_T ReasonSize);

/* Removes a module MmLoadSystemImage loaded from PsLoadedModuleList and
 * frees its pages and entry. */
VOID MmUnloadSystemImage(PKLDR_DATA_TABLE_ENTRY Entry);

/* Loads every System32/drivers/<name>.sys in the boot image (a cpio archive),
 * builds a DRIVER_OBJECT for each and calls DriverEntry with its registry
 * path. A driver that fails is reported and skipped; the system keeps
 * booting. Returns the number of drivers whose DriverEntry succeeded. */
ULONG IopLoadBootDrivers(const VOID *BootImage, SIZE_T BootImageSize);

#endif /* _IO_ */

/*
 * iop.h - the I/O manager's private declarations (kernel/io only): the
 * record kept for each loaded driver and the single routine through which
 * DriverEntry is called.
 */
#ifndef _IOP_
#define _IOP_

#include <io.h>

/* Longest driver file stem accepted ("<stem>.sys"). */
#define IOP_MAX_DRIVER_STEM 64

/* Everything the I/O manager allocates for one driver, in one block: the
 * DRIVER_OBJECT and its extension, and the names they point to. */
typedef struct _IOP_DRIVER {
    LIST_ENTRY Links; /* IopDriverList */
    PKLDR_DATA_TABLE_ENTRY Module;
    DRIVER_OBJECT DriverObject;
    DRIVER_EXTENSION Extension;
    UNICODE_STRING RegistryPath;
    WCHAR DriverNameBuffer[sizeof("\\Driver\\") + IOP_MAX_DRIVER_STEM];
    WCHAR ServiceKeyBuffer[IOP_MAX_DRIVER_STEM + 1];
    WCHAR RegistryPathBuffer[sizeof("\\Registry\\Machine\\System\\CurrentControlSet\\Services\\") +
                             IOP_MAX_DRIVER_STEM];
} IOP_DRIVER, *PIOP_DRIVER;

/* Drivers whose DriverEntry succeeded, in load order. */
extern LIST_ENTRY IopDriverList;

/* Calls a driver's DriverEntry. One small routine per build: the kernel
 * calls the PE entry point; the hosted build cannot run Microsoft-ABI PE
 * code and reports success without executing it. */
NTSTATUS IopCallDriverEntry(PDRIVER_INITIALIZE DriverEntry, PDRIVER_OBJECT DriverObject,
                            PUNICODE_STRING RegistryPath);

/* Calls a driver's DriverUnload (nothing in the hosted build). */
VOID IopCallDriverUnload(PDRIVER_UNLOAD DriverUnload, PDRIVER_OBJECT DriverObject);

/* Tests: when set, called instead of IopCallDriverEntry (both builds). */
typedef NTSTATUS IOP_DRIVER_ENTRY_HOOK(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
extern IOP_DRIVER_ENTRY_HOOK *IopDriverEntryHook;

/* The dispatch routine every MajorFunction[] slot starts with. */
NTSTATUS NTAPI IopInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* Loads one driver file: Name is its file name ("x.sys", NameLength
 * bytes, not NUL-terminated). Prints the outcome. Returns the DriverEntry
 * status (or the load failure). */
NTSTATUS IopLoadDriver(PCSTR Name, SIZE_T NameLength, const VOID *File, SIZE_T FileSize);

/* Calls DriverUnload (if any), unloads the image and frees the record. */
VOID IopUnloadDriver(PIOP_DRIVER Driver);

#endif /* _IOP_ */

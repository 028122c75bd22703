/*
 * driver.c - boot driver loading: finds System32/drivers/<name>.sys in the
 * boot image, loads each through the system image loader, builds its
 * DRIVER_OBJECT and calls DriverEntry. A driver that fails for any reason
 * is reported on the console, everything it got is freed, and boot goes
 * on with the next one.
 */
#include <wdm.h>
#include <cpio.h>
#include <ex.h>
#include "iop.h"

LIST_ENTRY IopDriverList = { &IopDriverList, &IopDriverList };
IOP_DRIVER_ENTRY_HOOK *IopDriverEntryHook;

static const char IopDriversDirectory[] = "system32/drivers/";

/* The IRP is opaque at this stage (no I/O requests exist yet), so the
 * default handler must not look at it. */
NTSTATUS NTAPI IopInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    return STATUS_INVALID_DEVICE_REQUEST;
}

static char IopLowerAscii(char Character)
{
    return (Character >= 'A' && Character <= 'Z') ? (char)(Character - 'A' + 'a') : Character;
}

/* If the archive path names System32/drivers/<stem>.sys (any case, '/' or
 * '\\', optional leading "./" or "/"), returns the file name part. */
static BOOLEAN IopIsBootDriverPath(PCSTR Path, SIZE_T Length, PCSTR *FileName,
                                   SIZE_T *FileNameLength)
{
    SIZE_T Prefix = sizeof(IopDriversDirectory) - 1;
    SIZE_T Index;

    if (Length >= 2 && Path[0] == '.' && (Path[1] == '/' || Path[1] == '\\')) {
        Path += 2;
        Length -= 2;
    }
    while (Length != 0 && (Path[0] == '/' || Path[0] == '\\')) {
        Path++;
        Length--;
    }
    if (Length <= Prefix + 4) {
        return FALSE;
    }
    for (Index = 0; Index < Prefix; Index++) {
        char Character = Path[Index] == '\\' ? '/' : IopLowerAscii(Path[Index]);
        if (Character != IopDriversDirectory[Index]) {
            return FALSE;
        }
    }
    for (Index = Prefix; Index < Length; Index++) {
        if (Path[Index] == '/' || Path[Index] == '\\' || Path[Index] == '\0') {
            return FALSE; /* a subdirectory, or an embedded NUL */
        }
    }
    if (Path[Length - 4] != '.' || IopLowerAscii(Path[Length - 3]) != 's' ||
        IopLowerAscii(Path[Length - 2]) != 'y' || IopLowerAscii(Path[Length - 1]) != 's') {
        return FALSE;
    }
    *FileName = Path + Prefix;
    *FileNameLength = Length - Prefix;
    return TRUE;
}

/* Appends Count narrow characters to a WCHAR buffer being built. Bytes
 * above 0x7F are taken as Latin-1, the same as their code point. */
static SIZE_T IopAppendWide(PWCHAR Buffer, SIZE_T Position, PCSTR Text, SIZE_T Count)
{
    SIZE_T Index;

    for (Index = 0; Index < Count; Index++) {
        Buffer[Position + Index] = (WCHAR)(UCHAR)Text[Index];
    }
    return Position + Count;
}

static VOID IopInitString(PUNICODE_STRING String, PWCHAR Buffer, SIZE_T Count)
{
    Buffer[Count] = 0;
    String->Buffer = Buffer;
    String->Length = (USHORT)(Count * sizeof(WCHAR));
    String->MaximumLength = (USHORT)((Count + 1) * sizeof(WCHAR));
}

static BOOLEAN IopModuleLoaded(PCUNICODE_STRING BaseName)
{
    PLIST_ENTRY Link;

    for (Link = PsLoadedModuleList.Flink; Link != &PsLoadedModuleList; Link = Link->Flink) {
        PKLDR_DATA_TABLE_ENTRY Module =
            CONTAINING_RECORD(Link, KLDR_DATA_TABLE_ENTRY, InLoadOrderLinks);
        if (RtlEqualUnicodeString(&Module->BaseDllName, BaseName, TRUE)) {
            return TRUE;
        }
    }
    return FALSE;
}

static VOID IopFreeDriver(PIOP_DRIVER Driver)
{
    if (Driver->Module != NULL) {
        MmUnloadSystemImage(Driver->Module);
    }
    ExpFreeKernelMemory(Driver);
}

NTSTATUS IopLoadDriver(PCSTR Name, SIZE_T NameLength, const VOID *File, SIZE_T FileSize)
{
    static const char FullPrefix[] = "\\SystemRoot\\System32\\drivers\\";
    static const char DriverPrefix[] = "\\Driver\\";
    static const char ServicesPrefix[] =
        "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\";
    WCHAR FullNameBuffer[sizeof(FullPrefix) + IOP_MAX_DRIVER_STEM + 4];
    UNICODE_STRING FullName, BaseName;
    CHAR Reason[160];
    PIOP_DRIVER Driver;
    PDRIVER_OBJECT DriverObject;
    SIZE_T StemLength;
    SIZE_T Position;
    ULONG Index;
    NTSTATUS Status;
    int ShownLength = (int)(NameLength < 128 ? NameLength : 128);

    if (NameLength <= 4 || NameLength - 4 > IOP_MAX_DRIVER_STEM) {
        DbgPrint("io: %.*s: file name too long; driver not loaded\n", ShownLength, Name);
        return STATUS_OBJECT_NAME_INVALID;
    }
    StemLength = NameLength - 4;

    Position = IopAppendWide(FullNameBuffer, 0, FullPrefix, sizeof(FullPrefix) - 1);
    Position = IopAppendWide(FullNameBuffer, Position, Name, NameLength);
    IopInitString(&FullName, FullNameBuffer, Position);
    BaseName.Buffer = FullNameBuffer + (sizeof(FullPrefix) - 1);
    BaseName.Length = (USHORT)(NameLength * sizeof(WCHAR));
    BaseName.MaximumLength = BaseName.Length;
    if (IopModuleLoaded(&BaseName)) {
        DbgPrint("io: %.*s: a module with this name is already loaded; driver not loaded\n",
                 ShownLength, Name);
        return STATUS_OBJECT_NAME_COLLISION;
    }

    Driver = ExpAllocateKernelMemory(sizeof(*Driver));
    if (Driver == NULL) {
        DbgPrint("io: %.*s: out of memory; driver not loaded\n", ShownLength, Name);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(Driver, 0, sizeof(*Driver));

    Status =
        MmLoadSystemImageEx(File, FileSize, &FullName, &Driver->Module, Reason, sizeof(Reason));
    if (!NT_SUCCESS(Status)) {
        DbgPrint("io: %.*s: %s; driver not loaded\n", ShownLength, Name, Reason);
        IopFreeDriver(Driver);
        return Status;
    }
    if (Driver->Module->EntryPoint == NULL) {
        DbgPrint("io: %.*s: image has no entry point; driver not loaded\n", ShownLength, Name);
        IopFreeDriver(Driver);
        return STATUS_DRIVER_ENTRYPOINT_NOT_FOUND;
    }

    /* Names: \Driver\<stem>, service key <stem>, and the registry path. */
    Position = IopAppendWide(Driver->DriverNameBuffer, 0, DriverPrefix, sizeof(DriverPrefix) - 1);
    Position = IopAppendWide(Driver->DriverNameBuffer, Position, Name, StemLength);
    DriverObject = &Driver->DriverObject;
    IopInitString(&DriverObject->DriverName, Driver->DriverNameBuffer, Position);
    Position = IopAppendWide(Driver->ServiceKeyBuffer, 0, Name, StemLength);
    IopInitString(&Driver->Extension.ServiceKeyName, Driver->ServiceKeyBuffer, Position);
    Position =
        IopAppendWide(Driver->RegistryPathBuffer, 0, ServicesPrefix, sizeof(ServicesPrefix) - 1);
    Position = IopAppendWide(Driver->RegistryPathBuffer, Position, Name, StemLength);
    IopInitString(&Driver->RegistryPath, Driver->RegistryPathBuffer, Position);

    DriverObject->Type = IO_TYPE_DRIVER;
    DriverObject->Size = (CSHORT)sizeof(DRIVER_OBJECT);
    DriverObject->DriverStart = Driver->Module->DllBase;
    DriverObject->DriverSize = Driver->Module->SizeOfImage;
    DriverObject->DriverSection = Driver->Module;
    DriverObject->DriverExtension = &Driver->Extension;
    DriverObject->DriverInit = (PDRIVER_INITIALIZE)Driver->Module->EntryPoint;
    Driver->Extension.DriverObject = DriverObject;
    for (Index = 0; Index <= IRP_MJ_MAXIMUM_FUNCTION; Index++) {
        DriverObject->MajorFunction[Index] = IopInvalidDeviceRequest;
    }

    DbgPrint("io: loaded %.*s at 0x%p\n", ShownLength, Name, Driver->Module->DllBase);
    if (IopDriverEntryHook != NULL) {
        Status = IopDriverEntryHook(DriverObject, &Driver->RegistryPath);
    } else {
        Status = IopCallDriverEntry(DriverObject->DriverInit, DriverObject, &Driver->RegistryPath);
    }
    if (!NT_SUCCESS(Status)) {
        DbgPrint("io: %.*s: DriverEntry failed with status 0x%08X; driver not loaded\n",
                 ShownLength, Name, (ULONG)Status);
        IopFreeDriver(Driver);
        return Status;
    }
    if (Driver->Extension.AddDevice == NULL) {
        DriverObject->Flags |= DRVO_LEGACY_DRIVER;
    }
    DbgPrint("io: %.*s: DriverEntry returned 0x%08X\n", ShownLength, Name, (ULONG)Status);
    InsertTailList(&IopDriverList, &Driver->Links);
    return Status;
}

VOID IopUnloadDriver(PIOP_DRIVER Driver)
{
    RemoveEntryList(&Driver->Links);
    if (Driver->DriverObject.DriverUnload != NULL) {
        Driver->DriverObject.Flags |= DRVO_UNLOAD_INVOKED;
        IopCallDriverUnload(Driver->DriverObject.DriverUnload, &Driver->DriverObject);
    }
    IopFreeDriver(Driver);
}

ULONG IopLoadBootDrivers(const VOID *BootImage, SIZE_T BootImageSize)
{
    SIZE_T Offset = 0;
    ULONG Loaded = 0;

    if (BootImage == NULL || BootImageSize == 0) {
        DbgPrint("io: no boot image; no boot drivers loaded\n");
        return 0;
    }
    for (;;) {
        CPIO_ENTRY Entry;
        PCSTR FileName;
        SIZE_T FileNameLength;
        NTSTATUS Status = RtlCpioNextEntry(BootImage, BootImageSize, &Offset, &Entry);

        if (Status == STATUS_NO_MORE_ENTRIES) {
            break;
        }
        if (!NT_SUCCESS(Status)) {
            DbgPrint("io: boot image is malformed (status 0x%08X); remaining drivers skipped\n",
                     (ULONG)Status);
            break;
        }
        if ((Entry.Mode & 0170000) != 0100000 ||
            !IopIsBootDriverPath(Entry.Name, Entry.NameLength, &FileName, &FileNameLength)) {
            continue;
        }
        if (NT_SUCCESS(IopLoadDriver(FileName, FileNameLength, Entry.Data, Entry.DataSize))) {
            Loaded++;
        }
    }
    return Loaded;
}

/*
 * io_test.c - ktest cases for boot driver loading: which archive entries
 * are drivers, the DRIVER_OBJECT handed to DriverEntry, a failing
 * DriverEntry unloading its image, and bad drivers being skipped while the
 * good ones load.
 */
#include <wdm.h>
#include <ktest.h>
#include <mm.h>
#include "iop.h"
#include "testimage.h"

/* ---- a tiny cpio "newc" writer ---------------------------------------- */

#define KTP_ARCHIVE_SIZE 0x40000

static UCHAR KtpArchive[KTP_ARCHIVE_SIZE];
static SIZE_T KtpArchiveLength;

static VOID KtpHex8(PUCHAR Out, ULONG Value)
{
    for (int Index = 7; Index >= 0; Index--) {
        Out[Index] = (UCHAR) "0123456789abcdef"[Value & 0xF];
        Value >>= 4;
    }
}

static BOOLEAN KtpAddFile(PCSTR Name, ULONG Mode, const VOID *Data, SIZE_T Size)
{
    SIZE_T NameSize = strlen(Name) + 1;
    SIZE_T Needed = 110 + NameSize + 3 + Size + 3;
    ULONG Fields[13] = { 1, Mode, 0, 0, 1, 0, (ULONG)Size, 0, 0, 0, 0, (ULONG)NameSize, 0 };
    PUCHAR Out = KtpArchive + KtpArchiveLength;

    if (KtpArchiveLength + Needed > sizeof(KtpArchive)) {
        return FALSE;
    }
    memcpy(Out, "070701", 6);
    for (ULONG Index = 0; Index < 13; Index++) {
        KtpHex8(Out + 6 + Index * 8, Fields[Index]);
    }
    memcpy(Out + 110, Name, NameSize);
    KtpArchiveLength += (110 + NameSize + 3) & ~(SIZE_T)3;
    memset(KtpArchive + KtpArchiveLength, 0, Size + 3);
    if (Size != 0) {
        memcpy(KtpArchive + KtpArchiveLength, Data, Size);
    }
    KtpArchiveLength += (Size + 3) & ~(SIZE_T)3;
    return TRUE;
}

static VOID KtpStartArchive(VOID)
{
    memset(KtpArchive, 0, sizeof(KtpArchive));
    KtpArchiveLength = 0;
}

static VOID KtpFinishArchive(VOID)
{
    KtpAddFile("TRAILER!!!", 0, NULL, 0);
}

/* ---- fixtures ---------------------------------------------------------- */

static PCSTR const KtpKernelExports[] = { "DbgPrint", "IoCreateDevice", NULL };
static UCHAR KtpKernelImage[KT_IMAGE_SIZE] __attribute__((aligned(4096)));
static UCHAR KtpGood[KT_IMAGE_SIZE], KtpBad[KT_IMAGE_SIZE], KtpCorrupt[KT_IMAGE_SIZE];

static BOOLEAN KtpSetUp(PKT_KERNEL_SWAP Saved)
{
    static PCSTR const GoodImports[] = { "DbgPrint", NULL };
    static PCSTR const BadImports[] = { "DbgPrint", "KeMissingRoutine", NULL };
    KT_IMAGE_OPTIONS Options = { 0 };

    Options.ExportModule = "ntoskrnl.exe";
    Options.Exports = KtpKernelExports;
    if (KtBuildImage(&Options, KtpKernelImage, sizeof(KtpKernelImage)) == 0) {
        return FALSE;
    }
    memset(&Options, 0, sizeof(Options));
    Options.ImportModule = "ntoskrnl.exe";
    Options.Imports = GoodImports;
    KtBuildImage(&Options, KtpGood, sizeof(KtpGood));
    Options.Imports = BadImports;
    KtBuildImage(&Options, KtpBad, sizeof(KtpBad));
    memcpy(KtpCorrupt, KtpGood, sizeof(KtpCorrupt));
    KtpCorrupt[0x40] = 'X'; /* breaks the PE signature */
    return KtSwapKernelImage(KtpKernelImage, KT_IMAGE_SIZE, Saved);
}

/* What the hook saw, and what it should return per driver. */
static ULONG KtpEntryCalls;
static DRIVER_OBJECT KtpSeenObject;
static DRIVER_EXTENSION KtpSeenExtension;
static WCHAR KtpSeenRegistryPath[128];
static USHORT KtpSeenRegistryPathLength;
static PDRIVER_OBJECT KtpSeenPointer;

static NTSTATUS KtpDriverEntryHook(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING FailName;

    KtpEntryCalls++;
    RtlInitUnicodeString(&FailName, L"\\Driver\\fail");
    if (RtlEqualUnicodeString(&DriverObject->DriverName, &FailName, TRUE)) {
        return STATUS_UNSUCCESSFUL;
    }
    KtpSeenPointer = DriverObject;
    KtpSeenObject = *DriverObject;
    KtpSeenExtension = *DriverObject->DriverExtension;
    KtpSeenRegistryPathLength = RegistryPath->Length;
    if (RegistryPath->Length <= sizeof(KtpSeenRegistryPath)) {
        memcpy(KtpSeenRegistryPath, RegistryPath->Buffer, RegistryPath->Length);
    }
    return STATUS_SUCCESS;
}

static BOOLEAN KtpUnicodeIs(PCUNICODE_STRING String, PCWSTR Expected)
{
    UNICODE_STRING Other;

    RtlInitUnicodeString(&Other, Expected);
    return RtlEqualUnicodeString(String, &Other, FALSE);
}

/* Unloads the drivers a test loaded: those after Mark (the list tail when
 * the test started). Boot drivers loaded before the tests stay. */
static VOID KtpUnloadAfter(PLIST_ENTRY Mark)
{
    while (IopDriverList.Blink != Mark) {
        IopUnloadDriver(CONTAINING_RECORD(IopDriverList.Blink, IOP_DRIVER, Links));
    }
}

static ULONG KtpListLength(PLIST_ENTRY Head)
{
    ULONG Count = 0;

    for (PLIST_ENTRY Link = Head->Flink; Link != Head; Link = Link->Flink) {
        Count++;
    }
    return Count;
}

static NTSTATUS KtpSucceedHook(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    return STATUS_SUCCESS;
}

/* ---- tests ------------------------------------------------------------- */

KTEST(io, boot_drivers_good_and_bad)
{
    KT_KERNEL_SWAP Saved;
    SIZE_T PagesBefore;
    UNICODE_STRING RegistryPath;
    PLIST_ENTRY Mark = IopDriverList.Blink;
    ULONG Modules;
    ULONG Loaded;

    KT_ASSERT_TRUE(KtpSetUp(&Saved));
    KtWarmUpAllocator();
    PagesBefore = MiKernelPagesInUse();
    Modules = KtpListLength(&PsLoadedModuleList);
    KtpStartArchive();
    KtpAddFile("System32", 040755, NULL, 0);
    KtpAddFile("System32/ntoskrnl.exe", 0100644, "MZ", 2);
    KtpAddFile("System32/drivers/bad.sys", 0100644, KtpBad, sizeof(KtpBad));
    KtpAddFile("System32/drivers/good.sys", 0100644, KtpGood, sizeof(KtpGood));
    KtpAddFile("System32/drivers/corrupt.sys", 0100644, KtpCorrupt, sizeof(KtpCorrupt));
    KtpAddFile("System32/drivers/fail.sys", 0100644, KtpGood, sizeof(KtpGood));
    KtpAddFile("System32/drivers/empty.sys", 0100644, NULL, 0);
    /* Not drivers: wrong extension, a subdirectory, another directory. */
    KtpAddFile("System32/drivers/readme.txt", 0100644, "hi", 2);
    KtpAddFile("System32/drivers/sub/nested.sys", 0100644, KtpGood, sizeof(KtpGood));
    KtpAddFile("System32/good2.sys", 0100644, KtpGood, sizeof(KtpGood));
    KtpFinishArchive();

    KtpEntryCalls = 0;
    KtpSeenPointer = NULL;
    IopDriverEntryHook = KtpDriverEntryHook;
    Loaded = IopLoadBootDrivers(KtpArchive, KtpArchiveLength);
    IopDriverEntryHook = NULL;

    KT_EXPECT_EQ(Loaded, 1);
    KT_EXPECT_EQ(KtpEntryCalls, 2); /* good and fail */
    KT_ASSERT_NOT_NULL(KtpSeenPointer);
    KT_EXPECT_EQ(KtpSeenObject.Type, IO_TYPE_DRIVER);
    KT_EXPECT_EQ(KtpSeenObject.Size, sizeof(DRIVER_OBJECT));
    KT_EXPECT_TRUE(KtpUnicodeIs(&KtpSeenObject.DriverName, L"\\Driver\\good"));
    KT_EXPECT_TRUE(KtpUnicodeIs(&KtpSeenExtension.ServiceKeyName, L"good"));
    KT_EXPECT_TRUE(KtpSeenExtension.DriverObject == KtpSeenPointer);
    KT_EXPECT_NOT_NULL(KtpSeenObject.DriverStart);
    KT_EXPECT_EQ(KtpSeenObject.DriverSize, KT_IMAGE_SIZE);
    KT_EXPECT_TRUE((PUCHAR)KtpSeenObject.DriverInit ==
                   (PUCHAR)KtpSeenObject.DriverStart + KT_IMAGE_TEXT_RVA);
    KT_EXPECT_NOT_NULL(KtpSeenObject.DriverSection);
    RegistryPath.Buffer = KtpSeenRegistryPath;
    RegistryPath.Length = KtpSeenRegistryPathLength;
    RegistryPath.MaximumLength = sizeof(KtpSeenRegistryPath);
    KT_EXPECT_TRUE(KtpUnicodeIs(&RegistryPath,
                                L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\good"));
    for (ULONG Index = 0; Index <= IRP_MJ_MAXIMUM_FUNCTION; Index++) {
        KT_EXPECT_TRUE(KtpSeenObject.MajorFunction[Index] == IopInvalidDeviceRequest);
    }
    /* The default handler must not touch its (opaque) arguments. */
    KT_EXPECT_STATUS(IopInvalidDeviceRequest(NULL, NULL), STATUS_INVALID_DEVICE_REQUEST);

    /* Only good.sys stayed: in the driver list and the module list. */
    KT_ASSERT_TRUE(IopDriverList.Blink != Mark);
    KT_EXPECT_TRUE(&CONTAINING_RECORD(IopDriverList.Blink, IOP_DRIVER, Links)->DriverObject ==
                   KtpSeenPointer);
    KT_EXPECT_TRUE(IopDriverList.Blink->Blink == Mark);
    KT_EXPECT_EQ(KtpListLength(&PsLoadedModuleList), Modules + 1);
    KT_EXPECT_TRUE(LdrFindModuleByAddress((ULONG_PTR)KtpSeenObject.DriverStart) ==
                   KtpSeenObject.DriverSection);

    KtpUnloadAfter(Mark);
    KT_EXPECT_EQ(KtpListLength(&PsLoadedModuleList), Modules);
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore);
    KtRestoreKernelImage(&Saved);
}

KTEST(io, duplicate_and_malformed_archive)
{
    KT_KERNEL_SWAP Saved;
    SIZE_T PagesBefore;
    SIZE_T Damage;
    PLIST_ENTRY Mark = IopDriverList.Blink;

    KT_ASSERT_TRUE(KtpSetUp(&Saved));
    KtWarmUpAllocator();
    PagesBefore = MiKernelPagesInUse();
    KtpStartArchive();
    KtpAddFile("./System32/Drivers/one.SYS", 0100644, KtpGood, sizeof(KtpGood));
    KtpAddFile("/system32/drivers/ONE.sys", 0100644, KtpGood, sizeof(KtpGood));
    KtpFinishArchive();
    /* The synthetic images' code is never run, also not in the kernel. */
    IopDriverEntryHook = KtpSucceedHook;
    /* Same name twice (case-insensitive): the second is refused. */
    KT_EXPECT_EQ(IopLoadBootDrivers(KtpArchive, KtpArchiveLength), 1);
    KtpUnloadAfter(Mark);

    /* A damaged archive: drivers before the damage load, then it stops. */
    KtpStartArchive();
    KtpAddFile("System32/drivers/two.sys", 0100644, KtpGood, sizeof(KtpGood));
    Damage = KtpArchiveLength;
    KtpAddFile("System32/drivers/three.sys", 0100644, KtpGood, sizeof(KtpGood));
    memcpy(KtpArchive + Damage, "07X701", 6);
    KT_EXPECT_EQ(IopLoadBootDrivers(KtpArchive, KtpArchiveLength), 1);
    KtpUnloadAfter(Mark);
    IopDriverEntryHook = NULL;

    KT_EXPECT_EQ(IopLoadBootDrivers(NULL, 0), 0);
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore);
    KtRestoreKernelImage(&Saved);
}

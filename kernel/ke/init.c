/*
 * init.c - the portable part of system startup: the banner, the boot phase
 * lines, and phase 1 (the loaded module list, boot drivers, "system ready"
 * and the command-line actions ktest / shutdown / crash). The processor-
 * specific phase 0 lives in kernel/arch/x64/init.c.
 */
#include <ntddk.h>
#include <cpio.h>
#include <hal.h>
#include <io.h>
#include <ke.h>
#include <ktest.h>

#define KI_MAX_FILTER 256

/* Zero, but opaque to the optimizer: a deliberate NULL dereference must
 * really happen. */
volatile ULONG_PTR KipNullAddress;

VOID KiPrintBanner(VOID)
{
    DbgPrint("Keel " KEEL_VERSION_STRING " (NT 10.0 x64, %s build)\n", DBG ? "checked" : "free");
}

VOID KiPrintBootPhase(PCSTR Name, ULONG64 Timestamp)
{
    ULONG64 Boot = KiQueryBootTimestamp();
    ULONG64 Us = Timestamp > Boot ? KiTimestampToMicroseconds(Timestamp - Boot) : 0;

    DbgPrint("boot: %s at %llu.%03llu ms\n", Name, Us / 1000, Us % 1000);
}

/* "crash" stops the system on purpose; "crash=fault" and "crash=irql"
 * exercise the exception path instead (a NULL write at PASSIVE_LEVEL, and
 * at DISPATCH_LEVEL), for end-to-end tests of the stop codes. */
static VOID KipCrash(PCSTR Kind, SIZE_T Length)
{
    volatile ULONG *Null = (volatile ULONG *)(ULONG_PTR)KipNullAddress;

    if (Length == 5 && memcmp(Kind, "fault", 5) == 0) {
        *Null = 0xBAD;
    } else if (Length == 4 && memcmp(Kind, "irql", 4) == 0) {
        KIRQL OldIrql;
        KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
        *Null = 0xBAD;
        KeLowerIrql(OldIrql);
    }
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0);
}

static VOID KipRunCommandLine(PCSTR CommandLine)
{
    PCSTR Value;
    SIZE_T Length;

    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "ktest", &Value, &Length)) {
        static char Filter[KI_MAX_FILTER];
        ULONG Failed;

        if (Length >= sizeof(Filter)) {
            Length = sizeof(Filter) - 1;
        }
        memcpy(Filter, Value, Length);
        Filter[Length] = '\0';
        Failed = KtestRun(Length != 0 ? Filter : NULL);
        HalTerminateSystem(Failed == 0 ? HAL_EXIT_SUCCESS : HAL_EXIT_TEST_FAILED);
    }
    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "crash", &Value, &Length)) {
        KipCrash(Value, Length);
    }
    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "shutdown", NULL, NULL)) {
        DbgPrint("Shutting down.\n");
        HalTerminateSystem(HAL_EXIT_SUCCESS);
    }
}

VOID KiBootSystem(PVOID KernelBase, ULONG KernelSize, const VOID *BootImage, SIZE_T BootImageSize,
                  PCSTR CommandLine)
{
    CPIO_ENTRY Kernel;

    if (BootImage != NULL &&
        NT_SUCCESS(RtlCpioFindFile(BootImage, BootImageSize, "System32/ntoskrnl.exe", &Kernel))) {
        MiInitializeLoadedModuleList(KernelBase, KernelSize, Kernel.Data, Kernel.DataSize);
    } else {
        DbgPrint("boot: System32/ntoskrnl.exe not in the boot image; no kernel symbols\n");
        MiInitializeLoadedModuleList(KernelBase, KernelSize, NULL, 0);
    }
    KiPrintBootPhase("module list initialized", KiReadTimestamp());

    if (BootImage != NULL) {
        IopLoadBootDrivers(BootImage, BootImageSize);
    }
    KiPrintBootPhase("boot drivers loaded", KiReadTimestamp());
    KiPrintBootPhase("system ready", KiReadTimestamp());

    KipRunCommandLine(CommandLine);
}

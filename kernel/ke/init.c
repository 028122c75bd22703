/*
 * init.c - the portable part of system startup: the banner, the boot phase
 * lines, and phase 1 (the loaded module list, boot drivers, "system ready"
 * and the command-line actions ktest / bench / shutdown / crash), run in a system
 * thread started by KiStartPhase1. The processor-
 * specific phase 0 lives in kernel/arch/x64/init.c.
 */
#include <ntddk.h>
#include <cpio.h>
#include <ex.h>
#include <hal.h>
#include <io.h>
#include <kbench.h>
#include <ke.h>
#include <ketypes.h>
#include <ktest.h>
#include <mm.h>

#define KI_MAX_FILTER 256
/* benchtime=MS: the minimum time of each benchmark's measured run. */
#define KI_DEFAULT_BENCH_TIME_MS 100

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

/* "crash" stops the system on purpose (a manually initiated crash, as
 * NT's keyboard crash). Misuse that must end in a particular stop code is
 * tested by registered cases instead: bugcheck=suite.name (ktest.h). */
static VOID KipCrash(VOID)
{
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0);
}

/* The FILTER of ktest=FILTER or bench=FILTER as a string (cut to
 * KI_MAX_FILTER), or NULL when empty: the runners select everything. One
 * buffer: each of those options ends the system. */
static PCSTR KipCopyFilter(PCSTR Value, SIZE_T Length)
{
    static char Filter[KI_MAX_FILTER];

    if (Length == 0) {
        return NULL;
    }
    if (Length >= sizeof(Filter)) {
        Length = sizeof(Filter) - 1;
    }
    memcpy(Filter, Value, Length);
    Filter[Length] = '\0';
    return Filter;
}

static VOID KipRunCommandLine(PCSTR CommandLine)
{
    PCSTR Value;
    SIZE_T Length;

    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "ktest", &Value, &Length)) {
        ULONG Failed = KtestRun(KipCopyFilter(Value, Length));
        HalTerminateSystem(Failed == 0 ? HAL_EXIT_SUCCESS : HAL_EXIT_TEST_FAILED);
    }
    /* bench[=FILTER] [benchtime=MS]: the in-kernel benchmark suite
     * (kbench.h); build/keel/guestbench.py reads its lines. Error entries
     * (a two-processor benchmark on one processor) are results, not a
     * failure of the run. */
    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "bench", &Value, &Length)) {
        PCSTR Filter = KipCopyFilter(Value, Length);
        ULONG MinTimeMs = KI_DEFAULT_BENCH_TIME_MS;

        (VOID) KiFindBootOptionUlong(CommandLine, LOADER_MAX_COMMAND_LINE, "benchtime", &MinTimeMs);
        KbenchRun(Filter, MinTimeMs);
        HalTerminateSystem(HAL_EXIT_SUCCESS);
    }
    /* bugcheck=suite.name: one KTEST_BUGCHECK case, which must end in its
     * stop screen; returning is a test failure (build/keel/testing.py). */
    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "bugcheck", &Value, &Length)) {
        const KTEST_BUGCHECK_CASE *Case = KtestBugCheckFind(Value, Length);
        if (Case == NULL) {
            DbgPrint("ktest: no bug check case named %.*s\n", (int)Length, Value);
            HalTerminateSystem(HAL_EXIT_TEST_FAILED);
        }
        HalTerminateSystem(KtestRunBugCheck(Case) ? HAL_EXIT_SUCCESS : HAL_EXIT_TEST_FAILED);
    }
    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "crash", NULL, NULL)) {
        KipCrash();
    }
    if (KiFindBootOption(CommandLine, LOADER_MAX_COMMAND_LINE, "shutdown", NULL, NULL)) {
        DbgPrint("Shutting down.\n");
        HalTerminateSystem(HAL_EXIT_SUCCESS);
    }
}

/* Phase 1 runs in a system thread, as NT's Phase1Initialization: the boot
 * processor's boot code becomes its idle thread meanwhile. */
typedef struct _KI_PHASE1_PARAMETERS {
    PVOID KernelBase;
    ULONG KernelSize;
    const VOID *BootImage;
    SIZE_T BootImageSize;
    PCSTR CommandLine;
} KI_PHASE1_PARAMETERS;

static KI_PHASE1_PARAMETERS KiPhase1Parameters;

static VOID NTAPI KipPhase1Initialization(PVOID Context)
{
    KI_PHASE1_PARAMETERS *Parameters = Context;

    KiSchedulerSelfCheck();
    /* perf: the priority-0 thread that zeroes free pages while idle. */
    MiStartZeroPageThread();
    KiBootSystem(Parameters->KernelBase, Parameters->KernelSize, Parameters->BootImage,
                 Parameters->BootImageSize, Parameters->CommandLine);
}

VOID KiStartPhase1(PVOID KernelBase, ULONG KernelSize, const VOID *BootImage, SIZE_T BootImageSize,
                   PCSTR CommandLine)
{
    PKTHREAD Thread;
    NTSTATUS Status;

    KiPhase1Parameters.KernelBase = KernelBase;
    KiPhase1Parameters.KernelSize = KernelSize;
    KiPhase1Parameters.BootImage = BootImage;
    KiPhase1Parameters.BootImageSize = BootImageSize;
    KiPhase1Parameters.CommandLine = CommandLine;
    Status =
        KiCreateThread(KipPhase1Initialization, &KiPhase1Parameters, KI_DEFAULT_PRIORITY, &Thread);
    if (!NT_SUCCESS(Status)) {
        KeBugCheckEx(PHASE1_INITIALIZATION_FAILED, (ULONG_PTR)(ULONG)Status, 0, 0, 0);
    }
    KiStartThread(Thread);
    KiDereferenceThread(Thread);
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

    /* System worker threads (exsync): before drivers, which queue work. */
    if (!NT_SUCCESS(ExpInitializeWorkerThreads())) {
        KeBugCheckEx(PHASE1_INITIALIZATION_FAILED, 0, 0, 0, 0);
    }

    if (BootImage != NULL) {
        IopLoadBootDrivers(BootImage, BootImageSize);
    }
    KiPrintBootPhase("boot drivers loaded", KiReadTimestamp());
    KiPrintBootPhase("system ready", KiReadTimestamp());

    KipRunCommandLine(CommandLine);
}

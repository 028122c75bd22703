/*
 * sysload_test.c - ktest cases for the system image loader: binding
 * against a stand-in ntoskrnl.exe export table, relocation, the module
 * list, address formatting, and rejection of unresolved imports and
 * corrupted images without leaking kernel pages.
 */
#include <wdm.h>
#include <ktest.h>
#include <io.h>
#include <ldr.h>
#include <mm.h>
#include <ex.h>
#include "../io/testimage.h"

static PCSTR const KtpKernelExports[] = { "DbgPrint", "KeBugCheckEx", "RtlInitUnicodeString",
                                          NULL };

/* A fake kernel (export-only image) used as PsLoadedModuleList's first
 * entry while a test runs. Kept static: the export table must stay valid. */
static UCHAR KtpKernelImage[KT_IMAGE_SIZE] __attribute__((aligned(4096)));

static BOOLEAN KtpInstallKernel(PKT_KERNEL_SWAP Saved)
{
    KT_IMAGE_OPTIONS Options = { 0 };

    Options.ExportModule = "ntoskrnl.exe";
    Options.Exports = KtpKernelExports;
    if (KtBuildImage(&Options, KtpKernelImage, sizeof(KtpKernelImage)) == 0) {
        return FALSE;
    }
    return KtSwapKernelImage(KtpKernelImage, KT_IMAGE_SIZE, Saved);
}

static ULONG KtpModuleCount(VOID)
{
    ULONG Count = 0;

    for (PLIST_ENTRY Link = PsLoadedModuleList.Flink; Link != &PsLoadedModuleList;
         Link = Link->Flink) {
        Count++;
    }
    return Count;
}

static UCHAR KtpDriverFile[KT_IMAGE_SIZE];

static SIZE_T KtpBuildDriver(PCSTR ImportModule, PCSTR const *Imports)
{
    KT_IMAGE_OPTIONS Options = { 0 };

    Options.ImportModule = ImportModule;
    Options.Imports = Imports;
    return KtBuildImage(&Options, KtpDriverFile, sizeof(KtpDriverFile));
}

KTEST(sysload, kernel_entry_is_first)
{
    KT_KERNEL_SWAP Saved;
    PKLDR_DATA_TABLE_ENTRY Kernel;
    UNICODE_STRING Expected;

    KT_ASSERT_TRUE(KtpInstallKernel(&Saved));
    Kernel = CONTAINING_RECORD(PsLoadedModuleList.Flink, KLDR_DATA_TABLE_ENTRY, InLoadOrderLinks);
    RtlInitUnicodeString(&Expected, L"ntoskrnl.exe");
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&Kernel->BaseDllName, &Expected, FALSE));
    RtlInitUnicodeString(&Expected, L"\\SystemRoot\\System32\\ntoskrnl.exe");
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&Kernel->FullDllName, &Expected, FALSE));
    KT_EXPECT_TRUE(LdrFindModuleByAddress((ULONG_PTR)KtpKernelImage + 0x1010) == Kernel);
    KtRestoreKernelImage(&Saved);
}

KTEST(sysload, load_binds_relocates_and_lists)
{
    static PCSTR const Imports[] = { "KeBugCheckEx", "DbgPrint", NULL };
    UNICODE_STRING Name, Expected;
    KT_KERNEL_SWAP Saved;
    PKLDR_DATA_TABLE_ENTRY Entry = NULL;
    ULONG Before = KtpModuleCount();
    SIZE_T PagesBefore;
    CHAR Reason[128];
    CHAR Formatted[64];
    ULONG64 Value;
    PUCHAR Base;

    KT_ASSERT_TRUE(KtpInstallKernel(&Saved));
    KtWarmUpAllocator();
    PagesBefore = MiKernelPagesInUse();
    KT_ASSERT_NE(KtpBuildDriver("NTOSKRNL.EXE", Imports), 0);
    RtlInitUnicodeString(&Name, L"\\SystemRoot\\System32\\drivers\\test.sys");
    KT_EXPECT_SUCCESS(MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name, &Entry,
                                          Reason, sizeof(Reason)));
    if (Entry == NULL) {
        KtRestoreKernelImage(&Saved);
        return;
    }
    Base = Entry->DllBase;
    KT_EXPECT_EQ(Entry->SizeOfImage, KT_IMAGE_SIZE);
    KT_EXPECT_TRUE(Entry->EntryPoint == Base + KT_IMAGE_TEXT_RVA);
    KT_EXPECT_EQ(KtpModuleCount(), Before + 1);
    RtlInitUnicodeString(&Expected, L"test.sys");
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&Entry->BaseDllName, &Expected, FALSE));
    KT_EXPECT_TRUE(RtlEqualUnicodeString(&Entry->FullDllName, &Name, FALSE));

    /* IAT: KeBugCheckEx is export 1, DbgPrint export 0 of the fake kernel. */
    memcpy(&Value, Base + 0x20C0, sizeof(Value));
    KT_EXPECT_EQ(Value, (ULONG_PTR)KtpKernelImage + KT_IMAGE_TEXT_RVA + 16);
    memcpy(&Value, Base + 0x20C8, sizeof(Value));
    KT_EXPECT_EQ(Value, (ULONG_PTR)KtpKernelImage + KT_IMAGE_TEXT_RVA);
    /* The absolute pointer in .data now points into the loaded .text. */
    memcpy(&Value, Base + KT_IMAGE_DATA_RVA, sizeof(Value));
    KT_EXPECT_EQ(Value, (ULONG_PTR)Base + KT_IMAGE_TEXT_RVA);

    KT_EXPECT_TRUE(LdrFindModuleByAddress((ULONG_PTR)Base + 0x1234) == Entry);
    KT_EXPECT_NULL(LdrFindModuleByAddress((ULONG_PTR)Base + KT_IMAGE_SIZE));
    LdrFormatAddress((ULONG_PTR)Base + 0x1234, Formatted, sizeof(Formatted));
    KT_EXPECT_STREQ(Formatted, "test.sys+0x1234");

    MmUnloadSystemImage(Entry);
    KT_EXPECT_EQ(KtpModuleCount(), Before);
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore);
    KtRestoreKernelImage(&Saved);
}

KTEST(sysload, unresolved_import_names_symbol)
{
    static PCSTR const Imports[] = { "DbgPrint", "KeNoSuchRoutine", NULL };
    static PCSTR const OtherImports[] = { "Foo", NULL };
    UNICODE_STRING Name;
    KT_KERNEL_SWAP Saved;
    PKLDR_DATA_TABLE_ENTRY Entry = NULL;
    ULONG Before = KtpModuleCount();
    SIZE_T PagesBefore;
    CHAR Reason[128];
    NTSTATUS Status;

    KT_ASSERT_TRUE(KtpInstallKernel(&Saved));
    KtWarmUpAllocator();
    PagesBefore = MiKernelPagesInUse();
    RtlInitUnicodeString(&Name, L"bad.sys");
    KtpBuildDriver("ntoskrnl.exe", Imports);
    Status = MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name, &Entry, Reason,
                                 sizeof(Reason));
    KT_EXPECT_FALSE(NT_SUCCESS(Status));
    KT_EXPECT_NULL(Entry);
    KT_EXPECT_STREQ(Reason, "unresolved import ntoskrnl.exe!KeNoSuchRoutine");

    KtpBuildDriver("other.sys", OtherImports);
    Status = MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name, &Entry, Reason,
                                 sizeof(Reason));
    KT_EXPECT_FALSE(NT_SUCCESS(Status));
    KT_EXPECT_STREQ(Reason, "unresolved import other.sys!Foo");

    KT_EXPECT_EQ(KtpModuleCount(), Before);
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore);
    KtRestoreKernelImage(&Saved);
}

static BOOLEAN KtpStartsWith(PCSTR Text, PCSTR Prefix)
{
    return memcmp(Text, Prefix, strlen(Prefix)) == 0;
}

KTEST(sysload, rejects_bad_images)
{
    static PCSTR const Imports[] = { "DbgPrint", NULL };
    KT_IMAGE_OPTIONS Options = { 0 };
    UNICODE_STRING Name;
    KT_KERNEL_SWAP Saved;
    PKLDR_DATA_TABLE_ENTRY Entry = NULL;
    ULONG Before = KtpModuleCount();
    SIZE_T PagesBefore;
    CHAR Reason[128];

    KT_ASSERT_TRUE(KtpInstallKernel(&Saved));
    KtWarmUpAllocator();
    PagesBefore = MiKernelPagesInUse();
    RtlInitUnicodeString(&Name, L"bad.sys");

    /* Not a PE file. */
    memset(KtpDriverFile, 'A', sizeof(KtpDriverFile));
    KT_EXPECT_FALSE(NT_SUCCESS(MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name,
                                                   &Entry, Reason, sizeof(Reason))));
    KT_EXPECT_TRUE(KtpStartsWith(Reason, "invalid image: "));

    /* Truncated. */
    KtpBuildDriver("ntoskrnl.exe", Imports);
    KT_EXPECT_FALSE(NT_SUCCESS(
        MmLoadSystemImageEx(KtpDriverFile, 0x1800, &Name, &Entry, Reason, sizeof(Reason))));
    KT_EXPECT_TRUE(KtpStartsWith(Reason, "invalid image: "));

    /* A Win32 program is not a driver. */
    Options.Subsystem = IMAGE_SUBSYSTEM_WINDOWS_CUI;
    KtBuildImage(&Options, KtpDriverFile, sizeof(KtpDriverFile));
    KT_EXPECT_STATUS(MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name, &Entry,
                                         Reason, sizeof(Reason)),
                     STATUS_INVALID_IMAGE_FORMAT);
    KT_EXPECT_STREQ(Reason, "invalid image: subsystem 3 is not native");

    /* It cannot stay at its preferred base and has no relocations. */
    Options.Subsystem = 0;
    Options.NoRelocations = TRUE;
    KtBuildImage(&Options, KtpDriverFile, sizeof(KtpDriverFile));
    KT_EXPECT_FALSE(NT_SUCCESS(MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name,
                                                   &Entry, Reason, sizeof(Reason))));
    KT_EXPECT_TRUE(KtpStartsWith(Reason, "invalid image: no relocations"));

    /* No relocation directory but not stripped either (what lld-link
     * makes of all-RIP-relative code): it loads anywhere. */
    Options.NoRelocations = FALSE;
    Options.NoRelocationDirectory = TRUE;
    KtBuildImage(&Options, KtpDriverFile, sizeof(KtpDriverFile));
    KT_EXPECT_SUCCESS(MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name, &Entry,
                                          Reason, sizeof(Reason)));
    if (Entry != NULL) {
        ULONG64 ImageBase;
        memcpy(&ImageBase,
               (PUCHAR)Entry->DllBase + 0x40 + FIELD_OFFSET(IMAGE_NT_HEADERS64, OptionalHeader) +
                   FIELD_OFFSET(IMAGE_OPTIONAL_HEADER64, ImageBase),
               sizeof(ImageBase));
        KT_EXPECT_EQ(ImageBase, (ULONG_PTR)Entry->DllBase);
        MmUnloadSystemImage(Entry);
        Entry = NULL;
    }

    KT_EXPECT_STATUS(MmLoadSystemImage(NULL, 0, &Name, &Entry), STATUS_INVALID_PARAMETER);
    KT_EXPECT_NULL(Entry);
    KT_EXPECT_EQ(KtpModuleCount(), Before);
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore);
    KtRestoreKernelImage(&Saved);
}

/* Deterministic mutations of a valid driver: every outcome is fine except a
 * crash, a sanitizer report or a leak. */
KTEST(sysload, survives_mutated_images)
{
    static PCSTR const Imports[] = { "DbgPrint", "RtlInitUnicodeString", NULL };
    static UCHAR Original[KT_IMAGE_SIZE];
    UNICODE_STRING Name;
    KT_KERNEL_SWAP Saved;
    SIZE_T PagesBefore;
    ULONG Before = KtpModuleCount();
    ULONG Seed = 12345;
    ULONG Loaded = 0;

    KT_ASSERT_TRUE(KtpInstallKernel(&Saved));
    KtWarmUpAllocator();
    PagesBefore = MiKernelPagesInUse();
    RtlInitUnicodeString(&Name, L"fuzz.sys");
    KtpBuildDriver("ntoskrnl.exe", Imports);
    memcpy(Original, KtpDriverFile, sizeof(Original));
    for (ULONG Round = 0; Round < 300; Round++) {
        PKLDR_DATA_TABLE_ENTRY Entry = NULL;
        CHAR Reason[128];
        memcpy(KtpDriverFile, Original, sizeof(Original));
        for (ULONG Flip = 0; Flip < 4; Flip++) {
            Seed = Seed * 1103515245 + 12345;
            /* Mostly the headers and import/relocation data. */
            ULONG Offset = (Seed >> 8) % ((Round & 1) ? 0x400 : KT_IMAGE_SIZE);
            KtpDriverFile[Offset] ^= (UCHAR)(1u << ((Seed >> 4) & 7));
        }
        if (NT_SUCCESS(MmLoadSystemImageEx(KtpDriverFile, sizeof(KtpDriverFile), &Name, &Entry,
                                           Reason, sizeof(Reason)))) {
            Loaded++;
            MmUnloadSystemImage(Entry);
        } else {
            KT_EXPECT_NE(Reason[0], '\0');
        }
    }
    KT_EXPECT_GT(Loaded, 0);
    KT_EXPECT_EQ(KtpModuleCount(), Before);
    KT_EXPECT_EQ(MiKernelPagesInUse(), PagesBefore);
    KtRestoreKernelImage(&Saved);
}

KTEST(sysload, format_unknown_address)
{
    CHAR Formatted[32];

    LdrFormatAddress(0x10, Formatted, sizeof(Formatted));
    KT_EXPECT_STREQ(Formatted, "0x10");
}

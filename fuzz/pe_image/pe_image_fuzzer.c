/*
 * pe_image_fuzzer.c - libFuzzer harness over the PE image routines
 * (kernel/rtl/image.c) as the kernel's system image loader uses them:
 * validate, map into a buffer of exactly SizeOfImage bytes (so ASan sees
 * any overrun), relocate, bind imports, look up exports and symbols.
 * Seeds: Keel's own ntoskrnl.exe and driver images.
 */
#include <stdint.h>
#include <stdlib.h>
#include <ntstatus.h>
#include <ldr.h>

#define MAX_IMAGE_SIZE (16u * 1024 * 1024)

static NTSTATUS AcceptAnyImport(PVOID Context, PCSTR DllName, PCSTR Name, USHORT Ordinal,
                                PULONG64 Address)
{
    /* Touch every byte of the names the loader hands out. */
    const char *Cursor;
    ULONG64 Hash = Ordinal;

    for (Cursor = DllName; *Cursor != 0; Cursor++) {
        Hash = Hash * 31 + (UCHAR)*Cursor;
    }
    for (Cursor = Name; Cursor != NULL && *Cursor != 0; Cursor++) {
        Hash = Hash * 31 + (UCHAR)*Cursor;
    }
    *Address = 0xFFFFF80000400000ULL + (Hash & 0xFFFF);
    return (Hash & 0xFF) == 0x42 ? STATUS_ENTRYPOINT_NOT_FOUND : STATUS_SUCCESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    static const char *const Exports[] = { "DriverEntry",          "DbgPrint", "KeBugCheckEx",
                                           "RtlInitUnicodeString", "",         "A" };
    LDR_IMAGE_INFO Info;
    PCSTR Defect;
    CHAR Name[64];
    CHAR Dll[16];
    ULONG Displacement;
    ULONG Index;
    UCHAR *Mapped;

    if (!NT_SUCCESS(LdrValidateImageEx(Data, Size, &Info, &Defect))) {
        if (Defect == NULL) {
            abort(); /* a rejection must name its defect */
        }
        return 0;
    }
    {
        const ULONG Rvas[] = { Info.EntryPointRva,   0,      Info.SizeOfImage - 1,
                               Info.SizeOfImage / 2, 0x1000, 0x1004 };
        for (Index = 0; Index < sizeof(Rvas) / sizeof(Rvas[0]); Index++) {
            LdrLookupSymbol(Data, Size, Rvas[Index], Name, sizeof(Name), &Displacement);
        }
    }
    if (Info.SizeOfImage > MAX_IMAGE_SIZE) {
        return 0;
    }
    Mapped = malloc(Info.SizeOfImage);
    if (Mapped == NULL) {
        return 0;
    }
    /* Validation promised the file maps. */
    if (!NT_SUCCESS(LdrMapImage(Data, Size, Mapped, Info.SizeOfImage))) {
        abort();
    }
    for (Index = 0; Index < sizeof(Exports) / sizeof(Exports[0]); Index++) {
        PVOID Address;
        if (NT_SUCCESS(LdrFindExport(Mapped, Info.SizeOfImage, Exports[Index], &Address)) &&
            ((UCHAR *)Address < Mapped || (UCHAR *)Address >= Mapped + Info.SizeOfImage)) {
            abort(); /* an export outside its image */
        }
    }
    LdrBindImports(Mapped, Info.SizeOfImage, AcceptAnyImport, NULL, Dll, sizeof(Dll), Name,
                   sizeof(Name));
    LdrRelocateImage(Mapped, Info.SizeOfImage, 0xFFFFF80000400000ULL);
    LdrRelocateImage(Mapped, Info.SizeOfImage, 0x10000);
    LdrRelocateImage(Mapped, Info.SizeOfImage, Info.ImageBase);
    free(Mapped);
    return 0;
}

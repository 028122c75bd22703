/*
 * cpio_fuzzer.c - libFuzzer harness over the boot image reader
 * (kernel/rtl/cpio.c): walk every entry, check each lies inside the
 * archive, look files up by path, and hand a found kernel to the PE
 * validator as the boot loader does. Seeds: built boot images.
 */
#include <stdint.h>
#include <stdlib.h>
#include <ntstatus.h>
#include <cpio.h>
#include <ldr.h>

static void CheckInside(const uint8_t *Data, size_t Size, const CPIO_ENTRY *Entry)
{
    const uint8_t *Name = (const uint8_t *)Entry->Name;
    const uint8_t *Contents = Entry->Data;

    if (Name < Data || Name + Entry->NameLength > Data + Size || Contents < Data ||
        Entry->DataSize > Size || Contents + Entry->DataSize > Data + Size) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    static const char *const Paths[] = { "System32/ntoskrnl.exe", "system32\\DRIVERS\\okdrv.sys",
                                         "/System32/config/SYSTEM", "", "TRAILER!!!" };
    CPIO_ENTRY Entry;
    SIZE_T Offset = 0;
    SIZE_T Previous;
    ULONG Index;

    /* Each step moves forward, and every entry is inside the archive. */
    for (;;) {
        Previous = Offset;
        if (RtlCpioNextEntry(Data, Size, &Offset, &Entry) != STATUS_SUCCESS) {
            break;
        }
        CheckInside(Data, Size, &Entry);
        if (Offset <= Previous || Offset > Size) {
            abort();
        }
    }
    for (Index = 0; Index < sizeof(Paths) / sizeof(Paths[0]); Index++) {
        if (RtlCpioFindFile(Data, Size, Paths[Index], &Entry) == STATUS_SUCCESS) {
            LDR_IMAGE_INFO Info;
            CheckInside(Data, Size, &Entry);
            LdrValidateImage(Entry.Data, Entry.DataSize, &Info);
        }
    }
    return 0;
}

/*
 * unwind_fuzzer.c - libFuzzer harness over the x64 unwinder
 * (kernel/rtl/unwind.c): function lookup in an image's exception
 * directory, one RtlpVirtualUnwind and a bounded RtlpWalkFrames, over a
 * hostile image (.pdata, UNWIND_INFOs, code bytes) and a hostile stack.
 * Image and stack are separate heap blocks of exactly their size, so ASan
 * sees any read outside the bounds the unwinder was given.
 *
 * Input layout (little endian):
 *   0  UCHAR  Flags: bit 0 the image is raw (else a PE header is
 *             synthesized in front of it, exception directory at 0x180),
 *             bit 1 RTLP_UNWIND_CALLER_PC, bits 2-3 the handler type
 *   1  UCHAR  PdataCount: RUNTIME_FUNCTIONs in the synthesized directory
 *   2  USHORT PcRva: ControlPc = ImageBase + PcRva (mod the image size)
 *   4  USHORT ImageLength: bytes of the input that form the image payload
 *   6  UCHAR  RspSlot: RSP = StackLow + 8 * RspSlot
 *   7  UCHAR  SkipFrames for the walk
 *   8  UCHAR  Registers[16]: register i = StackLow + 8 * Registers[i]
 *  24  the image payload (ImageLength bytes), then the stack (the rest).
 * Stack qwords tagged in their high half are rebased so that a seed can
 * hold absolute addresses: 'KEEL' -> ImageBase + low half, 'STAK' ->
 * StackLow + low half. Seeds: functions of Keel's own ntoskrnl.exe with
 * their unwind data and synthetic frames (make_seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ntddk.h>
#include <ntimage.h>
#include <ldr.h>
#include <rtlp.h>

#define HEADER_SIZE       24
#define SYNTH_HEADER_SIZE 0x180
#define MAX_WALK          64
#define TAG_IMAGE         0x4B45454Cu /* 'KEEL' */
#define TAG_STACK         0x5354414Bu /* 'STAK' */

static void Check(int Condition)
{
    if (!Condition) {
        abort();
    }
}

/* A PE32+ header whose exception directory is PdataCount entries at
 * SYNTH_HEADER_SIZE; the payload follows it. */
static void SynthesizeHeader(uint8_t *Image, ULONG ImageSize, ULONG PdataCount)
{
    IMAGE_DOS_HEADER Dos;
    IMAGE_NT_HEADERS64 Nt;

    memset(&Dos, 0, sizeof(Dos));
    Dos.e_magic = IMAGE_DOS_SIGNATURE;
    Dos.e_lfanew = 0x40;
    memcpy(Image, &Dos, sizeof(Dos));
    _Static_assert(0x40 + sizeof(Nt) <= SYNTH_HEADER_SIZE, "synthesized header layout");
    memset(&Nt, 0, sizeof(Nt));
    Nt.Signature = IMAGE_NT_SIGNATURE;
    Nt.FileHeader.Machine = IMAGE_FILE_MACHINE_AMD64;
    Nt.FileHeader.SizeOfOptionalHeader = sizeof(IMAGE_OPTIONAL_HEADER64);
    Nt.OptionalHeader.Magic = IMAGE_NT_OPTIONAL_HDR64_MAGIC;
    Nt.OptionalHeader.SizeOfImage = ImageSize;
    Nt.OptionalHeader.NumberOfRvaAndSizes = IMAGE_NUMBEROF_DIRECTORY_ENTRIES;
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].VirtualAddress =
        SYNTH_HEADER_SIZE;
    Nt.OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXCEPTION].Size =
        PdataCount * sizeof(RUNTIME_FUNCTION);
    memcpy(Image + 0x40, &Nt, sizeof(Nt));
}

static int InImage(const RTLP_UNWIND_BOUNDS *Bounds, ULONG64 Address, ULONG64 Size)
{
    return Address >= Bounds->ImageBase && Address - Bounds->ImageBase <= Bounds->ImageSize &&
           Size <= Bounds->ImageSize - (Address - Bounds->ImageBase);
}

static int InStack(const RTLP_UNWIND_BOUNDS *Bounds, ULONG64 Address, ULONG64 Size)
{
    return Address >= Bounds->StackLow && Address < Bounds->StackHigh &&
           Size <= Bounds->StackHigh - Address;
}

/* A successful unwind hands out only addresses inside its bounds. */
static void CheckUnwound(const RTLP_UNWIND_BOUNDS *Bounds,
                         const KNONVOLATILE_CONTEXT_POINTERS *Before,
                         const KNONVOLATILE_CONTEXT_POINTERS *After, PEXCEPTION_ROUTINE Handler,
                         PVOID HandlerData)
{
    for (ULONG i = 0; i < 16; i++) {
        if (After->IntegerContext[i] != Before->IntegerContext[i]) {
            Check(InStack(Bounds, (ULONG64)(ULONG_PTR)After->IntegerContext[i], 8));
        }
        if (After->FloatingContext[i] != Before->FloatingContext[i]) {
            Check(InStack(Bounds, (ULONG64)(ULONG_PTR)After->FloatingContext[i], 16));
        }
    }
    if (Handler != NULL) {
        Check(InImage(Bounds, (ULONG64)(ULONG_PTR)Handler, 1));
    }
    if (HandlerData != NULL) {
        Check(InImage(Bounds, (ULONG64)(ULONG_PTR)HandlerData, 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size)
{
    KLDR_DATA_TABLE_ENTRY Module;
    KNONVOLATILE_CONTEXT_POINTERS Pointers, PointersBefore;
    UNWIND_HISTORY_TABLE History;
    RTLP_UNWIND_BOUNDS Bounds;
    PEXCEPTION_ROUTINE Handler = NULL;
    PVOID HandlerData = NULL;
    PRUNTIME_FUNCTION Entry, Found;
    CONTEXT Context, Start;
    ULONG_PTR Frames[MAX_WALK];
    ULONG64 Pc, Establisher = 0, LookupBase = 0;
    ULONG ImageSize, PayloadSize, StackSize, Count, Flags, Offset;
    BOOLEAN Raw, Machine = FALSE;
    NTSTATUS Status;
    uint8_t *Image, *Stack;
    USHORT PcRva, ImageLength;

    if (Size < HEADER_SIZE) {
        return 0;
    }
    Flags = Data[0];
    Raw = (Flags & 1) != 0;
    memcpy(&PcRva, Data + 2, sizeof(PcRva));
    memcpy(&ImageLength, Data + 4, sizeof(ImageLength));
    PayloadSize = ImageLength;
    if (PayloadSize > Size - HEADER_SIZE) {
        PayloadSize = (ULONG)(Size - HEADER_SIZE);
    }
    StackSize = (ULONG)(Size - HEADER_SIZE - PayloadSize);
    ImageSize = Raw ? PayloadSize : SYNTH_HEADER_SIZE + PayloadSize;
    if (ImageSize == 0 || StackSize == 0) {
        return 0;
    }

    /* The image and the stack, each exactly its size. */
    Image = malloc(ImageSize);
    Stack = malloc(StackSize);
    if (Image == NULL || Stack == NULL) {
        free(Image);
        free(Stack);
        return 0;
    }
    memset(Image, 0, ImageSize);
    if (!Raw) {
        SynthesizeHeader(Image, ImageSize, Data[1]);
    }
    memcpy(Image + (Raw ? 0 : SYNTH_HEADER_SIZE), Data + HEADER_SIZE, PayloadSize);
    memcpy(Stack, Data + HEADER_SIZE + PayloadSize, StackSize);

    Bounds.ImageBase = (ULONG64)(ULONG_PTR)Image;
    Bounds.ImageSize = ImageSize;
    Bounds.StackLow = (ULONG64)(ULONG_PTR)Stack;
    Bounds.StackHigh = Bounds.StackLow + StackSize;
    for (Offset = 0; Offset + 8 <= StackSize; Offset += 8) {
        ULONG64 Value;
        memcpy(&Value, Stack + Offset, sizeof(Value));
        if ((Value >> 32) == TAG_IMAGE) {
            Value = Bounds.ImageBase + (ULONG)Value;
        } else if ((Value >> 32) == TAG_STACK) {
            Value = Bounds.StackLow + (ULONG)Value;
        }
        memcpy(Stack + Offset, &Value, sizeof(Value));
    }

    memset(&Start, 0, sizeof(Start));
    for (ULONG i = 0; i < 16; i++) {
        ULONG64 Value = Bounds.StackLow + 8ull * Data[8 + i];
        memcpy((PUCHAR)&Start + FIELD_OFFSET(CONTEXT, Rax) + i * 8, &Value, sizeof(Value));
    }
    Start.Rsp = Bounds.StackLow + 8ull * Data[6];
    Pc = Bounds.ImageBase + PcRva % ImageSize;
    Start.Rip = Pc;

    /* Lookup: a found entry lies in the image and describes a range of
     * it. */
    Found = RtlpLookupFunctionEntryImage(Bounds.ImageBase, Bounds.ImageSize, Pc);
    if (Found != NULL) {
        RUNTIME_FUNCTION Copy;
        Check(InImage(&Bounds, (ULONG64)(ULONG_PTR)Found, sizeof(RUNTIME_FUNCTION)));
        memcpy(&Copy, Found, sizeof(Copy));
        Check(Copy.BeginAddress <= Copy.EndAddress && Copy.EndAddress <= ImageSize);
        Entry = Found;
    } else if (ImageSize >= sizeof(RUNTIME_FUNCTION)) {
        /* Unvalidated entries go through RtlpVirtualUnwind's own checks. */
        Offset =
            Raw ? (PcRva & ~3u) % (ImageSize - sizeof(RUNTIME_FUNCTION) + 1) : SYNTH_HEADER_SIZE;
        if (Offset + sizeof(RUNTIME_FUNCTION) > ImageSize) {
            Offset = 0;
        }
        Entry = (PRUNTIME_FUNCTION)(Image + Offset);
    } else {
        Entry = NULL;
    }

    /* One unwind: on failure nothing changes; on success every address it
     * reports is inside its bounds. */
    if (Entry != NULL) {
        memcpy(&Context, &Start, sizeof(Context));
        memset(&Pointers, 0, sizeof(Pointers));
        memcpy(&PointersBefore, &Pointers, sizeof(Pointers));
        Status = RtlpVirtualUnwind((Flags >> 2) & 3, &Bounds, Pc, Entry, &Context,
                                   (Flags & 2) ? RTLP_UNWIND_CALLER_PC : 0, &Handler, &HandlerData,
                                   &Establisher, &Pointers, &Machine);
        if (NT_SUCCESS(Status)) {
            CheckUnwound(&Bounds, &PointersBefore, &Pointers, Handler, HandlerData);
        } else {
            Check(memcmp(&Context, &Start, sizeof(Context)) == 0);
            Check(memcmp(&Pointers, &PointersBefore, sizeof(Pointers)) == 0);
        }
    }

    /* The image as a loaded module: the public lookup (with a history
     * table) agrees with the image lookup, and a walk stays bounded. */
    memset(&Module, 0, sizeof(Module));
    Module.DllBase = Image;
    Module.SizeOfImage = ImageSize;
    RtlInitUnicodeString(&Module.BaseDllName, L"fuzz.sys");
    Module.FullDllName = Module.BaseDllName;
    InsertTailList(&PsLoadedModuleList, &Module.InLoadOrderLinks);

    memset(&History, 0, sizeof(History));
    for (ULONG Pass = 0; Pass < 2; Pass++) {
        Check(RtlLookupFunctionEntry(Pc, &LookupBase, &History) == Found);
        Check(LookupBase == Bounds.ImageBase);
    }

    Count = RtlpWalkFrames(&Start, (ULONG_PTR)Bounds.StackLow, (ULONG_PTR)Bounds.StackHigh,
                           Data[7] % 4, Frames, MAX_WALK);
    Check(Count <= MAX_WALK);
    if (Count > 0 && Data[7] % 4 == 0) {
        Check(Frames[0] == Pc);
    }

    RemoveEntryList(&Module.InLoadOrderLinks);
    free(Image);
    free(Stack);
    return 0;
}

/*
 * console.c - the loader's output: COM1 (0x3F8) at 115200 8N1, polled,
 * and the fatal-error path that ends the QEMU run through isa-debug-exit
 * instead of hanging.
 */
#include "bootp.h"
#include <hal.h>

#define COM1            0x3F8
#define DEBUG_EXIT_PORT 0xF4

VOID BlConsoleInitialize(VOID)
{
    BlpOutByte(COM1 + 1, 0x00); /* no interrupts */
    BlpOutByte(COM1 + 3, 0x80); /* DLAB on */
    BlpOutByte(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
    BlpOutByte(COM1 + 1, 0x00);
    BlpOutByte(COM1 + 3, 0x03); /* 8N1, DLAB off */
    BlpOutByte(COM1 + 2, 0xC7); /* FIFO on, cleared */
    BlpOutByte(COM1 + 4, 0x03); /* DTR, RTS */
}

static VOID BlpPutCharacter(CHAR Character)
{
    ULONG Spins;

    /* Bounded wait for the transmitter: a missing UART must not hang us. */
    for (Spins = 0; Spins < 100000 && (BlpInByte(COM1 + 5) & 0x20) == 0; Spins++) {
    }
    BlpOutByte(COM1, (UCHAR)Character);
}

VOID BlPutString(PCSTR String)
{
    while (*String != 0) {
        if (*String == '\n') {
            BlpPutCharacter('\r');
        }
        BlpPutCharacter(*String++);
    }
}

VOID BlPutHex(UINT64 Value)
{
    CHAR Text[19];
    ULONG Index;

    Text[0] = '0';
    Text[1] = 'x';
    for (Index = 0; Index < 16; Index++) {
        ULONG Digit = (ULONG)(Value >> (60 - 4 * Index)) & 0xF;
        Text[2 + Index] = (CHAR)(Digit < 10 ? '0' + Digit : 'a' + Digit - 10);
    }
    Text[18] = 0;
    BlPutString(Text);
}

VOID BlPutDecimal(UINT64 Value)
{
    CHAR Text[21];
    ULONG Index = sizeof(Text) - 1;

    Text[Index] = 0;
    do {
        Text[--Index] = (CHAR)('0' + Value % 10);
        Value /= 10;
    } while (Value != 0);
    BlPutString(&Text[Index]);
}

DECLSPEC_NORETURN VOID BlFatal(PCSTR Message, PCSTR Detail)
{
    BlPutString("keelldr: error: ");
    BlPutString(Message);
    if (Detail != NULL) {
        BlPutString(Detail);
    }
    BlPutString("\n");
    BlpOutLong(DEBUG_EXIT_PORT, HAL_EXIT_BUGCHECK);
    /* Without an isa-debug-exit device, stop here rather than run on. */
    for (;;) {
        __asm__ volatile("cli; hlt");
    }
}

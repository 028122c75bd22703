/*
 * serial.c - the bare-metal debug console: COM1 (0x3F8) at 115200 8N1,
 * polled, no FIFO interrupts. HalPutDebugString is what DbgPrint and the
 * stop screen end in, so it must work at any IRQL and never hang: the wait
 * for the transmitter is bounded.
 */
#include <ntddk.h>
#include <hal.h>
#include "halp.h"

#define COM1               0x3F8
#define UART_DATA          0
#define UART_IER           1
#define UART_FCR           2
#define UART_LCR           3
#define UART_MCR           4
#define UART_LSR           5
#define UART_LSR_THR_EMPTY 0x20

VOID HalpInitializeDebugPort(VOID)
{
    HalpOutByte(COM1 + UART_IER, 0x00); /* no interrupts */
    HalpOutByte(COM1 + UART_LCR, 0x80); /* DLAB: divisor follows */
    HalpOutByte(COM1 + UART_DATA, 1);   /* 115200 = 115200 / 1 */
    HalpOutByte(COM1 + UART_IER, 0);
    HalpOutByte(COM1 + UART_LCR, 0x03); /* 8N1 */
    HalpOutByte(COM1 + UART_FCR, 0xC7); /* FIFO on, cleared */
    HalpOutByte(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static VOID HalpPutByte(UCHAR Byte)
{
    for (ULONG Spin = 0; Spin < 100000; Spin++) {
        if (HalpInByte(COM1 + UART_LSR) & UART_LSR_THR_EMPTY) {
            break;
        }
    }
    HalpOutByte(COM1 + UART_DATA, Byte);
}

VOID HalPutDebugString(PCSTR Buffer, SIZE_T Length)
{
    for (SIZE_T i = 0; i < Length; i++) {
        HalpPutByte((UCHAR)Buffer[i]);
    }
}

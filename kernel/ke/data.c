/*
 * data.c - Ke globals that every configuration links (kept apart from
 * init.c so a hosted program that never boots does not pull in the boot
 * path and, through it, the test runner).
 */
#include <ntddk.h>
#include <ke.h>

/* The loader block the kernel was started with (a copy in kernel memory);
 * NULL in the hosted build. */
PLOADER_PARAMETER_BLOCK KeLoaderBlock;

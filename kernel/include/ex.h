/*
 * ex.h - executive internals available before the real pool exists.
 */
#ifndef _EX_
#define _EX_

#include <wdm.h>

/* The kernel's own simple nonpaged allocator (phase 0): 16-byte aligned,
 * never fails silently (returns NULL). Not exported to drivers; the
 * executive pool (ExAllocatePool2 and friends) replaces it. */
PVOID ExpAllocateKernelMemory(SIZE_T Bytes);
VOID ExpFreeKernelMemory(PVOID Block);

#endif /* _EX_ */

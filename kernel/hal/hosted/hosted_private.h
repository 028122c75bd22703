/*
 * hosted_private.h - routines shared between the files of the hosted HAL.
 */
#ifndef _HOSTED_PRIVATE_
#define _HOSTED_PRIVATE_

#include <ntdef.h>

/* Creates "physical memory" (PhysicalSize bytes, mapped at
 * MmPhysicalMapBase) and reserves the system VA range for kernel pages. */
BOOLEAN HalpInitializeHostedMemory(SIZE_T PhysicalSize, SIZE_T SystemVaSize);

#endif /* _HOSTED_PRIVATE_ */

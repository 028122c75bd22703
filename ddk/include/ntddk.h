/*
 * ntddk.h - the NT DDK interface: wdm.h plus the routines that are not
 * part of the portable driver model.
 */
#ifndef _NTDDK_
#define _NTDDK_

#include "wdm.h"

#endif /* _NTDDK_ */

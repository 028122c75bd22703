/*
 * pool_bench.c - kbench body for the executive pool in the guest:
 *
 *   guest_pool_alloc_free/size:N   ExAllocatePool2 + ExFreePoolWithTag,
 *                                  one pair per iteration, on processor 0
 *
 * The same flags as the hosted pool benchmark (bench/ex): nonpaged,
 * uninitialized (malloc does not zero either), tag accounting on; the
 * block is not touched, as there.
 */
#include <ntddk.h>
#include <kbench.h>

#define KBP_POOL_TAG 0x68636E42 /* "Bnch" in a pool dump */

KBENCH_ARGS(guest_pool_alloc_free, "size", 0, 16, 64, 256, 1024, 4096)
{
    KAFFINITY Previous = KeSetSystemAffinityThreadEx((KAFFINITY)1);
    SIZE_T Size = (SIZE_T)KbState->Arg;

    while (KbenchKeepRunning(KbState)) {
        PVOID Block =
            ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, Size, KBP_POOL_TAG);
        if (Block == NULL) {
            KbenchSkipWithError(KbState, "ExAllocatePool2 failed");
            break;
        }
        ExFreePoolWithTag(Block, KBP_POOL_TAG);
    }
    KbenchSetItemsProcessed(KbState, KbState->Iterations);
    KbenchSetCounter(KbState, "bytes_per_second", KbState->Iterations * Size, KBENCH_COUNTER_RATE);
    KeRevertToUserAffinityThreadEx(Previous);
}

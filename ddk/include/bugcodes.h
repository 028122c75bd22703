/*
 * bugcodes.h - bug check (stop) codes, with the values Windows uses.
 */
#ifndef _BUGCODES_
#define _BUGCODES_

#define APC_INDEX_MISMATCH                                       ((ULONG)0x00000001L)
#define IRQL_NOT_GREATER_OR_EQUAL                                ((ULONG)0x00000009L)
#define IRQL_NOT_LESS_OR_EQUAL                                   ((ULONG)0x0000000AL)
#define NO_EXCEPTION_HANDLING_SUPPORT                            ((ULONG)0x0000000BL)
#define SPIN_LOCK_ALREADY_OWNED                                  ((ULONG)0x0000000FL)
#define SPIN_LOCK_NOT_OWNED                                      ((ULONG)0x00000010L)
#define BAD_POOL_HEADER                                          ((ULONG)0x00000019L)
#define MEMORY_MANAGEMENT                                        ((ULONG)0x0000001AL)
#define KMODE_EXCEPTION_NOT_HANDLED                              ((ULONG)0x0000001EL)
#define PFN_LIST_CORRUPT                                         ((ULONG)0x0000004EL)
#define NO_PAGES_AVAILABLE                                       ((ULONG)0x0000004DL)
#define PAGE_FAULT_IN_NONPAGED_AREA                              ((ULONG)0x00000050L)
#define PHASE0_INITIALIZATION_FAILED                             ((ULONG)0x00000031L)
#define PHASE1_INITIALIZATION_FAILED                             ((ULONG)0x00000032L)
#define SYSTEM_SERVICE_EXCEPTION                                 ((ULONG)0x0000003BL)
#define MULTIPLE_IRP_COMPLETE_REQUESTS                           ((ULONG)0x00000044L)
#define NO_MORE_SYSTEM_PTES                                      ((ULONG)0x0000003FL)
#define INACCESSIBLE_BOOT_DEVICE                                 ((ULONG)0x0000007BL)
#define SYSTEM_THREAD_EXCEPTION_NOT_HANDLED                      ((ULONG)0x0000007EL)
#define UNEXPECTED_KERNEL_MODE_TRAP                              ((ULONG)0x0000007FL)
#define KERNEL_STACK_INPAGE_ERROR                                ((ULONG)0x00000077L)
#define MANUALLY_INITIATED_CRASH                                 ((ULONG)0x000000E2L)
#define ATTEMPTED_WRITE_TO_READONLY_MEMORY                       ((ULONG)0x000000BEL)
#define DRIVER_VERIFIER_DETECTED_VIOLATION                       ((ULONG)0x000000C4L)
#define BAD_POOL_CALLER                                          ((ULONG)0x000000C2L)
#define DRIVER_CORRUPTED_EXPOOL                                  ((ULONG)0x000000C5L)
#define SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION                  ((ULONG)0x000000C1L)
#define UNSUPPORTED_PROCESSOR                                    ((ULONG)0x0000005DL)
#define DRIVER_IRQL_NOT_LESS_OR_EQUAL                            ((ULONG)0x000000D1L)
#define DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS    ((ULONG)0x000000CEL)
#define PAGE_FAULT_IN_FREED_SPECIAL_POOL                         ((ULONG)0x000000CCL)
#define PAGE_FAULT_BEYOND_END_OF_ALLOCATION                      ((ULONG)0x000000CDL)
#define ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY                    ((ULONG)0x000000FCL)
#define KERNEL_SECURITY_CHECK_FAILURE                            ((ULONG)0x00000139L)
#define CLOCK_WATCHDOG_TIMEOUT                                   ((ULONG)0x00000101L)
#define MULTIPROCESSOR_CONFIGURATION_NOT_SUPPORTED               ((ULONG)0x0000003EL)
#define DPC_WATCHDOG_VIOLATION                                   ((ULONG)0x00000133L)
#define SYSTEM_SCAN_AT_RAISED_IRQL_CAUGHT_IMPROPER_DRIVER_UNLOAD ((ULONG)0x000000D5L)
#define KERNEL_APC_PENDING_DURING_EXIT                           ((ULONG)0x00000020L)
#define THREAD_NOT_MUTEX_OWNER                                   ((ULONG)0x00000011L)
#define MUTEX_LEVEL_NUMBER_VIOLATION                             ((ULONG)0x0000000DL)
#define INVALID_AFFINITY_SET                                     ((ULONG)0x00000003L)
#define INVALID_DATA_ACCESS_TRAP                                 ((ULONG)0x00000004L)

/* ---- dispatcher (kecore) ---- */
#define MAXIMUM_WAIT_OBJECTS_EXCEEDED ((ULONG)0x0000000CL)
#define ATTEMPTED_SWITCH_FROM_DPC     ((ULONG)0x000000B8L)
/* ---- end dispatcher ---- */

/* ---- executive synchronization (exsync) ---- */
#define MUTEX_ALREADY_OWNED                ((ULONG)0x000000BFL)
#define WORKER_THREAD_RETURNED_AT_BAD_IRQL ((ULONG)0x000000E1L)
#define RESOURCE_NOT_OWNED                 ((ULONG)0x000000E3L)
#define WORKER_INVALID                     ((ULONG)0x000000E4L)
/* ---- end executive synchronization ---- */

#endif /* _BUGCODES_ */

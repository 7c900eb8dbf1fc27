/**
 * The RISC-V Supervisor Binary Interface, v2.0: error codes, extension and function ids, HSM hart states and
 * suspend types, SRST reset types and reasons (chapters 3 binary encoding, 4 base, 5 legacy, 6 TIME, 7 IPI,
 * 8 RFENCE, 9 HSM, 10 SRST, 12 DBCN). Ids and error codes are `bigint`s, as they travel in XLEN registers; the
 * enumerations passed in 32-bit arguments are numbers. The dispatcher is the board's (`vmm/boards/riscv-virt/sbi.ts`).
 */

/** Standard SBI error codes (binary encoding chapter, "Standard SBI Errors"). */
export const SBI_SUCCESS = 0n;
export const SBI_ERR_FAILED = -1n;
export const SBI_ERR_NOT_SUPPORTED = -2n;
export const SBI_ERR_INVALID_PARAM = -3n;
export const SBI_ERR_DENIED = -4n;
export const SBI_ERR_INVALID_ADDRESS = -5n;
export const SBI_ERR_ALREADY_AVAILABLE = -6n;
export const SBI_ERR_ALREADY_STARTED = -7n;
export const SBI_ERR_ALREADY_STOPPED = -8n;

/** Extension ids (a7). */
export const SBI_EXT_0_1_SET_TIMER = 0x00n;
export const SBI_EXT_0_1_CONSOLE_PUTCHAR = 0x01n;
export const SBI_EXT_0_1_CONSOLE_GETCHAR = 0x02n;
export const SBI_EXT_0_1_CLEAR_IPI = 0x03n;
export const SBI_EXT_0_1_SEND_IPI = 0x04n;
export const SBI_EXT_0_1_REMOTE_FENCE_I = 0x05n;
export const SBI_EXT_0_1_REMOTE_SFENCE_VMA = 0x06n;
export const SBI_EXT_0_1_REMOTE_SFENCE_VMA_ASID = 0x07n;
export const SBI_EXT_0_1_SHUTDOWN = 0x08n;
export const SBI_EXT_BASE = 0x10n;
export const SBI_EXT_TIME = 0x54494d45n; // "TIME"
export const SBI_EXT_IPI = 0x735049n; // "sPI"
export const SBI_EXT_RFENCE = 0x52464e43n; // "RFNC"
export const SBI_EXT_HSM = 0x48534dn; // "HSM"
export const SBI_EXT_SRST = 0x53525354n; // "SRST"
export const SBI_EXT_DBCN = 0x4442434en; // "DBCN"

/** BASE function ids. */
export const SBI_EXT_BASE_GET_SPEC_VERSION = 0n;
export const SBI_EXT_BASE_GET_IMP_ID = 1n;
export const SBI_EXT_BASE_GET_IMP_VERSION = 2n;
export const SBI_EXT_BASE_PROBE_EXT = 3n;
export const SBI_EXT_BASE_GET_MVENDORID = 4n;
export const SBI_EXT_BASE_GET_MARCHID = 5n;
export const SBI_EXT_BASE_GET_MIMPID = 6n;

export const SBI_EXT_TIME_SET_TIMER = 0n;
export const SBI_EXT_IPI_SEND_IPI = 0n;

/** RFENCE function ids. */
export const SBI_EXT_RFENCE_REMOTE_FENCE_I = 0n;
export const SBI_EXT_RFENCE_REMOTE_SFENCE_VMA = 1n;
export const SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID = 2n;
export const SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA_VMID = 3n;
export const SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA = 4n;
export const SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA_ASID = 5n;
export const SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA = 6n;

/** HSM function ids. */
export const SBI_EXT_HSM_HART_START = 0n;
export const SBI_EXT_HSM_HART_STOP = 1n;
export const SBI_EXT_HSM_HART_GET_STATUS = 2n;
export const SBI_EXT_HSM_HART_SUSPEND = 3n;

/** HSM hart states (HSM chapter, "HSM Hart States"). */
export const SBI_HSM_STATE_STARTED = 0;
export const SBI_HSM_STATE_STOPPED = 1;
export const SBI_HSM_STATE_START_PENDING = 2;
export const SBI_HSM_STATE_STOP_PENDING = 3;
export const SBI_HSM_STATE_SUSPENDED = 4;
export const SBI_HSM_STATE_SUSPEND_PENDING = 5;
export const SBI_HSM_STATE_RESUME_PENDING = 6;
export type SbiHsmState = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** HSM suspend types (HSM chapter, "HSM Hart Suspend Types"). */
export const SBI_HSM_SUSPEND_RET_DEFAULT = 0x0000_0000;
export const SBI_HSM_SUSPEND_RET_PLATFORM = 0x1000_0000;
export const SBI_HSM_SUSPEND_NON_RET_DEFAULT = 0x8000_0000;
export const SBI_HSM_SUSPEND_NON_RET_PLATFORM = 0x9000_0000;

export const SBI_EXT_SRST_RESET = 0n;
/** SRST reset types and reasons. */
export const SBI_SRST_RESET_TYPE_SHUTDOWN = 0;
export const SBI_SRST_RESET_TYPE_COLD_REBOOT = 1;
export const SBI_SRST_RESET_TYPE_WARM_REBOOT = 2;
export const SBI_SRST_RESET_REASON_NONE = 0;
export const SBI_SRST_RESET_REASON_SYSFAIL = 1;

/** DBCN function ids. */
export const SBI_EXT_DBCN_CONSOLE_WRITE = 0n;
export const SBI_EXT_DBCN_CONSOLE_READ = 1n;
export const SBI_EXT_DBCN_CONSOLE_WRITE_BYTE = 2n;

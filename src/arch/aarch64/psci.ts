/**
 * PSCI, the Arm Power State Coordination Interface (Arm DEN0022, issue D or later), version 0.2 and later: the
 * function ids an aarch64 guest passes in x0 to HVC/SMC (chapter 5, "PSCI functions": each function's prototype in
 * section 5.1 gives its id), their return codes (section 5.2.2 "Return error codes") and the AFFINITY_INFO and
 * MIGRATE_INFO_TYPE results. PSCI 0.1 had no fixed ids (the device tree named them); 0.2 fixed these.
 *
 * The ids follow the SMC Calling Convention (Arm DEN0028, "Function Identifiers"): bit 31 set for a fast call,
 * bit 30 set for the SMC64/HVC64 convention, bits 29-24 the owning entity (4 = standard secure service, which PSCI
 * is), bits 15-0 the function number. Functions whose arguments include an address or an MPIDR have an SMC64 id
 * (0xc4...) besides the SMC32 one (0x84...).
 */

/** SMCCC function id fields. */
export const SMCCC_FAST_CALL = 0x8000_0000;
export const SMCCC_64 = 0x4000_0000;
export const SMCCC_OWNER_SHIFT = 24;
export const SMCCC_OWNER_MASK = 0x3f << SMCCC_OWNER_SHIFT; // bits 29-24: fits in 31 bits
export const SMCCC_OWNER_STANDARD_SECURE = 4;
export const SMCCC_FUNCTION_MASK = 0xffff;
/** What an SMCCC call returns in x0 for an id nobody implements (DEN0028, "Unknown Function Identifier"). */
export const SMCCC_RET_NOT_SUPPORTED = -1;

/** PSCI 0.2 SMC32 function ids (0x8400_00nn). */
export const PSCI_0_2_FN_PSCI_VERSION = 0x8400_0000;
export const PSCI_0_2_FN_CPU_SUSPEND = 0x8400_0001;
export const PSCI_0_2_FN_CPU_OFF = 0x8400_0002;
export const PSCI_0_2_FN_CPU_ON = 0x8400_0003;
export const PSCI_0_2_FN_AFFINITY_INFO = 0x8400_0004;
export const PSCI_0_2_FN_MIGRATE = 0x8400_0005;
export const PSCI_0_2_FN_MIGRATE_INFO_TYPE = 0x8400_0006;
export const PSCI_0_2_FN_MIGRATE_INFO_UP_CPU = 0x8400_0007;
export const PSCI_0_2_FN_SYSTEM_OFF = 0x8400_0008;
export const PSCI_0_2_FN_SYSTEM_RESET = 0x8400_0009;
/** PSCI 1.0: whether a function id is implemented (and with which features). */
export const PSCI_1_0_FN_PSCI_FEATURES = 0x8400_000a;

/** PSCI 0.2 SMC64 function ids (0xc400_00nn), for the functions that take 64-bit arguments. */
export const PSCI_0_2_FN64_CPU_SUSPEND = 0xc400_0001;
export const PSCI_0_2_FN64_CPU_ON = 0xc400_0003;
export const PSCI_0_2_FN64_AFFINITY_INFO = 0xc400_0004;
export const PSCI_0_2_FN64_MIGRATE = 0xc400_0005;
export const PSCI_0_2_FN64_MIGRATE_INFO_UP_CPU = 0xc400_0007;

/** PSCI_VERSION's result: major in bits 31-16, minor in bits 15-0. */
export const PSCI_VERSION_MAJOR_SHIFT = 16;
export const PSCI_VERSION_MINOR_MASK = 0xffff;
export function psciVersion(major: number, minor: number): number {
  return ((major << PSCI_VERSION_MAJOR_SHIFT) | (minor & PSCI_VERSION_MINOR_MASK)) >>> 0;
}

/** Return codes (signed 32-bit in w0). */
export const PSCI_RET_SUCCESS = 0;
export const PSCI_RET_NOT_SUPPORTED = -1;
export const PSCI_RET_INVALID_PARAMS = -2;
export const PSCI_RET_DENIED = -3;
export const PSCI_RET_ALREADY_ON = -4;
export const PSCI_RET_ON_PENDING = -5;
export const PSCI_RET_INTERNAL_FAILURE = -6;
export const PSCI_RET_NOT_PRESENT = -7;
export const PSCI_RET_DISABLED = -8;
export const PSCI_RET_INVALID_ADDRESS = -9;

/** AFFINITY_INFO results. */
export const PSCI_0_2_AFFINITY_LEVEL_ON = 0;
export const PSCI_0_2_AFFINITY_LEVEL_OFF = 1;
export const PSCI_0_2_AFFINITY_LEVEL_ON_PENDING = 2;

/** MIGRATE_INFO_TYPE results: a uniprocessor Trusted OS that can migrate, one that cannot, or none needing it. */
export const PSCI_0_2_TOS_UP_MIGRATE = 0;
export const PSCI_0_2_TOS_UP_NO_MIGRATE = 1;
export const PSCI_0_2_TOS_MP = 2;

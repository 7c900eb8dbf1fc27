/** ELF facts of the Arm 64-bit architecture ("ELF for the Arm 64-bit Architecture (AArch64)", IHI 0056, 5.1). */

/** e_machine of AArch64 objects. */
export const EM_AARCH64 = 183;

/**
 * Model-specific registers a VMM initialises at boot, with the values' fields it uses (Intel SDM vol. 4,
 * "Model-Specific Registers", table 2-2 "IA-32 Architectural MSRs"; the SYSCALL MSRs are in vol. 3A, 5.8.8).
 */

/** Time-Stamp Counter. */
export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
/** IA32_MTRR_DEF_TYPE: default memory type and the MTRR enable bits. */
export const MSR_MTRR_DEF_TYPE = 0x2ff;
/** SYSCALL/SYSRET target segments (IA32_STAR). */
export const MSR_STAR = 0xc000_0081;
/** 64-bit SYSCALL entry (IA32_LSTAR). */
export const MSR_LSTAR = 0xc000_0082;
/** Compatibility-mode SYSCALL entry (IA32_CSTAR, AMD; ignored by Intel CPUs). */
export const MSR_CSTAR = 0xc000_0083;
/** RFLAGS bits cleared on SYSCALL (IA32_FMASK). */
export const MSR_SYSCALL_MASK = 0xc000_0084;
/** The value SWAPGS exchanges with GS.base (IA32_KERNEL_GS_BASE). */
export const MSR_KERNEL_GS_BASE = 0xc000_0102;

/** IA32_MISC_ENABLE bit 0: fast-string operations enabled. */
export const MISC_ENABLE_FAST_STRING = 1n << 0n;
/** IA32_MTRR_DEF_TYPE bit 11: MTRRs enabled. */
export const MTRR_DEF_TYPE_ENABLE = 1n << 11n;
/** IA32_MTRR_DEF_TYPE bits 0-7: the default memory type; 6 is write-back (vol. 3A, "Memory Cache Control",
 * table "Memory Types That Can Be Encoded in MTRRs"). */
export const MTRR_MEMORY_TYPE_WRITE_BACK = 6n;

/** Page attribute table. */
export const MSR_IA32_CR_PAT = 0x277;
/** The LAPIC timer's TSC deadline. */
export const MSR_IA32_TSC_DEADLINE = 0x6e0;
/** TSC_AUX (RDTSCP's ECX: Linux keeps the CPU number there). */
export const MSR_TSC_AUX = 0xc000_0103;
/** KVM's paravirtual MSRs (Documentation/virt/kvm/x86/msr.rst): kvmclock, async page faults, steal time, PV EOI. */
export const MSR_KVM_WALL_CLOCK_NEW = 0x4b56_4d00;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b56_4d01;
export const MSR_KVM_ASYNC_PF_EN = 0x4b56_4d02;
export const MSR_KVM_STEAL_TIME = 0x4b56_4d03;
export const MSR_KVM_PV_EOI_EN = 0x4b56_4d04;

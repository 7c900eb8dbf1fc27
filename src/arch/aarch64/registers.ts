/**
 * AArch64 registers as facts (Arm ARM DDI 0487, "AArch64 Registers" and "Process state, PSTATE"): the HAL's
 * register numbering of an aarch64 vCPU, the PSTATE bits a boot state needs, and MPIDR_EL1 affinity.
 */

/**
 * HAL register numbers of an aarch64 vCPU (`HalVcpu.getGpr`/`setGpr`, `HalVcpuSetup.gprs`): 0..30 are x0..x30;
 * the rest name the state Linux's boot protocol and PSCI touch. Backends map them to their own ids (KVM: ONE_REG).
 */
export const AARCH64_REG_X0 = 0;
export const AARCH64_REG_X1 = 1;
export const AARCH64_REG_X2 = 2;
export const AARCH64_REG_X3 = 3;
export const AARCH64_GPR_COUNT = 31;
/** SP_EL0 (the stack pointer EL0t uses). */
export const AARCH64_REG_SP_EL0 = 31;
export const AARCH64_REG_PC = 32;
export const AARCH64_REG_PSTATE = 33;
/** SP_EL1 (the stack pointer EL1h uses: the kernel's). */
export const AARCH64_REG_SP_EL1 = 34;
/** ELR_EL1: the return address of the last exception taken to EL1. */
export const AARCH64_REG_ELR_EL1 = 35;
export const AARCH64_REG_COUNT = 36;

/** PSTATE.M[3:0] for AArch64 EL1 using SP_EL1 ("EL1h"). */
export const PSTATE_MODE_EL1H = 0x5;
/** PSTATE.F, I, A, D: FIQ, IRQ, SError and debug exceptions masked. */
export const PSTATE_F = 1 << 6;
export const PSTATE_I = 1 << 7;
export const PSTATE_A = 1 << 8;
export const PSTATE_D = 1 << 9;
/**
 * What Linux's arm64 boot protocol requires on entry (Documentation/arch/arm64/booting.rst, "CPU mode"): EL1h
 * with all of DAIF masked (0x3c5). It is also the architectural reset state KVM gives an AArch64 vCPU.
 */
export const PSTATE_EL1H_DAIF_MASKED = PSTATE_MODE_EL1H | PSTATE_F | PSTATE_I | PSTATE_A | PSTATE_D;

/** MPIDR_EL1 affinity fields (Aff3 sits at bit 32, above the RES1 bit 31 and the U/MT bits). */
export const MPIDR_AFF0_SHIFT = 0;
export const MPIDR_AFF1_SHIFT = 8;
export const MPIDR_AFF2_SHIFT = 16;
export const MPIDR_AFF_MASK = 0xff;
/**
 * A GICv3 redistributor can target at most 16 CPUs with one SGI (ICC_SGI1R_EL1's TargetList), so hypervisors give
 * each group of 16 vCPUs its own Aff1: KVM's reset_mpidr and QEMU virt's `arm_build_mp_affinity(index, 16)` both
 * make vCPU i Aff0 = i % 16, Aff1 = i / 16, Aff2 = i / 4096.
 */
export const MPIDR_CPUS_PER_AFF0 = 16;

/** The MPIDR_EL1 affinity (Aff2.Aff1.Aff0, without bit 31) of vCPU `index`, as KVM and QEMU virt assign it. */
export function vcpuAffinity(index: number): number {
  const aff0 = index % MPIDR_CPUS_PER_AFF0;
  const aff1 = Math.floor(index / MPIDR_CPUS_PER_AFF0) & MPIDR_AFF_MASK;
  const aff2 = Math.floor(index / (MPIDR_CPUS_PER_AFF0 * 256)) & MPIDR_AFF_MASK;
  return (aff2 << MPIDR_AFF2_SHIFT) | (aff1 << MPIDR_AFF1_SHIFT) | (aff0 << MPIDR_AFF0_SHIFT);
}

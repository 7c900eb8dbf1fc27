/**
 * The aarch64 guest arch of the KVM backend (arm64 hosts): what `arches.ts` registers, and the arm64 extras of its
 * handles for tests and diagnostics (`aarch64Vcpu(vcpu).getMpidr()`).
 */
import { HalError } from "../../types.ts";
import type { KvmArch } from "../per-arch.ts";
import type { KvmVcpu } from "../vcpu.ts";
import { ARM64_REQUIRED_CAPS, KVM_ARM64_ABI } from "./abi.ts";
import { Aarch64KvmVcpu } from "./vcpu.ts";
import { Aarch64KvmSystem } from "./vm.ts";

export { Aarch64KvmVcpu } from "./vcpu.ts";
export { Aarch64KvmSystem, Aarch64KvmVm } from "./vm.ts";

export const AARCH64_KVM: KvmArch = {
  guestArch: "aarch64",
  requiredCapabilities: ARM64_REQUIRED_CAPS,
  abi: KVM_ARM64_ABI,
  openSystem: () => new Aarch64KvmSystem(),
};

/** The arm64 part of a KVM vCPU, or a HalError when the vCPU is not an aarch64 one. */
export function aarch64Vcpu(vcpu: KvmVcpu): Aarch64KvmVcpu {
  if (vcpu.archVcpu instanceof Aarch64KvmVcpu) return vcpu.archVcpu;
  throw new HalError(
    "kvm",
    "unsupported",
    "aarch64Vcpu",
    `Cannot use vCPU ${vcpu.id} as an aarch64 vCPU: it is not one`,
  );
}

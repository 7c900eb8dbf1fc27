/**
 * The x86_64 guest arch of the KVM backend (x86_64 hosts): what `arches.ts` registers, and the x86 extras of its
 * handles for tests and diagnostics (`x86Vcpu(vcpu).getSregs()`, `x86System(hypervisor).supportedCpuid`).
 */
import { HalError } from "../../types.ts";
import type { KvmHypervisor } from "../hypervisor.ts";
import type { KvmArch } from "../per-arch.ts";
import type { KvmVcpu } from "../vcpu.ts";
import { KVM_X86_ABI, X86_REQUIRED_CAPS } from "./abi.ts";
import { X86KvmVcpu } from "./vcpu.ts";
import { X86KvmSystem } from "./vm.ts";

export { TRIPLE_FAULT_CODE } from "./exits.ts";
export { X86KvmVcpu } from "./vcpu.ts";
export { X86KvmSystem } from "./vm.ts";

export const X86_64_KVM: KvmArch = {
  guestArch: "x86_64",
  requiredCapabilities: X86_REQUIRED_CAPS,
  abi: KVM_X86_ABI,
  openSystem: (kvmFd) => new X86KvmSystem(kvmFd),
};

/** The x86 part of a KVM vCPU, or a HalError when the vCPU is not an x86 one. */
export function x86Vcpu(vcpu: KvmVcpu): X86KvmVcpu {
  if (vcpu.archVcpu instanceof X86KvmVcpu) return vcpu.archVcpu;
  throw new HalError("kvm", "unsupported", "x86Vcpu", `Cannot use vCPU ${vcpu.id} as an x86 vCPU: it is not one`);
}

/** The x86 host-wide state of an open /dev/kvm, or a HalError when this host's KVM does not run x86 guests. */
export function x86System(hypervisor: KvmHypervisor): X86KvmSystem {
  if (hypervisor.archSystem instanceof X86KvmSystem) return hypervisor.archSystem;
  throw new HalError("kvm", "unsupported", "x86System", "Cannot read x86 state: this KVM does not run x86 guests");
}

/**
 * The Linux KVM backend: guests of the host's own architecture (x86_64 on x86_64 hosts; the arch table in
 * arches.ts says which), behind the HAL.
 *
 * Importing this module loads no native code: libc is opened on the first probe or system call (sys.ts).
 * `kvmBackend.hasHardwareSupport()` probes without throwing and names what is missing; `open()` opens /dev/kvm.
 */
import type { HalBackend } from "../types.ts";
import { KvmHypervisor } from "./hypervisor.ts";
import { probeKvm } from "./probe.ts";

export { KvmHypervisor } from "./hypervisor.ts";
export type { KvmArch, KvmArchVcpu, KvmVmOptions } from "./per-arch.ts";
export { KVM_DEVICE, probeKvm } from "./probe.ts";
export { KvmVcpu } from "./vcpu.ts";
export { KvmVm } from "./vm.ts";

/** The backend, typed with its KVM-specific handles (still a `HalBackend`). */
export interface KvmBackend extends HalBackend {
  open(): KvmHypervisor;
}

export const kvmBackend: KvmBackend = {
  name: "kvm",
  hasHardwareSupport: () => probeKvm(),
  open: () => new KvmHypervisor(),
};

/**
 * The emulated backend: a pure-TypeScript RV64GC + H hart, available everywhere. It runs riscv64 guests either
 * as VS-mode guests behind a VMM-built G-stage table ("hypervisor" VMs, axvisor's model) or on a bare QEMU
 * `virt`-like machine in M-mode ("bare-machine" VMs, for conformance suites).
 */

import {
  type BackendSupport,
  type HalBackend,
  HalError,
  type HalVm,
  type HalVmOptions,
  type Hypervisor,
} from "../types.ts";
import { EMULATED_MAX_REGION_SIZE, EmulatedVm } from "./vm.ts";

class EmulatedHypervisor implements Hypervisor {
  readonly backend = "emulated" as const;
  readonly #vms = new Set<EmulatedVm>();
  #closed = false;

  createVm(options: HalVmOptions): HalVm {
    if (this.#closed)
      throw new HalError("emulated", "state", "createVm", `Cannot create VM ${options.vmId}: the hypervisor is closed`);
    const vm = new EmulatedVm(options);
    this.#vms.add(vm);
    return vm;
  }

  [Symbol.dispose](): void {
    for (const vm of this.#vms) vm[Symbol.dispose]();
    this.#vms.clear();
    this.#closed = true;
  }
}

export const emulatedBackend: HalBackend = {
  name: "emulated",
  hasHardwareSupport(): BackendSupport {
    return {
      backend: "emulated",
      available: true,
      reason: "pure TypeScript RV64GC+H hart (Sv39/Sv48, Sv39x4/Sv48x4, Sstc); runs on any host",
      archs: ["riscv64"],
      maxMemoryRegionSize: EMULATED_MAX_REGION_SIZE,
    };
  },
  open(): Hypervisor {
    return new EmulatedHypervisor();
  },
};

export { EmulatedVcpu } from "./vcpu.ts";
export { EMULATED_MAX_REGION_SIZE, EmulatedVm } from "./vm.ts";

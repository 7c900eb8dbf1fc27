/**
 * Shared set-up for the KVM tests and benchmarks: a VM with RAM at 0, a guest image from test/guests/x86, and a
 * loop that runs a vCPU until a condition while recording exits.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { GuestMemory } from "../../src/addrspace/guest-memory.ts";
import type { X86VcpuState } from "../../src/arch/x86_64/vcpu-state.ts";
import { type KvmHypervisor, type KvmVcpu, type KvmVm, kvmBackend } from "../../src/hal/kvm/index.ts";
import type { AxVCpuExitReason, GuestMemoryAccess, HostMemory } from "../../src/hal/types.ts";
import { MappingFlags } from "../../src/hal/types.ts";
import { KVM_PRIVATE_START } from "../../src/vmm/boards/x86-pc/layout.ts";
import type { VmConfig } from "../../src/vmm/config/types.ts";
import type { Requirement } from "../support/skip.ts";
import { testVmConfig } from "../support/vm-config.ts";

export const GUEST_DIR = join(import.meta.dir, "..", "guests", "x86");
export const REAL_MODE_LOAD = 0x8000;
export const LONG_MODE_LOAD = 0x10000;
/** 2 MiB of RAM is plenty for every test guest. */
export const TEST_RAM_SIZE = 0x20_0000;

/** A usable /dev/kvm that runs x86_64 guests (these test guests are x86 code). */
export function kvmRequirement(): Requirement {
  const support = kvmBackend.hasHardwareSupport();
  if (support.available && !support.archs.includes("x86_64"))
    return {
      available: false,
      reason: `this KVM runs ${support.archs.join(", ")} guests; these tests use x86_64 ones`,
    };
  return { available: support.available, reason: support.reason };
}

export function guestImage(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(GUEST_DIR, `${name}.bin`)));
}

/** Guest memory over one RAM block at GPA 0. */
export function ramAccess(ram: HostMemory): GuestMemoryAccess {
  return new GuestMemory([{ name: "ram", gpa: 0, bytes: ram.bytes, host: ram }]);
}

export interface TestVm extends Disposable {
  readonly hypervisor: KvmHypervisor;
  readonly vm: KvmVm;
  readonly ram: HostMemory;
  readonly memory: GuestMemoryAccess;
}

export function createTestVm(options: { cpuCount?: number; irqchip?: boolean; ramSize?: number } = {}): TestVm {
  const hypervisor = kvmBackend.open();
  const vm = hypervisor.createVm({
    arch: "x86_64",
    vmId: 1,
    cpuCount: options.cpuCount ?? 1,
    irqchip: options.irqchip ?? true,
    // The x86 PC layout's reserved pages, as the board passes them.
    x86: { privatePagesBase: KVM_PRIVATE_START },
  });
  const ram = vm.allocateMemory(options.ramSize ?? TEST_RAM_SIZE);
  vm.mapGuestMemory(0, ram, MappingFlags.READ | MappingFlags.WRITE | MappingFlags.EXECUTE);
  return {
    hypervisor,
    vm,
    ram,
    memory: ramAccess(ram),
    [Symbol.dispose]() {
      vm[Symbol.dispose]();
      hypervisor[Symbol.dispose]();
    },
  };
}

/** Load a complete x86 boot state (the HAL's `setup` with `x86`; `entry` is then the state's own RIP). */
export function setupX86(vcpu: KvmVcpu, state: X86VcpuState): void {
  vcpu.setup({ entry: state.rip, x86: state });
}

/** Run until `stop` says so or `limit` exits passed; returns every exit seen. */
export function runUntil(vcpu: KvmVcpu, stop: (exit: AxVCpuExitReason) => boolean, limit = 10_000): AxVCpuExitReason[] {
  const exits: AxVCpuExitReason[] = [];
  for (let i = 0; i < limit; i++) {
    const exit = vcpu.run();
    exits.push(exit);
    if (stop(exit)) return exits;
  }
  throw new Error(`Guest did not finish within ${limit} exits; last: ${JSON.stringify(exits.slice(-3), bigintJson)}`);
}

export function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `0x${value.toString(16)}` : value;
}

export const HC_DONE = 1n;
export const HC_REPORT = 2n;
export const HC_AP_ALIVE = 3n;
export const HC_SIPI_SENT = 4n;
export const HC_CPL3_ROUND = 5n;
export const TEST_PORT = 0x510;
export const TEST_MMIO = 0x1000_0000;

export function isHypercall(exit: AxVCpuExitReason, nr: bigint): boolean {
  return exit.kind === "Hypercall" && exit.nr === nr;
}

/** A flat real-mode guest (test/guests/x86/GUEST.bin) on the x86 PC board, one vCPU, 16 MiB (the exit benches). */
export function pioLoopConfig(guest: string): VmConfig {
  const base = testVmConfig({ arch: "x86_64" });
  return {
    ...base,
    backend: "kvm",
    kernel: {
      ...base.kernel,
      entryPoint: REAL_MODE_LOAD,
      image: { path: join(GUEST_DIR, `${guest}.bin`), format: "raw", loadAddr: REAL_MODE_LOAD, size: undefined },
    },
    memoryRegions: [{ gpa: 0, size: 0x100_0000, flags: 7, mapType: "alloc" }],
  };
}

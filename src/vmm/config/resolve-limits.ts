/**
 * What the machine and the backend that will run the VM can do, checked with the config, so that what `check`
 * accepts `run` runs (issue 9, item 17): a value any board or backend would refuse at run time is a config problem
 * naming its key. Each limit is the one its owner applies (the x86 PC board's CPU count, the emulated backend's
 * memory model), imported rather than copied.
 */

import { formatSize } from "../../common/format.ts";
import { EMULATED_MAX_GUEST_RAM } from "../../hal/emulated/limits.ts";
import { X86_MAX_CPUS } from "../boards/x86-pc/layout.ts";
import type { VmTarget } from "./resolve-base.ts";
import type { Issues } from "./resolve-context.ts";
import type { MemoryRegionConfig } from "./types.ts";

/**
 * Whether the emulated backend is the one that will run the VM: asked for, or the only backend that runs RISC-V
 * guests ("auto" picks KVM or HVF only for the host's own architecture, which they list as x86_64/aarch64).
 */
function runsOnEmulatedBackend(target: VmTarget): boolean {
  return target.backend === "emulated" || (target.backend === "auto" && target.arch === "riscv64");
}

export function checkMachineLimits(
  target: VmTarget,
  cpuNum: number,
  memoryRegions: readonly MemoryRegionConfig[],
  issues: Issues,
): void {
  // xAPIC ids are 8 bits (0xff is broadcast) and the IOAPIC takes the next one: the PC's MP table and MADT.
  if (target.arch === "x86_64" && cpuNum > X86_MAX_CPUS) {
    issues.addDecimal("base.cpu_num", cpuNum, `the x86 PC board describes at most ${X86_MAX_CPUS} CPUs (xAPIC ids)`);
  }
  if (runsOnEmulatedBackend(target)) {
    const total = memoryRegions.reduce((sum, r) => sum + r.size, 0);
    if (total > EMULATED_MAX_GUEST_RAM) {
      issues.list.push({
        path: "kernel.memory_regions",
        value: formatSize(total),
        problem: `is more RAM than the emulated backend can back (at most ${formatSize(EMULATED_MAX_GUEST_RAM)} in all: its hart addresses RAM with 32-bit signed offsets)`,
      });
    }
  }
}

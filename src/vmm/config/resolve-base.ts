/**
 * `[base]`: the VM's name and vCPUs, and which architecture, backend and machine it gets (the architecture may come
 * from the kernel image).
 */

import type { GuestArch } from "../../hal/types.ts";
import { type ImageProbe, probedArch } from "./images.ts";
import type { Issues } from "./resolve-context.ts";
import type { RawVmConfig } from "./schema.ts";
import { type BackendChoice, MAX_VCPUS, type MachineKind } from "./types.ts";

type RawBase = RawVmConfig["base"];

/** Name, vCPU count, and the per-vCPU lists (one entry per vCPU, no repeated id, no empty mask). */
export function checkBase(base: RawBase, issues: Issues): void {
  if (base.name.trim() === "") issues.add("base.name", base.name, "must not be empty");
  if (base.cpu_num === 0) issues.addDecimal("base.cpu_num", 0, "a VM needs at least one vCPU");
  else if (base.cpu_num > MAX_VCPUS) issues.addDecimal("base.cpu_num", base.cpu_num, `more than ${MAX_VCPUS} vCPUs`);
  const checkPerCpu = (key: "phys_cpu_ids" | "phys_cpu_sets", list: readonly number[] | undefined): void => {
    if (list === undefined) return;
    if (list.length !== base.cpu_num) {
      issues.list.push({
        path: `base.${key}`,
        value: `[${list.join(", ")}]`,
        problem: `has ${list.length} entries but base.cpu_num is ${base.cpu_num} (one per vCPU)`,
      });
    }
  };
  checkPerCpu("phys_cpu_ids", base.phys_cpu_ids);
  checkPerCpu("phys_cpu_sets", base.phys_cpu_sets);
  base.phys_cpu_ids?.forEach((id, i, all) => {
    const first = all.indexOf(id);
    if (first !== i) issues.addDecimal(`base.phys_cpu_ids[${i}]`, id, `repeats base.phys_cpu_ids[${first}]`);
  });
  base.phys_cpu_sets?.forEach((mask, i) => {
    if (mask === 0) issues.add(`base.phys_cpu_sets[${i}]`, mask, "an empty mask allows no physical CPU");
  });
}

export interface VmTarget {
  readonly arch: GuestArch;
  readonly backend: BackendChoice;
  readonly machine: MachineKind;
}

/**
 * The guest architecture (`base.arch`, else the kernel image's, else riscv64), the backend and the machine, with
 * the combinations that cannot work.
 */
export function resolveTarget(
  base: RawBase,
  kernelPath: string,
  kernelProbe: ImageProbe | undefined,
  issues: Issues,
): VmTarget {
  const imageArch = kernelProbe === undefined ? undefined : probedArch(kernelProbe);
  const arch: GuestArch = base.arch ?? imageArch ?? "riscv64";
  if (base.arch !== undefined && imageArch !== undefined && imageArch !== base.arch) {
    issues.add(
      "kernel.kernel_path",
      kernelPath,
      `is ${/^[aeiou]/.test(imageArch) || imageArch.startsWith("x86") ? "an" : "a"} ${imageArch} image but base.arch is ${base.arch}`,
    );
  }
  if (kernelProbe?.kind === "elf" && kernelProbe.arch === undefined) {
    issues.add(
      "kernel.kernel_path",
      kernelPath,
      `is an ELF file for machine ${kernelProbe.machine}, not riscv64, x86_64 or aarch64`,
    );
  }
  const machine: MachineKind = base.machine ?? "virt-hypervisor";
  let backend: BackendChoice = base.backend ?? "auto";
  if (backend === "emulated" && arch !== "riscv64") {
    issues.add("base.backend", backend, `the emulated backend runs riscv64 guests only, and base.arch is ${arch}`);
  }
  if (machine === "virt-bare") {
    if (arch !== "riscv64") issues.add("base.machine", machine, `is a RISC-V board, and base.arch is ${arch}`);
    if (backend === "kvm" || backend === "hvf") {
      issues.add("base.machine", machine, `runs on the emulated backend only, and base.backend is ${backend}`);
    }
    // The only backend that can run a bare machine.
    if (backend === "auto") backend = "emulated";
  }
  return { arch, backend, machine };
}

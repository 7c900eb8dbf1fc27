/**
 * From a shape-checked config file (`RawVmConfig`) to a `VmConfig`: fills defaults, resolves paths against the
 * config's folder, looks at the boot files, and checks everything that relates two values: regions that overlap,
 * load addresses (and the ends of the images) outside RAM, counts that disagree, files that are missing. Every
 * problem is collected; nothing stops at the first. One resolver per section: `[base]` (resolve-base.ts), memory
 * regions (resolve-memory.ts), `[kernel]` and its images (resolve-kernel.ts), `[devices]` (resolve-devices.ts).
 */

import type { ConfigIssue } from "./errors.ts";
import { checkBase, resolveTarget } from "./resolve-base.ts";
import { ResolveContext } from "./resolve-context.ts";
import { resolveDevices } from "./resolve-devices.ts";
import { checkVirtioPlacement, resolveDisks } from "./resolve-disks.ts";
import { probeKernel, resolveKernel } from "./resolve-kernel.ts";
import { checkMachineLimits } from "./resolve-limits.ts";
import { resolveMemoryRegions } from "./resolve-memory.ts";
import { resolveNets } from "./resolve-nets.ts";
import type { RawVmConfig } from "./schema.ts";
import type { VmConfig } from "./types.ts";

export interface ResolveOptions {
  /** Folder that relative paths in the config are relative to. */
  readonly baseDir: string;
  /** Name of the config for messages and `VmConfig.source`. */
  readonly sourceName: string;
  /**
   * Whether boot files must exist (default true). With false, a missing file is not an error and its size and
   * format stay unknown; files that do exist are still examined.
   */
  readonly checkFiles?: boolean;
}

export function resolveVmConfig(
  raw: RawVmConfig,
  options: ResolveOptions,
): { config?: VmConfig; issues: ConfigIssue[] } {
  const ctx = new ResolveContext(options.baseDir, options.checkFiles ?? true);
  const { base, kernel } = raw;
  checkBase(base, ctx.issues);
  const { regions, memoryRegions, ram } = resolveMemoryRegions(kernel.memory_regions, ctx.issues);
  const kernelProbe = probeKernel(kernel, ctx);
  const target = resolveTarget(base, kernel.kernel_path, kernelProbe, ctx.issues);
  const { arch, backend, machine } = target;
  checkMachineLimits(target, base.cpu_num, memoryRegions, ctx.issues);
  const { image, entryPoint, ...kernelRest } = resolveKernel(kernel, kernelProbe, arch, ram, ctx);
  const devices = resolveDevices(raw.devices ?? {}, regions, ctx);
  const disks = resolveDisks(kernel.disk_path, raw.devices?.disks, ctx);
  const nets = resolveNets(base.id, raw.devices?.nets, ctx);
  checkVirtioPlacement(disks, nets, devices.emuDevices, arch, ctx);

  const issues = ctx.issues.list;
  if (issues.length > 0 || image === undefined || entryPoint === undefined) return { issues };
  return {
    issues: [],
    config: {
      source: options.sourceName,
      id: base.id,
      name: base.name,
      vmType: base.vm_type ?? "rtos",
      arch,
      backend,
      machine,
      onReset: base.on_reset ?? "reboot",
      cpuNum: base.cpu_num,
      physCpuIds: base.phys_cpu_ids,
      physCpuSets: base.phys_cpu_sets,
      kernel: { ...kernelRest, image, entryPoint },
      memoryRegions,
      devices: { ...devices, disks, nets },
    },
  };
}

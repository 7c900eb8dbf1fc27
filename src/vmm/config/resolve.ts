/**
 * From a shape-checked config file (`RawVmConfig`) to a `VmConfig`: fills defaults, resolves paths against the
 * config's folder, looks at the boot files, and checks everything that relates two values: regions that overlap,
 * load addresses (and the ends of the images) outside RAM, counts that disagree, files that are missing. Every
 * problem is collected; nothing stops at the first.
 */

import { isAbsolute, resolve as resolvePath } from "node:path";
import { formatSize, hex, hexRange } from "../../common/format.ts";
import type { GuestArch } from "../../hal/types.ts";
import { DEFAULT_TIMEBASE_HZ } from "../../hal/types.ts";
import type { ConfigIssue } from "./errors.ts";
import { type ImageProbe, probedArch, probeImage } from "./images.ts";
import type { RawVmConfig } from "./schema.ts";
import {
  type BackendChoice,
  type BootFile,
  type ConsoleConfig,
  type DtbConfig,
  type EmulatedDeviceConfig,
  GUEST_PHYS_LIMIT,
  type KernelImage,
  type KernelImageFormat,
  MAX_VCPUS,
  type MachineKind,
  type MemoryRegionConfig,
  PAGE_SIZE,
  type PassthroughAddressConfig,
  type VmConfig,
} from "./types.ts";

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

/** A RISC-V Linux kernel must start on a 2 MiB boundary (Documentation/arch/riscv/boot.rst). */
const RISCV_LINUX_ALIGN = 0x20_0000;
/** Linux requires the DTB on an 8-byte boundary (arm64 booting.rst; RISC-V follows the same rule). */
const DTB_ALIGN = 8;

interface Span {
  readonly start: number;
  readonly size: number;
}

/** Collects issues; `issue(path, value, problem)` formats the value in hex when it is a number. */
class Issues {
  readonly list: ConfigIssue[] = [];
  add(path: string, value: number | string | undefined, problem: string): void {
    const shown = value === undefined ? undefined : typeof value === "number" ? hex(value) : JSON.stringify(value);
    this.list.push({ path, value: shown, problem });
  }
  addDecimal(path: string, value: number, problem: string): void {
    this.list.push({ path, value: String(value), problem });
  }
}

function rangesOverlap(a: Span, b: Span): boolean {
  return a.start < b.start + b.size && b.start < a.start + a.size;
}

/** The RAM the guest has: memory regions merged where they touch, so an image may span adjacent regions. */
function mergedRam(regions: readonly MemoryRegionConfig[]): Span[] {
  const sorted = [...regions].sort((a, b) => a.gpa - b.gpa);
  const merged: { start: number; size: number }[] = [];
  for (const region of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && region.gpa <= last.start + last.size) {
      last.size = Math.max(last.size, region.gpa + region.size - last.start);
    } else merged.push({ start: region.gpa, size: region.size });
  }
  return merged;
}

function describeRam(ram: readonly Span[]): string {
  if (ram.length === 0) return "no RAM is configured";
  return `RAM is ${ram.map((r) => hexRange(r.start, r.size)).join(", ")}`;
}

/** Whether [start, start + size) lies inside one RAM span (size 0 checks just the address). */
function insideRam(ram: readonly Span[], start: number, size: number): boolean {
  const length = Math.max(size, 1);
  return ram.some((r) => start >= r.start && start + length <= r.start + r.size);
}

export function resolveVmConfig(
  raw: RawVmConfig,
  options: ResolveOptions,
): { config?: VmConfig; issues: ConfigIssue[] } {
  const issues = new Issues();
  const checkFiles = options.checkFiles ?? true;
  const absolute = (path: string): string => (isAbsolute(path) ? path : resolvePath(options.baseDir, path));
  const { base, kernel } = raw;
  const devices = raw.devices ?? {};

  // --- [base] -----------------------------------------------------------------------------------------------
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

  // --- memory regions --------------------------------------------------------------------------------------
  const regions: (MemoryRegionConfig & { index: number })[] = [];
  if (kernel.memory_regions.length === 0)
    issues.add("kernel.memory_regions", undefined, "at least one memory region is needed");
  kernel.memory_regions.forEach((r, index) => {
    const path = `kernel.memory_regions[${index}]`;
    let ok = true;
    if (r.size === 0) {
      issues.add(`${path}`, r.gpa, "has size 0");
      ok = false;
    }
    if (r.gpa % PAGE_SIZE !== 0 || r.size % PAGE_SIZE !== 0) {
      issues.list.push({
        path,
        value: `[${hex(r.gpa)}, ${hex(r.size)}]`,
        problem: `gpa and size must be multiples of the 4 KiB page size (${hex(PAGE_SIZE)})`,
      });
      ok = false;
    }
    if (r.gpa + r.size > GUEST_PHYS_LIMIT) {
      issues.list.push({ path, value: `[${hex(r.gpa)}, ${hex(r.size)}]`, problem: "ends beyond 2^53" });
      ok = false;
    }
    if (ok) regions.push({ gpa: r.gpa, size: r.size, flags: r.flags, mapType: r.map_type, index });
  });
  for (let i = 0; i < regions.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = regions[i];
      const b = regions[j];
      if (a === undefined || b === undefined) continue;
      if (rangesOverlap({ start: a.gpa, size: a.size }, { start: b.gpa, size: b.size })) {
        issues.list.push({
          path: `kernel.memory_regions[${a.index}]`,
          value: hexRange(a.gpa, a.size),
          problem: `overlaps kernel.memory_regions[${b.index}] (${hexRange(b.gpa, b.size)})`,
        });
      }
    }
  }
  const memoryRegions: MemoryRegionConfig[] = regions
    .map(({ gpa, size, flags, mapType }) => ({ gpa, size, flags, mapType }))
    .sort((a, b) => a.gpa - b.gpa);
  const ram = mergedRam(memoryRegions);

  // --- files ------------------------------------------------------------------------------------------------
  const probeFile = (path: string, key: string): ImageProbe | undefined => {
    const probe = probeImage(absolute(path));
    if (probe.kind === "missing") {
      if (checkFiles) issues.add(key, path, `${probe.reason} (looked for ${absolute(path)})`);
      return undefined;
    }
    return probe;
  };
  const kernelProbe = probeFile(kernel.kernel_path, "kernel.kernel_path");
  if (kernelProbe?.kind === "bad-elf")
    issues.add("kernel.kernel_path", kernel.kernel_path, `bad ELF file: ${kernelProbe.reason}`);
  if (kernelProbe?.kind === "dtb")
    issues.add("kernel.kernel_path", kernel.kernel_path, "is a device tree blob, not a kernel");

  // --- arch, backend, machine --------------------------------------------------------------------------------
  const imageArch = kernelProbe === undefined ? undefined : probedArch(kernelProbe);
  const arch: GuestArch = base.arch ?? imageArch ?? "riscv64";
  if (base.arch !== undefined && imageArch !== undefined && imageArch !== base.arch) {
    issues.add(
      "kernel.kernel_path",
      kernel.kernel_path,
      `is ${/^[aeiou]/.test(imageArch) || imageArch.startsWith("x86") ? "an" : "a"} ${imageArch} image but base.arch is ${base.arch}`,
    );
  }
  if (kernelProbe?.kind === "elf" && kernelProbe.arch === undefined) {
    issues.add(
      "kernel.kernel_path",
      kernel.kernel_path,
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

  // --- kernel image -----------------------------------------------------------------------------------------
  /** Where the boot protocol loads a bzImage's protected-mode kernel (Documentation/arch/x86/boot.rst). */
  const BZIMAGE_LOAD_ADDR = 0x10_0000;
  let image: KernelImage | undefined;
  let entryPoint = kernel.entry_point;
  if (kernelProbe?.kind === "elf") {
    const low = Math.min(...kernelProbe.segments.map((s) => s.paddr));
    const high = Math.max(...kernelProbe.segments.map((s) => s.paddr + s.memsz));
    if (kernel.kernel_load_addr !== undefined && kernel.kernel_load_addr !== low) {
      issues.add(
        "kernel.kernel_load_addr",
        kernel.kernel_load_addr,
        `an ELF image loads at its segments' addresses (lowest ${hex(low)}); remove this key or make it match`,
      );
    }
    entryPoint ??= kernelProbe.entry;
    image = { path: absolute(kernel.kernel_path), format: "elf", loadAddr: low, size: high - low };
    kernelProbe.segments.forEach((segment) => {
      if (!insideRam(ram, segment.paddr, segment.memsz)) {
        issues.add(
          "kernel.kernel_path",
          kernel.kernel_path,
          `ELF segment ${hexRange(segment.paddr, segment.memsz)} is outside RAM (${describeRam(ram)})`,
        );
      }
    });
  } else if (kernel.kernel_load_addr === undefined && kernelProbe?.kind !== "bzimage") {
    issues.add(
      "kernel.kernel_load_addr",
      undefined,
      "required key is missing (only ELF images and bzImages carry their own address)",
    );
  } else {
    // The x86 boot protocol puts a bzImage's protected-mode kernel at 1 MiB; the loader reads the rest from it.
    const loadAddr = kernel.kernel_load_addr ?? BZIMAGE_LOAD_ADDR;
    let format: KernelImageFormat = "raw";
    let size: number | undefined;
    if (kernelProbe?.kind === "linux-image") {
      format = "linux-image";
      size = Math.max(kernelProbe.fileSize, kernelProbe.imageSize);
      if (kernelProbe.arch === "riscv64" && loadAddr % RISCV_LINUX_ALIGN !== 0) {
        issues.add("kernel.kernel_load_addr", loadAddr, "a RISC-V Linux Image must be loaded at a 2 MiB boundary");
      }
    } else if (kernelProbe?.kind === "bzimage") {
      format = "bzimage";
      size = kernelProbe.fileSize;
    } else if (kernelProbe?.kind === "raw") {
      size = kernelProbe.fileSize;
    }
    entryPoint ??= loadAddr;
    image = { path: absolute(kernel.kernel_path), format, loadAddr, size };
    checkInRam("kernel.kernel_load_addr", loadAddr, size, "kernel image");
  }
  // An entry point taken from kernel_load_addr has been checked with it.
  if (entryPoint !== undefined && !insideRam(ram, entryPoint, 0)) {
    if (kernel.entry_point !== undefined) {
      issues.add("kernel.entry_point", entryPoint, `outside RAM: ${describeRam(ram)}`);
    } else if (kernelProbe?.kind === "elf") {
      issues.add(
        "kernel.kernel_path",
        kernel.kernel_path,
        `ELF entry point ${hex(entryPoint)} is outside RAM: ${describeRam(ram)}`,
      );
    }
  }

  function checkInRam(key: string, addr: number, size: number | undefined, what: string): void {
    if (!insideRam(ram, addr, size ?? 0)) {
      const extent = size === undefined || size === 0 ? "" : ` (${what} ${hexRange(addr, size)}, ${formatSize(size)})`;
      issues.add(key, addr, `outside RAM${extent}: ${describeRam(ram)}`);
    }
  }

  // --- further boot files -----------------------------------------------------------------------------------
  const bootFile = (name: "bios" | "ramdisk" | "dtb", requireAddr: boolean): BootFile | undefined => {
    const path = kernel[`${name}_path`];
    const loadAddr = kernel[`${name}_load_addr`];
    const pathKey = `kernel.${name}_path`;
    const addrKey = `kernel.${name}_load_addr`;
    if (path === undefined) {
      if (loadAddr !== undefined && name !== "dtb") issues.add(addrKey, loadAddr, `is set but ${pathKey} is not`);
      return undefined;
    }
    if (requireAddr && loadAddr === undefined) issues.add(addrKey, undefined, `required when ${pathKey} is set`);
    const probe = probeFile(path, pathKey);
    if (name === "dtb" && probe !== undefined && probe.kind !== "dtb") {
      issues.add(pathKey, path, "is not a flattened device tree (no 0xd00dfeed magic)");
    }
    const size = probe === undefined || probe.kind === "missing" ? undefined : probe.fileSize;
    if (loadAddr !== undefined) checkInRam(addrKey, loadAddr, size, name);
    return { path: absolute(path), loadAddr, size };
  };
  const bios = bootFile("bios", true);
  const ramdisk = bootFile("ramdisk", false);
  let dtb: DtbConfig | undefined;
  if (arch === "x86_64") {
    if (kernel.dtb_path !== undefined)
      issues.add("kernel.dtb_path", kernel.dtb_path, "x86_64 guests boot without a device tree");
    if (kernel.dtb_load_addr !== undefined)
      issues.add("kernel.dtb_load_addr", kernel.dtb_load_addr, "x86_64 guests boot without a device tree");
  } else {
    const file = bootFile("dtb", false);
    if (file !== undefined) dtb = { kind: "file", ...file };
    else {
      if (kernel.dtb_load_addr !== undefined)
        checkInRam("kernel.dtb_load_addr", kernel.dtb_load_addr, undefined, "dtb");
      dtb = { kind: "generate", loadAddr: kernel.dtb_load_addr };
    }
    if (kernel.dtb_load_addr !== undefined && kernel.dtb_load_addr % DTB_ALIGN !== 0) {
      issues.add("kernel.dtb_load_addr", kernel.dtb_load_addr, "the device tree must be 8-byte aligned");
    }
  }

  // Loaded files must not land on each other.
  const placed: { key: string; start: number; size: number }[] = [];
  if (image?.size !== undefined && image.size > 0)
    placed.push({ key: "kernel image", start: image.loadAddr, size: image.size });
  for (const [key, file] of [
    ["bios", bios],
    ["ramdisk", ramdisk],
    ["dtb", dtb?.kind === "file" ? dtb : undefined],
  ] as const) {
    if (file?.loadAddr !== undefined && file.size !== undefined && file.size > 0) {
      placed.push({ key, start: file.loadAddr, size: file.size });
    }
  }
  for (let i = 0; i < placed.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = placed[i];
      const b = placed[j];
      if (a === undefined || b === undefined || !rangesOverlap(a, b)) continue;
      issues.add(
        a.key === "kernel image" ? "kernel.kernel_load_addr" : `kernel.${a.key}_load_addr`,
        a.start,
        `${a.key} ${hexRange(a.start, a.size)} overlaps the ${b.key} at ${hexRange(b.start, b.size)}`,
      );
    }
  }

  if (kernel.timebase_frequency !== undefined) {
    if (arch !== "riscv64")
      issues.addDecimal(
        "kernel.timebase_frequency",
        kernel.timebase_frequency,
        `only RISC-V guests have a timebase, and base.arch is ${arch}`,
      );
    else if (kernel.timebase_frequency === 0)
      issues.addDecimal("kernel.timebase_frequency", 0, "must be at least 1 Hz");
  }
  let diskPath: string | undefined;
  if (kernel.disk_path !== undefined) {
    diskPath = absolute(kernel.disk_path);
    if (checkFiles && probeImage(diskPath).kind === "missing") {
      issues.add("kernel.disk_path", kernel.disk_path, `file not found (looked for ${diskPath})`);
    }
  }

  // --- [devices] --------------------------------------------------------------------------------------------
  // Guest-physical windows of devices; passthrough entries may describe the same host range twice (a device and
  // its address), so only pairs involving an emulated device are checked against each other.
  const windows: { path: string; start: number; size: number; emulated: boolean }[] = [];
  const emuDevices: EmulatedDeviceConfig[] = (devices.emu_devices ?? []).map((d, i) => {
    const path = `devices.emu_devices[${i}]`;
    if (d.length === 0) issues.add(path, d.base_gpa, `device "${d.name}" has length 0`);
    else if (d.base_gpa + d.length > GUEST_PHYS_LIMIT) issues.add(path, d.base_gpa, "ends beyond 2^53");
    else windows.push({ path, start: d.base_gpa, size: d.length, emulated: true });
    if (d.emu_type === "pppt-global" && d.cfg_list.length < 1) {
      issues.add(`${path}`, d.base_gpa, `a "pppt-global" PLIC needs cfg_list = [context_count]`);
    }
    return {
      name: d.name,
      baseGpa: d.base_gpa,
      length: d.length,
      irqId: d.irq_id,
      emuType: d.emu_type,
      cfgList: d.cfg_list,
    };
  });
  const passthroughAddresses: PassthroughAddressConfig[] = (devices.passthrough_addresses ?? []).map((a, i) => {
    const path = `devices.passthrough_addresses[${i}]`;
    if (a.length === 0) issues.add(path, a.base_gpa, "has length 0");
    else if (a.base_gpa + a.length > GUEST_PHYS_LIMIT) issues.add(path, a.base_gpa, "ends beyond 2^53");
    else windows.push({ path, start: a.base_gpa, size: a.length, emulated: false });
    return { baseGpa: a.base_gpa, length: a.length };
  });
  const passthroughDevices = (devices.passthrough_devices ?? []).map((d, i) => {
    if (d.length > 0)
      windows.push({ path: `devices.passthrough_devices[${i}]`, start: d.base_gpa, size: d.length, emulated: false });
    return { name: d.name, baseGpa: d.base_gpa, baseHpa: d.base_hpa, length: d.length, irqId: d.irq_id };
  });
  for (let i = 0; i < windows.length; i++) {
    const a = windows[i];
    if (a === undefined) continue;
    for (const region of regions) {
      if (rangesOverlap(a, { start: region.gpa, size: region.size })) {
        issues.add(
          a.path,
          a.start,
          `${hexRange(a.start, a.size)} overlaps RAM kernel.memory_regions[${region.index}] (${hexRange(region.gpa, region.size)})`,
        );
      }
    }
    for (let j = 0; j < i; j++) {
      const b = windows[j];
      if (b !== undefined && (a.emulated || b.emulated) && rangesOverlap(a, b)) {
        issues.add(a.path, a.start, `${hexRange(a.start, a.size)} overlaps ${b.path} (${hexRange(b.start, b.size)})`);
      }
    }
  }
  const console: ConsoleConfig =
    devices.console === undefined
      ? { kind: "stdout" }
      : devices.console.kind === "file"
        ? { kind: "file", path: absolute(devices.console.path) }
        : devices.console;

  if (issues.list.length > 0 || image === undefined || entryPoint === undefined) return { issues: issues.list };
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
      kernel: {
        entryPoint,
        imageLocation: kernel.image_location ?? "fs",
        image,
        bios,
        dtb,
        ramdisk,
        cmdline: kernel.cmdline,
        diskPath,
        timebaseFrequency: kernel.timebase_frequency ?? DEFAULT_TIMEBASE_HZ,
      },
      memoryRegions,
      devices: {
        emuDevices,
        passthroughDevices,
        passthroughAddresses,
        excludedDevices: devices.excluded_devices ?? [],
        interruptMode: devices.interrupt_mode ?? "none",
        console,
        unmappedMmio: devices.unmapped_mmio ?? "ignore",
      },
    },
  };
}

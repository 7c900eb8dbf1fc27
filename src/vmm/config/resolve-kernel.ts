/**
 * `[kernel]`: the kernel image (its format, load address, size and entry point), the further boot files (BIOS,
 * ramdisk, device tree), where they land in RAM and on each other, and the timebase. (`disk_path` is a disk:
 * resolve-disks.ts.)
 */

import { hex, hexRange } from "../../common/format.ts";
import { rangesOverlap } from "../../common/ranges.ts";
import type { GuestArch } from "../../hal/types.ts";
import { DEFAULT_TIMEBASE_HZ, MAX_TIMEBASE_HZ } from "../../hal/types.ts";
import { HIMEM_START } from "../boards/x86-pc/layout.ts";
import { RISCV_IMAGE_ALIGN_RV64 } from "../loader/riscv-image.ts";
import type { ImageProbe } from "./images.ts";
import type { ResolveContext } from "./resolve-context.ts";
import type { GuestRam } from "./resolve-memory.ts";
import type { RawVmConfig } from "./schema.ts";
import type { BootFile, DtbConfig, KernelConfig, KernelImage, KernelImageFormat } from "./types.ts";

type RawKernel = RawVmConfig["kernel"];

/** Linux requires the DTB on an 8-byte boundary (arm64 booting.rst; RISC-V follows the same rule). */
const DTB_ALIGN = 8;

/** Look at the kernel image: it must exist (when files are checked), be a well-formed ELF if ELF, and not a DTB. */
export function probeKernel(kernel: RawKernel, ctx: ResolveContext): ImageProbe | undefined {
  const probe = ctx.probeFile(kernel.kernel_path, "kernel.kernel_path");
  if (probe?.kind === "bad-elf")
    ctx.issues.add("kernel.kernel_path", kernel.kernel_path, `bad ELF file: ${probe.reason}`);
  if (probe?.kind === "dtb")
    ctx.issues.add("kernel.kernel_path", kernel.kernel_path, "is a device tree blob, not a kernel");
  return probe;
}

/** Everything in `[kernel]`; `undefined` image or entry when a problem was found that leaves them unknown. */
export function resolveKernel(
  kernel: RawKernel,
  kernelProbe: ImageProbe | undefined,
  arch: GuestArch,
  ram: GuestRam,
  ctx: ResolveContext,
): Omit<KernelConfig, "image" | "entryPoint"> & {
  readonly image: KernelImage | undefined;
  readonly entryPoint: number | undefined;
} {
  const { image, entryPoint } = resolveKernelImage(kernel, kernelProbe, ram, ctx);
  const { bios, ramdisk, dtb } = resolveBootFiles(kernel, arch, ram, ctx);
  checkPlacement(image, bios, ramdisk, dtb, ctx);
  const { issues } = ctx;
  if (kernel.timebase_frequency !== undefined) {
    if (arch !== "riscv64")
      issues.addDecimal(
        "kernel.timebase_frequency",
        kernel.timebase_frequency,
        `only RISC-V guests have a timebase, and base.arch is ${arch}`,
      );
    else if (kernel.timebase_frequency === 0)
      issues.addDecimal("kernel.timebase_frequency", 0, "must be at least 1 Hz");
    else if (kernel.timebase_frequency > MAX_TIMEBASE_HZ)
      issues.addDecimal(
        "kernel.timebase_frequency",
        kernel.timebase_frequency,
        `is above ${MAX_TIMEBASE_HZ} Hz (the device tree's timebase-frequency is one 32-bit cell)`,
      );
  }
  return {
    entryPoint,
    imageLocation: kernel.image_location ?? "fs",
    image,
    bios,
    dtb,
    ramdisk,
    cmdline: kernel.cmdline,
    timebaseFrequency: kernel.timebase_frequency ?? DEFAULT_TIMEBASE_HZ,
  };
}

/**
 * The image's format, load address and size, and the entry point: an ELF image loads at its segments' addresses
 * and enters at its entry; a bzImage's protected-mode kernel loads where the x86 boot protocol puts it; other
 * images need `kernel_load_addr` and enter there unless `entry_point` says otherwise.
 */
function resolveKernelImage(
  kernel: RawKernel,
  kernelProbe: ImageProbe | undefined,
  ram: GuestRam,
  ctx: ResolveContext,
): { image: KernelImage | undefined; entryPoint: number | undefined } {
  const { issues } = ctx;
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
    image = { path: ctx.absolute(kernel.kernel_path), format: "elf", loadAddr: low, size: high - low };
    kernelProbe.segments.forEach((segment) => {
      if (!ram.contains(segment.paddr, segment.memsz)) {
        issues.add(
          "kernel.kernel_path",
          kernel.kernel_path,
          `ELF segment ${hexRange(segment.paddr, segment.memsz)} is outside RAM (${ram.describe()})`,
        );
      }
    });
  } else if (kernel.kernel_load_addr === undefined && kernelProbe === undefined && ctx.checkFiles) {
    // The file is missing (already reported): whether it would carry its own address is unknown, so say nothing.
  } else if (kernel.kernel_load_addr === undefined && kernelProbe?.kind !== "bzimage") {
    issues.add(
      "kernel.kernel_load_addr",
      undefined,
      "required key is missing (only ELF images and bzImages carry their own address)",
    );
  } else {
    // The x86 boot protocol puts a bzImage's protected-mode kernel at 1 MiB; the loader reads the rest from it.
    const loadAddr = kernel.kernel_load_addr ?? HIMEM_START;
    let format: KernelImageFormat = "raw";
    let size: number | undefined;
    if (kernelProbe?.kind === "linux-image") {
      format = "linux-image";
      size = Math.max(kernelProbe.fileSize, kernelProbe.imageSize);
      // A RISC-V Linux kernel must start on a 2 MiB boundary (Documentation/arch/riscv/boot.rst).
      if (kernelProbe.arch === "riscv64" && loadAddr % RISCV_IMAGE_ALIGN_RV64 !== 0) {
        issues.add("kernel.kernel_load_addr", loadAddr, "a RISC-V Linux Image must be loaded at a 2 MiB boundary");
      }
    } else if (kernelProbe?.kind === "bzimage") {
      format = "bzimage";
      size = kernelProbe.fileSize;
    } else if (kernelProbe?.kind === "raw") {
      size = kernelProbe.fileSize;
    }
    entryPoint ??= loadAddr;
    image = { path: ctx.absolute(kernel.kernel_path), format, loadAddr, size };
    ram.check(issues, "kernel.kernel_load_addr", loadAddr, size, "kernel image");
  }
  // An entry point taken from kernel_load_addr has been checked with it.
  if (entryPoint !== undefined && !ram.contains(entryPoint, 0)) {
    if (kernel.entry_point !== undefined) {
      issues.add("kernel.entry_point", entryPoint, `outside RAM: ${ram.describe()}`);
    } else if (kernelProbe?.kind === "elf") {
      issues.add(
        "kernel.kernel_path",
        kernel.kernel_path,
        `ELF entry point ${hex(entryPoint)} is outside RAM: ${ram.describe()}`,
      );
    }
  }
  return { image, entryPoint };
}

/** BIOS, ramdisk and device tree: a path with an address in RAM (the BIOS's is required); x86_64 takes no DTB. */
function resolveBootFiles(
  kernel: RawKernel,
  arch: GuestArch,
  ram: GuestRam,
  ctx: ResolveContext,
): { bios: BootFile | undefined; ramdisk: BootFile | undefined; dtb: DtbConfig | undefined } {
  const { issues } = ctx;
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
    const probe = ctx.probeFile(path, pathKey);
    if (name === "dtb" && probe !== undefined && probe.kind !== "dtb") {
      issues.add(pathKey, path, "is not a flattened device tree (no 0xd00dfeed magic)");
    }
    const size = probe === undefined || probe.kind === "missing" ? undefined : probe.fileSize;
    if (loadAddr !== undefined) ram.check(issues, addrKey, loadAddr, size, name);
    return { path: ctx.absolute(path), loadAddr, size };
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
        ram.check(issues, "kernel.dtb_load_addr", kernel.dtb_load_addr, undefined, "dtb");
      dtb = { kind: "generate", loadAddr: kernel.dtb_load_addr };
    }
    if (kernel.dtb_load_addr !== undefined && kernel.dtb_load_addr % DTB_ALIGN !== 0) {
      issues.add("kernel.dtb_load_addr", kernel.dtb_load_addr, "the device tree must be 8-byte aligned");
    }
  }
  return { bios, ramdisk, dtb };
}

/** Loaded files must not land on each other. */
function checkPlacement(
  image: KernelImage | undefined,
  bios: BootFile | undefined,
  ramdisk: BootFile | undefined,
  dtb: DtbConfig | undefined,
  ctx: ResolveContext,
): void {
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
      if (a === undefined || b === undefined || !rangesOverlap(a.start, a.size, b.start, b.size)) continue;
      ctx.issues.add(
        a.key === "kernel image" ? "kernel.kernel_load_addr" : `kernel.${a.key}_load_addr`,
        a.start,
        `${a.key} ${hexRange(a.start, a.size)} overlaps the ${b.key} at ${hexRange(b.start, b.size)}`,
      );
    }
  }
}

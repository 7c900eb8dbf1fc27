/**
 * A VM config from what an API client put (machine-config, boot-source, drives): written as the TOML a user would
 * write and parsed by the same code as config files, so the API gets every check and default a file gets, and a
 * snapshot of an API-made VM holds an ordinary config.
 *
 * The board follows the guest architecture: `machine-config.arch` (ours) when given, else the kernel's own header
 * (a bzImage or x86_64 ELF → the x86 PC, an arm64 Image or aarch64 ELF → arm64 `virt`, a RISC-V Image or ELF →
 * RISC-V `virt`), else RISC-V (a flat binary says nothing). Each board gets its RAM where its layout puts it, and
 * a flat image or Linux `Image` its conventional load address; ELF files and bzImages carry their own.
 */

import { isAbsolute, resolve } from "node:path";
import type { GuestArch } from "../../hal/types.ts";
import { ARM64_VIRT } from "../boards/arm64-virt/layout.ts";
import { RISCV_VIRT } from "../boards/riscv-virt/layout.ts";
import { ramRegions as x86RamRegions } from "../boards/x86-pc/layout.ts";
import { type ImageProbe, probedArch, probeImage } from "../config/images.ts";
import { parseVmConfig } from "../config/index.ts";
import type { VmConfig } from "../config/types.ts";
import type { BootSource, Drive, MachineConfig, NetworkInterface } from "./api-schemas.ts";

const MIB = 1024 * 1024;

interface ApiBoardLayout {
  /** Guest RAM for `bytes` of memory, as `[gpa, size]` pairs. */
  readonly ram: (bytes: number) => ReadonlyArray<readonly [number, number]>;
  /** Where a Linux `Image` or a flat binary loads (and is entered) without `boot-source.load_addr`. */
  readonly defaultLoadAddr: number | undefined;
  /** The console the kernel is told about when the client gives no boot_args. */
  readonly defaultBootArgs: string;
}

const LAYOUTS: Readonly<Record<GuestArch, ApiBoardLayout>> = {
  // The RISC-V Linux boot convention: the kernel 2 MiB into RAM, the firmware's place below it.
  riscv64: {
    ram: (bytes) => [[RISCV_VIRT.RAM_BASE, bytes]],
    defaultLoadAddr: RISCV_VIRT.RAM_BASE + 2 * MIB,
    defaultBootArgs: "console=ttyS0",
  },
  // Below the 32-bit MMIO hole first, the rest from 4 GiB. A flat binary has no address the x86 boot protocol
  // knows: the client names it (real-mode code at 0x8000, say).
  x86_64: {
    ram: (bytes) => x86RamRegions(bytes).map((region) => [region.gpa, region.size] as const),
    defaultLoadAddr: undefined,
    defaultBootArgs: "console=ttyS0",
  },
  // The start of RAM (2 MiB aligned, as arm64 booting.rst asks of an Image).
  aarch64: {
    ram: (bytes) => [[ARM64_VIRT.RAM_BASE, bytes]],
    defaultLoadAddr: ARM64_VIRT.RAM_BASE,
    defaultBootArgs: "console=ttyAMA0",
  },
};

export interface ApiVmSettings {
  readonly id: number;
  readonly name: string;
  readonly machine: MachineConfig;
  readonly boot: BootSource;
  readonly drives: readonly Drive[];
  readonly nets: readonly NetworkInterface[];
}

/** Thrown for settings that make no config at all; the message names the API field. */
export class ApiConfigError extends Error {
  override readonly name = "ApiConfigError";
}

/** TOML strings: JSON's escapes are TOML basic-string escapes. */
const tomlString = (value: string): string => JSON.stringify(value);

/** The config text for `settings` (paths made absolute against `cwd`, the server's working directory). */
export function apiConfigToml(settings: ApiVmSettings, cwd: string): string {
  const abs = (path: string): string => (isAbsolute(path) ? path : resolve(cwd, path));
  const { machine, boot } = settings;
  const kernelPath = abs(boot.kernel_image_path);
  const probe = probeImage(kernelPath);
  // A mismatch between machine-config.arch and the image is the config layer's to report, naming both.
  const arch: GuestArch = machine.arch ?? probedArch(probe) ?? "riscv64";
  const layout = LAYOUTS[arch];
  const loadAddr = kernelLoadAddr(probe, boot, layout, arch);
  const root = settings.drives.find((d) => d.is_root_device);
  const args = [boot.boot_args ?? layout.defaultBootArgs];
  if (root !== undefined) args.push(`root=/dev/vda ${root.is_read_only === true ? "ro" : "rw"}`);
  // The root device is the first disk (vda), as Firecracker makes it.
  const drives = root === undefined ? settings.drives : [root, ...settings.drives.filter((d) => d !== root)];
  const hex = (value: number): string => `0x${value.toString(16)}`;
  const regions = layout.ram(machine.mem_size_mib * MIB).map(([gpa, size]) => `[${hex(gpa)}, ${hex(size)}, 0x7, 0]`);
  const lines = [
    "[base]",
    `id = ${settings.id}`,
    `name = ${tomlString(settings.name)}`,
    `cpu_num = ${machine.vcpu_count}`,
    `arch = ${tomlString(arch)}`,
    `backend = ${tomlString(machine.backend ?? "auto")}`,
    "",
    "[kernel]",
    `kernel_path = ${tomlString(kernelPath)}`,
    ...(loadAddr === undefined ? [] : [`kernel_load_addr = ${hex(loadAddr)}`, `entry_point = ${hex(loadAddr)}`]),
    `cmdline = ${tomlString(args.join(" "))}`,
    ...(boot.initrd_path === undefined ? [] : [`ramdisk_path = ${tomlString(abs(boot.initrd_path))}`]),
    `memory_regions = [${regions.join(", ")}]`,
    "",
    "[devices]",
    'console = "stdout"',
    ...drives.flatMap((drive) => [
      "",
      "[[devices.disks]]",
      `path = ${tomlString(abs(drive.path_on_host))}`,
      `read_only = ${drive.is_read_only === true}`,
      `serial = ${tomlString(drive.drive_id)}`,
    ]),
    ...settings.nets.flatMap((net) => [
      "",
      "[[devices.nets]]",
      `tap = ${tomlString(net.host_dev_name)}`,
      ...(net.guest_mac === undefined ? [] : [`mac = ${tomlString(net.guest_mac)}`]),
    ]),
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * Where the kernel loads and is entered: nowhere to say for an ELF file or a bzImage (they carry it); else
 * `boot-source.load_addr`, else the board's convention. A file that cannot be read is left to the config layer,
 * which names it.
 */
function kernelLoadAddr(
  probe: ImageProbe,
  boot: BootSource,
  layout: ApiBoardLayout,
  arch: GuestArch,
): number | undefined {
  const path = JSON.stringify(boot.kernel_image_path);
  if (probe.kind === "missing") return undefined;
  if (probe.kind === "elf" || probe.kind === "bad-elf" || probe.kind === "bzimage") {
    if (boot.load_addr !== undefined) {
      const what = probe.kind === "bzimage" ? "a bzImage" : "an ELF file";
      throw new ApiConfigError(
        `boot-source.load_addr: ${path} is ${what}, which carries its own load address and entry; leave load_addr out`,
      );
    }
    return undefined;
  }
  const address = boot.load_addr ?? layout.defaultLoadAddr;
  if (address === undefined) {
    throw new ApiConfigError(
      `boot-source.load_addr: ${path} is a flat binary for ${arch}, which has no conventional load address; say where it loads and starts`,
    );
  }
  return address;
}

/** Parse the config the API settings make; throws the config layer's ConfigError naming the bad value. */
export function apiVmConfig(settings: ApiVmSettings, cwd: string): VmConfig {
  return parseVmConfig(apiConfigToml(settings, cwd), {
    baseDir: cwd,
    sourceName: "the API's machine-config, boot-source and drives",
  });
}

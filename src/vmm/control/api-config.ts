/**
 * A VM config from what an API client put (machine-config, boot-source, drives): written as the TOML a user would
 * write and parsed by the same code as config files, so the API gets every check and default a file gets, and a
 * snapshot of an API-made VM holds an ordinary config. Today the API builds RISC-V `virt` machines: RAM at
 * 0x8000_0000, the kernel at 0x8020_0000 (the board's Linux and test-guest convention).
 */

import { isAbsolute, resolve } from "node:path";
import { parseVmConfig } from "../config/index.ts";
import type { VmConfig } from "../config/types.ts";
import type { BootSource, Drive, MachineConfig, NetworkInterface } from "./api-schemas.ts";

const RISCV_RAM_BASE = 0x8000_0000;
const RISCV_KERNEL_ADDR = 0x8020_0000;
const MIB = 1024 * 1024;

export interface ApiVmSettings {
  readonly id: number;
  readonly name: string;
  readonly machine: MachineConfig;
  readonly boot: BootSource;
  readonly drives: readonly Drive[];
  readonly nets: readonly NetworkInterface[];
}

/** TOML strings: JSON's escapes are TOML basic-string escapes. */
const tomlString = (value: string): string => JSON.stringify(value);

/** The config text for `settings` (paths made absolute against `cwd`, the server's working directory). */
export function apiConfigToml(settings: ApiVmSettings, cwd: string): string {
  const abs = (path: string): string => (isAbsolute(path) ? path : resolve(cwd, path));
  const { machine, boot } = settings;
  const root = settings.drives.find((d) => d.is_root_device);
  const args = [boot.boot_args ?? "console=ttyS0"];
  if (root !== undefined) args.push(`root=/dev/vda ${root.is_read_only === true ? "ro" : "rw"}`);
  // The root device is the first disk (vda), as Firecracker makes it.
  const drives = root === undefined ? settings.drives : [root, ...settings.drives.filter((d) => d !== root)];
  const lines = [
    "[base]",
    `id = ${settings.id}`,
    `name = ${tomlString(settings.name)}`,
    `cpu_num = ${machine.vcpu_count}`,
    `arch = ${tomlString(machine.arch ?? "riscv64")}`,
    `backend = ${tomlString(machine.backend ?? "auto")}`,
    "",
    "[kernel]",
    `kernel_path = ${tomlString(abs(boot.kernel_image_path))}`,
    `kernel_load_addr = 0x${RISCV_KERNEL_ADDR.toString(16)}`,
    `entry_point = 0x${RISCV_KERNEL_ADDR.toString(16)}`,
    `cmdline = ${tomlString(args.join(" "))}`,
    ...(boot.initrd_path === undefined ? [] : [`ramdisk_path = ${tomlString(abs(boot.initrd_path))}`]),
    `memory_regions = [[0x${RISCV_RAM_BASE.toString(16)}, 0x${(machine.mem_size_mib * MIB).toString(16)}, 0x7, 0]]`,
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

/** Parse the config the API settings make; throws the config layer's ConfigError naming the bad value. */
export function apiVmConfig(settings: ApiVmSettings, cwd: string): VmConfig {
  return parseVmConfig(apiConfigToml(settings, cwd), {
    baseDir: cwd,
    sourceName: "the API's machine-config, boot-source and drives",
  });
}

/**
 * A VM config built in memory for running one RISC-V program on a bare `virt` board, the way
 * `qemu-system-riscv64 -machine virt -bios none -kernel prog.elf` does: no hypervisor layer, the hart starts in
 * M-mode at the program's entry. Conformance suites (riscv-tests, riscv-arch-test) run this way.
 */

import { basename, resolve as resolvePath } from "node:path";
import { PAGE_SIZE_4K } from "../../addrspace/addr.ts";
import { hex } from "../../common/format.ts";
import { isAligned } from "../../common/ranges.ts";

import { MappingFlags } from "../../hal/types.ts";
import { RISCV_VIRT } from "../boards/riscv-virt/layout.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { probeImage } from "./images.ts";
import { resolveVmConfig } from "./resolve.ts";
import type { RawVmConfig } from "./schema.ts";
import type { ConsoleConfig, UnmappedMmioPolicy, VmConfig } from "./types.ts";

/** QEMU's default RAM size for `virt` (128 MiB). */
export const BARE_MACHINE_DEFAULT_MEMORY = 128 * 2 ** 20;

export interface BareMachineOptions {
  /** RAM size in bytes (default 128 MiB); a multiple of 4 KiB. */
  readonly memorySize?: number;
  readonly cpuNum?: number;
  readonly name?: string;
  readonly id?: number;
  readonly console?: ConsoleConfig;
  readonly unmappedMmio?: UnmappedMmioPolicy;
  readonly timebaseFrequency?: number;
}

/**
 * Build the `VmConfig` for a bare-machine run of `programPath` (an ELF, whose segments and entry are used; or a
 * flat binary, loaded and entered at the start of RAM). Throws `ConfigError` when the file is missing, is not a
 * RISC-V program, or does not fit in RAM; the issue paths name the options (`memory`, `program`).
 */
export function bareMachineConfig(programPath: string, options: BareMachineOptions = {}): VmConfig {
  const path = resolvePath(programPath);
  const source = `bare machine for ${programPath}`;
  const memorySize = options.memorySize ?? BARE_MACHINE_DEFAULT_MEMORY;
  const early: ConfigIssue[] = [];
  if (!Number.isSafeInteger(memorySize) || memorySize <= 0 || !isAligned(memorySize, PAGE_SIZE_4K)) {
    early.push({ path: "memory", value: String(memorySize), problem: "must be a positive multiple of 4 KiB" });
  }
  const probe = probeImage(path);
  if (probe.kind === "missing")
    early.push({
      path: "program",
      value: JSON.stringify(programPath),
      problem: `${probe.reason} (looked for ${path})`,
    });
  if (early.length > 0) throw new ConfigError("invalid", source, early);

  const isElf = probe.kind === "elf" || probe.kind === "bad-elf";
  const raw: RawVmConfig = {
    base: {
      id: options.id ?? 0,
      name: options.name ?? basename(programPath),
      cpu_num: options.cpuNum ?? 1,
      arch: "riscv64",
      backend: "emulated",
      machine: "virt-bare",
    },
    kernel: {
      kernel_path: path,
      ...(isElf ? {} : { kernel_load_addr: RISCV_VIRT.RAM_BASE, entry_point: RISCV_VIRT.RAM_BASE }),
      memory_regions: [
        {
          gpa: RISCV_VIRT.RAM_BASE,
          size: memorySize,
          flags: MappingFlags.READ | MappingFlags.WRITE | MappingFlags.EXECUTE,
          map_type: "alloc",
        },
      ],
      ...(options.timebaseFrequency === undefined ? {} : { timebase_frequency: options.timebaseFrequency }),
    },
    devices: {
      ...(options.console === undefined ? {} : { console: options.console }),
      ...(options.unmappedMmio === undefined ? {} : { unmapped_mmio: options.unmappedMmio }),
    },
  };
  const { config, issues } = resolveVmConfig(raw, { baseDir: process.cwd(), sourceName: source });
  if (config === undefined) {
    // Say it in the terms of the command line, not of a TOML file the user never wrote.
    const renamed = issues.map((issue): ConfigIssue => {
      if (issue.path.startsWith("kernel.kernel_path")) {
        return { ...issue, path: "program", value: JSON.stringify(programPath) };
      }
      if (
        issue.path.startsWith("kernel.memory_regions") ||
        issue.path === "kernel.kernel_load_addr" ||
        issue.path === "kernel.entry_point"
      ) {
        return { ...issue, path: "memory", value: `${hex(RISCV_VIRT.RAM_BASE)} + ${hex(memorySize)}` };
      }
      return issue;
    });
    throw new ConfigError("invalid", source, renamed);
  }
  return config;
}

const SIZE_SUFFIXES: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 2 ** 10,
  kb: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mb: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gb: 2 ** 30,
  gib: 2 ** 30,
};

/**
 * A memory size as a user writes it on a command line: "128M", "128MiB", "1G", "0x800_0000", "4096". Binary
 * units, as QEMU's `-m`. A bare number without unit means MiB, as QEMU's `-m` does. Returns undefined when
 * the text is not a size.
 */
export function parseMemorySize(text: string): number | undefined {
  const match = /^\s*(0x[0-9a-f_]+|[0-9][0-9_]*)\s*([a-z]*)\s*$/i.exec(text);
  if (match === null) return undefined;
  const digits = (match[1] ?? "").replaceAll("_", "");
  const unitText = (match[2] ?? "").toLowerCase();
  const value = digits.toLowerCase().startsWith("0x")
    ? Number.parseInt(digits.slice(2), 16)
    : Number.parseInt(digits, 10);
  // QEMU's -m takes a unit-less decimal number as MiB; a hex number is taken as bytes.
  const unit = unitText === "" ? (digits.toLowerCase().startsWith("0x") ? 1 : 2 ** 20) : SIZE_SUFFIXES[unitText];
  if (unit === undefined || !Number.isFinite(value)) return undefined;
  const bytes = value * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

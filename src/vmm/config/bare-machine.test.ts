import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { RISCV_VIRT } from "../boards/riscv-virt/layout.ts";
import { BARE_MACHINE_DEFAULT_MEMORY, bareMachineConfig, parseMemorySize } from "./bare-machine.ts";
import { ConfigError } from "./errors.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-bare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const EM_RISCV = 243;
const EM_X86_64 = 62;

/** A minimal little-endian ELF64 executable with the given PT_LOAD segments (no section headers). */
function writeElf(name: string, machine: number, entry: number, segments: { paddr: number; memsz: number }[]): string {
  const phoff = 64;
  const bytes = new Uint8Array(phoff + segments.length * 56 + 16);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // magic, ELFCLASS64, ELFDATA2LSB, EV_CURRENT
  view.setUint16(16, 2, true); // ET_EXEC
  view.setUint16(18, machine, true);
  view.setUint32(20, 1, true);
  view.setBigUint64(24, BigInt(entry), true);
  view.setBigUint64(32, BigInt(phoff), true);
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, segments.length, true);
  segments.forEach((s, i) => {
    const at = phoff + i * 56;
    view.setUint32(at, 1, true); // PT_LOAD
    view.setUint32(at + 4, 5, true); // R+X
    view.setBigUint64(at + 8, 0n, true);
    view.setBigUint64(at + 16, BigInt(s.paddr), true);
    view.setBigUint64(at + 24, BigInt(s.paddr), true);
    view.setBigUint64(at + 32, 16n, true);
    view.setBigUint64(at + 40, BigInt(s.memsz), true);
  });
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split("\n").slice(1);
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("bareMachineConfig", () => {
  test("an ELF program: entry and segments from the file, 128 MiB at 0x8000_0000, emulated virt-bare", () => {
    const path = writeElf("rv64ui-p-add", EM_RISCV, 0x8000_0000, [
      { paddr: 0x8000_0000, memsz: 0x2000 },
      { paddr: 0x8000_2000, memsz: 0x1000 },
    ]);
    const config = bareMachineConfig(path);
    expect(config.arch).toBe("riscv64");
    expect(config.backend).toBe("emulated");
    expect(config.machine).toBe("virt-bare");
    expect(config.cpuNum).toBe(1);
    expect(config.name).toBe("rv64ui-p-add");
    expect(config.memoryRegions).toEqual([
      { gpa: RISCV_VIRT.RAM_BASE, size: BARE_MACHINE_DEFAULT_MEMORY, flags: 7, mapType: "alloc" },
    ]);
    expect(config.kernel.image).toEqual({ path, format: "elf", loadAddr: 0x8000_0000, size: 0x3000 });
    expect(config.kernel.entryPoint).toBe(0x8000_0000);
    expect(config.devices.console).toEqual({ kind: "stdout" });
  });

  test("a flat binary is loaded and entered at the start of RAM; memory size and console are options", () => {
    const path = join(dir, "prog.bin");
    writeFileSync(path, new Uint8Array(0x100));
    const config = bareMachineConfig(path, { memorySize: 0x10_0000, console: { kind: "none" }, unmappedMmio: "fault" });
    expect(config.kernel.image).toEqual({ path, format: "raw", loadAddr: RISCV_VIRT.RAM_BASE, size: 0x100 });
    expect(config.kernel.entryPoint).toBe(RISCV_VIRT.RAM_BASE);
    expect(config.memoryRegions[0]?.size).toBe(0x10_0000);
    expect(config.devices.console).toEqual({ kind: "none" });
    expect(config.devices.unmappedMmio).toBe("fault");
  });

  test("a missing program and a bad memory size are both reported", () => {
    expect(issuesOf(() => bareMachineConfig(join(dir, "nope.elf"), { memorySize: 1000 }))).toEqual([
      "  - memory = 1000: must be a positive multiple of 4 KiB",
      `  - program = "${join(dir, "nope.elf")}": file not found (looked for ${join(dir, "nope.elf")})`,
    ]);
  });

  test("a segment beyond RAM, and a program for another machine", () => {
    const high = writeElf("high.elf", EM_RISCV, 0x8000_0000, [{ paddr: 0x8000_0000, memsz: 0x20_0000 }]);
    expect(issuesOf(() => bareMachineConfig(high, { memorySize: 0x10_0000 }))).toEqual([
      `  - program = "${high}": ELF segment 0x80000000..0x801fffff is outside RAM (RAM is 0x80000000..0x800fffff)`,
    ]);
    const x86 = writeElf("x86.elf", EM_X86_64, 0x10_0000, [{ paddr: 0x10_0000, memsz: 0x1000 }]);
    const issues = issuesOf(() => bareMachineConfig(x86));
    expect(issues).toContain(`  - program = "${x86}": is an x86_64 image but base.arch is riscv64`);
  });
});

describe("parseMemorySize", () => {
  test("units as QEMU's -m takes them", () => {
    expect(parseMemorySize("128M")).toBe(128 * 2 ** 20);
    expect(parseMemorySize("128MiB")).toBe(128 * 2 ** 20);
    expect(parseMemorySize("1G")).toBe(2 ** 30);
    expect(parseMemorySize("64k")).toBe(64 * 1024);
    expect(parseMemorySize("256")).toBe(256 * 2 ** 20);
    expect(parseMemorySize("0x800_0000")).toBe(0x800_0000);
    expect(parseMemorySize("4096b")).toBe(4096);
  });

  test("anything else is not a size", () => {
    for (const text of ["", "M", "12 apples", "-1M", "1.5G", "0xZZ", "99999999999999999999G"]) {
      expect(parseMemorySize(text)).toBeUndefined();
    }
  });
});

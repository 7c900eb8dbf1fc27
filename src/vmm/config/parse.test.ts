import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { ConfigError } from "./errors.ts";
import { loadVmConfig, parseVmConfig } from "./parse.ts";
import type { VmConfig } from "./types.ts";

const FIXTURES = resolve(import.meta.dir, "../../../test/fixtures/configs");

const dir = mkdtempSync(join(tmpdir(), "axvisor-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file of `size` bytes in the temporary folder. */
function file(name: string, size: number, fill: (bytes: Uint8Array) => void = () => {}): string {
  const bytes = new Uint8Array(size);
  fill(bytes);
  writeFileSync(join(dir, name), bytes);
  return name;
}

file("kernel.bin", 0x1000);
file("big.bin", 0x20_0000);
file("ramdisk.img", 0x1000);
file("bios.bin", 0x200);
writeFileSync(join(dir, "board.dtb"), new Uint8Array([0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 0x28]));

/** A minimal valid config in positional form; `extra` lines are appended to the named sections. */
function toml(parts: { base?: string; kernel?: string; devices?: string; regions?: string } = {}): string {
  return [
    "[base]",
    "id = 1",
    'name = "t"',
    "cpu_num = 1",
    parts.base ?? "",
    "[kernel]",
    'kernel_path = "kernel.bin"',
    parts.kernel ?? "kernel_load_addr = 0x8020_0000\nentry_point = 0x8020_0000",
    `memory_regions = ${parts.regions ?? "[[0x8000_0000, 0x100_0000, 0x7, 0]]"}`,
    "[devices]",
    parts.devices ?? "",
  ].join("\n");
}

function parse(text: string, checkFiles?: boolean): VmConfig {
  return parseVmConfig(text, {
    baseDir: dir,
    sourceName: "test.toml",
    ...(checkFiles === undefined ? {} : { checkFiles }),
  });
}

/** The ConfigError `text` produces (fails the test if it parses or throws something else). */
function errorOf(text: string): ConfigError {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, but the config parsed");
}

function lines(error: ConfigError): string[] {
  return error.message.split("\n").slice(1);
}

describe("axvisor's own configs", () => {
  test("arceos-riscv64-qemu-smp1.toml (positional form) parses", () => {
    const config = loadVmConfig(join(FIXTURES, "arceos-riscv64-qemu-smp1.toml"));
    expect(config.id).toBe(1);
    expect(config.name).toBe("arceos-qemu");
    expect(config.vmType).toBe("rtos");
    expect(config.arch).toBe("riscv64");
    expect(config.backend).toBe("auto");
    expect(config.machine).toBe("virt-hypervisor");
    expect(config.cpuNum).toBe(1);
    expect(config.physCpuIds).toEqual([0]);
    expect(config.kernel.entryPoint).toBe(0x8020_0000);
    expect(config.kernel.image).toEqual({
      path: join(FIXTURES, "images/arceos-riscv64.bin"),
      format: "raw",
      loadAddr: 0x8020_0000,
      size: 4096,
    });
    expect(config.kernel.dtb).toEqual({ kind: "generate", loadAddr: 0x8220_0000 });
    expect(config.memoryRegions).toEqual([{ gpa: 0x8000_0000, size: 0x800_0000, flags: 0x7, mapType: "alloc" }]);
    expect(config.devices.interruptMode).toBe("passthrough");
    expect(config.devices.emuDevices).toEqual([]);
    expect(config.kernel.timebaseFrequency).toBe(10_000_000);
    expect(config.devices.console).toEqual({ kind: "stdout" });
    expect(config.devices.unmappedMmio).toBe("ignore");
  });

  test("linux-riscv64-qemu-smp1.toml (emulated PLIC, passthrough addresses, DTB file) parses", () => {
    const config = loadVmConfig(join(FIXTURES, "linux-riscv64-qemu-smp1.toml"));
    expect(config.memoryRegions).toEqual([{ gpa: 0x9000_0000, size: 0x4000_0000, flags: 0x7, mapType: "reserved" }]);
    expect(config.devices.emuDevices).toEqual([
      { name: "plic", baseGpa: 0x0c00_0000, length: 0x60_0000, irqId: 0, emuType: "pppt-global", cfgList: [2] },
    ]);
    expect(config.devices.passthroughAddresses).toEqual([
      { baseGpa: 0x1000_0000, length: 0x1000 },
      { baseGpa: 0x1000_1000, length: 0x8000 },
    ]);
    expect(config.kernel.dtb).toEqual({
      kind: "file",
      path: join(FIXTURES, "images/tiny.dtb"),
      loadAddr: 0x9200_0000,
      size: 182,
    });
  });

  test("the original absolute image path parses with checkFiles: false", () => {
    const text = toml({ kernel: "kernel_load_addr = 0x8020_0000\nentry_point = 0x8020_0000" }).replace(
      'kernel_path = "kernel.bin"',
      'kernel_path = "/guest/images/qemu_riscv64_linux/qemu-riscv64"',
    );
    const config = parse(text, false);
    expect(config.kernel.image.path).toBe("/guest/images/qemu_riscv64_linux/qemu-riscv64");
    expect(config.kernel.image.size).toBeUndefined();
    expect(() => parse(text)).toThrow(ConfigError);
  });
});

describe("emulated devices", () => {
  test('"virtio-rng" (code 0xe4) names the entropy device, as a word or a code', () => {
    for (const type of ['"virtio-rng"', "0xe4"]) {
      const config = parse(toml({ devices: `emu_devices = [["rng", 0x1000_8000, 0x1000, 8, ${type}, []]]` }));
      expect(config.devices.emuDevices).toEqual([
        { name: "rng", baseGpa: 0x1000_8000, length: 0x1000, irqId: 8, emuType: "virtio-rng", cfgList: [] },
      ]);
    }
  });
});

describe("named-table form", () => {
  test("gives the same VmConfig as the positional form", () => {
    const positional = parse(
      toml({
        regions: "[[0x8000_0000, 0x100_0000, 0x7, 0], [0x9000_0000, 0x1000, 0x3, 1]]",
        devices: [
          'emu_devices = [["uart", 0x1000_0000, 0x100, 10, 0x2, []]]',
          'passthrough_devices = [["gpio", 0x2000_0000, 0x3000_0000, 0x1000, 5]]',
          "passthrough_addresses = [[0x4000_0000, 0x2000]]",
        ].join("\n"),
      }),
    );
    const named = parse(
      [
        "[base]",
        "id = 1",
        'name = "t"',
        "cpu_num = 1",
        "[kernel]",
        'kernel_path = "kernel.bin"',
        "kernel_load_addr = 0x8020_0000",
        "entry_point = 0x8020_0000",
        "[[kernel.memory_regions]]",
        "gpa = 0x8000_0000",
        "size = 0x100_0000",
        'flags = "rwx"',
        'map_type = "alloc"',
        "[[kernel.memory_regions]]",
        "gpa = 0x9000_0000",
        "size = 0x1000",
        'flags = "rw"',
        'map_type = "identical"',
        "[[devices.emu_devices]]",
        'name = "uart"',
        "base_gpa = 0x1000_0000",
        "length = 0x100",
        "irq_id = 10",
        'emu_type = "console"',
        "[[devices.passthrough_devices]]",
        'name = "gpio"',
        "base_gpa = 0x2000_0000",
        "base_hpa = 0x3000_0000",
        "length = 0x1000",
        "irq_id = 5",
        "[[devices.passthrough_addresses]]",
        "base_gpa = 0x4000_0000",
        "length = 0x2000",
      ].join("\n"),
    );
    expect(named).toEqual(positional);
  });

  test("flags letters map to MappingFlags bits; map_type defaults to alloc", () => {
    const config = parse(toml({ regions: '[{ gpa = 0x8000_0000, size = 0x100_0000, flags = "rwxudn" }]' }));
    expect(config.memoryRegions[0]).toEqual({ gpa: 0x8000_0000, size: 0x100_0000, flags: 0x3f, mapType: "alloc" });
  });
});

describe("defaults and our additions", () => {
  test("relative paths resolve against the config's folder, absolute ones stay", () => {
    // The console file's folder must exist (run could not create the file otherwise).
    mkdirSync(join(dir, "out"), { recursive: true });
    const config = parse(
      toml({
        kernel: [
          "kernel_load_addr = 0x8020_0000",
          `ramdisk_path = "${join(dir, "ramdisk.img")}"`,
          "ramdisk_load_addr = 0x8040_0000",
        ].join("\n"),
        devices: 'console = "file:out/console.log"',
      }),
    );
    expect(config.kernel.image.path).toBe(join(dir, "kernel.bin"));
    expect(config.kernel.ramdisk).toEqual({ path: join(dir, "ramdisk.img"), loadAddr: 0x8040_0000, size: 0x1000 });
    expect(config.devices.console).toEqual({ kind: "file", path: join(dir, "out/console.log") });
    // entry_point defaults to the load address of a flat image
    expect(config.kernel.entryPoint).toBe(0x8020_0000);
  });

  test("arch, backend, machine, timebase, interrupt mode aliases, unmapped_mmio", () => {
    const config = parse(
      toml({
        base: 'arch = "riscv64"\nbackend = "emulated"\nvm_type = "linux"',
        kernel: "kernel_load_addr = 0x8020_0000\ntimebase_frequency = 1_000_000",
        devices: 'interrupt_mode = "emu"\nunmapped_mmio = "fault"\nconsole = "none"',
      }),
    );
    expect(config.backend).toBe("emulated");
    expect(config.vmType).toBe("linux");
    expect(config.kernel.timebaseFrequency).toBe(1_000_000);
    expect(config.devices.interruptMode).toBe("emulated");
    expect(config.devices.unmappedMmio).toBe("fault");
    expect(config.devices.console).toEqual({ kind: "none" });
  });

  test("virt-bare picks the emulated backend", () => {
    const config = parse(toml({ base: 'machine = "virt-bare"' }));
    expect(config.machine).toBe("virt-bare");
    expect(config.backend).toBe("emulated");
  });

  test("a RISC-V Linux Image header sets format, arch and the size to check (image_size)", () => {
    file("Image", 0x1000, (bytes) => {
      const view = new DataView(bytes.buffer);
      view.setBigUint64(8, 0x20_0000n, true); // text_offset
      view.setBigUint64(16, 0x80_0000n, true); // image_size: 8 MiB, larger than the file
      bytes.set(new TextEncoder().encode("RISCV\0\0\0"), 48);
      bytes.set([0x52, 0x53, 0x43, 0x05], 56); // "RSC\x05"
    });
    const text = toml({ kernel: "kernel_load_addr = 0x8020_0000" }).replace("kernel.bin", "Image");
    const config = parse(text);
    expect(config.kernel.image.format).toBe("linux-image");
    expect(config.kernel.image.size).toBe(0x80_0000);
    expect(config.arch).toBe("riscv64");
    // 8 MiB from 0x8020_0000 does not fit in 8 MiB of RAM at 0x8000_0000.
    const error = errorOf(text.replace("0x100_0000", "0x80_0000"));
    expect(lines(error)).toEqual([
      "  - kernel.kernel_load_addr = 0x80200000: outside RAM (kernel image 0x80200000..0x809fffff, 8 MiB): RAM is 0x80000000..0x807fffff",
    ]);
    // and not at an address that is not 2 MiB aligned
    expect(errorOf(text.replaceAll("0x8020_0000", "0x8010_0000")).message).toContain(
      "kernel.kernel_load_addr = 0x80100000: a RISC-V Linux Image must be loaded at a 2 MiB boundary",
    );
  });

  test("an x86 bzImage makes the arch x86_64, and contradicting base.arch is an error", () => {
    file("bzImage", 0x400, (bytes) => bytes.set([0x48, 0x64, 0x72, 0x53], 0x202)); // "HdrS"
    const text = toml({ kernel: "kernel_load_addr = 0x10_0000", regions: "[[0x0, 0x400_0000, 0x7, 0]]" }).replace(
      "kernel.bin",
      "bzImage",
    );
    const config = parse(text);
    expect(config.arch).toBe("x86_64");
    expect(config.kernel.image.format).toBe("bzimage");
    expect(config.kernel.dtb).toBeUndefined();
    const error = errorOf(text.replace("cpu_num = 1", 'cpu_num = 1\narch = "riscv64"'));
    expect(error.message).toContain('kernel.kernel_path = "bzImage": is an x86_64 image but base.arch is riscv64');
  });
});

describe("errors name the TOML path and the value", () => {
  test("unknown key", () => {
    const error = errorOf(toml({ base: "cpus = 2" }));
    expect(error.kind).toBe("invalid");
    expect(lines(error)).toEqual(["  - base.cpus = 2: unknown key"]);
  });

  test("unknown section and unknown key inside a positional region's table form", () => {
    const error = errorOf(
      `${toml({ regions: "[{ gpa = 0x8000_0000, size = 0x1000, flags = 7, colour = 1 }]" })}\n[extra]\nx = 1`,
    );
    expect(lines(error)).toEqual([
      "  - kernel.memory_regions[0].colour = 1: unknown key",
      "  - extra = { x }: unknown key",
    ]);
  });

  test("wrong type", () => {
    const error = errorOf(toml().replace("cpu_num = 1", 'cpu_num = "two"'));
    expect(lines(error)).toEqual(['  - base.cpu_num = "two": expected a non-negative integer, got a string']);
  });

  test("wrong type inside a positional tuple names the field", () => {
    const error = errorOf(toml({ regions: '[[0x8000_0000, "big", 0x7, 0]]' }));
    expect(lines(error)).toEqual([
      '  - kernel.memory_regions[0][1] (size) = "big": expected a non-negative integer, got a string',
    ]);
  });

  test("a tuple with the wrong number of elements", () => {
    const error = errorOf(toml({ regions: "[[0x8000_0000, 0x100_0000]]" }));
    expect(lines(error)).toEqual([
      "  - kernel.memory_regions[0] = [0x80000000, 0x1000000]: expected [gpa, size, flags, map_type], got 2 element(s)",
    ]);
  });

  test("a record that is neither an array nor a table", () => {
    const error = errorOf(toml({ regions: '["ram"]' }));
    expect(lines(error)).toEqual([
      '  - kernel.memory_regions[0] = "ram": expected [gpa, size, flags, map_type] or a table with those keys, got a string',
    ]);
  });

  test("overlapping memory regions", () => {
    const error = errorOf(toml({ regions: "[[0x8000_0000, 0x100_0000, 0x7, 0], [0x8080_0000, 0x100_0000, 0x7, 0]]" }));
    expect(lines(error)).toEqual([
      "  - kernel.memory_regions[1] = 0x80800000..0x817fffff: overlaps kernel.memory_regions[0] (0x80000000..0x80ffffff)",
    ]);
  });

  test("kernel load address outside RAM", () => {
    const error = errorOf(toml({ kernel: "kernel_load_addr = 0x9000_0000\nentry_point = 0x8000_0000" }));
    expect(lines(error)).toEqual([
      "  - kernel.kernel_load_addr = 0x90000000: outside RAM (kernel image 0x90000000..0x90000fff, 4 KiB): RAM is 0x80000000..0x80ffffff",
    ]);
  });

  test("the end of the kernel image outside RAM (file exists)", () => {
    const text = toml({ kernel: "kernel_load_addr = 0x80f0_0000" }).replace("kernel.bin", "big.bin");
    const error = errorOf(text);
    expect(lines(error)).toEqual([
      "  - kernel.kernel_load_addr = 0x80f00000: outside RAM (kernel image 0x80f00000..0x810fffff, 2 MiB): RAM is 0x80000000..0x80ffffff",
    ]);
  });

  test("dtb, ramdisk and bios load addresses outside RAM", () => {
    const error = errorOf(
      toml({
        kernel: [
          "kernel_load_addr = 0x8020_0000",
          "dtb_load_addr = 0x7000_0000",
          'ramdisk_path = "ramdisk.img"',
          "ramdisk_load_addr = 0x80ff_f800",
          'bios_path = "bios.bin"',
          "bios_load_addr = 0x1000",
        ].join("\n"),
      }),
    );
    expect(lines(error)).toEqual([
      "  - kernel.bios_load_addr = 0x1000: outside RAM (bios 0x1000..0x11ff, 512 bytes): RAM is 0x80000000..0x80ffffff",
      "  - kernel.ramdisk_load_addr = 0x80fff800: outside RAM (ramdisk 0x80fff800..0x810007ff, 4 KiB): RAM is 0x80000000..0x80ffffff",
      "  - kernel.dtb_load_addr = 0x70000000: outside RAM: RAM is 0x80000000..0x80ffffff",
    ]);
  });

  test("a DTB file whose end is outside RAM, and one that is not a DTB", () => {
    const error = errorOf(
      toml({ kernel: 'kernel_load_addr = 0x8020_0000\ndtb_path = "board.dtb"\ndtb_load_addr = 0x80ff_fffc' }),
    );
    expect(lines(error)).toEqual([
      "  - kernel.dtb_load_addr = 0x80fffffc: outside RAM (dtb 0x80fffffc..0x81000003, 8 bytes): RAM is 0x80000000..0x80ffffff",
      "  - kernel.dtb_load_addr = 0x80fffffc: the device tree must be 8-byte aligned",
    ]);
    const notDtb = errorOf(toml({ kernel: 'kernel_load_addr = 0x8020_0000\ndtb_path = "bios.bin"' }));
    expect(lines(notDtb)).toEqual([
      '  - kernel.dtb_path = "bios.bin": is not a flattened device tree (no 0xd00dfeed magic)',
    ]);
  });

  test("images that overlap each other", () => {
    const error = errorOf(
      toml({ kernel: 'kernel_load_addr = 0x8020_0000\nramdisk_path = "ramdisk.img"\nramdisk_load_addr = 0x8020_0800' }),
    );
    expect(lines(error)).toEqual([
      "  - kernel.ramdisk_load_addr = 0x80200800: ramdisk 0x80200800..0x802017ff overlaps the kernel image at 0x80200000..0x80200fff",
    ]);
  });

  test("cpu_num 0", () => {
    const error = errorOf(toml().replace("cpu_num = 1", "cpu_num = 0"));
    expect(lines(error)).toEqual(["  - base.cpu_num = 0: a VM needs at least one vCPU"]);
  });

  test("phys_cpu_ids length differs from cpu_num", () => {
    const error = errorOf(toml({ base: "phys_cpu_ids = [0, 1]" }));
    expect(lines(error)).toEqual([
      "  - base.phys_cpu_ids = [0, 1]: has 2 entries but base.cpu_num is 1 (one per vCPU)",
    ]);
  });

  test("missing image file", () => {
    const error = errorOf(toml().replace("kernel.bin", "no-such-kernel.bin"));
    expect(lines(error)).toEqual([
      `  - kernel.kernel_path = "no-such-kernel.bin": file not found (looked for ${join(dir, "no-such-kernel.bin")})`,
    ]);
  });

  test("an integer that is not a safe integer", () => {
    const error = errorOf(toml({ kernel: "kernel_load_addr = 0x1_0000_0000_0000_0000" }));
    expect(lines(error)).toEqual([
      "  - kernel.kernel_load_addr = 0x10000000000000000: is not a safe integer (the largest accepted value is 2^53 - 1)",
    ]);
    const big = errorOf(toml({ kernel: "kernel_load_addr = 0x20_0000_0000_0000" }));
    expect(lines(big)).toEqual([
      "  - kernel.kernel_load_addr = 0x20000000000000: is not a safe integer (the largest accepted value is 2^53 - 1)",
    ]);
  });

  test("negative numbers and floats", () => {
    const error = errorOf(toml().replace("cpu_num = 1", "cpu_num = -1").replace("id = 1", "id = 1.5"));
    expect(lines(error)).toEqual([
      "  - base.id = 1.5: expected a non-negative integer, got a float",
      "  - base.cpu_num = -1: expected a non-negative integer",
    ]);
  });

  test("unknown enumeration values", () => {
    const error = errorOf(
      toml({
        base: 'backend = "qemu"',
        regions: "[[0x8000_0000, 0x100_0000, 0x7, 9]]",
        devices: 'emu_devices = [["x", 0x1000_0000, 0x100, 0, 0x99, []]]',
      }),
    );
    expect(error.message).toContain('base.backend = "qemu": expected one of "auto", "kvm", "hvf", "emulated"');
    expect(error.message).toContain(
      "kernel.memory_regions[0][3] (map_type) = 0x9: unknown code; expected one of 0x0 (alloc), 0x1 (identical), 0x2 (reserved)",
    );
    expect(error.message).toContain("devices.emu_devices[0][4] (emu_type) = 0x99: unknown code");
  });

  test("emulated devices overlapping RAM or each other", () => {
    const error = errorOf(
      toml({
        devices:
          'emu_devices = [["a", 0x80ff_0000, 0x2_0000, 0, 2, []], ["b", 0x1000_0000, 0x100, 0, 2, []], ["c", 0x1000_0080, 0x100, 0, 2, []]]',
      }),
    );
    expect(lines(error)).toEqual([
      "  - devices.emu_devices[0] = 0x80ff0000: 0x80ff0000..0x8100ffff overlaps RAM kernel.memory_regions[0] (0x80000000..0x80ffffff)",
      "  - devices.emu_devices[2] = 0x10000080: 0x10000080..0x1000017f overlaps devices.emu_devices[1] (0x10000000..0x100000ff)",
    ]);
  });

  test("misaligned and empty memory regions", () => {
    const error = errorOf(
      toml({ regions: "[[0x8000_0000, 0x100_0000, 0x7, 0], [0x9000_0800, 0x1000, 0x7, 0], [0xa000_0000, 0, 0x7, 0]]" }),
    );
    expect(lines(error)).toEqual([
      "  - kernel.memory_regions[1] = [0x90000800, 0x1000]: gpa and size must be multiples of the 4 KiB page size (0x1000)",
      "  - kernel.memory_regions[2] = 0xa0000000: has size 0",
    ]);
  });

  test("all problems are listed at once", () => {
    const error = errorOf(
      toml({
        base: "phys_cpu_ids = [0, 1, 2]",
        kernel: "kernel_load_addr = 0x9000_0000",
        regions: "[[0x8000_0000, 0x100_0000, 0x7, 0], [0x8000_0000, 0x1000, 0x7, 0]]",
      })
        .replace("kernel.bin", "missing.bin")
        .replace("cpu_num = 1", "cpu_num = 2"),
    );
    expect(error.issues.map((i) => i.path)).toEqual([
      "base.phys_cpu_ids",
      "kernel.memory_regions[1]",
      "kernel.kernel_path",
      "kernel.kernel_load_addr",
    ]);
    expect(error.message.split("\n")[0]).toBe("Cannot load VM config test.toml: 4 problems");
  });

  test("invalid TOML is a syntax error with line and column", () => {
    const error = errorOf("[base]\nid = = 1\n");
    expect(error.kind).toBe("syntax");
    expect(lines(error)).toEqual(["  - (document): invalid TOML at line 2, column 6: invalid value"]);
  });

  test("a config file that does not exist", () => {
    expect(() => loadVmConfig(join(dir, "nope.toml"))).toThrow(ConfigError);
    try {
      loadVmConfig(join(dir, "nope.toml"));
    } catch (error) {
      expect(error instanceof ConfigError && error.kind).toBe("io");
      expect(String(error)).toContain("file not found");
    }
  });

  test("the emulated backend and the bare machine refuse other archs", () => {
    file("x86.bin", 0x1000);
    const error = errorOf(
      toml({
        base: 'arch = "x86_64"\nbackend = "emulated"\nmachine = "virt-bare"',
        kernel: "kernel_load_addr = 0x8020_0000\ntimebase_frequency = 100",
      }),
    );
    expect(lines(error)).toEqual([
      '  - base.backend = "emulated": the emulated backend runs riscv64 guests only, and base.arch is x86_64',
      '  - base.machine = "virt-bare": is a RISC-V board, and base.arch is x86_64',
      "  - kernel.timebase_frequency = 100: only RISC-V guests have a timebase, and base.arch is x86_64",
    ]);
  });
});

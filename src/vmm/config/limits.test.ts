/**
 * What `check` accepts, `run` runs (issue 9, items 15 and 17): values a board or backend would refuse at run time
 * are refused by the config check, naming the key; the largest accepted values do build a VM.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { emulatedBackend } from "../../hal/emulated/index.ts";
import { EMULATED_MAX_GUEST_RAM } from "../../hal/emulated/limits.ts";
import { MAX_TIMEBASE_HZ } from "../../hal/types.ts";
import { boardFor } from "../boards/index.ts";
import { X86_MAX_CPUS } from "../boards/x86-pc/layout.ts";
import { assembleVm } from "../builder.ts";
import { bareMachineConfig } from "./bare-machine.ts";
import { ConfigError } from "./errors.ts";
import { parseVmConfig } from "./parse.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-limits-"));
const kernel = join(dir, "kernel.bin");
writeFileSync(kernel, Uint8Array.of(0x6f, 0, 0, 0)); // j . (a flat image is enough to build a VM)

function config(
  options: { base?: string; cpus?: number; kernel?: string; regions?: string; extra?: string } = {},
): string {
  return [
    "[base]",
    `id = 1\nname = "limits"\ncpu_num = ${options.cpus ?? 1}\n${options.base ?? 'arch = "riscv64"\nbackend = "emulated"'}`,
    "[kernel]",
    `kernel_path = ${JSON.stringify(kernel)}\nkernel_load_addr = 0x8020_0000`,
    options.kernel ?? "",
    `memory_regions = [${options.regions ?? "[0x8000_0000, 0x100_0000, 0x7, 0]"}]`,
    options.extra ?? "",
  ].join("\n");
}

function problems(text: string): string[] {
  try {
    parseVmConfig(text, { baseDir: dir, sourceName: "t.toml" });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.map((i) => `${i.path} = ${i.value}: ${i.problem}`);
  }
}

describe("values the machine or backend cannot take are config problems", () => {
  test("a timebase above 2^32 - 1 Hz (the device tree cell) is refused; the largest one builds a VM", () => {
    expect(problems(config({ kernel: "timebase_frequency = 5_000_000_000" }))).toEqual([
      "kernel.timebase_frequency = 5000000000: is above 4294967295 Hz (the device tree's timebase-frequency is one 32-bit cell)",
    ]);
    const largest = parseVmConfig(config({ kernel: `timebase_frequency = ${MAX_TIMEBASE_HZ}` }), {
      baseDir: dir,
      sourceName: "t.toml",
    });
    using hypervisor = emulatedBackend.open();
    const vm = assembleVm(largest, {
      hypervisor,
      board: boardFor(largest),
      console: { write: () => undefined, close: () => undefined },
    });
    expect(vm.status).toBe("Loaded");
    vm.shutdown();
  });

  test("a disk image on x86_64 is accepted (the PC board serves it as a virtio-blk); more disks than windows are not", () => {
    writeFileSync(join(dir, "disk.img"), new Uint8Array(4096));
    expect(problems(config({ base: 'arch = "x86_64"', kernel: 'disk_path = "disk.img"' }))).toEqual([]);
    const nine = Array.from({ length: 9 }, (_, i) => {
      writeFileSync(join(dir, `d${i}.img`), new Uint8Array(4096));
      return `[[devices.disks]]\npath = "d${i}.img"`;
    }).join("\n");
    const found = problems(config({ base: 'arch = "x86_64"', extra: nine }));
    expect(
      found.some((p) => p.includes("9 disks need a virtio-mmio window each and 8 of the board's 8 are free")),
    ).toBe(true);
  });

  test("more x86 CPUs than xAPIC ids is refused", () => {
    const found = problems(config({ base: 'arch = "x86_64"', cpus: X86_MAX_CPUS + 1 }));
    expect(found).toContain(
      `base.cpu_num = ${X86_MAX_CPUS + 1}: the x86 PC board describes at most ${X86_MAX_CPUS} CPUs (xAPIC ids)`,
    );
  });

  test("more RAM than the emulated backend can back is refused, for it and for RISC-V guests on auto", () => {
    const eightGiB = "[0x8000_0000, 0x2_0000_0000, 0x7, 0]";
    const expected = `kernel.memory_regions = 8 GiB: is more RAM than the emulated backend can back (at most 2 GiB in all: its hart addresses RAM with 32-bit signed offsets)`;
    expect(problems(config({ regions: eightGiB }))).toEqual([expected]);
    expect(problems(config({ base: 'arch = "riscv64"\nbackend = "auto"', regions: eightGiB }))).toEqual([expected]);
    // Two regions that add up to more count as much as one.
    expect(
      problems(config({ regions: "[0x8000_0000, 0x6000_0000, 0x7, 0], [0x1_0000_0000, 0x4000_0000, 0x7, 0]" })),
    ).toEqual([expected.replace("8 GiB", "2560 MiB")]);
    // Exactly the limit is accepted.
    expect(problems(config({ regions: `[0x8000_0000, ${EMULATED_MAX_GUEST_RAM}, 0x7, 0]` }))).toEqual([]);
    // A hardware backend is not bound by it.
    expect(problems(config({ base: 'arch = "x86_64"\nbackend = "kvm"', regions: eightGiB }))).toEqual([]);
  });

  test("the bare machine's --memory is held to the same limit", () => {
    expect(() => bareMachineConfig(kernel, { memorySize: 3 * 2 ** 30 })).toThrow(
      "memory = 0x80000000 + 0xc0000000: is more RAM than the emulated backend can back",
    );
  });
});

/**
 * Every config shipped in configs/ must parse. Boot files are checked only when they exist (guests and Linux
 * images are built by other scripts); the shape, ranges and overlaps are always checked.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { loadVmConfig, parseVmConfig } from "./parse.ts";

const CONFIGS = resolve(import.meta.dir, "../../../configs");

describe("configs/*.toml", () => {
  const files = readdirSync(CONFIGS).filter((name) => name.endsWith(".toml"));

  test("the embedded default is there", () => {
    expect(files).toContain("default.toml");
  });

  for (const name of files) {
    test(`${name} parses`, () => {
      const path = join(CONFIGS, name);
      const config = parseVmConfig(readFileSync(path, "utf8"), {
        baseDir: CONFIGS,
        sourceName: path,
        checkFiles: false,
      });
      expect(config.cpuNum).toBeGreaterThan(0);
      if (existsSync(config.kernel.image.path)) expect(loadVmConfig(path).name).toBe(config.name);
    });
  }

  test("the default VM is the hello guest: riscv64, emulated, 1 vCPU, 16 MiB at 0x8000_0000, entry 0x8020_0000", () => {
    const path = join(CONFIGS, "default.toml");
    const config = parseVmConfig(readFileSync(path, "utf8"), { baseDir: CONFIGS, sourceName: path, checkFiles: false });
    expect(config.arch).toBe("riscv64");
    expect(config.backend).toBe("emulated");
    expect(config.cpuNum).toBe(1);
    expect(config.memoryRegions).toEqual([{ gpa: 0x8000_0000, size: 0x100_0000, flags: 0x7, mapType: "alloc" }]);
    expect(config.kernel.image.path).toBe(resolve(CONFIGS, "../test/guests/riscv/hello.bin"));
    expect(config.kernel.image.loadAddr).toBe(0x8020_0000);
    expect(config.kernel.entryPoint).toBe(0x8020_0000);
  });
});

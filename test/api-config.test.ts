/**
 * The API's VM config per architecture (src/vmm/control/api-config.ts): the board follows machine-config.arch or
 * the kernel's own header, RAM lands where that board's layout puts it, a flat image or Linux Image loads at the
 * board's convention or at boot-source.load_addr, ELF files and bzImages at their own addresses; and settings that
 * cannot make a VM are refused naming the API field.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../src/vmm/config/errors.ts";
import { ApiConfigError, type ApiVmSettings, apiVmConfig } from "../src/vmm/control/api-config.ts";
import type { BootSource, MachineConfig } from "../src/vmm/control/api-schemas.ts";
import { COUNTER_BIN } from "./support/counter-guest.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-api-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MIB = 2 ** 20;
const RISCV_ELF = join(import.meta.dir, "guests/riscv/hello.elf");
const X86_COUNTER = join(import.meta.dir, "guests/x86/counter.bin");

/** A file holding just the header fields the image probe reads. */
function fixture(name: string, fill: (view: DataView) => void): string {
  const bytes = new Uint8Array(64 * 1024);
  fill(new DataView(bytes.buffer));
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}
/** The x86 boot protocol's setup header: "HdrS" at 0x202 (Documentation/arch/x86/boot.rst). */
const BZIMAGE = fixture("bzImage", (view) => {
  view.setUint32(0x202, 0x5372_6448, true);
  view.setUint16(0x206, 0x020f, true);
  view.setUint8(0x1f1, 4);
});
/** arm64 Image: magic "ARM\x64" at 0x38, image_size at 0x10 (Documentation/arch/arm64/booting.rst). */
const ARM64_IMAGE = fixture("Image-arm64", (view) => {
  view.setUint32(0x38, 0x644d_5241, true);
  view.setBigUint64(0x10, BigInt(64 * 1024), true);
});

function settings(machine: Partial<MachineConfig>, boot: BootSource): ApiVmSettings {
  return {
    id: 1,
    name: "api",
    machine: { vcpu_count: 1, mem_size_mib: 64, ...machine },
    boot,
    drives: [],
    nets: [],
  };
}

const regions = (config: ReturnType<typeof apiVmConfig>) => config.memoryRegions.map((r) => [r.gpa, r.size]);

describe("the API's VM config follows the guest architecture", () => {
  test("RISC-V: a flat binary 2 MiB into RAM at 0x8000_0000, an ELF at its own address", () => {
    const flat = apiVmConfig(settings({}, { kernel_image_path: COUNTER_BIN }), dir);
    expect(flat.arch).toBe("riscv64");
    expect(regions(flat)).toEqual([[0x8000_0000, 64 * MIB]]);
    expect(flat.kernel.image.loadAddr).toBe(0x8020_0000);
    expect(flat.kernel.entryPoint).toBe(0x8020_0000);
    expect(flat.kernel.cmdline).toBe("console=ttyS0");

    const elf = apiVmConfig(settings({}, { kernel_image_path: RISCV_ELF }), dir);
    expect(elf.arch).toBe("riscv64");
    expect(elf.kernel.image.format).toBe("elf");
    expect(() => apiVmConfig(settings({}, { kernel_image_path: RISCV_ELF, load_addr: 0x8020_0000 }), dir)).toThrow(
      /boot-source.load_addr: .*hello.elf" is an ELF file, which carries its own load address/,
    );
  });

  test("a load_addr moves a flat binary", () => {
    const moved = apiVmConfig(settings({}, { kernel_image_path: COUNTER_BIN, load_addr: 0x8040_0000 }), dir);
    expect(moved.kernel.image.loadAddr).toBe(0x8040_0000);
    expect(moved.kernel.entryPoint).toBe(0x8040_0000);
  });

  test("x86: a bzImage is recognised without machine-config.arch, RAM from 0 and split around the MMIO hole", () => {
    const small = apiVmConfig(settings({}, { kernel_image_path: BZIMAGE }), dir);
    expect(small.arch).toBe("x86_64");
    expect(small.kernel.image.format).toBe("bzimage");
    expect(regions(small)).toEqual([[0, 64 * MIB]]);
    expect(small.kernel.cmdline).toBe("console=ttyS0");
    const large = apiVmConfig(settings({ mem_size_mib: 4096 }, { kernel_image_path: BZIMAGE }), dir);
    expect(regions(large)).toEqual([
      [0, 0xc000_0000],
      [0x1_0000_0000, 4096 * MIB - 0xc000_0000],
    ]);
  });

  test("x86: a flat binary needs machine-config.arch and a load_addr, and the error names the field", () => {
    const missing = () => apiVmConfig(settings({ arch: "x86_64" }, { kernel_image_path: X86_COUNTER }), dir);
    expect(missing).toThrow(ApiConfigError);
    expect(missing).toThrow(/boot-source.load_addr: .*counter.bin" is a flat binary for x86_64/);
    const real = apiVmConfig(
      settings({ arch: "x86_64", backend: "kvm" }, { kernel_image_path: X86_COUNTER, load_addr: 0x8000 }),
      dir,
    );
    expect(real.arch).toBe("x86_64");
    expect(real.backend).toBe("kvm");
    expect(real.kernel.image.loadAddr).toBe(0x8000);
    expect(regions(real)).toEqual([[0, 64 * MIB]]);
  });

  test("arm64: an Image is recognised from its header, loaded at the start of RAM at 0x4000_0000", () => {
    const config = apiVmConfig(settings({ vcpu_count: 2 }, { kernel_image_path: ARM64_IMAGE }), dir);
    expect(config.arch).toBe("aarch64");
    expect(config.cpuNum).toBe(2);
    expect(regions(config)).toEqual([[0x4000_0000, 64 * MIB]]);
    expect(config.kernel.image.loadAddr).toBe(0x4000_0000);
    expect(config.kernel.cmdline).toBe("console=ttyAMA0");
  });

  test("an architecture that contradicts the image, or an emulated non-RISC-V VM: the config layer says why", () => {
    const contradiction = () => apiVmConfig(settings({ arch: "riscv64" }, { kernel_image_path: ARM64_IMAGE }), dir);
    expect(contradiction).toThrow(ConfigError);
    expect(contradiction).toThrow(/is an aarch64 image but base.arch is riscv64/);
    const emulated = () => apiVmConfig(settings({ backend: "emulated" }, { kernel_image_path: BZIMAGE }), dir);
    expect(emulated).toThrow(/the emulated backend runs riscv64 guests only/);
  });

  test("a missing kernel file is named, whatever the architecture", () => {
    for (const arch of ["riscv64", "x86_64", "aarch64"] as const) {
      const missing = () => apiVmConfig(settings({ arch }, { kernel_image_path: "no-such-kernel" }), dir);
      expect(missing).toThrow(ConfigError);
      // Only the file: whether it would have carried its own load address is unknown, so that is not guessed at.
      expect(missing).toThrow(/1 problem\n {2}- kernel.kernel_path = ".*\/no-such-kernel": file not found/);
    }
  });
});

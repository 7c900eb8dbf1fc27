import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeBackend } from "../../../../test/support/fake-backend.ts";
import { testVmConfig } from "../../../../test/support/vm-config.ts";
import { REG_A1 } from "../../../arch/riscv64/registers.ts";
import { assembleVm } from "../../builder.ts";
import type { VmConfig } from "../../config/types.ts";
import { dtbCells, findDtbNode, parseDtb } from "../../fdt/fdt-reader.ts";
import { RISCV_IMAGE_HEADER_SIZE } from "../../loader/riscv-image.ts";
import { RiscvVirtBoard } from "./board.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-riscv-boot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAM = { gpa: 0x8000_0000, size: 0x400_0000, flags: 0x7, mapType: "alloc" as const };

/** A RISC-V Linux Image of `fileSize` bytes (patterned past the header) whose header claims `imageSize`. */
function riscvImage(fileSize: number, imageSize: bigint): Uint8Array {
  const bytes = Uint8Array.from({ length: fileSize }, (_, i) => (i * 11 + 1) & 0xff);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(8, 0x20_0000n, true); // text_offset
  view.setBigUint64(16, imageSize, true);
  view.setBigUint64(24, 0n, true); // flags: little-endian
  view.setUint32(32, 2, true); // version 0.2
  bytes.set(new TextEncoder().encode("RISCV\0\0\0"), 48);
  bytes.set(Uint8Array.of(0x52, 0x53, 0x43, 0x05), 56);
  return bytes;
}

function linuxConfig(kernelBytes: Uint8Array, initrdBytes: Uint8Array): VmConfig {
  const kernel = join(dir, "Image");
  writeFileSync(kernel, kernelBytes);
  const initrd = join(dir, "initramfs.cpio");
  writeFileSync(initrd, initrdBytes);
  const base = testVmConfig({ vmType: "linux", memoryRegions: [RAM] });
  return {
    ...base,
    kernel: {
      ...base.kernel,
      image: { path: kernel, format: "linux-image", loadAddr: 0x8020_0000, size: undefined },
      ramdisk: { path: initrd, loadAddr: undefined, size: initrdBytes.length },
      dtb: { kind: "generate", loadAddr: undefined },
    },
  };
}

function assemble(config: VmConfig) {
  const backend = new FakeBackend();
  const vm = assembleVm(config, {
    hypervisor: backend.open(),
    board: new RiscvVirtBoard("hypervisor"),
    console: { write: () => undefined, close: () => undefined },
  });
  const halVm = backend.vms[0];
  if (halVm === undefined) throw new Error("no VM");
  return { vm, halVm };
}

describe("riscv-virt Linux boot images", () => {
  test("the Image and the ramdisk land byte for byte, image_size past the file is zeroed, the DTB names the initrd", () => {
    const kernel = riscvImage(0x1_2345, 0x4_0000n);
    const initrd = Uint8Array.from({ length: 0x2345 }, (_, i) => (i * 3) & 0xff);
    const { vm, halVm } = assemble(linuxConfig(kernel, initrd));
    expect(vm.memory.read(0x8020_0000, kernel.length)).toEqual(kernel);
    expect(vm.memory.read(0x8020_0000 + kernel.length, 0x4_0000 - kernel.length).every((b) => b === 0)).toBe(true);
    const dtbAddress = Number(halVm.vcpus[0]?.setups[0]?.gprs?.find(([reg]) => reg === REG_A1)?.[1] ?? 0);
    const chosen = findDtbNode(parseDtb(vm.memory.read(dtbAddress, 0x1_0000)).root, "/chosen");
    if (chosen === undefined) throw new Error("no /chosen");
    const [, start = 0] = dtbCells(chosen, "linux,initrd-start") ?? [];
    const [, end = 0] = dtbCells(chosen, "linux,initrd-end") ?? [];
    expect(end - start).toBe(initrd.length);
    expect(vm.memory.read(start, initrd.length)).toEqual(initrd);
  });

  test("an Image shorter than its header, or than its file, is refused as before", () => {
    const initrd = new Uint8Array(16);
    const short = linuxConfig(riscvImage(RISCV_IMAGE_HEADER_SIZE, 0x4_0000n).subarray(0, 40), initrd);
    expect(() => assemble(short)).toThrow(
      `Cannot load ${short.kernel.image.path}: 40 bytes is shorter than the 64-byte RISC-V Image header`,
    );
    const small = linuxConfig(riscvImage(0x3000, 0x2000n), initrd);
    expect(() => assemble(small)).toThrow(
      `Cannot load ${small.kernel.image.path}: image_size 8192 is smaller than the 12288-byte file (a truncated or foreign header)`,
    );
    const big = linuxConfig(riscvImage(0x1000, 0x400_0000n), initrd);
    expect(() => assemble(big)).toThrow(/it needs 67108864 bytes \(image_size\) but the RAM region/);
  });
});

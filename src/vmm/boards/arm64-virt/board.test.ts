import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fakeArm64Image } from "../../../../test/support/arm64-image.ts";
import { FakeBackend } from "../../../../test/support/fake-backend.ts";
import { testVmConfig } from "../../../../test/support/vm-config.ts";
import { AARCH64_REG_X0 } from "../../../arch/aarch64/registers.ts";
import { FR_RXFE, INT_RX, INT_TX, PL011_DR, PL011_FR, PL011_IMSC } from "../../../devices/pl011.ts";
import { PL061_IBE, PL061_IC, PL061_IE } from "../../../devices/pl061.ts";
import { assembleVm } from "../../builder.ts";
import type { VmConfig } from "../../config/types.ts";
import { dtbCells, dtbStrings, findDtbNode, parseDtb } from "../../fdt/fdt-reader.ts";
import { Arm64VirtBoard } from "./board.ts";
import { buildArm64VirtDtb } from "./device-tree.ts";
import { ARM64_VIRT, GPIO_INTID, UART0_INTID } from "./layout.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-arm64-board-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAM = { gpa: ARM64_VIRT.RAM_BASE, size: 0x800_0000, flags: 0x7, mapType: "alloc" as const };

function linuxConfig(overrides: Partial<VmConfig> = {}): VmConfig {
  const kernel = join(dir, "Image");
  writeFileSync(kernel, fakeArm64Image({ textOffset: 0n, imageSize: 0x30_0000n }, 0x2000));
  const initrd = join(dir, "initrd.cpio");
  writeFileSync(initrd, new Uint8Array(0x1800).fill(0xab));
  const base = testVmConfig({ arch: "aarch64", cpuNum: 2, memoryRegions: [RAM] });
  return {
    ...base,
    kernel: {
      ...base.kernel,
      image: { path: kernel, format: "linux-image", loadAddr: 0x4020_0000, size: 0x30_0000 },
      entryPoint: 0x4020_0000,
      ramdisk: { path: initrd, loadAddr: undefined, size: 0x1800 },
      dtb: { kind: "generate", loadAddr: undefined },
      cmdline: "console=ttyAMA0 quiet",
    },
    ...overrides,
  };
}

function assemble(config: VmConfig, output: number[] = [], board = new Arm64VirtBoard()) {
  const backend = new FakeBackend();
  const vm = assembleVm(config, {
    hypervisor: backend.open(),
    board,
    console: { write: (bytes) => output.push(...bytes), close: () => undefined },
  });
  const halVm = backend.vms[0];
  if (halVm === undefined) throw new Error("no VM");
  return { vm, halVm };
}

describe("arm64 virt board", () => {
  test("boots an Image: kernel at its address, x0 = the DTB, which names the initrd, command line and vCPUs", () => {
    const config = linuxConfig();
    const { vm, halVm } = assemble(config);
    const [v0, v1] = halVm.vcpus;
    expect(v0?.entry).toBe(0x4020_0000);
    const gprs = new Map(v0?.setups[0]?.gprs);
    expect([...gprs.entries()].map(([r, v]) => [r, Number(v)]).slice(1)).toEqual([
      [1, 0],
      [2, 0],
      [3, 0],
    ]);
    expect(v1?.setups[0]?.gprs).toEqual(v0?.setups[0]?.gprs);
    const dtbAddress = Number(gprs.get(AARCH64_REG_X0));
    expect(dtbAddress % 8).toBe(0);
    // The image's header sits at the load address.
    expect(vm.memory.readU32(0x4020_0000 + 56)).toBe(0x644d_5241);
    const dtb = parseDtb(vm.memory.read(dtbAddress, 0x1_0000));
    const chosen = findDtbNode(dtb.root, "/chosen");
    if (chosen === undefined) throw new Error("no /chosen");
    expect(dtbStrings(chosen, "bootargs")).toEqual(["console=ttyAMA0 quiet"]);
    const [, start = 0] = dtbCells(chosen, "linux,initrd-start") ?? [];
    const [, end = 0] = dtbCells(chosen, "linux,initrd-end") ?? [];
    expect(end - start).toBe(0x1800);
    // The initrd goes 2 MiB-aligned after image_size.
    expect(start).toBe(0x4060_0000);
    expect(vm.memory.read(start, 0x1800)).toEqual(new Uint8Array(0x1800).fill(0xab));
    // The whole file is in place (read from it straight into guest RAM), and image_size past it is zeroed.
    const image = new Uint8Array(readFileSync(config.kernel.image.path));
    expect(vm.memory.read(0x4020_0000, image.length)).toEqual(image);
    expect(vm.memory.read(0x4020_0000 + image.length, 0x30_0000 - image.length).every((b) => b === 0)).toBe(true);
    expect(findDtbNode(dtb.root, "/cpus/cpu@1")).toBeDefined();
  });

  test("the PL011 is on the MMIO bus and its interrupt is SPI INTID 33 of the in-kernel GIC", () => {
    const output: number[] = [];
    const { vm, halVm } = assemble(linuxConfig(), output);
    const uart = ARM64_VIRT.UART0_BASE;
    vm.buses.mmio.write(uart + PL011_IMSC, 4, BigInt(INT_TX));
    vm.buses.mmio.write(uart + PL011_DR, 4, 0x41n);
    expect(output).toEqual([0x41]);
    expect(halVm.irqLines.get(UART0_INTID)).toBe(true);
    expect(UART0_INTID).toBe(33);
  });

  test("console input reaches the PL011's receiver and raises its RX interrupt; the rest waits for room", () => {
    const board = new Arm64VirtBoard();
    const { vm, halVm } = assemble(linuxConfig(), [], board);
    const uart = ARM64_VIRT.UART0_BASE;
    vm.buses.mmio.write(uart + PL011_IMSC, 4, BigInt(INT_RX));
    board.consoleInput(new TextEncoder().encode("ls"));
    expect(halVm.irqLines.get(UART0_INTID)).toBe(true);
    // Without the FIFO the receiver holds one character: "l" now, "s" once it is read.
    expect(vm.buses.mmio.read(uart + PL011_DR, 4)).toMatchObject({ value: 0x6cn });
    expect(vm.buses.mmio.read(uart + PL011_DR, 4)).toMatchObject({ value: 0x73n });
    expect(vm.buses.mmio.read(uart + PL011_FR, 4)).toMatchObject({ value: BigInt(0x80 | 0x7 | FR_RXFE) });
    expect(halVm.irqLines.get(UART0_INTID)).toBe(false);
  });

  test("a shutdown request presses the power button: PL061 line 3 high, its SPI raised, let go once read and 100 ms passed", async () => {
    const board = new Arm64VirtBoard();
    expect(board.requestShutdown()).toBe("nothing (the machine is not built yet)");
    const { vm, halVm } = assemble(linuxConfig(), [], board);
    const gpio = ARM64_VIRT.GPIO_BASE;
    const line = 1 << ARM64_VIRT.POWER_KEY_GPIO_LINE;
    // What Linux's gpio-keys sets up: both edges of the line, interrupt enabled.
    vm.buses.mmio.write(gpio + PL061_IBE, 1, BigInt(line));
    vm.buses.mmio.write(gpio + PL061_IE, 1, BigInt(line));
    expect(board.requestShutdown()).toBe("the power button (GPIO key KEY_POWER)");
    expect(halVm.irqLines.get(GPIO_INTID)).toBe(true);
    expect(GPIO_INTID).toBe(39);
    expect(board.requestShutdown()).toBe("nothing: the power button is still held from the last press");
    vm.buses.mmio.write(gpio + PL061_IC, 1, BigInt(line));
    expect(halVm.irqLines.get(GPIO_INTID)).toBe(false);
    // Past 100 ms, but the guest has not read the line yet: still held...
    await Bun.sleep(ARM64_VIRT.POWER_KEY_PRESS_MS + 50);
    expect(vm.buses.mmio.read(gpio + (line << 2), 1)).toMatchObject({ value: BigInt(line) });
    // ...and let go once it has.
    await Bun.sleep(ARM64_VIRT.POWER_KEY_PRESS_MS);
    // Released: the line reads low and the falling edge is pending.
    expect(vm.buses.mmio.read(gpio + (line << 2), 1)).toMatchObject({ value: 0n });
    expect(halVm.irqLines.get(GPIO_INTID)).toBe(true);
    expect(board.requestShutdown()).toBe("the power button (GPIO key KEY_POWER)");
  });

  test("dtb_path is honoured: the file goes to dtb_load_addr and x0 points at it", () => {
    const dtbPath = join(dir, "user.dtb");
    const blob = buildArm64VirtDtb({
      cpuAffinities: [0],
      memory: [{ base: RAM.gpa, size: RAM.size }],
      bootargs: "from the user's tree",
      virtio: [],
    });
    writeFileSync(dtbPath, blob);
    const base = linuxConfig();
    const { vm, halVm } = assemble({
      ...base,
      cpuNum: 1,
      kernel: { ...base.kernel, dtb: { kind: "file", path: dtbPath, loadAddr: 0x4400_0000, size: blob.length } },
    });
    const x0 = halVm.vcpus[0]?.setups[0]?.gprs?.find(([reg]) => reg === AARCH64_REG_X0)?.[1];
    expect(x0).toBe(0x4400_0000n);
    expect(vm.memory.read(0x4400_0000, blob.length)).toEqual(blob);
  });

  test("RAM below 0x4000_0000, too many vCPUs and a bad Image are refused with the reason", () => {
    expect(() => assemble(linuxConfig({ memoryRegions: [{ ...RAM, gpa: 0x0 }] }))).toThrow(
      /overlaps the device area below 0x40000000; arm64 virt RAM starts there/,
    );
    expect(() => assemble(linuxConfig({ cpuNum: 124 }))).toThrow(/redistributor region holds 123 vCPUs/);
    const bad = linuxConfig();
    writeFileSync(bad.kernel.image.path, fakeArm64Image({ flags: 1n }));
    expect(() => assemble(bad)).toThrow(/big-endian kernel/);
    writeFileSync(bad.kernel.image.path, fakeArm64Image({}).subarray(0, 40));
    expect(() => assemble(bad)).toThrow(
      `Cannot boot ${bad.kernel.image.path}: 40 bytes is shorter than the 64-byte arm64 Image header`,
    );
  });

  test("a flat test guest enters at its entry point with x0 = the DTB", () => {
    const flat = join(dir, "guest.bin");
    writeFileSync(flat, new Uint8Array(0x100));
    const base = linuxConfig();
    const { halVm } = assemble({
      ...base,
      cpuNum: 1,
      kernel: {
        ...base.kernel,
        image: { path: flat, format: "raw", loadAddr: 0x4000_0000, size: 0x100 },
        entryPoint: 0x4000_0000,
        ramdisk: undefined,
      },
    });
    expect(halVm.vcpus[0]?.entry).toBe(0x4000_0000);
    const x0 = halVm.vcpus[0]?.setups[0]?.gprs?.find(([reg]) => reg === AARCH64_REG_X0)?.[1];
    expect(x0).toBe(BigInt(0x4000_0000 + RAM.size - 0x20_0000));
  });
});

import { describe, expect, test } from "bun:test";
import { hasCommand, testIf } from "../../../../test/support/skip.ts";
import { vcpuAffinity } from "../../../arch/aarch64/registers.ts";
import { dtbCells, dtbStrings, findDtbNode, parseDtb } from "../../fdt/fdt-reader.ts";
import { ARM64_UART_PATH, buildArm64VirtDtb } from "./device-tree.ts";
import { ARM64_VIRT, arm64VirtioWindow } from "./layout.ts";

const board = {
  cpuAffinities: Array.from({ length: 18 }, (_, i) => vcpuAffinity(i)),
  memory: [{ base: ARM64_VIRT.RAM_BASE, size: 0x1000_0000 }],
  bootargs: "console=ttyAMA0",
  initrd: { start: 0x4800_0000, end: 0x4810_0000 },
  virtio: [arm64VirtioWindow(0), arm64VirtioWindow(1)],
};

describe("arm64 virt device tree", () => {
  const dtb = parseDtb(buildArm64VirtDtb(board));
  const node = (path: string) => {
    const found = findDtbNode(dtb.root, path);
    if (found === undefined) throw new Error(`no node ${path}`);
    return found;
  };

  test("CPUs are named by their MPIDR affinity (16 per Aff1 cluster) and start through PSCI over HVC", () => {
    expect(dtbCells(node("/cpus/cpu@0"), "reg")).toEqual([0]);
    expect(dtbCells(node("/cpus/cpu@f"), "reg")).toEqual([15]);
    expect(dtbCells(node("/cpus/cpu@100"), "reg")).toEqual([0x100]);
    expect(dtbStrings(node("/cpus/cpu@101"), "enable-method")).toEqual(["psci"]);
    expect(dtbStrings(node("/psci"), "method")).toEqual(["hvc"]);
    expect(dtbStrings(node("/psci"), "compatible")).toContain("arm,psci-0.2");
  });

  test("the GICv3 frames, the timer PPIs, the PL011 and PL031 SPIs are the layout's", () => {
    const gic = node(`/intc@${ARM64_VIRT.GIC_DIST_BASE.toString(16)}`);
    expect(dtbStrings(gic, "compatible")).toEqual(["arm,gic-v3"]);
    expect(dtbCells(gic, "reg")).toEqual([0, 0x0800_0000, 0, 0x1_0000, 0, 0x080a_0000, 0, 0xf6_0000]);
    expect(dtbCells(node("/timer"), "interrupts")).toEqual([1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4]);
    expect(dtbCells(node(ARM64_UART_PATH), "interrupts")).toEqual([0, ARM64_VIRT.UART0_SPI, 4]);
    expect(dtbCells(node("/pl031@9010000"), "interrupts")).toEqual([0, ARM64_VIRT.RTC_SPI, 4]);
    expect(dtbCells(node("/virtio_mmio@a000200"), "interrupts")).toEqual([0, ARM64_VIRT.VIRTIO_MMIO_FIRST_SPI + 1, 4]);
  });

  test("the PL061 GPIO is a gpio-controller on SPI 7 and gpio-keys' poweroff is KEY_POWER on its line 3", () => {
    const gpio = node("/pl061@9030000");
    expect(dtbStrings(gpio, "compatible")).toEqual(["arm,pl061", "arm,primecell"]);
    expect(dtbCells(gpio, "interrupts")).toEqual([0, ARM64_VIRT.GPIO_SPI, 4]);
    expect(dtbCells(gpio, "#gpio-cells")).toEqual([2]);
    expect(gpio.properties.has("gpio-controller")).toBe(true);
    expect(dtbStrings(node("/gpio-keys"), "compatible")).toEqual(["gpio-keys"]);
    const key = node("/gpio-keys/poweroff");
    expect(dtbCells(key, "linux,code")).toEqual([116]);
    const [phandle, line, flags] = dtbCells(key, "gpios") ?? [];
    expect(phandle).toBe(dtbCells(gpio, "phandle")?.[0]);
    expect([line, flags]).toEqual([3, 0]);
  });

  test("chosen carries the command line, the console and the initrd", () => {
    const chosen = node("/chosen");
    expect(dtbStrings(chosen, "bootargs")).toEqual(["console=ttyAMA0"]);
    expect(dtbStrings(chosen, "stdout-path")).toEqual([ARM64_UART_PATH]);
    expect(dtbCells(chosen, "linux,initrd-start")).toEqual([0, 0x4800_0000]);
    expect(dtbCells(chosen, "linux,initrd-end")).toEqual([0, 0x4810_0000]);
  });

  test("a description without CPUs or RAM is refused, naming the field", () => {
    expect(() => buildArm64VirtDtb({ ...board, cpuAffinities: [] })).toThrow(/cpuAffinities is empty/);
    expect(() => buildArm64VirtDtb({ ...board, memory: [] })).toThrow(/memory is empty/);
  });

  testIf(hasCommand("dtc"), "dtc checks the arm64 virt DT")("dtc decompiles it without warnings", () => {
    const result = Bun.spawnSync(["dtc", "-I", "dtb", "-O", "dts", "-o", "-", "-"], {
      stdin: buildArm64VirtDtb(board),
    });
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout.toString()).toContain('compatible = "arm,pl011\\0arm,primecell";');
  });
});

import { describe, expect, test } from "bun:test";
import { hasCommand, testIf } from "../../../../test/support/skip.ts";
import { FdtError } from "../../fdt/fdt.ts";
import { type DtbNode, dtbCells, dtbStrings, findDtbNode, parseDtb } from "../../fdt/fdt-reader.ts";
import {
  buildRiscvVirtDtb,
  buildRiscvVirtFdt,
  plicContexts,
  type RiscvBoardDescription,
  riscvIsa,
  virtBoardDescription,
} from "./device-tree.ts";
import { plicContext, plicSize, RISCV_VIRT, virtioMmioWindow } from "./layout.ts";

/** The board the VMM builds for configs/linux-riscv64*.toml, from the shared layout. */
function sampleBoard(harts: number, overrides: Partial<RiscvBoardDescription> = {}): RiscvBoardDescription {
  return {
    harts,
    isaExtensions: ["i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "sstc"],
    mmuType: "riscv,sv39",
    timebaseFrequency: 10_000_000,
    memory: [{ base: RISCV_VIRT.RAM_BASE, size: 128 * 1024 * 1024 }],
    chosen: { bootargs: "console=ttyS0 earlycon=sbi", initrd: { start: 0x8400_0000, end: 0x8410_0000 } },
    plic: { base: RISCV_VIRT.PLIC_BASE, size: plicSize(harts), ndev: RISCV_VIRT.PLIC_NUM_SOURCES - 1 },
    uart: {
      base: RISCV_VIRT.UART0_BASE,
      size: RISCV_VIRT.UART0_SIZE,
      irq: RISCV_VIRT.UART0_IRQ,
      clockFrequency: RISCV_VIRT.UART0_CLOCK_HZ,
    },
    rtc: { base: RISCV_VIRT.GOLDFISH_RTC_BASE, size: RISCV_VIRT.GOLDFISH_RTC_SIZE, irq: RISCV_VIRT.GOLDFISH_RTC_IRQ },
    virtio: Array.from({ length: 2 }, (_, i) => virtioMmioWindow(i)),
    testFinisher: { base: RISCV_VIRT.SIFIVE_TEST_BASE, size: RISCV_VIRT.SIFIVE_TEST_SIZE },
    ...overrides,
  };
}

function node(root: DtbNode, path: string): DtbNode {
  const found = findDtbNode(root, path);
  if (found === undefined) throw new Error(`missing ${path}`);
  return found;
}

describe("riscvIsa", () => {
  test("canonical order: single letters, then Z by category, then S, then X", () => {
    expect(
      riscvIsa(64, ["sstc", "c", "zifencei", "d", "i", "zicsr", "a", "f", "m", "svpbmt", "zba", "xfoo", "h"]),
    ).toEqual({
      isa: "rv64imafdch_zicsr_zifencei_zba_sstc_svpbmt_xfoo",
      base: "rv64i",
      extensions: ["i", "m", "a", "f", "d", "c", "h", "zicsr", "zifencei", "zba", "sstc", "svpbmt", "xfoo"],
    });
  });
  test("g expands; duplicates collapse; case is ignored", () => {
    expect(riscvIsa(64, ["G", "c", "m"]).isa).toBe("rv64imafdc_zicsr_zifencei");
  });
  test("unknown names and a missing base are refused", () => {
    expect(() => riscvIsa(64, ["i", "y"])).toThrow('"y" is not a RISC-V extension name');
    expect(() => riscvIsa(64, ["i", "zi-csr"])).toThrow(FdtError);
    expect(() => riscvIsa(64, ["m", "a"])).toThrow('the base integer extension "i" is missing');
  });
});

describe("plicContexts", () => {
  test("QEMU numbering: 2h = M (not delivered), 2h+1 = S, matching the layout's plicContext", () => {
    const contexts = plicContexts(2);
    expect(contexts).toEqual([
      { context: 0, hart: 0, mode: "M", delivered: false },
      { context: 1, hart: 0, mode: "S", delivered: true },
      { context: 2, hart: 1, mode: "M", delivered: false },
      { context: 3, hart: 1, mode: "S", delivered: true },
    ]);
    for (const c of contexts) expect(c.context).toBe(plicContext(c.hart, c.mode));
  });
  test("supervisor-only numbering: context h = hart h S-mode", () => {
    expect(plicContexts(3, "supervisor-only").map((c) => [c.context, c.hart, c.mode])).toEqual([
      [0, 0, "S"],
      [1, 1, "S"],
      [2, 2, "S"],
    ]);
  });
});

describe("buildRiscvVirtFdt", () => {
  const dtb = parseDtb(buildRiscvVirtDtb(sampleBoard(2)));
  const root = dtb.root;

  test("root, chosen and aliases", () => {
    expect(dtbCells(root, "#address-cells")).toEqual([2]);
    expect(dtbCells(root, "#size-cells")).toEqual([2]);
    const chosen = node(root, "/chosen");
    expect(dtbStrings(chosen, "bootargs")).toEqual(["console=ttyS0 earlycon=sbi"]);
    expect(dtbStrings(chosen, "stdout-path")).toEqual(["/soc/serial@10000000"]);
    expect(dtbCells(chosen, "linux,initrd-start")).toEqual([0, 0x8400_0000]);
    expect(dtbCells(chosen, "linux,initrd-end")).toEqual([0, 0x8410_0000]);
    expect(dtbStrings(node(root, "/aliases"), "serial0")).toEqual(["/soc/serial@10000000"]);
  });

  test("memory node", () => {
    const memory = node(root, "/memory@80000000");
    expect(dtbStrings(memory, "device_type")).toEqual(["memory"]);
    expect(dtbCells(memory, "reg")).toEqual([0, 0x8000_0000, 0, 0x800_0000]);
  });

  test("cpus: one node per hart with ISA, MMU type and an interrupt controller; cpu-map", () => {
    const cpus = node(root, "/cpus");
    expect(dtbCells(cpus, "timebase-frequency")).toEqual([10_000_000]);
    expect(dtbCells(cpus, "#address-cells")).toEqual([1]);
    expect(dtbCells(cpus, "#size-cells")).toEqual([0]);
    for (const hart of [0, 1]) {
      const cpu = node(root, `/cpus/cpu@${hart}`);
      expect(dtbStrings(cpu, "device_type")).toEqual(["cpu"]);
      expect(dtbCells(cpu, "reg")).toEqual([hart]);
      expect(dtbStrings(cpu, "status")).toEqual(["okay"]);
      expect(dtbStrings(cpu, "compatible")).toEqual(["riscv"]);
      expect(dtbStrings(cpu, "riscv,isa")).toEqual(["rv64imafdc_zicsr_zifencei_sstc"]);
      expect(dtbStrings(cpu, "riscv,isa-base")).toEqual(["rv64i"]);
      expect(dtbStrings(cpu, "riscv,isa-extensions")).toEqual([
        "i",
        "m",
        "a",
        "f",
        "d",
        "c",
        "zicsr",
        "zifencei",
        "sstc",
      ]);
      expect(dtbStrings(cpu, "mmu-type")).toEqual(["riscv,sv39"]);
      const intc = node(cpu, "/interrupt-controller");
      expect(dtbStrings(intc, "compatible")).toEqual(["riscv,cpu-intc"]);
      expect(dtbCells(intc, "#interrupt-cells")).toEqual([1]);
      expect(intc.properties.has("interrupt-controller")).toBe(true);
      expect(dtbCells(node(root, `/cpus/cpu-map/cluster0/core${hart}`), "cpu")).toEqual(dtbCells(cpu, "phandle"));
    }
  });

  test("PLIC: compatible, ndev, and M+S contexts per hart in QEMU order", () => {
    const plic = node(root, "/soc/plic@c000000");
    expect(dtbStrings(plic, "compatible")).toEqual(["sifive,plic-1.0.0", "riscv,plic0"]);
    expect(dtbCells(plic, "riscv,ndev")).toEqual([95]);
    expect(dtbCells(plic, "reg")).toEqual([0, 0xc00_0000, 0, plicSize(2)]);
    expect(dtbCells(plic, "#interrupt-cells")).toEqual([1]);
    const intc0 = dtbCells(node(root, "/cpus/cpu@0/interrupt-controller"), "phandle")?.[0];
    const intc1 = dtbCells(node(root, "/cpus/cpu@1/interrupt-controller"), "phandle")?.[0];
    expect(dtbCells(plic, "interrupts-extended")).toEqual([
      intc0 ?? -1,
      11,
      intc0 ?? -1,
      9,
      intc1 ?? -1,
      11,
      intc1 ?? -1,
      9,
    ]);
  });

  test("supervisor-only layout lists one S context per hart", () => {
    const board = sampleBoard(2, {
      plic: { base: RISCV_VIRT.PLIC_BASE, size: plicSize(2), ndev: 95, contextLayout: "supervisor-only" },
    });
    const r = parseDtb(buildRiscvVirtDtb(board)).root;
    const cells = dtbCells(node(r, "/soc/plic@c000000"), "interrupts-extended") ?? [];
    expect(cells.filter((_, i) => i % 2 === 1)).toEqual([9, 9]);
  });

  test("UART, virtio-mmio windows and their interrupts point at the PLIC", () => {
    const plicPhandle = dtbCells(node(root, "/soc/plic@c000000"), "phandle");
    const uart = node(root, "/soc/serial@10000000");
    expect(dtbStrings(uart, "compatible")).toEqual(["ns16550a"]);
    expect(dtbCells(uart, "reg")).toEqual([0, 0x1000_0000, 0, 0x100]);
    expect(dtbCells(uart, "clock-frequency")).toEqual([3_686_400]);
    expect(dtbCells(uart, "interrupts")).toEqual([10]);
    expect(dtbCells(uart, "interrupt-parent")).toEqual(plicPhandle);
    const v1 = node(root, "/soc/virtio_mmio@10002000");
    expect(dtbStrings(v1, "compatible")).toEqual(["virtio,mmio"]);
    expect(dtbCells(v1, "interrupts")).toEqual([2]);
    expect(dtbCells(v1, "interrupt-parent")).toEqual(plicPhandle);
  });

  test("the Goldfish RTC where QEMU's virt has it: 0x101000, PLIC source 11", () => {
    const rtc = node(root, "/soc/rtc@101000");
    expect(dtbStrings(rtc, "compatible")).toEqual(["google,goldfish-rtc"]);
    expect(dtbCells(rtc, "reg")).toEqual([0, 0x10_1000, 0, 0x1000]);
    expect(dtbCells(rtc, "interrupts")).toEqual([11]);
    expect(dtbCells(rtc, "interrupt-parent")).toEqual(dtbCells(node(root, "/soc/plic@c000000"), "phandle"));
    expect(() => buildRiscvVirtFdt(sampleBoard(1, { rtc: { base: 0x10_1000, size: 0x1000, irq: 0 } }))).toThrow(
      "rtc.irq is 0, expected a PLIC source 1..95",
    );
  });

  test("test finisher as syscon with poweroff (0x5555) and reboot (0x7777)", () => {
    const finisher = node(root, "/soc/test@100000");
    expect(dtbStrings(finisher, "compatible")).toEqual(["sifive,test1", "sifive,test0", "syscon"]);
    const phandle = dtbCells(finisher, "phandle");
    expect(dtbCells(node(root, "/poweroff"), "regmap")).toEqual(phandle);
    expect(dtbCells(node(root, "/poweroff"), "value")).toEqual([0x5555]);
    expect(dtbStrings(node(root, "/reboot"), "compatible")).toEqual(["syscon-reboot"]);
    expect(dtbCells(node(root, "/reboot"), "value")).toEqual([0x7777]);
  });

  test("optional parts are left out", () => {
    const { uart: _u, virtio: _v, testFinisher: _t, rtc: _r, ...rest } = sampleBoard(1);
    const r = parseDtb(buildRiscvVirtDtb({ ...rest, chosen: {} })).root;
    expect(findDtbNode(r, "/aliases")).toBeUndefined();
    expect(findDtbNode(r, "/poweroff")).toBeUndefined();
    expect(node(r, "/chosen").properties.size).toBe(0);
    expect(node(r, "/soc").children.map((c) => c.name)).toEqual(["plic@c000000"]);
  });

  test("memory reservations go into the reservation block", () => {
    const d = parseDtb(buildRiscvVirtDtb(sampleBoard(1, { reservedMemory: [{ base: 0x8000_0000, size: 0x8_0000 }] })));
    expect(d.reservations).toEqual([{ address: 0x8000_0000n, size: 0x8_0000n }]);
  });

  test("bad descriptions name the field and the value", () => {
    expect(() => buildRiscvVirtFdt(sampleBoard(0))).toThrow(
      "Cannot build the riscv virt device tree: harts is 0, expected at least 1",
    );
    expect(() => buildRiscvVirtFdt(sampleBoard(1, { memory: [] }))).toThrow("memory is empty");
    expect(() => buildRiscvVirtFdt(sampleBoard(1, { virtio: [{ base: 0x1000_1000, size: 0x1000, irq: 96 }] }))).toThrow(
      "virtio[0].irq is 96, expected a PLIC source 1..95",
    );
    expect(() => buildRiscvVirtFdt(sampleBoard(1, { chosen: { initrd: { start: 10, end: 5 } } }))).toThrow(
      "chosen.initrd [0xa, 0x5) is not a valid range",
    );
    expect(() => buildRiscvVirtFdt(sampleBoard(1, { timebaseFrequency: 0 }))).toThrow("timebaseFrequency is 0");
  });
});

const dtcPresent = hasCommand("dtc");

describe("dtc check", () => {
  testIf(dtcPresent, "dtc decompiles the board DT without warnings")("dtc -I dtb -O dts, no warnings", () => {
    const result = Bun.spawnSync(["dtc", "-I", "dtb", "-O", "dts", "-o", "-", "-"], {
      stdin: buildRiscvVirtDtb(sampleBoard(2)),
      stdout: "pipe",
      stderr: "pipe",
    });
    const dts = result.stdout.toString();
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
    expect(dts).toContain('riscv,isa = "rv64imafdc_zicsr_zifencei_sstc";');
    expect(dts).toContain("interrupts-extended = <0x03 0x0b 0x03 0x09 0x04 0x0b 0x04 0x09>;");
    expect(dts).toContain('stdout-path = "/soc/serial@10000000";');
  });
});

describe("virtBoardDescription", () => {
  test("the layout's devices, RV64GC by default, sstc only when asked", () => {
    const board = virtBoardDescription({
      harts: 2,
      memory: [{ base: 0x8000_0000, size: 0x800_0000 }],
      mmuType: "riscv,sv48",
      bootargs: "quiet",
    });
    expect(board.plic).toEqual({
      base: RISCV_VIRT.PLIC_BASE,
      size: plicSize(2),
      ndev: 95,
      contextLayout: "machine-and-supervisor",
    });
    expect(board.uart?.irq).toBe(RISCV_VIRT.UART0_IRQ);
    expect(board.rtc).toEqual({ base: 0x10_1000, size: 0x1000, irq: 11 });
    expect(board.virtio).toHaveLength(RISCV_VIRT.VIRTIO_MMIO_COUNT);
    expect(board.chosen).toEqual({ bootargs: "quiet" });
    const cpu = node(parseDtb(buildRiscvVirtDtb(board)).root, "/cpus/cpu@1");
    // By default the emulated hart's extensions: RV64GC with Zba, Zbb, Zbc, Zbs, in canonical order.
    expect(dtbStrings(cpu, "riscv,isa")).toEqual(["rv64imafdc_zicsr_zifencei_zba_zbb_zbc_zbs"]);
    expect(dtbStrings(cpu, "riscv,isa-extensions")).toEqual([
      "i",
      "m",
      "a",
      "f",
      "d",
      "c",
      "zicsr",
      "zifencei",
      "zba",
      "zbb",
      "zbc",
      "zbs",
    ]);
    expect(dtbStrings(cpu, "mmu-type")).toEqual(["riscv,sv48"]);
    const withSstc = virtBoardDescription({ harts: 1, memory: board.memory, mmuType: "riscv,sv39", sstc: true });
    expect(riscvIsa(64, withSstc.isaExtensions).isa).toBe("rv64imafdc_zicsr_zifencei_zba_zbb_zbc_zbs_sstc");
    const rv64gc = virtBoardDescription({
      harts: 1,
      memory: board.memory,
      mmuType: "riscv,sv39",
      isaExtensions: ["g", "c"],
    });
    expect(riscvIsa(64, rv64gc.isaExtensions).isa).toBe("rv64imafdc_zicsr_zifencei");
  });
  test("supervisor-only PLIC window holds one context per hart", () => {
    const board = virtBoardDescription({
      harts: 3,
      memory: [{ base: 0x8000_0000, size: 0x100_0000 }],
      mmuType: "riscv,sv39",
      plicContextLayout: "supervisor-only",
    });
    expect(board.plic.size).toBe(0x20_0000 + 3 * 0x1000);
  });
});

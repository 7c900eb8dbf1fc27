/**
 * The PC board's wiring inside an assembled VM (scripted fake backend): ACPI power-off and reset through the port
 * bus, the shutdown request (Ctrl-Alt-Del or the ACPI power button), COM1 console input, and the virtio-mmio devices
 * with their DSDT entries.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeBackend } from "../../../../test/support/fake-backend.ts";
import { MemoryNetBackend } from "../../../../test/support/memory-net-backend.ts";
import { testVmConfig } from "../../../../test/support/vm-config.ts";
import { makeBzImage } from "../../../../test/support/x86-test-images.ts";
import { ACPI_PM1_PWRBTN_EN, ACPI_PM1_PWRBTN_STS, ACPI_PM1_SLP_EN } from "../../../devices/acpi-pm.ts";
import { I8042_STR_OBF } from "../../../devices/i8042.ts";
import { LSR_DR, UART_LSR, UART_RBR } from "../../../devices/uart16550.ts";
import type { AxVCpuExitReason } from "../../../hal/types.ts";
import { assembleVm } from "../../builder.ts";
import type { EmulatedDeviceConfig, VmConfig } from "../../config/types.ts";
import { ACPI_SLP_TYP_S5 } from "./acpi.ts";
import { X86PcBoard } from "./board.ts";
import {
  ACPI_PM1A_EVT_PORT,
  ACPI_RESET_PORT,
  ACPI_RESET_VALUE,
  ACPI_SCI_GSI,
  ACPI_START,
  COM1_PORT,
  HIMEM_START,
  I8042_KBD_IRQ,
  I8042_PORT,
  virtioMmioWindow,
} from "./layout.ts";

const dir = mkdtempSync(join(tmpdir(), "x86-board-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const flatKernel = join(dir, "flat.bin");
writeFileSync(flatKernel, Uint8Array.of(0xf4)); // hlt
const bzImage = join(dir, "bzImage");
writeFileSync(bzImage, makeBzImage());
const diskImage = join(dir, "disk.img");
writeFileSync(diskImage, new Uint8Array(0x10_0000));

function x86Config(overrides: Partial<VmConfig> = {}): VmConfig {
  const base = testVmConfig({ arch: "x86_64" });
  return {
    ...base,
    kernel: {
      ...base.kernel,
      entryPoint: 0x8000,
      image: { path: flatKernel, format: "raw", loadAddr: 0x8000, size: 1 },
    },
    memoryRegions: [{ gpa: 0, size: 0x400_0000, flags: 7, mapType: "alloc" }],
    ...overrides,
  };
}

function linuxConfig(diskPath: string | undefined, emuDevices: EmulatedDeviceConfig[] = []): VmConfig {
  const base = x86Config();
  return {
    ...base,
    vmType: "linux",
    kernel: {
      ...base.kernel,
      image: { path: bzImage, format: "bzimage", loadAddr: HIMEM_START, size: undefined },
      cmdline: "console=ttyS0",
    },
    devices: {
      ...base.devices,
      emuDevices,
      disks:
        diskPath === undefined ? [] : [{ path: diskPath, readOnly: false, serial: undefined, key: "kernel.disk_path" }],
    },
  };
}

function assemble(config: VmConfig, exits: AxVCpuExitReason[] = []) {
  const backend = new FakeBackend().script(config.id, 0, exits);
  const board = new X86PcBoard();
  const vm = assembleVm(config, {
    hypervisor: backend.open(),
    board,
    console: { write: () => undefined, close: () => undefined },
    openNet: (net) => ({
      config: net,
      backend: new MemoryNetBackend(),
      mac: Uint8Array.of(0x52, 0x54, 0, 0, 0, 1),
      close: () => undefined,
    }),
  });
  const halVm = backend.vms[0];
  if (halVm === undefined) throw new Error("no backend VM");
  const port = {
    read: (addr: number, width: 1 | 2 | 4) => {
      const r = vm.buses.port.read(addr, width);
      if (r.kind !== "ok") throw new Error(`port read ${addr.toString(16)}: ${r.kind}`);
      return Number(r.value);
    },
    write: (addr: number, width: 1 | 2 | 4, value: number) => vm.buses.port.write(addr, width, BigInt(value)),
  };
  return { vm, board, halVm, port };
}

const ioWrite = (port: number, width: 1 | 2 | 4, data: number): AxVCpuExitReason => ({
  kind: "IoWrite",
  port,
  width,
  data: BigInt(data),
});
const s5 = (ACPI_SLP_TYP_S5 << 10) | ACPI_PM1_SLP_EN;

describe("ACPI power-off and reset through the port bus", () => {
  test("SLP_TYP = \\_S5 with SLP_EN in PM1a_CNT ends the VM as a poweroff with code 0", async () => {
    const { vm } = assemble(x86Config(), [ioWrite(ACPI_PM1A_EVT_PORT + 4, 2, s5)]);
    expect(await vm.run()).toMatchObject({ reason: "poweroff", exitCode: 0 });
  });

  test("a sleep type the DSDT does not declare is ignored: the guest goes on", async () => {
    const { vm } = assemble(x86Config(), [
      ioWrite(ACPI_PM1A_EVT_PORT + 4, 2, (3 << 10) | ACPI_PM1_SLP_EN),
      { kind: "SystemDown", action: "poweroff", code: 7 },
    ]);
    expect(await vm.run()).toMatchObject({ reason: "poweroff", exitCode: 7 });
  });

  test("the FADT's reset register (0xFE to the i8042 command port) resets: reboot, or stop with on_reset = stop", async () => {
    const reset = ioWrite(ACPI_RESET_PORT, 1, ACPI_RESET_VALUE);
    expect(await assemble(x86Config(), [reset]).vm.run()).toMatchObject({ reason: "reboot" });
    expect(await assemble(x86Config({ onReset: "stop" }), [reset]).vm.run()).toMatchObject({
      reason: "poweroff",
      exitCode: 0,
    });
  });
});

describe("the shutdown request (Ctrl-A R)", () => {
  test("without an ACPI power-button listener it types Ctrl-Alt-Del on the keyboard, on IRQ 1", () => {
    const { board, halVm, port } = assemble(x86Config());
    expect(board.requestShutdown()).toBe("Ctrl-Alt-Del on the keyboard");
    expect(halVm.irqLines.get(I8042_KBD_IRQ)).toBe(true);
    const bytes: number[] = [];
    while ((port.read(I8042_PORT + 4, 1) & I8042_STR_OBF) !== 0) bytes.push(port.read(I8042_PORT, 1));
    expect(bytes).toEqual([0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11, 0xf0, 0x14]);
    expect(halVm.irqLines.get(I8042_KBD_IRQ)).toBe(false);
  });

  test("once the guest enables PWRBTN_EN it presses the ACPI power button: PWRBTN_STS and the SCI on GSI 9", () => {
    const { board, halVm, port } = assemble(x86Config());
    port.write(ACPI_PM1A_EVT_PORT + 2, 2, ACPI_PM1_PWRBTN_EN);
    expect(board.requestShutdown()).toBe("the ACPI power button");
    expect(port.read(ACPI_PM1A_EVT_PORT, 2)).toBe(ACPI_PM1_PWRBTN_STS);
    expect(halVm.irqLines.get(ACPI_SCI_GSI)).toBe(true);
    // The OS acknowledges the event: the SCI drops. The keyboard saw nothing.
    port.write(ACPI_PM1A_EVT_PORT, 2, ACPI_PM1_PWRBTN_STS);
    expect(halVm.irqLines.get(ACPI_SCI_GSI)).toBe(false);
    expect(port.read(I8042_PORT + 4, 1) & I8042_STR_OBF).toBe(0);
  });
});

test("host console input reaches COM1 in order, fed as the receive FIFO frees up", () => {
  const { board, port } = assemble(x86Config());
  const typed = Uint8Array.from({ length: 40 }, (_, i) => 0x41 + (i % 26));
  board.consoleInput(typed);
  const received: number[] = [];
  while ((port.read(COM1_PORT + UART_LSR, 1) & LSR_DR) !== 0) received.push(port.read(COM1_PORT + UART_RBR, 1));
  expect(received).toEqual([...typed]);
});

describe("virtio-mmio on the PC board", () => {
  const text = (bytes: Uint8Array): string => new TextDecoder("latin1").decode(bytes);

  test("disk_path is a virtio-blk in window 0, an rng entry goes where it says; the DSDT lists both", () => {
    const rngWindow = virtioMmioWindow(1);
    const { vm } = assemble(
      linuxConfig(diskImage, [
        {
          name: "rng",
          baseGpa: rngWindow.base,
          length: rngWindow.size,
          irqId: rngWindow.gsi,
          emuType: "virtio-rng",
          cfgList: [],
        },
      ]),
    );
    const read32 = (addr: number): number => {
      const r = vm.buses.mmio.read(addr, 4);
      return r.kind === "ok" ? Number(r.value) : -1;
    };
    // MagicValue "virt", DeviceID 2 (block) and 4 (entropy source).
    expect([read32(virtioMmioWindow(0).base), read32(virtioMmioWindow(0).base + 8)]).toEqual([0x7472_6976, 2]);
    expect(read32(rngWindow.base + 8)).toBe(4);
    const acpi = text(vm.memory.read(ACPI_START, HIMEM_START - ACPI_START));
    expect(acpi.split("LNRO0005").length - 1).toBe(2);
    expect(acpi).toContain("VR00");
    expect(acpi).toContain("VR01");
    vm.shutdown();
  });

  test("a net takes the next free window after the disk, on its own GSI, and the DSDT lists it", () => {
    const disk = join(dir, "net-test-disk.img");
    writeFileSync(disk, new Uint8Array(0x1000));
    const base = linuxConfig(disk);
    const { vm } = assemble({
      ...base,
      devices: {
        ...base.devices,
        nets: [{ tap: "tap0", mac: "52:54:00:00:00:01", macFrom: "config", key: "devices.nets[0]" }],
      },
    });
    const read32 = (addr: number): number => {
      const r = vm.buses.mmio.read(addr, 4);
      return r.kind === "ok" ? Number(r.value) : -1;
    };
    // DeviceID 1 (network card) in window 1, whose GSI is 17.
    expect(read32(virtioMmioWindow(1).base + 8)).toBe(1);
    expect(virtioMmioWindow(1).gsi).toBe(17);
    const acpi = text(vm.memory.read(ACPI_START, HIMEM_START - ACPI_START));
    expect(acpi.split("LNRO0005").length - 1).toBe(2);
    vm.shutdown();
    void vm.run();
  });

  test("no disk and no entries: no virtio device and none in the DSDT", () => {
    const { vm } = assemble(linuxConfig(undefined));
    expect(vm.buses.mmio.read(virtioMmioWindow(0).base, 4).kind).toBe("unmapped");
    expect(text(vm.memory.read(ACPI_START, HIMEM_START - ACPI_START))).not.toContain("LNRO0005");
    vm.shutdown();
  });

  test("entries on a GSI another device uses, or outside the MMIO device area, are refused with the reason", () => {
    const entry = (baseGpa: number, irqId: number): EmulatedDeviceConfig => ({
      name: "rng",
      baseGpa,
      length: 0x1000,
      irqId,
      emuType: "virtio-rng",
      cfgList: [],
    });
    expect(() => assemble(linuxConfig(undefined, [entry(virtioMmioWindow(2).base, 4)]))).toThrow(
      'emu_devices entry "rng" (virtio-rng) uses GSI 4, which is COM1\'s',
    );
    expect(() =>
      assemble(linuxConfig(undefined, [entry(virtioMmioWindow(2).base, 17), entry(virtioMmioWindow(3).base, 17)])),
    ).toThrow(/uses GSI 17, which is emu_devices entry "rng" \(virtio-rng\)'s/);
    expect(() => assemble(linuxConfig(undefined, [entry(0xfee0_0000, 20)]))).toThrow(
      /at 0xfee00000\.\.0xfee00fff is outside the x86-pc board's MMIO device area/,
    );
    expect(() => assemble(linuxConfig(undefined, [entry(virtioMmioWindow(2).base, 24)]))).toThrow(
      /uses GSI 24: the IOAPIC has GSIs 0..23/,
    );
  });
});

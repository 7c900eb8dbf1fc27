/**
 * The riscv-virt board's device placement through the builder (with the fake backend, so nothing runs): the
 * Goldfish RTC where QEMU's virt has it, and the default virtio-rng beside the config's own virtio entries.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeBackend } from "../../../../test/support/fake-backend.ts";
import { testVmConfig } from "../../../../test/support/vm-config.ts";
import { buildVm } from "../../builder.ts";
import { parseVmConfig } from "../../config/index.ts";
import type { EmulatedDeviceConfig, VmConfig } from "../../config/types.ts";
import type { AxVM } from "../../vm.ts";
import { RISCV_VIRT, virtioMmioWindow } from "./layout.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-riscv-devices-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const kernel = join(dir, "kernel.bin");
writeFileSync(kernel, new Uint8Array(4));

async function build(devices: Partial<VmConfig["devices"]> = {}): Promise<AxVM> {
  const base = testVmConfig({ kernelPath: kernel });
  return buildVm(testVmConfig({ kernelPath: kernel, devices: { ...base.devices, ...devices } }), {
    backends: [new FakeBackend()],
    hypervisorFor: (b) => b.open(),
  });
}

/** What sits in each of the layout's virtio-mmio windows, by device name. */
function windows(vm: AxVM): string[] {
  return Array.from(
    { length: RISCV_VIRT.VIRTIO_MMIO_COUNT },
    (_, i) => vm.buses.mmio.lookup(virtioMmioWindow(i).base)?.device.name ?? "nothing",
  );
}

async function done(vm: AxVM): Promise<void> {
  vm.shutdown();
  await vm.run();
}

const EMPTY = "virtio-mmio (empty)";
const entry = (name: string, emuType: EmulatedDeviceConfig["emuType"], window: number): EmulatedDeviceConfig => ({
  name,
  baseGpa: virtioMmioWindow(window).base,
  length: 0x1000,
  irqId: virtioMmioWindow(window).irq,
  emuType,
  cfgList: [],
});

describe("riscv-virt devices", () => {
  test("a Goldfish RTC at 0x101000 and, by default, a virtio-rng in the highest virtio window", async () => {
    const vm = await build();
    expect(vm.buses.mmio.lookup(RISCV_VIRT.GOLDFISH_RTC_BASE)?.device.name).toBe("goldfish-rtc");
    expect(RISCV_VIRT.GOLDFISH_RTC_BASE).toBe(0x10_1000);
    expect(RISCV_VIRT.GOLDFISH_RTC_IRQ).toBe(11);
    expect(windows(vm)).toEqual([EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, "virtio-rng"]);
    await done(vm);
  });

  test("the [devices] rng key: true by default, false turns the device off, anything else is refused", () => {
    const text = (devices: string): string =>
      `[base]\nid = 1\nname = "t"\ncpu_num = 1\n[kernel]\nkernel_path = "kernel.bin"\nkernel_load_addr = 0x8020_0000\n` +
      `memory_regions = [[0x8000_0000, 0x100_0000, 0x7, 0]]\n[devices]\n${devices}\n`;
    const parse = (devices: string): VmConfig => parseVmConfig(text(devices), { baseDir: dir, sourceName: "t.toml" });
    expect(parse("").devices.rng).toBe(true);
    expect(parse("rng = false").devices.rng).toBe(false);
    expect(() => parse('rng = "no"')).toThrow("devices.rng");
  });

  test("[devices] rng = false leaves it out", async () => {
    const vm = await build({ rng: false });
    expect(windows(vm)).toEqual(Array.from({ length: 8 }, () => EMPTY));
    await done(vm);
  });

  test("an explicit virtio-rng entry replaces the default one", async () => {
    const vm = await build({ emuDevices: [entry("my-rng", "virtio-rng", 2)] });
    expect(windows(vm)).toEqual([EMPTY, EMPTY, "virtio-rng", EMPTY, EMPTY, EMPTY, EMPTY, EMPTY]);
    await done(vm);
  });

  test("the default goes below explicit entries: a window's range or PLIC source in use is skipped", async () => {
    const vm = await build({ emuDevices: [entry("console", "virtio-console", 7)] });
    expect(windows(vm)).toEqual([EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, "virtio-rng", "virtio-console"]);
    await done(vm);
    // An entry outside the windows that takes window 6's PLIC source (7) pushes the default to window 5.
    const elsewhere: EmulatedDeviceConfig = { ...entry("console", "virtio-console", 6), baseGpa: 0x2000_0000 };
    const vm2 = await build({ emuDevices: [entry("console", "virtio-console", 7), elsewhere] });
    expect(windows(vm2)).toEqual([EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, "virtio-rng", EMPTY, "virtio-console"]);
    await done(vm2);
  });

  test("with every window taken there is no default virtio-rng, and nothing fails", async () => {
    const all = Array.from({ length: 8 }, (_, i) => entry(`c${i}`, "virtio-console", i));
    const vm = await build({ emuDevices: all });
    expect(windows(vm)).toEqual(Array.from({ length: 8 }, () => "virtio-console"));
    await done(vm);
  });
});

import { describe, expect, test } from "bun:test";
import { testVmConfig } from "../../../../test/support/vm-config.ts";
import { Bus } from "../../../devices/bus.ts";
import { POST_CODE_PORT } from "../../../devices/unclaimed-port.ts";
import { X86_PRIVATE_PAGES_SIZE } from "../../../hal/types.ts";
import { X86PcBoard } from "./board.ts";
import {
  ACPI_PM1A_EVT_PORT,
  COM1_PORT,
  I8042_PORT,
  KVM_PRIVATE_SIZE,
  KVM_PRIVATE_START,
  MMIO_MEM_START,
  RTC_PORT,
} from "./layout.ts";
import { attachX86LegacyDevices } from "./legacy-devices.ts";

test("the board hands the backend the private pages its layout reserves, inside the MMIO hole", () => {
  const options = new X86PcBoard().vmOptions(testVmConfig({ arch: "x86_64" }));
  expect(options.x86.privatePagesBase).toBe(KVM_PRIVATE_START);
  expect(KVM_PRIVATE_SIZE).toBe(X86_PRIVATE_PAGES_SIZE);
  expect(KVM_PRIVATE_START).toBeGreaterThan(MMIO_MEM_START);
  expect(KVM_PRIVATE_START + KVM_PRIVATE_SIZE).toBeLessThanOrEqual(0x1_0000_0000);
});

describe("legacy devices on the port bus", () => {
  function attach() {
    const portBus = new Bus("port");
    const mmioBus = new Bus("mmio");
    const devices = attachX86LegacyDevices({
      portBus,
      mmioBus,
      setIrqLine: () => {},
      serialSink: () => {},
      onReset: () => {},
      onBootComplete: () => {},
      onPowerOff: () => {},
      onUnsupportedSleep: () => {},
    });
    return { portBus, devices };
  }

  test("every port is claimed: the devices' own, and the unclaimed device's for the rest", () => {
    const { portBus } = attach();
    const free: number[] = [];
    for (let port = 0; port < 0x1_0000; port++) if (portBus.lookup(port) === undefined) free.push(port);
    expect(free).toEqual([]);
    expect(portBus.lookup(COM1_PORT)?.device.name).toBe("uart16550");
    expect(portBus.lookup(I8042_PORT)?.device.name).toBe("i8042");
    expect(portBus.lookup(RTC_PORT)?.device.name).toBe("cmos-rtc");
    expect(portBus.lookup(ACPI_PM1A_EVT_PORT)?.device.name).toBe("acpi-pm1");
    expect(portBus.lookup(ACPI_PM1A_EVT_PORT + 5)?.device.name).toBe("acpi-pm1");
    expect(portBus.lookup(POST_CODE_PORT)?.device.name).toBe("unclaimed-port");
  });

  test("a free port reads all ones for the width, ignores writes, and counts both per port", () => {
    const { portBus, devices } = attach();
    expect(portBus.read(POST_CODE_PORT, 1)).toMatchObject({ kind: "ok", value: 0xffn });
    expect(portBus.write(POST_CODE_PORT, 1, 0x12n).kind).toBe("ok");
    expect(portBus.write(POST_CODE_PORT, 1, 0x34n).kind).toBe("ok");
    expect(portBus.read(0xcfc, 4)).toMatchObject({ kind: "ok", value: 0xffff_ffffn });
    expect(portBus.read(0xffff, 1)).toMatchObject({ kind: "ok", value: 0xffn });
    expect(devices.unclaimed.traffic(POST_CODE_PORT)).toEqual({ reads: 1, writes: 2, lastWrite: 0x34 });
    expect(devices.unclaimed.traffic(0xcfc)).toEqual({ reads: 1, writes: 0, lastWrite: null });
    expect(devices.unclaimed.traffic(COM1_PORT)).toBeUndefined();
  });
});

/**
 * Guest-triggered paths never throw: random accesses (any offset in and around each window, any width, any value)
 * through a bus holding every device model must come back as results, and every read value must fit its width.
 */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { AcpiPm1 } from "./acpi-pm.ts";
import { BootTimer } from "./boot-timer.ts";
import { Bus } from "./bus.ts";
import { Clint } from "./clint.ts";
import { CmosRtc } from "./cmos-rtc.ts";
import { I8042 } from "./i8042.ts";
import { LevelIrqLine } from "./irq.ts";
import { Plic } from "./plic.ts";
import { SifiveTest } from "./sifive-test.ts";
import { TestDevice } from "./test-device.ts";
import type { AccessWidth } from "./types.ts";
import { Uart16550 } from "./uart16550.ts";
import { UnclaimedPort } from "./unclaimed-port.ts";

function machine() {
  const line = () => new LevelIrqLine(() => {});
  let t = 0;
  const plic = new Plic({ sources: 40, contexts: [line(), line()] });
  const devices = [
    {
      base: 0x0200_0000,
      dev: new Clint({ harts: [{ msip: line(), mtip: line() }], now: () => (t += 3) }),
      size: 0x1_0000,
    },
    { base: 0x0c00_0000, dev: plic, size: plic.windowSize },
    { base: 0x1000_0000, dev: new Uart16550({ sink: () => {}, irq: plic.sourceLine(10) }), size: 8 },
    { base: 0x1000_1000, dev: new Uart16550({ sink: () => {}, irq: plic.sourceLine(11), regShift: 2 }), size: 32 },
    { base: 0x0010_0000, dev: new SifiveTest({ onFinish: () => {} }), size: 0x1000 },
    { base: 0x0011_0000, dev: new BootTimer({ onBootComplete: () => {} }), size: 0x1000 },
    { base: 0x0012_0000, dev: new TestDevice(), size: 0x1000 },
    { base: 0x0013_0000, dev: new I8042({ onReset: () => {}, kbdIrq: line(), auxIrq: line() }), size: 5 },
    { base: 0x0014_0000, dev: new UnclaimedPort({ maxTrackedPorts: 8 }), size: 0x100 },
    { base: 0x0015_0000, dev: new CmosRtc({ clock: () => 1_700_000_000_000 }), size: 2 },
    { base: 0x0016_0000, dev: new AcpiPm1({ sci: line(), onSleep: () => {} }), size: 6 },
  ];
  const bus = new Bus("mmio");
  for (const d of devices) bus.insert(d.base, d.size, d.dev);
  return { bus, bases: devices.map((d) => [d.base, d.size] as const) };
}

test("random accesses to every device return results and never throw", () => {
  const { bus, bases } = machine();
  const access = fc.record({
    target: fc.integer({ min: 0, max: bases.length - 1 }),
    // Reduced modulo the window size (+16) below, so most accesses land inside a window or just around it.
    raw: fc.oneof(fc.integer({ min: 0, max: 0x48 }), fc.integer({ min: 0, max: 0x20_2010 })),
    width: fc.constantFrom<AccessWidth>(1, 2, 4, 8),
    write: fc.boolean(),
    value: fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn }),
  });
  let accessCount = 0;
  fc.assert(
    fc.property(fc.array(access, { minLength: 50, maxLength: 300 }), (accesses) => {
      for (const a of accesses) {
        accessCount++;
        const [base, size] = bases[a.target] ?? [0, 0];
        const addr = base - 8 + (a.raw % (size + 16));
        if (a.write) {
          expect(["ok", "unmapped", "bad-access"]).toContain(bus.write(addr, a.width, a.value).kind);
        } else {
          const r = bus.read(addr, a.width);
          if (r.kind === "ok") {
            expect(r.value >= 0n).toBe(true);
            expect(r.value < 1n << BigInt(8 * a.width)).toBe(true);
          }
        }
      }
    }),
    { numRuns: 100 },
  );
  expect(accessCount).toBeGreaterThan(5000);
});

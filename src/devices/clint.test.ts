import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import { CLINT_MSIP_BASE, CLINT_MTIME, CLINT_MTIMECMP_BASE, CLINT_MTIMECMP_RESET, Clint } from "./clint.ts";
import { DeviceError } from "./errors.ts";

function make(harts = 2, start = 0) {
  const clock = { t: start };
  const lines = Array.from({ length: harts }, () => ({ msip: new RecordingIrqLine(), mtip: new RecordingIrqLine() }));
  const clint = new Clint({ harts: lines, now: () => clock.t });
  const cmp = (h: number) => CLINT_MTIMECMP_BASE + 8 * h;
  return { clint, lines, clock, cmp };
}

describe("CLINT mtime", () => {
  test("follows the clock; reads whole or as 32-bit halves", () => {
    const { clint, clock } = make(1, 0x1_2345_6789);
    expect(clint.read64(CLINT_MTIME)).toBe(0x1_2345_6789n);
    expect(clint.read(CLINT_MTIME, 4)).toBe(0x2345_6789);
    expect(clint.read(CLINT_MTIME + 4, 4)).toBe(1);
    clock.t += 10;
    expect(clint.mtime()).toBe(0x1_2345_6793n);
  });

  test("writes move an offset; the clock keeps running under it", () => {
    const { clint, clock } = make(1, 100);
    clint.write64(CLINT_MTIME, 1000n);
    expect(clint.mtime()).toBe(1000n);
    clock.t = 150;
    expect(clint.mtime()).toBe(1050n);
    clint.write(CLINT_MTIME + 4, 4, 2); // high half
    expect(clint.mtime()).toBe(0x2_0000_0000n + 1050n);
    clint.write(CLINT_MTIME, 4, 7); // low half
    expect(clint.mtime()).toBe(0x2_0000_0007n);
    clock.t = 151;
    expect(clint.mtime()).toBe(0x2_0000_0008n);
  });

  test("byte and halfword accesses are bad accesses", () => {
    const { clint } = make(1, 5);
    expect(clint.read(CLINT_MTIME, 1)).toBe(0);
    clint.write(CLINT_MTIME, 2, 0);
    expect(clint.read(CLINT_MTIME + 2, 4)).toBe(0);
    expect(clint.mtime()).toBe(5n);
    expect(clint.stats.badAccesses).toBe(3);
  });
});

describe("CLINT timer compare", () => {
  test("reset mtimecmp is all-ones: no MTIP and no deadline", () => {
    const { clint, lines, cmp } = make();
    expect(clint.read64(cmp(1))).toBe(CLINT_MTIMECMP_RESET);
    clint.tick();
    expect(lines[0]?.mtip.events).toEqual([]);
    expect(clint.nextDeadline()).toBeUndefined();
  });

  test("MTIP rises when mtime reaches mtimecmp and falls when mtimecmp moves ahead", () => {
    const { clint, lines, clock, cmp } = make(1, 100);
    clint.write64(cmp(0), 200n);
    expect(lines[0]?.mtip.level).toBe(false);
    expect(clint.nextDeadline()).toBe(200);
    clock.t = 199;
    clint.tick();
    expect(lines[0]?.mtip.level).toBe(false);
    clock.t = 200;
    clint.tick();
    expect(lines[0]?.mtip.level).toBe(true);
    clint.tick(); // no change, no call
    clint.write64(cmp(0), 300n);
    expect(lines[0]?.mtip.level).toBe(false);
    expect(clint.nextDeadline()).toBe(300);
    clint.write64(cmp(0), 50n); // already in the past: rises at once
    expect(lines[0]?.mtip.level).toBe(true);
    expect(lines[0]?.mtip.events).toEqual([
      { kind: "set", level: true },
      { kind: "set", level: false },
      { kind: "set", level: true },
    ]);
  });

  test("mtimecmp written as halves (high word first to avoid a spurious match)", () => {
    const { clint, lines, cmp } = make(1, 10);
    clint.write(cmp(0) + 4, 4, 0xffff_ffff);
    clint.write(cmp(0), 4, 0x20);
    clint.write(cmp(0) + 4, 4, 0);
    expect(clint.read64(cmp(0))).toBe(0x20n);
    expect(clint.read(cmp(0), 4)).toBe(0x20);
    expect(clint.read(cmp(0) + 4, 4)).toBe(0);
    expect(lines[0]?.mtip.level).toBe(false);
    expect(clint.nextDeadline()).toBe(0x20);
  });

  test("deadlines in clock units follow mtime writes and take the earliest hart", () => {
    const { clint, lines, clock, cmp } = make(3, 1000);
    clint.write64(CLINT_MTIME, 0n); // mtime = now - 1000
    clint.write64(cmp(0), 500n);
    clint.write64(cmp(2), 300n);
    expect(clint.nextDeadline()).toBe(1300);
    clock.t = 1300;
    clint.tick();
    expect(lines.map((l) => l.mtip.level)).toEqual([false, false, true]);
    expect(clint.nextDeadline()).toBe(1500);
  });

  test("a raised line falls when mtime wraps past 2^64 and that is a deadline too", () => {
    const { clint, lines, clock, cmp } = make(1, 0);
    clint.write64(CLINT_MTIME, 0xffff_ffff_ffff_fff0n);
    clint.write64(cmp(0), 8n);
    expect(lines[0]?.mtip.level).toBe(true);
    expect(clint.nextDeadline()).toBe(0x10);
    clock.t = 0x10;
    clint.tick();
    expect(clint.mtime()).toBe(0n);
    expect(lines[0]?.mtip.level).toBe(false);
    expect(clint.nextDeadline()).toBe(0x18);
  });
});

describe("CLINT msip", () => {
  test("bit 0 drives the hart's MSIP line; other bits read 0", () => {
    const { clint, lines } = make(2);
    clint.write(CLINT_MSIP_BASE + 4, 4, 0xffff_ffff);
    expect(clint.read(CLINT_MSIP_BASE + 4, 4)).toBe(1);
    expect(lines[1]?.msip.level).toBe(true);
    expect(lines[0]?.msip.level).toBe(false);
    clint.write(CLINT_MSIP_BASE + 4, 4, 0xffff_fffe);
    expect(lines[1]?.msip.level).toBe(false);
    clint.write(CLINT_MSIP_BASE + 8, 4, 1); // no hart 2
    expect(clint.stats.badAccesses).toBe(1);
  });

  test("an 8-byte store over two msip words acts as two 32-bit stores", () => {
    const { clint, lines } = make(2);
    clint.write64(CLINT_MSIP_BASE, 0x1_0000_0001n);
    expect(lines.map((l) => l.msip.level)).toEqual([true, true]);
    expect(clint.read64(CLINT_MSIP_BASE)).toBe(0x1_0000_0001n);
  });
});

describe("CLINT configuration and snapshot", () => {
  test("hart count is checked", () => {
    expect(() => make(0)).toThrow(DeviceError);
    expect(() => make(4096)).toThrow("clint: Cannot create a CLINT for 4096 harts: it must be 1..4095");
  });

  test("restores mtime against a new clock, mtimecmp, msip, and drives the lines", () => {
    const a = make(2, 5000);
    a.clint.write64(a.cmp(0), 4000n);
    a.clint.write64(a.cmp(1), 6000n);
    a.clint.write(CLINT_MSIP_BASE + 4, 4, 1);
    const state = a.clint.snapshot();
    expect(state).toEqual({ mtime: 5000n, mtimecmp: [4000n, 6000n], msip: [false, true] });
    const b = make(2, 7);
    b.clint.restore(state);
    expect(b.clint.mtime()).toBe(5000n);
    expect(b.lines.map((l) => [l.msip.level, l.mtip.level])).toEqual([
      [false, true],
      [true, false],
    ]);
    expect(b.clint.nextDeadline()).toBe(7 + 1000);
    expect(() => b.clint.restore({ ...state, msip: [true] })).toThrow(DeviceError);
    expect(() => b.clint.restore({ ...state, mtime: -1n })).toThrow(DeviceError);
  });
});

import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import { DeviceError } from "./errors.ts";
import {
  PLIC_CONTEXT_BASE,
  PLIC_CONTEXT_CLAIM,
  PLIC_CONTEXT_STRIDE,
  PLIC_CONTEXT_THRESHOLD,
  PLIC_ENABLE_BASE,
  PLIC_ENABLE_STRIDE,
  PLIC_PENDING_BASE,
  PLIC_PRIORITY_BASE,
  Plic,
  type PlicOptions,
  plicWindowSize,
} from "./plic.ts";

function make(sources = 64, contextCount = 2, extra: Partial<PlicOptions> = {}) {
  const lines = Array.from({ length: contextCount }, () => new RecordingIrqLine());
  const plic = new Plic({ sources, contexts: lines, ...extra });
  const r = (off: number) => plic.read(off, 4);
  const w = (off: number, v: number) => plic.write(off, 4, v);
  const setPriority = (src: number, p: number) => w(PLIC_PRIORITY_BASE + 4 * src, p);
  const enable = (ctx: number, src: number) => {
    const off = PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE * ctx + 4 * (src >>> 5);
    w(off, (r(off) | (1 << (src & 31))) >>> 0);
  };
  const threshold = (ctx: number, t: number) =>
    w(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + PLIC_CONTEXT_THRESHOLD, t);
  const claim = (ctx: number) => r(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + PLIC_CONTEXT_CLAIM);
  const complete = (ctx: number, src: number) =>
    w(PLIC_CONTEXT_BASE + PLIC_CONTEXT_STRIDE * ctx + PLIC_CONTEXT_CLAIM, src);
  return { plic, lines, r, w, setPriority, enable, threshold, claim, complete };
}

describe("PLIC registers", () => {
  test("window size follows the context count", () => {
    expect(plicWindowSize(2)).toBe(0x20_2000);
    expect(make(8, 16).plic.windowSize).toBe(0x21_0000);
  });

  test("priorities are WARL with maxPriority's bits; source 0 and missing sources are reserved", () => {
    const { plic, r, w, setPriority } = make(40);
    setPriority(1, 5);
    setPriority(2, 0xffff_ffff);
    expect(r(4)).toBe(5);
    expect(r(8)).toBe(7);
    w(0, 3);
    expect(r(0)).toBe(0);
    setPriority(41, 3); // beyond `sources`
    expect(r(41 * 4)).toBe(0);
    expect(plic.stats.badAccesses).toBe(4);
    const wide = make(8, 1, { maxPriority: 31 });
    wide.setPriority(1, 0xff);
    expect(wide.r(4)).toBe(31);
  });

  test("enable bit 0 and bits above the last source are hardwired to 0", () => {
    const { r, w } = make(40);
    w(PLIC_ENABLE_BASE, 0xffff_ffff);
    expect(r(PLIC_ENABLE_BASE)).toBe(0xffff_fffe);
    w(PLIC_ENABLE_BASE + 4, 0xffff_ffff);
    expect(r(PLIC_ENABLE_BASE + 4)).toBe(0x1ff); // sources 32..40
    w(PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE, 0x6);
    expect(r(PLIC_ENABLE_BASE + PLIC_ENABLE_STRIDE)).toBe(0x6);
    expect(r(PLIC_ENABLE_BASE)).toBe(0xffff_fffe); // contexts are independent
  });

  test("pending bits are read-only and show gateway requests", () => {
    const { plic, r, w } = make(40);
    plic.setSourceLevel(33, true);
    plic.setSourceLevel(3, true);
    expect(r(PLIC_PENDING_BASE)).toBe(1 << 3);
    expect(r(PLIC_PENDING_BASE + 4)).toBe(1 << 1);
    w(PLIC_PENDING_BASE, 0);
    w(PLIC_PENDING_BASE + 4, 0xffff_ffff);
    expect(r(PLIC_PENDING_BASE)).toBe(1 << 3);
    expect(r(PLIC_PENDING_BASE + 4)).toBe(1 << 1);
    expect(plic.stats.badAccesses).toBe(2);
  });

  test("only aligned 32-bit accesses are registers", () => {
    const { plic, r, setPriority } = make();
    setPriority(1, 3);
    expect(plic.read(4, 1)).toBe(0);
    expect(plic.read(6, 2)).toBe(0);
    expect(plic.read(5, 4)).toBe(0);
    plic.write(4, 1, 1);
    expect(r(4)).toBe(3);
    expect(plic.stats.badAccesses).toBe(4);
  });

  test("a context beyond the configured count is reserved", () => {
    const { plic, r, w } = make(8, 2);
    w(PLIC_CONTEXT_BASE + 2 * PLIC_CONTEXT_STRIDE, 1);
    expect(r(PLIC_CONTEXT_BASE + 2 * PLIC_CONTEXT_STRIDE + 4)).toBe(0);
    expect(r(PLIC_ENABLE_BASE + 2 * PLIC_ENABLE_STRIDE)).toBe(0);
    expect(plic.stats.badAccesses).toBe(3);
  });
});

describe("PLIC claim and complete", () => {
  test("a level source raises the context line; claim returns it, clears pending; complete lowers nothing by itself", () => {
    const { plic, lines, setPriority, enable, claim, complete } = make();
    setPriority(10, 1);
    enable(1, 10);
    plic.setSourceLevel(10, true);
    expect(lines[1]?.level).toBe(true);
    expect(lines[0]?.level).toBe(false); // not enabled there
    expect(claim(1)).toBe(10);
    expect(plic.isPending(10)).toBe(false);
    expect(lines[1]?.level).toBe(false);
    plic.setSourceLevel(10, false); // the device was serviced
    complete(1, 10);
    expect(lines[1]?.level).toBe(false);
    expect(claim(1)).toBe(0);
    expect(plic.stats).toMatchObject({ claims: 2, emptyClaims: 1, completions: 1 });
  });

  test("a claimed level source is not re-pended until complete, then re-pends if still asserted", () => {
    const { plic, lines, setPriority, enable, claim, complete } = make();
    setPriority(5, 1);
    enable(0, 5);
    plic.setSourceLevel(5, true);
    expect(claim(0)).toBe(5);
    plic.setSourceLevel(5, false);
    plic.setSourceLevel(5, true); // a new assertion while in service: held by the gateway
    expect(plic.isPending(5)).toBe(false);
    expect(lines[0]?.level).toBe(false);
    complete(0, 5);
    expect(plic.isPending(5)).toBe(true);
    expect(lines[0]?.level).toBe(true);
    expect(claim(0)).toBe(5);
    plic.setSourceLevel(5, false);
    complete(0, 5);
    expect(plic.isPending(5)).toBe(false);
    expect(lines[0]?.changes()).toEqual([true, false, true, false]);
  });

  test("a request already forwarded stays pending when the level drops before the claim", () => {
    const { plic, setPriority, enable, claim } = make();
    setPriority(7, 1);
    enable(0, 7);
    plic.setSourceLevel(7, true);
    plic.setSourceLevel(7, false);
    expect(plic.isPending(7)).toBe(true);
    expect(claim(0)).toBe(7);
  });

  test("edge requests: one pending at a time, nothing re-pends on complete", () => {
    const { plic, setPriority, enable, claim, complete } = make();
    setPriority(3, 1);
    enable(0, 3);
    plic.triggerSource(3);
    plic.triggerSource(3);
    expect(claim(0)).toBe(3);
    plic.triggerSource(3); // while in service: dropped by the gateway
    complete(0, 3);
    expect(plic.isPending(3)).toBe(false);
    const line = plic.sourceLine(3);
    line.trigger();
    expect(plic.isPending(3)).toBe(true);
  });

  test("claim picks the highest priority, ties to the lowest id", () => {
    const { plic, setPriority, enable, claim, complete } = make();
    for (const [src, p] of [
      [40, 2],
      [9, 2],
      [12, 7],
      [33, 7],
      [2, 1],
    ] as const) {
      setPriority(src, p);
      enable(0, src);
      plic.setSourceLevel(src, true);
    }
    const order: number[] = [];
    for (let i = 0; i < 5; i++) order.push(claim(0));
    expect(order).toEqual([12, 33, 9, 40, 2]);
    expect(claim(0)).toBe(0);
    for (const src of order) {
      plic.setSourceLevel(src, false);
      complete(0, src);
    }
  });

  test("priority 0 never interrupts and is never claimed", () => {
    const { plic, lines, enable, claim, setPriority } = make();
    enable(0, 4);
    plic.setSourceLevel(4, true);
    expect(lines[0]?.level).toBe(false);
    expect(claim(0)).toBe(0);
    setPriority(4, 1); // raising the priority of a pending source notifies at once
    expect(lines[0]?.level).toBe(true);
  });

  test("threshold masks notifications at or below it; claims ignore it (the specification)", () => {
    const { plic, lines, setPriority, enable, threshold, claim } = make();
    setPriority(6, 3);
    enable(0, 6);
    threshold(0, 3);
    plic.setSourceLevel(6, true);
    expect(lines[0]?.level).toBe(false);
    threshold(0, 2);
    expect(lines[0]?.level).toBe(true);
    threshold(0, 7);
    expect(lines[0]?.level).toBe(false);
    expect(claim(0)).toBe(6); // polling by claim works with the threshold at maximum
  });

  test("claimRespectsThreshold makes claims QEMU-like", () => {
    const { plic, setPriority, enable, threshold, claim } = make(8, 1, { claimRespectsThreshold: true });
    setPriority(6, 3);
    enable(0, 6);
    threshold(0, 3);
    plic.setSourceLevel(6, true);
    expect(claim(0)).toBe(0);
    threshold(0, 2);
    expect(claim(0)).toBe(6);
  });

  test("enables decide which contexts see a source; one context's claim takes it from all", () => {
    const { plic, lines, setPriority, enable, claim } = make(64, 4);
    setPriority(20, 1);
    enable(1, 20);
    enable(3, 20);
    plic.setSourceLevel(20, true);
    expect(lines.map((l) => l.level)).toEqual([false, true, false, true]);
    expect(claim(3)).toBe(20);
    expect(lines.map((l) => l.level)).toEqual([false, false, false, false]);
    expect(claim(1)).toBe(0);
  });

  test("completing a source not enabled for the context is ignored", () => {
    const { plic, setPriority, enable, claim, complete, w } = make();
    setPriority(8, 1);
    enable(0, 8);
    plic.setSourceLevel(8, true);
    expect(claim(0)).toBe(8);
    complete(1, 8); // context 1 has it disabled
    complete(0, 0);
    complete(0, 9999);
    expect(plic.stats.ignoredCompletions).toBe(3);
    complete(0, 8); // still asserted → pending again
    expect(plic.isPending(8)).toBe(true);
    // Disabling the source then completing it leaves the gateway stuck, as on hardware.
    expect(claim(0)).toBe(8);
    w(PLIC_ENABLE_BASE, 0);
    complete(0, 8);
    expect(plic.isPending(8)).toBe(false);
  });

  test("masking by enable and re-enabling re-evaluates the output", () => {
    const { plic, lines, setPriority, enable, w } = make();
    setPriority(1, 1);
    enable(0, 1);
    plic.setSourceLevel(1, true);
    expect(lines[0]?.level).toBe(true);
    w(PLIC_ENABLE_BASE, 0);
    expect(lines[0]?.level).toBe(false);
    enable(0, 1);
    expect(lines[0]?.level).toBe(true);
  });
});

describe("PLIC configuration and snapshot", () => {
  test("rejects bad configurations and bad source numbers", () => {
    expect(() => make(0)).toThrow(DeviceError);
    expect(() => make(1024)).toThrow("plic: Cannot create a PLIC with 1024 sources: it must be 1..1023");
    expect(() => make(8, 0)).toThrow(DeviceError);
    expect(() => make(8, 1, { maxPriority: 6 })).toThrow(
      "plic: Cannot create a PLIC with maxPriority 6: it must be 2^k - 1 (1, 3, 7, ...)",
    );
    const { plic } = make(8);
    expect(() => plic.setSourceLevel(0, true)).toThrow(
      "plic: Cannot set the level of source 0: this PLIC has sources 1..8",
    );
    expect(() => plic.triggerSource(9)).toThrow(DeviceError);
    const max = make(1023, 1);
    max.setPriority(1023, 1);
    max.enable(0, 1023);
    max.plic.setSourceLevel(1023, true);
    expect(max.claim(0)).toBe(1023);
  });

  test("round-trips state and drives the restored output levels", () => {
    const a = make(40, 2);
    a.setPriority(33, 2);
    a.setPriority(4, 1);
    a.enable(1, 33);
    a.enable(1, 4);
    a.threshold(0, 5);
    a.plic.setSourceLevel(33, true);
    a.plic.setSourceLevel(4, true);
    expect(a.claim(1)).toBe(33);
    const state = a.plic.snapshot();
    const b = make(40, 2);
    b.plic.restore(JSON.parse(JSON.stringify(state)));
    expect(b.plic.snapshot()).toEqual(state);
    expect(b.lines[1]?.level).toBe(true); // source 4 still pending
    expect(b.lines[0]?.events).toEqual([{ kind: "set", level: false }]);
    expect(b.claim(1)).toBe(4);
    b.complete(1, 33); // in service in the snapshot, level still high → re-pends
    expect(b.plic.isPending(33)).toBe(true);
    expect(() => make(41, 2).plic.restore(state)).toThrow(DeviceError);
    expect(() => b.plic.restore({ ...state, thresholds: [8, 0] })).toThrow(DeviceError);
  });
});

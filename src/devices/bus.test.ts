import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { BUS_BAD_ACCESS, BUS_UNMAPPED, Bus, BusError } from "./bus.ts";
import type { BusDevice } from "./types.ts";

type Access = { op: "read" | "write"; offset: number; width: number; value?: number };

/** A device that records each access and answers reads from a byte array (little-endian). */
class ProbeDevice implements BusDevice {
  readonly accesses: Access[] = [];
  readonly bytes: Uint8Array;
  constructor(
    readonly name: string,
    size = 0x100,
  ) {
    this.bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) this.bytes[i] = (i * 13 + 5) & 0xff;
  }
  read(offset: number, width: 1 | 2 | 4): number {
    this.accesses.push({ op: "read", offset, width });
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + (this.bytes[offset + i] ?? 0);
    return v;
  }
  write(offset: number, width: 1 | 2 | 4, value: number): void {
    this.accesses.push({ op: "write", offset, width, value });
    for (let i = 0; i < width; i++) this.bytes[offset + i] = Math.floor(value / 256 ** i) & 0xff;
  }
}

class Probe64Device extends ProbeDevice {
  readonly wide: Array<{ op: string; offset: number; value?: bigint }> = [];
  read64(offset: number): bigint {
    this.wide.push({ op: "read64", offset });
    return 0x8877_6655_4433_2211n;
  }
  write64(offset: number, value: bigint): void {
    this.wide.push({ op: "write64", offset, value });
  }
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("Bus.insert", () => {
  test("rejects a zero-length window", () => {
    const bus = new Bus("mmio");
    const e = thrown(() => bus.insert(0x1000, 0, new ProbeDevice("a")));
    expect(e).toBeInstanceOf(BusError);
    expect((e as BusError).kind).toBe("zero-length");
    expect((e as BusError).message).toBe('Cannot insert "a" at 0x1000 (length 0) on the mmio bus: the window is empty');
  });

  test("rejects an overlap and names both ranges in hex", () => {
    const bus = new Bus("mmio");
    bus.insert(0x1000, 0x1000, new ProbeDevice("a"));
    const e = thrown(() => bus.insert(0x1800, 0x1000, new ProbeDevice("b"))) as BusError;
    expect(e.kind).toBe("overlap");
    expect(e.message).toBe('Cannot insert "b" at 0x1800..0x27ff on the mmio bus: overlaps "a" (0x1000..0x1fff)');
    expect(e.existing).toEqual({ name: "a", base: 0x1000, length: 0x1000 });
    // Overlap from below, containment, and identical base are all rejected.
    expect((thrown(() => bus.insert(0x800, 0x801, new ProbeDevice("c"))) as BusError).kind).toBe("overlap");
    expect((thrown(() => bus.insert(0x1100, 0x10, new ProbeDevice("d"))) as BusError).kind).toBe("overlap");
    expect((thrown(() => bus.insert(0x0, 0x10000, new ProbeDevice("e"))) as BusError).kind).toBe("overlap");
    expect((thrown(() => bus.insert(0x1000, 1, new ProbeDevice("f"))) as BusError).kind).toBe("overlap");
    expect(bus.entries().map((x) => x.name)).toEqual(["a"]);
  });

  test("accepts adjacent windows on both sides", () => {
    const bus = new Bus("mmio");
    bus.insert(0x2000, 0x1000, new ProbeDevice("mid"));
    bus.insert(0x3000, 0x10, new ProbeDevice("hi"));
    bus.insert(0x1000, 0x1000, new ProbeDevice("lo"));
    expect(bus.entries().map((x) => [x.name, x.base, x.length])).toEqual([
      ["lo", 0x1000, 0x1000],
      ["mid", 0x2000, 0x1000],
      ["hi", 0x3000, 0x10],
    ]);
  });

  test("port space ends at 0xffff", () => {
    const bus = new Bus("port");
    bus.insert(0xfff8, 8, new ProbeDevice("top"));
    const e = thrown(() => bus.insert(0xfff0, 9, new ProbeDevice("x"))) as BusError;
    expect(e.kind).toBe("overlap");
    const e2 = thrown(() => new Bus("port").insert(0xfffc, 8, new ProbeDevice("x"))) as BusError;
    expect(e2.kind).toBe("out-of-space");
    expect(e2.message).toBe(
      'Cannot insert "x" at 0xfffc (length 0x8) on the port bus: ends past the last address 0xffff',
    );
  });

  test("mmio space ends at 2^53 - 1", () => {
    const bus = new Bus("mmio");
    bus.insert(2 ** 53 - 0x1000, 0x1000, new ProbeDevice("top"));
    expect(
      (thrown(() => new Bus("mmio").insert(2 ** 53 - 0x1000, 0x1001, new ProbeDevice("x"))) as BusError).kind,
    ).toBe("out-of-space");
    expect((thrown(() => new Bus("mmio").insert(2 ** 53, 1, new ProbeDevice("x"))) as BusError).kind).toBe(
      "invalid-range",
    );
    expect((thrown(() => new Bus("mmio").insert(-1, 1, new ProbeDevice("x"))) as BusError).kind).toBe("invalid-range");
    expect((thrown(() => new Bus("mmio").insert(0.5, 1, new ProbeDevice("x"))) as BusError).kind).toBe("invalid-range");
  });
});

describe("Bus lookup and remove", () => {
  test("lookup returns the device and addr - base; gaps are unmapped", () => {
    const bus = new Bus("mmio");
    const a = new ProbeDevice("a");
    const b = new ProbeDevice("b");
    bus.insert(0x1000_0000, 0x100, a);
    bus.insert(0x0c00_0000, 0x40_0000, b);
    expect(bus.lookup(0x1000_0000)).toEqual({ device: a, offset: 0, base: 0x1000_0000, length: 0x100 });
    expect(bus.lookup(0x1000_00ff)?.offset).toBe(0xff);
    expect(bus.lookup(0x1000_0100)).toBeUndefined();
    expect(bus.lookup(0x0bff_ffff)).toBeUndefined();
    expect(bus.lookup(0x0c12_3456)?.device).toBe(b);
    expect(bus.lookup(0x0c12_3456)?.offset).toBe(0x12_3456);
    expect(bus.lookup(-1)).toBeUndefined();
    expect(bus.lookup(Number.NaN)).toBeUndefined();
  });

  test("remove unmaps exactly the window starting at base", () => {
    const bus = new Bus("port");
    const a = new ProbeDevice("a");
    bus.insert(0x3f8, 8, a);
    bus.insert(0x60, 5, new ProbeDevice("i8042"));
    expect((thrown(() => bus.remove(0x3f9)) as BusError).kind).toBe("not-found");
    expect((thrown(() => bus.remove(0x3f9)) as BusError).message).toBe(
      "Cannot remove the window at 0x3f9 from the port bus: no window starts there",
    );
    expect(bus.remove(0x3f8)).toBe(a);
    expect(bus.lookup(0x3f8)).toBeUndefined();
    expect(bus.entries().map((e) => e.name)).toEqual(["i8042"]);
    bus.insert(0x3f8, 8, a); // the range is free again
  });
});

describe("Bus.read / Bus.write widths", () => {
  test("1/2/4-byte accesses reach the device with the window offset", () => {
    const bus = new Bus("mmio");
    const d = new ProbeDevice("d");
    bus.insert(0x1000, 0x100, d);
    const r = bus.read(0x1010, 4);
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    // bytes[k] = (k*13+5) & 0xff; offsets 0x10..0x13 → 0xd5, 0xe2, 0xef, 0xfc (little-endian)
    expect(r.value).toBe(0xfcefe2d5n);
    expect(bus.write(0x1020, 2, 0xabcdn)).toEqual({ kind: "ok", device: d, offset: 0x20 });
    expect(d.accesses.at(-1)).toEqual({ op: "write", offset: 0x20, width: 2, value: 0xabcd });
    bus.write(0x1022, 1, 0x1ffn); // wider than the access: masked to the width
    expect(d.accesses.at(-1)).toEqual({ op: "write", offset: 0x22, width: 1, value: 0xff });
  });

  test("read values are masked to the width even if a device returns stray bits", () => {
    const bus = new Bus("port");
    bus.insert(0x80, 1, { name: "sloppy", read: () => 0xdead_beef, write: () => {} });
    const r = bus.read(0x80, 1);
    expect(r.kind === "ok" && r.value).toBe(0xefn);
  });

  test("8-byte accesses split into two 4-byte accesses, low word first at the lower address", () => {
    const bus = new Bus("mmio");
    const d = new ProbeDevice("d");
    bus.insert(0x4000, 0x100, d);
    bus.write(0x4008, 8, 0x1122_3344_5566_7788n);
    expect(d.accesses).toEqual([
      { op: "write", offset: 8, width: 4, value: 0x5566_7788 },
      { op: "write", offset: 12, width: 4, value: 0x1122_3344 },
    ]);
    d.accesses.length = 0;
    const r = bus.read(0x4008, 8);
    expect(r.kind === "ok" && r.value).toBe(0x1122_3344_5566_7788n);
    expect(d.accesses).toEqual([
      { op: "read", offset: 8, width: 4 },
      { op: "read", offset: 12, width: 4 },
    ]);
  });

  test("8-byte accesses use read64/write64 when the device has them", () => {
    const bus = new Bus("mmio");
    const d = new Probe64Device("d64");
    bus.insert(0x4000, 0x100, d);
    const r = bus.read(0x4010, 8);
    expect(r.kind === "ok" && r.value).toBe(0x8877_6655_4433_2211n);
    bus.write(0x4018, 8, 0xffff_ffff_ffff_ffffn);
    expect(d.wide).toEqual([
      { op: "read64", offset: 0x10 },
      { op: "write64", offset: 0x18, value: 0xffff_ffff_ffff_ffffn },
    ]);
    expect(d.accesses).toEqual([]);
    // Narrower accesses still go through read/write.
    bus.read(0x4010, 4);
    expect(d.accesses).toEqual([{ op: "read", offset: 0x10, width: 4 }]);
  });

  test("an access straddling the end of a window is a bad access and does not reach the device", () => {
    const bus = new Bus("mmio");
    const d = new ProbeDevice("d", 0x10);
    bus.insert(0x1000, 0x10, d);
    bus.insert(0x1010, 0x10, new ProbeDevice("next", 0x10));
    expect(bus.read(0x100c, 8)).toEqual({ kind: "bad-access", device: d, offset: 0xc, reason: "straddles-window-end" });
    expect(bus.write(0x100f, 2, 1n)).toEqual({
      kind: "bad-access",
      device: d,
      offset: 0xf,
      reason: "straddles-window-end",
    });
    expect(bus.read(0x1008, 8).kind).toBe("ok"); // ends exactly at the window end
    expect(d.accesses).toEqual([
      { op: "read", offset: 8, width: 4 },
      { op: "read", offset: 12, width: 4 },
    ]);
    expect(bus.stats.badAccesses).toBe(2);
  });

  test("unmapped accesses are reported, not thrown, and counted", () => {
    const bus = new Bus("port");
    bus.insert(0x3f8, 8, new ProbeDevice("com1"));
    expect(bus.read(0x80, 1)).toEqual({ kind: "unmapped" });
    expect(bus.write(0x80, 1, 0x12n)).toEqual({ kind: "unmapped" });
    expect(bus.read(0x1_0000, 1)).toEqual({ kind: "unmapped" });
    expect(bus.stats).toEqual({ reads: 2, writes: 1, unmappedReads: 2, unmappedWrites: 1, badAccesses: 0 });
  });

  test("an invalid width is a bad access", () => {
    const bus = new Bus("mmio");
    const d = new ProbeDevice("d");
    bus.insert(0, 0x100, d);
    const width = 3 as unknown as 4; // what a buggy decoder could pass
    expect(bus.read(0, width)).toEqual({ kind: "bad-access", device: d, offset: 0, reason: "invalid-width" });
    expect(d.accesses).toEqual([]);
  });
});

describe("Bus snapshot", () => {
  test("restores counters on the same layout and refuses another layout", () => {
    const bus = new Bus("mmio");
    bus.insert(0x1000, 0x10, new ProbeDevice("a"));
    bus.read(0x0, 4);
    bus.read(0x1000, 4);
    const state = bus.snapshot();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    const again = new Bus("mmio");
    again.insert(0x1000, 0x10, new ProbeDevice("a"));
    again.restore(state);
    expect(again.stats).toEqual({ reads: 2, writes: 0, unmappedReads: 1, unmappedWrites: 0, badAccesses: 0 });
    const other = new Bus("mmio");
    other.insert(0x2000, 0x10, new ProbeDevice("a"));
    const e = thrown(() => other.restore(state)) as BusError;
    expect(e.kind).toBe("layout-mismatch");
    expect(e.message).toBe(
      'Cannot restore the mmio bus: the snapshot\'s windows (mmio: "a" 0x1000..0x100f) differ from the bus\'s ("a" 0x2000..0x200f)',
    );
  });
});

describe("Bus properties", () => {
  const windowArb = fc.record({
    base: fc.integer({ min: 0, max: 0xffff }),
    length: fc.integer({ min: 0, max: 0x800 }),
  });

  test("random inserts never leave overlapping windows, and only valid windows are rejected for cause", () => {
    fc.assert(
      fc.property(fc.array(windowArb, { maxLength: 60 }), (windows) => {
        const bus = new Bus("port");
        const accepted: Array<{ base: number; length: number }> = [];
        for (const [i, w] of windows.entries()) {
          const overlapsAccepted = accepted.some((a) => w.base < a.base + a.length && a.base < w.base + w.length);
          const expectedKind =
            w.length === 0
              ? "zero-length"
              : w.base + w.length > 0x1_0000
                ? "out-of-space"
                : overlapsAccepted
                  ? "overlap"
                  : undefined;
          try {
            bus.insert(w.base, w.length, new ProbeDevice(`d${i}`, 1));
            expect(expectedKind).toBeUndefined();
            accepted.push(w);
          } catch (e) {
            expect(e).toBeInstanceOf(BusError);
            expect(expectedKind).toBeDefined();
            expect((e as BusError).kind as string).toBe(expectedKind ?? "");
          }
        }
        const entries = bus.entries();
        expect(entries.length).toBe(accepted.length);
        for (let i = 1; i < entries.length; i++) {
          const prev = entries[i - 1];
          const cur = entries[i];
          if (prev === undefined || cur === undefined) throw new Error("unreachable");
          expect(prev.base + prev.length).toBeLessThanOrEqual(cur.base);
        }
      }),
      { numRuns: 200 },
    );
  });

  test("lookup agrees with a linear scan", () => {
    fc.assert(
      fc.property(
        fc.array(windowArb, { maxLength: 40 }),
        fc.array(fc.integer({ min: -2, max: 0x1_0002 }), { maxLength: 80 }),
        (windows, probes) => {
          const bus = new Bus("port");
          for (const [i, w] of windows.entries()) {
            try {
              bus.insert(w.base, w.length, new ProbeDevice(`d${i}`, 1));
            } catch (e) {
              if (!(e instanceof BusError)) throw e;
            }
          }
          const entries = bus.entries();
          for (const addr of probes) {
            const linear = entries.find((e) => addr >= e.base && addr < e.base + e.length);
            const found = bus.lookup(addr);
            expect(found?.device).toBe(linear?.device);
            if (linear !== undefined) expect(found?.offset).toBe(addr - linear.base);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("Bus.readNumber / writeNumber (the exit hot path)", () => {
  test("agree with read/write on values, masking, stats, unmapped and straddling accesses", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0x0f80, max: 0x1180 }),
        fc.constantFrom(1 as const, 2 as const, 4 as const),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (addr, width, value) => {
          const make = () => {
            const bus = new Bus("mmio");
            const device = new ProbeDevice("d");
            bus.insert(0x1000, 0x100, device);
            bus.insert(0x1100, 4, { name: "sloppy", read: () => 0xdead_beef, write: () => {} });
            return { bus, device };
          };
          const big = make();
          const small = make();
          const wrote = big.bus.write(addr, width, BigInt(value)).kind;
          const wroteNumber = small.bus.writeNumber(addr, width, value);
          expect(wroteNumber).toBe(wrote === "ok" ? 0 : wrote === "unmapped" ? BUS_UNMAPPED : BUS_BAD_ACCESS);
          const read = big.bus.read(addr, width);
          const readNumber = small.bus.readNumber(addr, width);
          if (read.kind === "ok") expect(readNumber).toBe(Number(read.value));
          else expect(readNumber).toBe(read.kind === "unmapped" ? BUS_UNMAPPED : BUS_BAD_ACCESS);
          expect(small.device.accesses).toEqual(big.device.accesses);
          expect(small.bus.stats).toEqual(big.bus.stats);
        },
      ),
    );
  });
});

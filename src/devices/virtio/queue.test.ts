import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type DriverBuffer, DriverQueue, TEST_RAM_BASE, TestGuestRam } from "../../../test/support/virtio-driver.ts";
import type { GuestMemoryAccess } from "../../hal/types.ts";
import {
  type PopResult,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_MAX_CHAIN_BYTES,
  Virtqueue,
  VirtqueueError,
  type VirtqueueFeatures,
} from "./queue.ts";

const PLAIN: VirtqueueFeatures = { indirect: false, eventIdx: false };
const ALL: VirtqueueFeatures = { indirect: true, eventIdx: true };

/** A device-side queue configured like the driver's `DriverQueue` and activated. */
function pair(options: { size?: number; maxSize?: number; features?: VirtqueueFeatures; ramSize?: number } = {}) {
  const ram = new TestGuestRam(options.ramSize ?? 1 << 20);
  const size = options.size ?? 8;
  const dq = new DriverQueue(ram, 0, size);
  const vq = new Virtqueue(0, options.maxSize ?? size);
  configure(vq, dq);
  const error = vq.activate(ram.memory, options.features ?? PLAIN);
  if (error !== undefined) throw error;
  return { ram, dq, vq };
}

function configure(vq: Virtqueue, dq: { size: number; desc: number; avail: number; used: number }): void {
  vq.setSize(dq.size);
  const halves = (area: "desc" | "driver" | "device", addr: number) => {
    vq.setAddressHalf(area, false, addr % 2 ** 32);
    vq.setAddressHalf(area, true, Math.floor(addr / 2 ** 32));
  };
  halves("desc", dq.desc);
  halves("driver", dq.avail);
  halves("device", dq.used);
  vq.setReady(true);
}

function expectChain(result: PopResult) {
  if (result.kind !== "chain")
    throw new Error(
      `expected a chain, got ${result.kind}${result.kind === "error" ? `: ${result.error.message}` : ""}`,
    );
  return result.chain;
}

function expectError(result: PopResult): VirtqueueError {
  if (result.kind !== "error") throw new Error(`expected an error, got ${result.kind}`);
  expect(result.error).toBeInstanceOf(VirtqueueError);
  return result.error;
}

const readable = (...bytes: number[]): DriverBuffer => ({ writable: false, data: Uint8Array.from(bytes) });
const writable = (length: number): DriverBuffer => ({ writable: true, length });

describe("virtqueue activation checks", () => {
  const ram = new TestGuestRam(1 << 16);
  const base = ram.alloc(0x4000, 0x1000);
  const layout = { size: 8, desc: base, avail: base + 0x1000, used: base + 0x2000 };

  test.each([
    [0, "size 0 is not a power of two in 1..8"],
    [6, "size 6 is not a power of two in 1..8"],
    [16, "size 16 is not a power of two in 1..8"],
  ])("size %d is refused", (size, message) => {
    const vq = new Virtqueue(3, 8);
    configure(vq, { ...layout, size });
    const error = vq.activate(ram.memory, PLAIN);
    expect(error?.kind).toBe("invalid-size");
    expect(error?.message).toBe(`Cannot activate virtqueue 3: ${message}`);
  });

  test.each([
    ["desc", { desc: base + 8 }, "the descriptor table at 0x80000008 is not 16-byte aligned"],
    ["avail", { avail: base + 0x1001 }, "the available ring at 0x80001001 is not 2-byte aligned"],
    ["used", { used: base + 0x2002 }, "the used ring at 0x80002002 is not 4-byte aligned"],
  ])("misaligned %s is refused", (_name, change, message) => {
    const vq = new Virtqueue(0, 8);
    configure(vq, { ...layout, ...change });
    const error = vq.activate(ram.memory, PLAIN);
    expect(error?.kind).toBe("misaligned-area");
    expect(error?.message).toBe(`Cannot activate virtqueue 0: ${message}`);
  });

  test("areas must lie entirely inside guest memory", () => {
    const end = TEST_RAM_BASE + (1 << 16);
    const cases = [
      { desc: end - 0x40 }, // 8 descriptors need 0x80 bytes
      { avail: end - 0x10 }, // 6 + 16 bytes
      { used: end - 0x40 }, // 6 + 64 bytes
      { used: 0x1000 }, // below RAM
    ];
    for (const change of cases) {
      const vq = new Virtqueue(0, 8);
      configure(vq, { ...layout, ...change });
      expect(vq.activate(ram.memory, PLAIN)?.kind).toBe("area-outside-memory");
    }
    const vq = new Virtqueue(0, 8);
    configure(vq, layout);
    vq.setAddressHalf("desc", true, 0xffff_ffff);
    const error = vq.activate(ram.memory, PLAIN);
    expect(error?.message).toBe(
      "Cannot activate virtqueue 0: the descriptor table above 2^53 (128 bytes) is not inside guest memory",
    );
  });

  test("a good layout activates; setReady(false) stops the device touching the queue", () => {
    const vq = new Virtqueue(0, 8);
    configure(vq, layout);
    expect(vq.activate(ram.memory, PLAIN)).toBeUndefined();
    expect(vq.active).toBe(true);
    vq.setReady(false);
    expect(vq.active).toBe(false);
    expect(vq.pop()).toEqual({ kind: "empty" });
  });

  test("the maximum size must be a power of two in 1..32768", () => {
    expect(() => new Virtqueue(0, 3)).toThrow("Cannot create virtqueue 0 with maximum size 3");
    expect(() => new Virtqueue(0, 65536)).toThrow(RangeError);
    expect(new Virtqueue(0, 32768).size).toBe(32768);
  });
});

describe("virtqueue chains", () => {
  test("an empty ring pops nothing; a chain reads back readable bytes and takes writes", () => {
    const { dq, vq, ram } = pair();
    expect(vq.pop()).toEqual({ kind: "empty" });
    const { head, buffers } = dq.add([readable(1, 2, 3), readable(4, 5), writable(3), writable(4)]);
    expect(vq.hasAvailable()).toBe(true);
    const chain = expectChain(vq.pop());
    expect(chain.head).toBe(head);
    expect(chain.readableLength).toBe(5);
    expect(chain.writableLength).toBe(7);
    const out = new Uint8Array(5);
    expect(chain.read(0, out)).toBe(5);
    expect([...out]).toEqual([1, 2, 3, 4, 5]);
    const part = new Uint8Array(3);
    expect(chain.read(2, part)).toBe(3);
    expect([...part]).toEqual([3, 4, 5]);
    expect(chain.read(4, new Uint8Array(8))).toBe(1);
    expect(chain.write(1, Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]))).toBe(6);
    const w0 = buffers[2];
    const w1 = buffers[3];
    if (w0 === undefined || w1 === undefined) throw new Error("missing buffers");
    expect([...ram.memory.read(w0.addr, 3)]).toEqual([0, 9, 8]);
    expect([...ram.memory.read(w1.addr, 4)]).toEqual([7, 6, 5, 4]);
    expect(vq.pop()).toEqual({ kind: "empty" });
    expect(vq.addUsed(chain.head, 7)).toBeUndefined();
    expect(dq.takeUsed()).toEqual([{ id: head, len: 7, buffers }]);
  });

  test("avail.idx more than the queue size ahead is an error", () => {
    const { dq, vq } = pair({ size: 4 });
    dq.setAvailIdx(5);
    const error = expectError(vq.pop());
    expect(error.kind).toBe("avail-index");
    expect(error.message).toBe(
      "Cannot read virtqueue 0: avail.idx 5 is 5 entries ahead of the device (0), more than the queue size 4",
    );
    dq.setAvailIdx(0xffff); // "behind" the device = 65535 ahead
    expect(expectError(vq.pop()).kind).toBe("avail-index");
  });

  test("a head outside the table is an error and is consumed", () => {
    const { dq, vq } = pair({ size: 4 });
    dq.setAvailSlot(0, 4);
    dq.setAvailIdx(1);
    const error = expectError(vq.pop());
    expect(error.kind).toBe("head-index");
    expect(error.descriptor).toBe(4);
    expect(vq.nextAvail).toBe(1);
  });

  test("next outside the table, loops and over-long chains are errors, not end of chain", () => {
    const { dq, vq } = pair({ size: 4 });
    const addr = dq.ram.alloc(16);
    dq.writeDescriptor(0, { addr, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 7 });
    dq.publish(0);
    const bad = expectError(vq.pop());
    expect(bad.kind).toBe("next-index");
    expect(bad.message).toBe(
      "Cannot read the chain at head 0 of virtqueue 0: descriptor 0 chains to 7, outside the 4-entry descriptor table",
    );

    dq.writeDescriptor(1, { addr, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 2 });
    dq.writeDescriptor(2, { addr, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 });
    dq.publish(1);
    const loop = expectError(vq.pop());
    expect(loop.kind).toBe("chain-too-long");
    expect(loop.message).toContain("a loop in the descriptor table of 4 entries");

    dq.writeDescriptor(3, { addr, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 3 });
    dq.publish(3);
    expect(expectError(vq.pop()).kind).toBe("chain-too-long");
  });

  test("buffers must be inside guest memory; zero-length ones may point anywhere", () => {
    const { dq, vq } = pair({ size: 4 });
    const end = TEST_RAM_BASE + (1 << 20);
    dq.writeDescriptor(0, { addr: end - 4, len: 8, flags: 0, next: 0 });
    dq.publish(0);
    const error = expectError(vq.pop());
    expect(error.kind).toBe("buffer-outside-memory");
    expect(error.address).toBe(end - 4);
    expect(error.message).toBe(
      "Cannot read the chain at head 0 of virtqueue 0: descriptor 0 (0x800ffffc, 8 bytes) is not inside guest memory",
    );
    dq.writeDescriptor(1, { addr: 2 ** 60, len: 1, flags: 0, next: 0 });
    dq.publish(1);
    expect(expectError(vq.pop()).message).toContain("(above 2^53, 1 bytes)");
    dq.writeDescriptor(2, { addr: 0x10, len: 0, flags: VIRTQ_DESC_F_WRITE, next: 0 });
    dq.publish(2);
    const chain = expectChain(vq.pop());
    expect(chain.writable).toEqual([{ addr: 0x10, len: 0 }]);
  });

  test("a readable buffer after a writable one is an error", () => {
    const { dq, vq } = pair({ size: 4 });
    const addr = dq.ram.alloc(16);
    dq.writeDescriptor(0, { addr, len: 4, flags: VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, next: 1 });
    dq.writeDescriptor(1, { addr, len: 4, flags: 0, next: 0 });
    dq.publish(0);
    expect(expectError(vq.pop()).kind).toBe("readable-after-writable");
  });

  test("a chain of more than 2^32 - 1 bytes is an error", () => {
    // 4097 descriptors of 1 MiB, all over the same memory: 4097 MiB > 4 GiB.
    const size = 8192;
    const ram = new TestGuestRam(3 << 20);
    const dq = new DriverQueue(ram, 0, size);
    const vq = new Virtqueue(0, size);
    configure(vq, dq);
    expect(vq.activate(ram.memory, PLAIN)).toBeUndefined();
    const buffer = ram.alloc(1 << 20);
    for (let i = 0; i < 4097; i++)
      dq.writeDescriptor(i, { addr: buffer, len: 1 << 20, flags: VIRTQ_DESC_F_NEXT, next: i + 1 });
    dq.publish(0);
    const error = expectError(vq.pop());
    expect(error.kind).toBe("chain-too-large");
    expect(error.descriptor).toBe(4095); // the 4096th MiB makes 2^32 bytes
    expect(VIRTQ_MAX_CHAIN_BYTES).toBe(2 ** 32 - 1);
  });
});

describe("indirect descriptors", () => {
  test("an indirect table is followed when negotiated, after direct buffers, ignoring the pointer's WRITE flag", () => {
    const { dq, vq, ram } = pair({ size: 4, features: ALL });
    const { head, buffers } = dq.add([readable(1, 2), writable(2), writable(5)], { indirect: true });
    const chain = expectChain(vq.pop());
    expect(chain.head).toBe(head);
    expect(chain.readable).toHaveLength(1);
    expect(chain.writable.map((b) => b.len)).toEqual([2, 5]);
    expect(buffers.map((b) => b.len)).toEqual([2, 2, 5]);

    // Direct readable buffer → indirect table (with WRITE set on the pointer, which must be ignored).
    const data = ram.alloc(8);
    ram.memory.write(data, Uint8Array.of(7, 7, 7));
    const table = ram.alloc(32, 16);
    const out = ram.alloc(8);
    ram.memory.writeU32(table, out);
    ram.memory.writeU32(table + 8, 6);
    ram.memory.writeU16(table + 12, VIRTQ_DESC_F_WRITE);
    dq.writeDescriptor(1, { addr: data, len: 3, flags: VIRTQ_DESC_F_NEXT, next: 2 });
    dq.writeDescriptor(2, { addr: table, len: 16, flags: VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, next: 0 });
    dq.publish(1);
    const mixed = expectChain(vq.pop());
    expect(mixed.readable).toEqual([{ addr: data, len: 3 }]);
    expect(mixed.writable).toEqual([{ addr: out, len: 6 }]);
  });

  test("indirect errors: not negotiated, with NEXT, nested, bad length, outside memory, loops", () => {
    const run = (features: VirtqueueFeatures, build: (dq: DriverQueue, ram: TestGuestRam) => void) => {
      const { dq, vq, ram } = pair({ size: 4, features });
      build(dq, ram);
      return expectError(vq.pop());
    };
    const table = (
      ram: TestGuestRam,
      entries: ReadonlyArray<{ addr: number; len: number; flags: number; next: number }>,
    ) => {
      const at = ram.alloc(16 * entries.length, 16);
      entries.forEach((e, i) => {
        ram.memory.writeU32(at + 16 * i, e.addr);
        ram.memory.writeU32(at + 16 * i + 8, e.len);
        ram.memory.writeU16(at + 16 * i + 12, e.flags);
        ram.memory.writeU16(at + 16 * i + 14, e.next);
      });
      return at;
    };
    expect(
      run(PLAIN, (dq, ram) => {
        dq.writeDescriptor(0, {
          addr: table(ram, [{ addr: ram.alloc(4), len: 4, flags: 0, next: 0 }]),
          len: 16,
          flags: VIRTQ_DESC_F_INDIRECT,
          next: 0,
        });
        dq.publish(0);
      }).kind,
    ).toBe("indirect-not-negotiated");
    expect(
      run(ALL, (dq, ram) => {
        dq.writeDescriptor(0, {
          addr: table(ram, [{ addr: ram.alloc(4), len: 4, flags: 0, next: 0 }]),
          len: 16,
          flags: VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT,
          next: 1,
        });
        dq.publish(0);
      }).kind,
    ).toBe("indirect-with-next");
    expect(
      run(ALL, (dq, ram) => {
        const inner = table(ram, [{ addr: ram.alloc(4), len: 4, flags: 0, next: 0 }]);
        dq.writeDescriptor(0, {
          addr: table(ram, [{ addr: inner, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 }]),
          len: 16,
          flags: VIRTQ_DESC_F_INDIRECT,
          next: 0,
        });
        dq.publish(0);
      }).kind,
    ).toBe("nested-indirect");
    for (const len of [0, 8, 24]) {
      expect(
        run(ALL, (dq, ram) => {
          dq.writeDescriptor(0, { addr: ram.alloc(32, 16), len, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
          dq.publish(0);
        }).kind,
      ).toBe("indirect-table-length");
    }
    expect(
      run(ALL, (dq) => {
        dq.writeDescriptor(0, { addr: TEST_RAM_BASE + (1 << 20) - 16, len: 32, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
        dq.publish(0);
      }).kind,
    ).toBe("indirect-table-outside-memory");
    const loop = run(ALL, (dq, ram) => {
      const b = ram.alloc(4);
      const t = table(ram, [
        { addr: b, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 },
        { addr: b, len: 4, flags: VIRTQ_DESC_F_NEXT, next: 0 },
      ]);
      dq.writeDescriptor(0, { addr: t, len: 32, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      dq.publish(0);
    });
    expect(loop.kind).toBe("chain-too-long");
    expect(loop.message).toContain("revisits indirect descriptor 0");
    const oob = run(ALL, (dq, ram) => {
      const t = table(ram, [{ addr: ram.alloc(4), len: 4, flags: VIRTQ_DESC_F_NEXT, next: 1 }]);
      dq.writeDescriptor(0, { addr: t, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
      dq.publish(0);
    });
    expect(oob.kind).toBe("next-index");
    expect(oob.message).toContain("indirect descriptor 0 chains to 1, outside the 1-entry indirect table");
  });

  test("a chain holds at most queue-size buffers, counting indirect ones", () => {
    const { dq, vq } = pair({ size: 4, features: ALL });
    dq.add([readable(1), readable(2), readable(3), writable(1)], { indirect: true });
    expect(expectChain(vq.pop()).readableLength).toBe(3);
    dq.add([readable(1), readable(2), readable(3), writable(1), writable(1)], { indirect: true });
    const error = expectError(vq.pop());
    expect(error.kind).toBe("chain-too-long");
    expect(error.message).toContain("more than 4 buffers");
  });
});

describe("used ring and notification suppression", () => {
  test("without EVENT_IDX: notify after new used entries unless VIRTQ_AVAIL_F_NO_INTERRUPT", () => {
    const { dq, vq } = pair();
    expect(vq.needsNotification()).toBe(false); // nothing used yet
    dq.add([writable(1)]);
    const a = expectChain(vq.pop());
    vq.addUsed(a.head, 1);
    expect(vq.needsNotification()).toBe(true);
    expect(vq.needsNotification()).toBe(false); // already decided for that entry
    dq.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    dq.add([writable(1)]);
    vq.addUsed(expectChain(vq.pop()).head, 0);
    expect(vq.needsNotification()).toBe(false);
    expect(dq.usedIdx).toBe(2);
  });

  test("with EVENT_IDX: notify exactly when used_event is crossed; avail_event follows the device", () => {
    const { dq, vq } = pair({ features: ALL });
    expect(vq.pop()).toEqual({ kind: "empty" });
    expect(dq.availEvent).toBe(0);
    dq.setUsedEvent(0); // §2.7.7.2 example: notify after the first buffer
    for (let i = 0; i < 3; i++) dq.add([writable(1)]);
    const first = expectChain(vq.pop());
    expect(dq.availEvent).toBe(1);
    vq.addUsed(first.head, 1);
    expect(vq.needsNotification()).toBe(true);
    const second = expectChain(vq.pop());
    vq.addUsed(second.head, 1);
    expect(vq.needsNotification()).toBe(false); // used_event 0 was already passed
    dq.setUsedEvent(2); // notify when entry 2 is written
    vq.addUsed(expectChain(vq.pop()).head, 1);
    expect(vq.needsNotification()).toBe(true);
    expect(vq.pop()).toEqual({ kind: "empty" });
    expect(dq.availEvent).toBe(3);
    // The used_event in the middle of a batch still triggers one notification for the batch.
    for (let i = 0; i < 3; i++) dq.add([writable(1)]);
    dq.setUsedEvent(4);
    for (let i = 0; i < 3; i++) vq.addUsed(expectChain(vq.pop()).head, 1);
    expect(vq.needsNotification()).toBe(true);
    expect(dq.takeUsed()).toHaveLength(6);
  });

  test("16-bit ring indices wrap", () => {
    const { dq, vq } = pair({ size: 8, features: ALL });
    dq.startAt(0xfffe);
    vq.restorePositions({ ...vq.snapshot(), nextAvail: 0xfffe, nextUsed: 0xfffe, signalledUsed: 0xfffe });
    const heads: number[] = [];
    for (let i = 0; i < 4; i++) heads.push(dq.add([readable(i), writable(1)]).head);
    for (const head of heads) {
      const chain = expectChain(vq.pop());
      expect(chain.head).toBe(head);
      vq.addUsed(chain.head, 1);
    }
    expect(vq.nextAvail).toBe(2);
    expect(dq.takeUsed().map((u) => u.id)).toEqual(heads);
  });
});

describe("guest memory faults", () => {
  /** Guest memory that starts refusing every access after `budget` successful ones. */
  function flaky(inner: GuestMemoryAccess, budget: { left: number }): GuestMemoryAccess {
    const gate = () => {
      if (budget.left-- <= 0) throw new Error("injected guest memory fault");
    };
    return {
      contains: (gpa, length) => inner.contains(gpa, length),
      read: (gpa, length) => {
        gate();
        return inner.read(gpa, length);
      },
      readInto: (gpa, target) => {
        gate();
        return inner.readInto(gpa, target);
      },
      write: (gpa, data) => {
        gate();
        return inner.write(gpa, data);
      },
      readU16: (gpa) => {
        gate();
        return inner.readU16(gpa);
      },
      readU32: (gpa) => {
        gate();
        return inner.readU32(gpa);
      },
      readU64: (gpa) => {
        gate();
        return inner.readU64(gpa);
      },
      writeU64: (gpa, value) => {
        gate();
        return inner.writeU64(gpa, value);
      },
      writeU16: (gpa, value) => {
        gate();
        return inner.writeU16(gpa, value);
      },
      writeU32: (gpa, value) => {
        gate();
        return inner.writeU32(gpa, value);
      },
    };
  }

  test("pop and addUsed report a fault as a memory-fault error; needsNotification answers true", () => {
    for (let left = 0; left < 6; left++) {
      const ram = new TestGuestRam(1 << 16);
      const dq = new DriverQueue(ram, 0, 4);
      dq.add([readable(1), writable(1)]);
      const budget = { left: Number.POSITIVE_INFINITY };
      const vq = new Virtqueue(0, 4);
      configure(vq, dq);
      vq.activate(flaky(ram.memory, budget), ALL);
      budget.left = left;
      const result = vq.pop();
      if (result.kind === "error") {
        expect(result.error.kind).toBe("memory-fault");
        expect(result.error.message).toContain("injected guest memory fault");
        continue;
      }
      const chain = expectChain(result);
      const used = vq.addUsed(chain.head, 1);
      if (used !== undefined) expect(used.kind).toBe("memory-fault");
      else expect(vq.needsNotification()).toBe(true);
    }
  });
});

describe("virtqueue properties", () => {
  test("random descriptor tables and rings never throw; chains that come out obey every rule", () => {
    // Weighted towards plausible values so that a fair share of chains is valid, with hostile values mixed in.
    const descriptor = fc.record({
      addr: fc.oneof(
        { arbitrary: fc.integer({ min: TEST_RAM_BASE, max: TEST_RAM_BASE + 0xff00 }), weight: 8 },
        { arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }), weight: 1 },
        { arbitrary: fc.constantFrom(0, TEST_RAM_BASE + 0xfff0, 2 ** 53, 2 ** 64 - 2 ** 12), weight: 1 },
      ),
      len: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 64 }), weight: 8 },
        { arbitrary: fc.constantFrom(16, 32, 48, 0x1_0000, 0xffff_ffff), weight: 1 },
        { arbitrary: fc.integer({ min: 0, max: 2 ** 32 - 1 }), weight: 1 },
      ),
      flags: fc.oneof(
        {
          arbitrary: fc.constantFrom(0, VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE),
          weight: 8,
        },
        { arbitrary: fc.integer({ min: 0, max: 7 }), weight: 2 },
        { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 },
      ),
      next: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 9 }), weight: 8 },
        { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 },
      ),
    });
    const scenario = fc.record({
      sizeLog: fc.integer({ min: 0, max: 3 }),
      descriptors: fc.array(descriptor, { minLength: 8, maxLength: 8 }),
      ring: fc.array(
        fc.oneof(
          { arbitrary: fc.integer({ min: 0, max: 8 }), weight: 8 },
          { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 },
        ),
        { minLength: 8, maxLength: 8 },
      ),
      availIdx: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 10 }), weight: 8 },
        { arbitrary: fc.integer({ min: 0, max: 0xffff }), weight: 1 },
      ),
      indirect: fc.boolean(),
      eventIdx: fc.boolean(),
      seed: fc.integer(),
    });
    let chains = 0;
    let errors = 0;
    fc.assert(
      fc.property(scenario, (s) => {
        const size = 1 << s.sizeLog;
        const ram = new TestGuestRam(0x1_0000);
        // Random bytes everywhere, so indirect tables the walk follows hold garbage too.
        let x = s.seed | 1;
        for (let i = 0; i < ram.bytes.length; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          ram.bytes[i] = x & 0xff;
        }
        const dq = new DriverQueue(ram, 0, size, {
          desc: TEST_RAM_BASE,
          avail: TEST_RAM_BASE + 0x100,
          used: TEST_RAM_BASE + 0x200,
        });
        s.descriptors.slice(0, size).forEach((d, i) => dq.writeDescriptor(i, d));
        s.ring.slice(0, size).forEach((head, slot) => dq.setAvailSlot(slot, head));
        dq.setAvailIdx(s.availIdx);
        ram.memory.writeU16(dq.used + 2, 0);
        const vq = new Virtqueue(0, size);
        configure(vq, dq);
        expect(vq.activate(ram.memory, { indirect: s.indirect, eventIdx: s.eventIdx })).toBeUndefined();
        for (let i = 0; i < size + 2; i++) {
          const r = vq.pop();
          if (r.kind === "empty") break;
          if (r.kind === "error") {
            errors++;
            expect(r.error.message.length).toBeGreaterThan(0);
            continue;
          }
          chains++;
          const c = r.chain;
          expect(c.head).toBeLessThan(size);
          expect(c.readable.length + c.writable.length).toBeLessThanOrEqual(size);
          expect(c.readableLength + c.writableLength).toBeLessThanOrEqual(VIRTQ_MAX_CHAIN_BYTES);
          for (const b of [...c.readable, ...c.writable]) {
            if (b.len > 0) expect(ram.memory.contains(b.addr, b.len)).toBe(true);
          }
          expect(c.readableLength).toBe(c.readable.reduce((n, b) => n + b.len, 0));
          expect(c.writableLength).toBe(c.writable.reduce((n, b) => n + b.len, 0));
          expect(vq.addUsed(c.head, Math.min(c.writableLength, 0xffff_ffff))).toBeUndefined();
          vq.needsNotification();
        }
      }),
      { numRuns: 400 },
    );
    // The generator must exercise both outcomes, or the property says little.
    expect(chains).toBeGreaterThan(20);
    expect(errors).toBeGreaterThan(20);
  });

  test("valid chains (direct or indirect) are read back exactly and writes land where the driver expects", () => {
    const chainArb = fc
      .record({
        readable: fc.array(fc.uint8Array({ minLength: 0, maxLength: 40 }), { minLength: 0, maxLength: 4 }),
        writable: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 0, maxLength: 3 }),
        indirect: fc.boolean(),
      })
      .filter((c) => c.readable.length + c.writable.length > 0);
    fc.assert(
      fc.property(
        fc.array(chainArb, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.boolean(),
        (chains, start, eventIdx) => {
          const ram = new TestGuestRam(1 << 18);
          const dq = new DriverQueue(ram, 0, 16);
          const vq = new Virtqueue(0, 16);
          configure(vq, dq);
          expect(vq.activate(ram.memory, { indirect: true, eventIdx })).toBeUndefined();
          dq.startAt(start);
          vq.restorePositions({ ...vq.snapshot(), nextAvail: start, nextUsed: start, signalledUsed: start });
          for (const spec of chains) {
            const buffers: DriverBuffer[] = [
              ...spec.readable.map((data): DriverBuffer => ({ writable: false, data })),
              ...spec.writable.map((length): DriverBuffer => ({ writable: true, length })),
            ];
            const direct = !spec.indirect && buffers.length <= dq.freeDescriptors;
            const { head, buffers: placed } = dq.add(buffers, { indirect: !direct });
            const chain = expectChain(vq.pop());
            expect(chain.head).toBe(head);
            const expected = Uint8Array.from(spec.readable.flatMap((b) => [...b]));
            const got = new Uint8Array(chain.readableLength);
            expect(chain.read(0, got)).toBe(expected.length);
            expect(got).toEqual(expected);
            const total = spec.writable.reduce((a, b) => a + b, 0);
            expect(chain.writableLength).toBe(total);
            const pattern = Uint8Array.from({ length: total }, (_, i) => (i * 7 + head) & 0xff);
            expect(chain.write(0, pattern)).toBe(total);
            expect(vq.addUsed(chain.head, total)).toBeUndefined();
            const used = dq.takeUsed();
            expect(used.map((u) => [u.id, u.len])).toEqual([[head, total]]);
            const back = Uint8Array.from(placed.filter((b) => b.writable).flatMap((b) => [...dq.readBuffer(b)]));
            expect(back).toEqual(pattern);
          }
          expect(vq.pop()).toEqual({ kind: "empty" });
        },
      ),
      { numRuns: 200 },
    );
  });
});

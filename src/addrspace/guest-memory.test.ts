import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FakeHostMemoryAllocator } from "../../test/support/fake-host-memory.ts";
import { GuestMemory, GuestMemoryError } from "./guest-memory.ts";

function twoContiguousAndOneApart() {
  const alloc = new FakeHostMemoryAllocator();
  const a = alloc.allocate(0x1000);
  const b = alloc.allocate(0x1000);
  const c = alloc.allocate(0x2000);
  const memory = new GuestMemory([
    { name: "b", gpa: 0x8000_1000, bytes: b.bytes, host: b },
    { name: "a", gpa: 0x8000_0000, bytes: a.bytes, host: a },
    { name: "c", gpa: 0x9000_0000, bytes: c.bytes, host: c },
  ]);
  return { alloc, a, b, c, memory };
}

describe("GuestMemory", () => {
  test("rejects empty, overlapping and overflowing regions with names and addresses", () => {
    expect(() => new GuestMemory([{ name: "ram", gpa: 0x1000, bytes: new Uint8Array(0) }])).toThrow(
      'region "ram" at 0x1000 is empty',
    );
    expect(
      () =>
        new GuestMemory([
          { name: "low", gpa: 0x1000, bytes: new Uint8Array(0x2000) },
          { name: "high", gpa: 0x2000, bytes: new Uint8Array(0x1000) },
        ]),
    ).toThrow('region "high" (0x2000..0x2fff) overlaps "low" (0x1000..0x2fff)');
    expect(
      () => new GuestMemory([{ name: "top", gpa: Number.MAX_SAFE_INTEGER - 4, bytes: new Uint8Array(16) }]),
    ).toThrow("overflows");
  });

  test("reads and writes little-endian values of each width", () => {
    const { memory, a } = twoContiguousAndOneApart();
    memory.writeU32(0x8000_0010, 0xdeadbeef);
    expect([...a.bytes.subarray(0x10, 0x14)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(memory.readU32(0x8000_0010)).toBe(0xdeadbeef);
    expect(memory.readU16(0x8000_0012)).toBe(0xdead);
    expect(memory.readU8(0x8000_0013)).toBe(0xde);
    memory.writeU64(0x8000_0020, 0x0123_4567_89ab_cdefn);
    expect(memory.readU64(0x8000_0020)).toBe(0x0123_4567_89ab_cdefn);
    memory.writeU64(0x8000_0028, -1n);
    expect(memory.readU64(0x8000_0028)).toBe(0xffff_ffff_ffff_ffffn);
  });

  test("an access may cross contiguous regions", () => {
    const { memory, a, b } = twoContiguousAndOneApart();
    memory.write(0x8000_0ffe, Uint8Array.of(1, 2, 3, 4));
    expect([...a.bytes.subarray(0xffe)]).toEqual([1, 2]);
    expect([...b.bytes.subarray(0, 2)]).toEqual([3, 4]);
    expect(memory.readU32(0x8000_0ffe)).toBe(0x04030201);
    expect(memory.contains(0x8000_0000, 0x2000)).toBe(true);
  });

  test("an access into a hole fails with the address and the bytes done, after doing them", () => {
    const { memory, b } = twoContiguousAndOneApart();
    let error: unknown;
    try {
      memory.write(0x8000_1ffe, Uint8Array.of(9, 9, 9, 9));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GuestMemoryError);
    const failure = error as GuestMemoryError;
    expect(failure.kind).toBe("unmapped");
    expect(failure.address).toBe(0x8000_1ffe);
    expect(failure.done).toBe(2);
    expect(failure.message).toContain("0x80002000 is not guest memory (2 bytes done)");
    expect([...b.bytes.subarray(0xffe)]).toEqual([9, 9]);
    expect(memory.contains(0x8000_1ffe, 4)).toBe(false);
    expect(() => memory.readU8(0x7fff_ffff)).toThrow("0x7fffffff is not guest memory (0 bytes done)");
  });

  test("bad lengths and addresses are invalid arguments, not crashes", () => {
    const { memory } = twoContiguousAndOneApart();
    expect(() => memory.read(0x8000_0000, -1)).toThrow(GuestMemoryError);
    expect(() => memory.read(-5, 1)).toThrow(GuestMemoryError);
    expect(() => memory.read(Number.MAX_SAFE_INTEGER, 2)).toThrow(GuestMemoryError);
    expect(memory.contains(-5, 1)).toBe(false);
  });

  test("writes are reported to the backend with host offsets", () => {
    const { memory, alloc, c } = twoContiguousAndOneApart();
    memory.write(0x9000_1000, new Uint8Array(16));
    expect(alloc.writes.at(-1)).toEqual({ hostPhysAddr: c.hostPhysAddr, offset: 0x1000, length: 16 });
    memory.fill(0x8000_0ff0, 0x20, 0xaa);
    expect(alloc.writes.slice(-2).map((w) => w.length)).toEqual([0x10, 0x10]);
  });

  test("getSlice is zero-copy inside one region and undefined across regions", () => {
    const { memory, c } = twoContiguousAndOneApart();
    const view = memory.getSlice(0x9000_0100, 8);
    expect(view).toBeDefined();
    view?.fill(7);
    expect(c.bytes[0x100]).toBe(7);
    expect(memory.getSlice(0x8000_0ffc, 8)).toBeUndefined();
    expect(memory.getSlice(0x8800_0000, 1)).toBeUndefined();
  });

  test("property: random accesses either succeed consistently with a flat model or throw GuestMemoryError", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            gpa: fc.integer({ min: 0x8000_0000 - 0x100, max: 0x9000_2100 }),
            length: fc.integer({ min: 0, max: 0x1100 }),
            byte: fc.integer({ min: 0, max: 255 }),
          }),
          { maxLength: 20 },
        ),
        (accesses) => {
          const { memory } = twoContiguousAndOneApart();
          const model = new Map<number, number>();
          const inModel = (at: number) =>
            (at >= 0x8000_0000 && at < 0x8000_2000) || (at >= 0x9000_0000 && at < 0x9000_2000);
          for (const { gpa, length, byte } of accesses) {
            const ok = Array.from({ length }, (_, i) => inModel(gpa + i)).every(Boolean);
            expect(memory.contains(gpa, length)).toBe(ok);
            try {
              memory.write(gpa, new Uint8Array(length).fill(byte));
              expect(ok).toBe(true);
              for (let i = 0; i < length; i++) model.set(gpa + i, byte);
            } catch (error) {
              expect(error).toBeInstanceOf(GuestMemoryError);
              expect(ok).toBe(false);
              const done = (error as GuestMemoryError).done;
              for (let i = 0; i < done; i++) model.set(gpa + i, byte);
            }
          }
          for (const [at, value] of model) expect(memory.readU8(at)).toBe(value);
        },
      ),
      { numRuns: 200 },
    );
  });
});

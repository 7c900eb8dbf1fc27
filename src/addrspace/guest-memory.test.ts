import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

describe("GuestMemory.writeFromFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "guest-memory-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A file of `length` bytes (i * 7 + 3 mod 256), open for reading; the caller closes it. */
  function openPatternFile(name: string, length: number): { fd: number; content: Uint8Array } {
    const content = Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff);
    const path = join(dir, name);
    writeFileSync(path, content);
    return { fd: openSync(path, "r"), content };
  }

  test("reads a file range across two contiguous regions, reporting each region's piece and logging the write", () => {
    const { alloc, a, b, memory } = twoContiguousAndOneApart();
    const { fd, content } = openPatternFile("span", 0x3000);
    try {
      memory.startRecordingWrites();
      const before = alloc.writes.length;
      expect(memory.writeFromFile(0x8000_0800, fd, 0x100, 0x1000)).toBe(0x1000);
      expect(memory.read(0x8000_0800, 0x1000)).toEqual(content.subarray(0x100, 0x1100));
      expect(a.bytes.subarray(0x800)).toEqual(content.subarray(0x100, 0x900));
      expect(b.bytes.subarray(0, 0x800)).toEqual(content.subarray(0x900, 0x1100));
      expect(alloc.writes.slice(before)).toEqual([
        { hostPhysAddr: a.hostPhysAddr, offset: 0x800, length: 0x800 },
        { hostPhysAddr: b.hostPhysAddr, offset: 0, length: 0x800 },
      ]);
      expect(memory.stopRecordingWrites()).toEqual([
        [0x8000_0800, 0x800],
        [0x8000_1000, 0x800],
      ]);
    } finally {
      closeSync(fd);
    }
  });

  test("stops at the end of the file: returns the bytes read and reports only them", () => {
    const { alloc, c, memory } = twoContiguousAndOneApart();
    const { fd, content } = openPatternFile("short", 100);
    try {
      c.bytes.fill(0xee);
      const before = alloc.writes.length;
      expect(memory.writeFromFile(0x9000_0000, fd, 40, 0x1000)).toBe(60);
      expect(c.bytes.subarray(0, 60)).toEqual(content.subarray(40));
      expect(c.bytes[60]).toBe(0xee);
      expect(alloc.writes.slice(before)).toEqual([{ hostPhysAddr: c.hostPhysAddr, offset: 0, length: 60 }]);
      expect(memory.writeFromFile(0x9000_0000, fd, 100, 16)).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  test("a range that runs into a hole fails naming the address and length, after the bytes before it", () => {
    const { b, memory } = twoContiguousAndOneApart();
    const { fd, content } = openPatternFile("hole", 0x100);
    try {
      let error: unknown;
      try {
        memory.writeFromFile(0x8000_1ff0, fd, 0, 0x20);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GuestMemoryError);
      const failure = error as GuestMemoryError;
      expect(failure.kind).toBe("unmapped");
      expect(failure.address).toBe(0x8000_1ff0);
      expect(failure.length).toBe(0x20);
      expect(failure.done).toBe(0x10);
      expect(failure.message).toBe(
        "Cannot write 32 bytes at 0x80001ff0: 0x80002000 is not guest memory (16 bytes done)",
      );
      expect(b.bytes.subarray(0xff0)).toEqual(content.subarray(0, 0x10));
      expect(() => memory.writeFromFile(0x7000_0000, fd, 0, 1)).toThrow(
        "Cannot write 1 bytes at 0x70000000: 0x70000000 is not guest memory (0 bytes done)",
      );
    } finally {
      closeSync(fd);
    }
  });

  test("bad lengths and file offsets are invalid arguments; file errors come through", () => {
    const { memory } = twoContiguousAndOneApart();
    const { fd } = openPatternFile("args", 16);
    try {
      expect(() => memory.writeFromFile(0x8000_0000, fd, 0, -1)).toThrow("Cannot write -1 bytes at 0x80000000");
      expect(() => memory.writeFromFile(0x8000_0000, fd, -1, 4)).toThrow(
        "Cannot write 4 bytes at 0x80000000 from a file: bad file offset -1",
      );
      expect(() => memory.writeFromFile(0x8000_0000, fd, 0.5, 4)).toThrow(GuestMemoryError);
    } finally {
      closeSync(fd);
    }
    // A directory opens but cannot be read: EISDIR reaches the caller, nothing is reported written.
    const dirFd = openSync(dir, "r");
    try {
      memory.startRecordingWrites();
      expect(() => memory.writeFromFile(0x8000_0000, dirFd, 0, 4)).toThrow(/EISDIR/);
      expect(memory.stopRecordingWrites()).toEqual([]);
    } finally {
      closeSync(dirFd);
    }
  });
});

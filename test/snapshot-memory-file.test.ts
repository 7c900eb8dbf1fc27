/**
 * The snapshot memory file (src/vmm/snapshot/memory-file.ts) over arena memory, the emulated backend's guest RAM:
 * both ways of loading it (mapping, reading) give the saved bytes; skipping the pages the kernel says were never
 * touched finds exactly the data a full scan finds, also in RAM that maps an earlier memory file and has not
 * touched its pages; a restored VM's RAM is private (its writes never reach the file) and survives a new snapshot
 * written to the file it maps; and the arena's mapping (with the file mapped into it) is gone once the arena is
 * collected, so no later memory sees the file.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestMemory } from "../src/addrspace/guest-memory.ts";
import { Arena } from "../src/hal/emulated/arena.ts";
import type { HostMemory } from "../src/hal/types.ts";
import { MEMORY_CHUNK, readMemoryFile, writeMemoryFile } from "../src/vmm/snapshot/memory-file.ts";
import { testIf } from "./support/skip.ts";

const SIZE = 4 * 2 ** 20;
const GPA = 0x8000_0000;
const dir = mkdtempSync(join(tmpdir(), "axvisor-memfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const linux = {
  available: process.platform === "linux",
  reason:
    "mapping files and /proc/self/pagemap are Linux-only here (elsewhere the file is read and every page scanned)",
};

/**
 * Guest memory of one region in a fresh arena, as the emulated backend makes it, but on 4 KiB host pages (with
 * huge pages the kernel reports a whole 2 MiB piece touched once one byte of it is, and the skipping below is
 * checked page by page); notified writes are counted.
 */
function arenaMemory(): { memory: GuestMemory; notified: Array<[number, number]> } {
  const arena = Arena.create({ hugePages: false });
  if (arena === undefined) throw new Error("this host cannot make a shared WebAssembly memory");
  const offset = arena.allocate(SIZE, 4096);
  if (offset === undefined) throw new Error("the arena refused 4 MiB");
  const notified: Array<[number, number]> = [];
  const host: HostMemory = {
    bytes: arena.bytes(offset, SIZE),
    hostPhysAddr: 0x1000_0000,
    notifyWritten: (at, length) => notified.push([at, length]),
    privatePages: true,
  };
  return { memory: new GuestMemory([{ name: "ram", gpa: GPA, bytes: host.bytes, host, hostOffset: 0 }]), notified };
}

/** A few data runs: one byte in one chunk, a whole chunk, a run across two chunks; the rest untouched. */
function fill(memory: GuestMemory): void {
  memory.writeU8(GPA + 3 * MEMORY_CHUNK + 17, 0x5a);
  memory.fill(GPA + 10 * MEMORY_CHUNK, MEMORY_CHUNK, 0xa5);
  memory.fill(GPA + 20 * MEMORY_CHUNK + 100, MEMORY_CHUNK, 0x11);
  // Touched but zero: read and written back as zeros, so it is scanned and found empty.
  memory.fill(GPA + 30 * MEMORY_CHUNK, MEMORY_CHUNK, 0);
}

const EXPECTED_EXTENTS: Array<[number, number]> = [
  [3 * MEMORY_CHUNK, MEMORY_CHUNK],
  [10 * MEMORY_CHUNK, MEMORY_CHUNK],
  [20 * MEMORY_CHUNK, 2 * MEMORY_CHUNK],
];

const linuxTest = testIf(linux, "snapshot memory file: mapping and /proc/self/pagemap");

describe("snapshot memory file", () => {
  test("a full scan finds the chunks with data; reading the file back gives the same bytes", () => {
    const source = arenaMemory().memory;
    fill(source);
    const path = join(dir, "all.mem");
    const written = writeMemoryFile(path, source, "all");
    expect(written.layout.extents).toEqual(EXPECTED_EXTENTS);
    expect(written.skippedUntouched).toBe(0);
    const target = arenaMemory();
    // What a boot wrote, which the snapshot says is zero: cleared by the read.
    target.memory.fill(GPA + 40 * MEMORY_CHUNK, 4096, 0xee);
    const loaded = readMemoryFile(path, target.memory, written.layout, [[GPA + 40 * MEMORY_CHUNK, 4096]], "read");
    expect(loaded).toEqual({ mappedBytes: 0, readBytes: 4 * MEMORY_CHUNK });
    expect(target.memory.read(GPA, SIZE)).toEqual(source.read(GPA, SIZE));
  });

  linuxTest("pages never touched are skipped unread, and the data found is what a full scan finds", () => {
    const source = arenaMemory().memory;
    fill(source);
    const written = writeMemoryFile(join(dir, "touched.mem"), source, "touched");
    expect(written.layout.extents).toEqual(EXPECTED_EXTENTS);
    // Everything but the four chunks written to (the zero-filled one included) was never touched.
    expect(written.skippedUntouched).toBe(SIZE - 5 * MEMORY_CHUNK);
  });

  linuxTest("a restore maps the file: same bytes, one notification for the whole region, writes stay private", () => {
    const source = arenaMemory().memory;
    fill(source);
    const path = join(dir, "mapped.mem");
    const { layout } = writeMemoryFile(path, source);
    const fileBefore = readFileSync(path);
    const target = arenaMemory();
    const loaded = readMemoryFile(path, target.memory, layout, undefined, "map");
    expect(loaded).toEqual({ mappedBytes: SIZE, readBytes: 0 });
    expect(target.notified).toEqual([[0, SIZE]]);
    expect(target.memory.read(GPA, SIZE)).toEqual(source.read(GPA, SIZE));
    target.memory.fill(GPA + 10 * MEMORY_CHUNK, 8, 0x77);
    target.memory.writeU8(GPA + 50 * MEMORY_CHUNK, 1);
    expect(readFileSync(path).equals(fileBefore)).toBe(true);
  });

  linuxTest("RAM mapping a file keeps its untouched data in the next snapshot, even one written over that file", () => {
    const source = arenaMemory().memory;
    fill(source);
    const path = join(dir, "chain.mem");
    const { layout } = writeMemoryFile(path, source);
    const restored = arenaMemory().memory;
    readMemoryFile(path, restored, layout, undefined, "map");
    restored.writeU8(GPA + 40 * MEMORY_CHUNK, 9);
    // Nothing of the file's data was touched since the mapping: the kernel reports those pages untouched.
    const again = writeMemoryFile(path, restored, "touched");
    expect(again.layout.extents).toEqual([...EXPECTED_EXTENTS, [40 * MEMORY_CHUNK, MEMORY_CHUNK]]);
    // The new file replaced the old one's name only: the restored RAM still reads the old file's bytes.
    expect(restored.read(GPA + 10 * MEMORY_CHUNK, MEMORY_CHUNK)).toEqual(new Uint8Array(MEMORY_CHUNK).fill(0xa5));
    const third = arenaMemory().memory;
    readMemoryFile(path, third, again.layout, undefined, "read");
    expect(third.read(GPA, SIZE)).toEqual(restored.read(GPA, SIZE));
  });

  linuxTest("a collected arena takes the file mapping with it (no later memory reads the file)", async () => {
    const path = join(dir, "collected.mem");
    (() => {
      const source = arenaMemory().memory;
      fill(source);
      const { layout } = writeMemoryFile(path, source);
      readMemoryFile(path, arenaMemory().memory, layout, undefined, "map");
    })();
    const mapsOfFile = (): number =>
      readFileSync("/proc/self/maps", "utf8")
        .split("\n")
        .filter((line) => line.endsWith(path)).length;
    for (let i = 0; i < 20 && mapsOfFile() > 0; i++) {
      Bun.gc(true);
      await Bun.sleep(20);
    }
    expect(mapsOfFile()).toBe(0);
  });
});

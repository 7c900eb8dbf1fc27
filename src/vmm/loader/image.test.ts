import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeHostMemoryAllocator } from "../../../test/support/fake-host-memory.ts";
import { GuestMemory } from "../../addrspace/guest-memory.ts";
import type { KernelImage } from "../config/types.ts";
import { parseElf } from "./elf.ts";
import { ImageError, ImageFile, loadFileAt, loadKernel } from "./image.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-image-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 0x40_0000;
/** Two segments, the second with a .bss; symbols include HTIF `tohost`. */
const ISA_ELF = join(import.meta.dir, "../../../test/guests/isa/rv64i-alu.elf");

/** 4 MiB of guest RAM in two contiguous regions (a load may cross them), pre-filled with 0xee. */
function ram() {
  const alloc = new FakeHostMemoryAllocator();
  const low = alloc.allocate(RAM_SIZE / 2);
  const high = alloc.allocate(RAM_SIZE / 2);
  low.bytes.fill(0xee);
  high.bytes.fill(0xee);
  const memory = new GuestMemory([
    { name: "low", gpa: RAM_BASE, bytes: low.bytes, host: low },
    { name: "high", gpa: RAM_BASE + RAM_SIZE / 2, bytes: high.bytes, host: high },
  ]);
  return { alloc, memory };
}

function writeFile(name: string, length: number): { path: string; content: Uint8Array } {
  const content = Uint8Array.from({ length }, (_, i) => (i * 13 + 5) & 0xff);
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, content };
}

function rawKernel(path: string, loadAddr: number, size?: number): KernelImage {
  return { path, format: "raw", loadAddr, size };
}

function imageErrorOf(run: () => unknown): ImageError {
  try {
    run();
  } catch (error) {
    if (error instanceof ImageError) return error;
    throw error;
  }
  throw new Error("expected an ImageError");
}

describe("loading images from their files", () => {
  test("a kernel lands byte for byte (across two regions), its reserve is zeroed, and every byte is logged", () => {
    const { memory } = ram();
    const { path, content } = writeFile("kernel", 0x1_2345);
    const at = RAM_BASE + RAM_SIZE / 2 - 0x1000;
    memory.startRecordingWrites();
    const loaded = loadKernel(memory, rawKernel(path, at, 0x2_0000));
    const log = memory.stopRecordingWrites();
    expect(loaded).toEqual({ start: at, end: at + 0x2_0000, entry: undefined, elf: undefined });
    expect(memory.read(at, content.length)).toEqual(content);
    expect(memory.read(at + content.length, 0x2_0000 - content.length).every((b) => b === 0)).toBe(true);
    expect(memory.readU8(at + 0x2_0000)).toBe(0xee);
    expect(memory.readU8(at - 1)).toBe(0xee);
    // The file's bytes in two pieces (one per region), then the zeroed rest: together exactly the span.
    expect(log).toEqual([
      [at, 0x1000],
      [at + 0x1000, content.length - 0x1000],
      [at + content.length, 0x2_0000 - content.length],
    ]);
  });

  test("a ramdisk lands byte for byte and the backend hears of it", () => {
    const { alloc, memory } = ram();
    const { path, content } = writeFile("initrd", 0x3456);
    const before = alloc.writes.length;
    expect(loadFileAt(memory, path, RAM_BASE + 0x10_0000, "ramdisk")).toEqual({
      start: RAM_BASE + 0x10_0000,
      end: RAM_BASE + 0x10_0000 + content.length,
      entry: undefined,
      elf: undefined,
    });
    expect(memory.read(RAM_BASE + 0x10_0000, content.length)).toEqual(content);
    expect(alloc.writes.slice(before).map((w) => [w.offset, w.length])).toEqual([[0x10_0000, content.length]]);
  });

  test("an ELF goes by its segments, straight from their file offsets, with .bss zeroed and its symbols read", () => {
    const { memory } = ram();
    const bytes = new Uint8Array(readFileSync(ISA_ELF));
    const expected = parseElf(bytes, ISA_ELF);
    const loaded = loadKernel(memory, { path: ISA_ELF, format: "elf", loadAddr: 0, size: undefined });
    expect(loaded.entry).toBe(expected.entry);
    expect(loaded.elf?.symbols).toEqual(expected.symbols);
    expect(loaded.elf?.symbols.has("tohost")).toBe(true);
    for (const segment of expected.segments) {
      const placed = memory.read(segment.paddr, segment.memSize);
      expect(placed.subarray(0, segment.data.length)).toEqual(segment.data);
      expect(placed.subarray(segment.data.length).every((b) => b === 0)).toBe(true);
    }
  });

  test("missing, too big, truncated and shrinking files give the errors they always gave", () => {
    const { memory } = ram();
    const missing = imageErrorOf(() => loadKernel(memory, rawKernel(join(dir, "nope"), RAM_BASE)));
    expect(missing.kind).toBe("unreadable");
    expect(missing.message).toBe(`Cannot read kernel ${join(dir, "nope")}: file not found`);

    const { path } = writeFile("big", 0x1000);
    const tooBig = imageErrorOf(() => loadKernel(memory, rawKernel(path, RAM_BASE + RAM_SIZE - 0x800)));
    expect(tooBig.kind).toBe("does-not-fit");
    expect(tooBig.message).toBe(`Cannot load kernel ${path} at 0x803ff800..0x804007ff: not inside guest RAM`);
    // Nothing was written: the span is checked before the first byte.
    expect(memory.readU8(RAM_BASE + RAM_SIZE - 0x800)).toBe(0xee);
    const reserveTooBig = imageErrorOf(() => loadKernel(memory, rawKernel(path, RAM_BASE, RAM_SIZE + 1)));
    expect(reserveTooBig.message).toBe(`Cannot load kernel ${path} at 0x80000000..0x80400000: not inside guest RAM`);
    expect(imageErrorOf(() => loadFileAt(memory, path, 0x1000, "ramdisk")).message).toBe(
      `Cannot load ramdisk ${path} at 0x1000..0x1fff: not inside guest RAM`,
    );

    // An ELF cut short: its headers say more than the file holds.
    const cut = join(dir, "cut.elf");
    const elfBytes = readFileSync(ISA_ELF);
    writeFileSync(cut, elfBytes.subarray(0, 0x200));
    const truncated = imageErrorOf(() =>
      loadKernel(memory, { path: cut, format: "elf", loadAddr: 0, size: undefined }),
    );
    expect(truncated.kind).toBe("malformed");
    expect(truncated.message).toContain("run past the end of the file (512 bytes)");

    // A file that shrinks between opening and loading: the copy stops at its end and says so.
    const { path: shrinking } = writeFile("shrinking", 0x3000);
    const file = ImageFile.open(shrinking, "ramdisk");
    try {
      truncateSync(shrinking, 0x1000);
      const shrunk = imageErrorOf(() => file.copyTo(memory, RAM_BASE, 0, file.length));
      expect(shrunk.kind).toBe("unreadable");
      expect(shrunk.message).toBe(
        `Cannot read ramdisk ${shrinking}: it ends after 4096 bytes, not the 12288 it had (the file changed while being loaded)`,
      );
    } finally {
      file.close();
    }
  });

  test("a directory is refused when it is opened, with the path and the reason", () => {
    const { memory } = ram();
    const refused = imageErrorOf(() => loadFileAt(memory, dir, RAM_BASE, "ramdisk"));
    expect(refused.kind).toBe("unreadable");
    expect(refused.message).toBe(`Cannot read ramdisk ${dir}: is a directory, not a regular file`);
  });
});

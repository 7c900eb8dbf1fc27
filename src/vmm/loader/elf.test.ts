import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { ElfError, type ElfErrorKind, EM_RISCV, elfPhysicalSpan, isElf, parseElf } from "./elf.ts";

const root = join(import.meta.dir, "../../..");
const program = (): Uint8Array => new Uint8Array(readFileSync(join(root, "bench/guests/empty.elf")));
const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** File offset of the first PT_LOAD program header. */
function firstLoadHeader(bytes: Uint8Array): number {
  const phoff = Number(view(bytes).getBigUint64(32, true));
  for (let at = phoff; ; at += 56) if (view(bytes).getUint32(at, true) === 1) return at;
}

describe("parseElf", () => {
  test("a bare-metal RISC-V program: entry, loadable segments, HTIF symbols", () => {
    const image = parseElf(program());
    expect(image.machine).toBe(EM_RISCV);
    expect(image.entry).toBe(0x8000_0000);
    expect(image.segments.length).toBeGreaterThan(0);
    expect(elfPhysicalSpan(image).start).toBe(0x8000_0000);
    for (const segment of image.segments) expect(segment.data.length).toBeLessThanOrEqual(segment.memSize);
    const tohost = image.symbols.get("tohost");
    expect(tohost?.size).toBe(8);
    expect((tohost?.value ?? 0) % 64).toBe(0);
    expect(image.symbols.has("bench_counters")).toBe(true);
  });

  test("kernel virtual addresses above 2^53 are fine (only physical ones must fit)", () => {
    const bytes = program();
    view(bytes).setBigUint64(firstLoadHeader(bytes) + 16, 0xffff_ffff_8100_0000n, true);
    expect(parseElf(bytes).segments[0]?.vaddr).toBe(0xffff_ffff_8100_0000n);
  });

  const corruptions: Array<[string, (bytes: Uint8Array) => void, ElfErrorKind, RegExp]> = [
    ["magic", (b) => (b[1] = 0x46), "not-elf", /not an ELF file \(bad magic\)/],
    ["class", (b) => (b[4] = 1), "unsupported", /ELF class 1 is not ELF64/],
    ["data encoding", (b) => (b[5] = 2), "unsupported", /data encoding 2 is not little-endian/],
    ["type", (b) => view(b).setUint16(16, 1, true), "unsupported", /ELF type 1 is not an executable/],
    [
      "program header offset",
      (b) => view(b).setBigUint64(32, 0xffff_ffffn, true),
      "truncated",
      /program headers at 0xffffffff/,
    ],
    [
      "entry beyond 2^53",
      (b) => view(b).setBigUint64(24, 1n << 60n, true),
      "unsupported",
      /e_entry 0x1000000000000000 does not fit in 53 bits/,
    ],
  ];
  for (const [what, corrupt, kind, message] of corruptions) {
    test(`a corrupt ${what} is an ElfError of kind ${kind}`, () => {
      const bytes = program();
      corrupt(bytes);
      let error: unknown;
      try {
        parseElf(bytes, "prog.elf");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ElfError);
      expect((error as ElfError).kind).toBe(kind);
      expect((error as ElfError).message).toMatch(message);
    });
  }

  test("segment sizes are checked against each other and the file", () => {
    const bytes = program();
    const first = firstLoadHeader(bytes);
    const filesz = view(bytes).getBigUint64(first + 32, true);
    view(bytes).setBigUint64(first + 40, filesz - 1n, true);
    expect(() => parseElf(bytes)).toThrow(/p_filesz 0x[0-9a-f]+ > p_memsz/);
    const other = program();
    view(other).setBigUint64(first + 8, BigInt(other.length), true);
    expect(() => parseElf(other)).toThrow(/run past the end of the file/);
  });

  test("short and empty inputs", () => {
    expect(isElf(new Uint8Array(3))).toBe(false);
    expect(() => parseElf(new Uint8Array(0))).toThrow(ElfError);
    expect(() => parseElf(program().subarray(0, 40))).toThrow(/not an ELF file/);
  });

  test("property: random byte corruption gives an image or an ElfError, never another exception", () => {
    const original = program();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 511 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 12,
        }),
        (edits) => {
          const bytes = original.slice();
          for (const [at, value] of edits) bytes[at] = value;
          try {
            const image = parseElf(bytes);
            for (const segment of image.segments)
              expect(segment.data.byteOffset + segment.data.length).toBeLessThanOrEqual(bytes.length);
          } catch (error) {
            expect(error).toBeInstanceOf(ElfError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

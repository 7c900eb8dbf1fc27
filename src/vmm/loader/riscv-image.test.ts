import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Requirement, testIf } from "../../../test/support/skip.ts";
import {
  isRiscvImage,
  parseRiscvImage,
  planRiscvImageLoad,
  RISCV_IMAGE_HEADER_SIZE,
  RiscvImageError,
} from "./riscv-image.ts";

const MiB = 1024 * 1024;
const RAM = [{ base: 0x8000_0000, size: 128 * MiB }];

/** An Image file of `fileSize` bytes with a header as Linux 6.1 writes it. */
function makeImage(
  options: {
    fileSize?: number;
    textOffset?: bigint;
    imageSize?: bigint;
    flags?: bigint;
    magic?: boolean;
    magic2?: boolean;
  } = {},
): Uint8Array {
  const fileSize = options.fileSize ?? 4096;
  const bytes = new Uint8Array(fileSize);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x6f00_406f, true); // some code
  v.setBigUint64(8, options.textOffset ?? 0x20_0000n, true);
  v.setBigUint64(16, options.imageSize ?? 0x30_0000n, true);
  v.setBigUint64(24, options.flags ?? 0n, true);
  v.setUint32(32, 2, true); // version 0.2
  if (options.magic ?? true) bytes.set(new TextEncoder().encode("RISCV\0\0\0"), 48);
  if (options.magic2 ?? true) bytes.set(Uint8Array.of(0x52, 0x53, 0x43, 0x05), 56);
  return bytes;
}

describe("parseRiscvImage", () => {
  test("reads every header field", () => {
    const h = parseRiscvImage(makeImage());
    expect(h).toMatchObject({
      textOffset: 0x20_0000,
      imageSize: 0x30_0000,
      flags: 0n,
      versionMajor: 0,
      versionMinor: 2,
      hasMagic: true,
      hasMagic2: true,
      peHeaderOffset: 0,
    });
    expect(h.code0).toBe(0x6f00_406f);
  });
  test("either magic is enough (0.1 headers have only the first)", () => {
    expect(parseRiscvImage(makeImage({ magic2: false })).hasMagic2).toBe(false);
    expect(parseRiscvImage(makeImage({ magic: false })).hasMagic).toBe(false);
    expect(isRiscvImage(makeImage({ magic: false }))).toBe(true);
  });
  test("refuses a short file, foreign magic, big-endian and impossible sizes, saying which", () => {
    expect(() => parseRiscvImage(new Uint8Array(10))).toThrow(
      "Cannot load kernel Image: 10 bytes is shorter than the 64-byte RISC-V Image header",
    );
    expect(() => parseRiscvImage(makeImage({ magic: false, magic2: false }), "vmlinux")).toThrow(
      'Cannot load vmlinux: not a RISC-V Image (magic at 48 is 0x0, expected "RISCV"',
    );
    expect(() => parseRiscvImage(makeImage({ flags: 1n }))).toThrow("big-endian");
    expect(() => parseRiscvImage(makeImage({ imageSize: 100n }))).toThrow(
      "image_size 100 is smaller than the 4096-byte file",
    );
    expect(() => parseRiscvImage(makeImage({ imageSize: 1n << 60n }))).toThrow("beyond any guest address");
    try {
      parseRiscvImage(makeImage({ flags: 1n }));
    } catch (error) {
      expect(error).toBeInstanceOf(RiscvImageError);
      expect((error as RiscvImageError).kind).toBe("unsupported");
    }
  });
  test("an ELF or random bytes are not Images", () => {
    const elf = new Uint8Array(RISCV_IMAGE_HEADER_SIZE);
    elf.set([0x7f, 0x45, 0x4c, 0x46]);
    expect(isRiscvImage(elf)).toBe(false);
    expect(isRiscvImage(new Uint8Array(3))).toBe(false);
  });
  test("random headers give a header or a RiscvImageError, never another exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 96 }), fc.boolean(), (bytes, withMagic) => {
        const copy = bytes.slice();
        if (withMagic && copy.length >= 64) copy.set(Uint8Array.of(0x52, 0x53, 0x43, 0x05), 56);
        try {
          parseRiscvImage(copy);
        } catch (error) {
          expect(error).toBeInstanceOf(RiscvImageError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("planRiscvImageLoad", () => {
  const header = parseRiscvImage(makeImage());
  test("default: RAM base + text_offset, spanning image_size", () => {
    expect(planRiscvImageLoad(header, 4096, { ram: RAM })).toEqual({
      loadAddress: 0x8020_0000,
      entry: 0x8020_0000,
      fileSize: 4096,
      span: 0x30_0000,
      end: 0x8050_0000,
    });
  });
  test("an explicit address at the start of RAM", () => {
    expect(planRiscvImageLoad(header, 4096, { ram: RAM, loadAddress: 0x8000_0000 }).end).toBe(0x8030_0000);
  });
  test("no image_size: the file size is the span", () => {
    const old = parseRiscvImage(makeImage({ imageSize: 0n, fileSize: 8192 }));
    expect(planRiscvImageLoad(old, 8192, { ram: RAM }).span).toBe(8192);
  });
  test("misaligned, outside RAM, or not fitting: errors with the numbers", () => {
    expect(() => planRiscvImageLoad(header, 4096, { ram: RAM, loadAddress: 0x8010_0000 })).toThrow(
      "Cannot place kernel Image at 0x80100000: the address must be 0x200000-aligned (one PMD)",
    );
    expect(() => planRiscvImageLoad(header, 4096, { ram: RAM, loadAddress: 0x4000_0000 })).toThrow(
      "0x40000000: the address is not in guest RAM",
    );
    expect(() => planRiscvImageLoad(header, 4096, { ram: RAM, loadAddress: 0x87e0_0000 })).toThrow(
      "it needs 3145728 bytes (image_size) but the RAM region 0x80000000..0x88000000 has 2097152 left",
    );
    expect(() => planRiscvImageLoad(header, 4096, { ram: [] })).toThrow("the VM has no RAM");
  });
  test("RV32 alignment is 4 MiB when asked", () => {
    expect(() =>
      planRiscvImageLoad(header, 4096, { ram: RAM, loadAddress: 0x8020_0000, alignment: 0x40_0000 }),
    ).toThrow("0x400000-aligned");
  });
});

/** The Image scripts/build-linux-riscv64.sh built, if it is in the cache. */
function cachedLinuxImage(): Requirement & { path?: string } {
  const result = Bun.spawnSync(["bash", "scripts/build-linux-riscv64.sh", "--cached"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const path = result.stdout.toString().trim();
  return result.exitCode === 0 && path !== ""
    ? { available: true, reason: `found ${path}`, path }
    : { available: false, reason: "no cached riscv64 Linux Image (run scripts/build-linux-riscv64.sh)" };
}

const linux = cachedLinuxImage();

testIf(linux, "parse the real Linux 6.1 Image")("the Image we build parses and plans at 0x80200000", async () => {
  const bytes = new Uint8Array(await Bun.file(linux.path ?? "").arrayBuffer());
  const h = parseRiscvImage(bytes);
  expect(h.hasMagic && h.hasMagic2).toBe(true);
  expect(h.textOffset).toBe(0x20_0000);
  expect(h.versionMajor * 65536 + h.versionMinor).toBe(2);
  expect(h.imageSize).toBeGreaterThan(bytes.length); // .bss lies past the file
  const plan = planRiscvImageLoad(h, bytes.length, { ram: RAM });
  expect(plan.loadAddress).toBe(0x8020_0000);
  expect(plan.end).toBe(0x8020_0000 + h.imageSize);
});

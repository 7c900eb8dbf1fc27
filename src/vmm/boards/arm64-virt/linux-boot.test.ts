import { describe, expect, test } from "bun:test";
import { fakeArm64Image } from "../../../../test/support/arm64-image.ts";
import { Arm64ImageError, LEGACY_TEXT_OFFSET, parseArm64Image, planArm64Boot } from "./linux-boot.ts";

const RAM = [{ base: 0x4000_0000, size: 0x1000_0000 }];

describe("arm64 Image header", () => {
  test("reads text_offset, image_size (at least the file) and flags", () => {
    const header = parseArm64Image(fakeArm64Image({ textOffset: 0x8_0000n, imageSize: 0x20_0000n }), "Image");
    expect(header).toEqual({ textOffset: 0x8_0000, imageSize: 0x20_0000, flags: 0b1010n, legacy: false });
  });

  test("image_size 0 is a pre-3.17 kernel: text_offset 0x80000, the file size", () => {
    const header = parseArm64Image(fakeArm64Image({ imageSize: 0n }, 0x3000), "old");
    expect(header).toMatchObject({ textOffset: LEGACY_TEXT_OFFSET, imageSize: 0x3000, legacy: true });
  });

  test("bad images are refused with what is wrong", () => {
    const reject = (bytes: Uint8Array, kind: Arm64ImageError["kind"], message: RegExp) => {
      try {
        parseArm64Image(bytes, "k");
        throw new Error("accepted");
      } catch (error) {
        expect(error).toBeInstanceOf(Arm64ImageError);
        expect((error as Arm64ImageError).kind).toBe(kind);
        expect((error as Error).message).toMatch(message);
      }
    };
    reject(new Uint8Array(10), "not-an-image", /10 bytes is shorter than the 64-byte arm64 Image header/);
    reject(fakeArm64Image({ magic: 0x12345678 }), "not-an-image", /no arm64 Image magic .* found 0x12345678/);
    reject(fakeArm64Image({ flags: 1n }), "big-endian", /big-endian kernel/);
    reject(fakeArm64Image({ textOffset: 0x20_0000n }), "bad-header", /text_offset 0x200000 must be a page multiple/);
    reject(fakeArm64Image({ imageSize: 0x2_0000_0000n }), "bad-header", /image_size 0x200000000 is over 4 GiB/);
  });
});

describe("arm64 boot placement", () => {
  const header = { textOffset: 0x8_0000, imageSize: 0x100_0000, flags: 0n, legacy: false };
  const base = {
    path: "Image",
    header,
    ram: RAM,
    initrdSize: undefined,
    initrdAddress: undefined,
    dtbSize: 0x2000,
    dtbAddress: undefined,
  };

  test("a 2 MiB-aligned load address is the base: the image goes text_offset above it", () => {
    const plan = planArm64Boot({ ...base, loadAddress: 0x4020_0000 });
    expect(plan.kernelStart).toBe(0x4028_0000);
    expect(plan.kernelEnd).toBe(0x4128_0000);
    // The DTB at the top of RAM, 2 MiB aligned; the initrd (none) nowhere.
    expect(plan.dtb).toBe(0x4fe0_0000);
    expect(plan.initrd).toBeUndefined();
  });

  test("base + text_offset is taken as the image address; anything else is refused", () => {
    expect(planArm64Boot({ ...base, loadAddress: 0x4008_0000 }).kernelStart).toBe(0x4008_0000);
    expect(() => planArm64Boot({ ...base, loadAddress: 0x4001_0000 })).toThrow(
      /kernel_load_addr 0x40010000 is neither a 2 MiB-aligned base nor such a base \+ text_offset 0x80000/,
    );
  });

  test("the initrd goes after image_size, 2 MiB aligned; overlaps and RAM overflow are named", () => {
    const plan = planArm64Boot({ ...base, loadAddress: 0x4000_0000, initrdSize: 0x10_0000 });
    expect(plan.initrd).toEqual({ start: 0x4120_0000, end: 0x4130_0000 });
    expect(() => planArm64Boot({ ...base, loadAddress: 0x4f00_0000 })).toThrow(/not inside one RAM region/);
    expect(() => planArm64Boot({ ...base, loadAddress: 0x4000_0000, dtbAddress: 0x4010_0000 })).toThrow(
      /the device tree at .* overlaps the kernel/,
    );
    expect(() => planArm64Boot({ ...base, loadAddress: 0x4000_0000, dtbAddress: 0x4800_0004 })).toThrow(
      /not 8-byte aligned/,
    );
    expect(() =>
      planArm64Boot({ ...base, loadAddress: 0x4000_0000, initrdSize: 0x10_0000, initrdAddress: 0x4fe0_0000 }),
    ).toThrow(/the initrd at .* overlaps the device tree/);
  });
});

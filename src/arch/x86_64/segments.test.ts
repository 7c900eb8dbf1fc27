import { expect, test } from "bun:test";
import { realModeSegment, segmentFromDescriptor } from "./segments.ts";

/** Firecracker's boot GDT entries: 64-bit code, flat data, busy 64-bit TSS. */
const CODE64 = 0x00af_9b00_0000_ffffn;
const DATA = 0x00cf_9300_0000_ffffn;
const TSS = 0x008f_8b00_0000_ffffn;

test("GDT descriptors become the segments the CPU would cache", () => {
  expect(segmentFromDescriptor(CODE64, 1)).toEqual({
    base: 0,
    limit: 0xffff_ffff,
    selector: 0x08,
    type: 0xb,
    present: true,
    dpl: 0,
    db: false,
    s: true,
    l: true,
    g: true,
    avl: false,
    unusable: false,
  });
  expect(segmentFromDescriptor(DATA, 2)).toMatchObject({
    selector: 0x10,
    type: 0x3,
    db: true,
    l: false,
    limit: 0xffff_ffff,
  });
  expect(segmentFromDescriptor(TSS, 3)).toMatchObject({ selector: 0x18, type: 0xb, s: false, limit: 0xffff_ffff });
  expect(segmentFromDescriptor(0x00c0_9200_1234_0fffn, 0)).toMatchObject({
    base: 0x1234,
    limit: 0xff_ffff,
    unusable: false,
  });
  expect(segmentFromDescriptor(0n, 0)).toMatchObject({ present: false, unusable: true });
});

test("a real-mode segment's base is its selector times 16", () => {
  expect(realModeSegment(0xf000, true)).toMatchObject({ base: 0xf_0000, limit: 0xffff, selector: 0xf000, type: 0xb });
  expect(realModeSegment(0, false)).toMatchObject({ base: 0, type: 0x3, s: true, present: true });
});

/**
 * The written-range ring of a hart's control block (threads/protocol.ts): ranges written on the VMM's thread come out
 * on the hart's thread in order, each once; a full ring turns into one "all of RAM" range rather than losing any.
 */
import { expect, test } from "bun:test";
import {
  noteWritten,
  PENDING_WRITTEN,
  TC_PENDING,
  TC_WORDS,
  TC_WRITTEN_SLOTS,
  takeWritten,
  writtenRanges,
} from "../../src/hal/emulated/threads/protocol.ts";

function block(): { control: Int32Array; ranges: Float64Array } {
  const control = new Int32Array(new SharedArrayBuffer(TC_WORDS * 4));
  return { control, ranges: writtenRanges(control) };
}

function take(control: Int32Array, ranges: Float64Array): Array<[number, number]> {
  const seen: Array<[number, number]> = [];
  takeWritten(control, ranges, (start, end) => seen.push([start, end]));
  return seen;
}

test("written ranges come out in order, once each, and raise PENDING_WRITTEN", () => {
  const { control, ranges } = block();
  noteWritten(control, ranges, 0x8000_1000, 0x8000_1004);
  noteWritten(control, ranges, 0x1_2345_6000, 0x1_2345_7000);
  expect(control[TC_PENDING] ?? 0).toBe(PENDING_WRITTEN);
  expect(take(control, ranges)).toEqual([
    [0x8000_1000, 0x8000_1004],
    [0x1_2345_6000, 0x1_2345_7000],
  ]);
  expect(take(control, ranges)).toEqual([]);
  // The ring wraps around.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < TC_WRITTEN_SLOTS - 1; i++) noteWritten(control, ranges, i * 8, i * 8 + 8);
    expect(take(control, ranges)).toHaveLength(TC_WRITTEN_SLOTS - 1);
  }
});

test("a full ring becomes one range covering all of RAM, then the ring starts afresh", () => {
  const { control, ranges } = block();
  for (let i = 0; i <= TC_WRITTEN_SLOTS; i++) noteWritten(control, ranges, i * 8, i * 8 + 8);
  expect(take(control, ranges)).toEqual([[0, Number.MAX_SAFE_INTEGER]]);
  noteWritten(control, ranges, 16, 24);
  expect(take(control, ranges)).toEqual([[16, 24]]);
});

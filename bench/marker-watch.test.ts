import { describe, expect, test } from "bun:test";
import { markerWatch } from "./marker-watch.ts";

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("markerWatch", () => {
  test("finds a marker within one chunk, split across chunks, and byte by byte", () => {
    const whole = markerWatch("HELLO");
    expect(whole(bytes("abc HELLO def"))).toBe(true);
    const split = markerWatch("HELLO");
    expect(split(bytes("xxHE"))).toBe(false);
    expect(split(bytes("LLOyy"))).toBe(true);
    const bytewise = markerWatch("HELLO");
    const seen = [..."..HELLO"].map((c) => bytewise(bytes(c)));
    expect(seen).toEqual([false, false, false, false, false, false, true]);
  });

  test("does not see a marker that never came whole, and stays true once seen", () => {
    const watch = markerWatch("HELLO");
    expect(watch(bytes("HELL"))).toBe(false);
    expect(watch(bytes("xHELLO".slice(0, 1)))).toBe(false);
    expect(watch(bytes("ELLO"))).toBe(false);
    expect(watch(bytes("HELLO"))).toBe(true);
    expect(watch(bytes("anything"))).toBe(true);
  });

  test("a multi-byte character split across chunks is decoded whole", () => {
    const watch = markerWatch("é!");
    const e = bytes("é!");
    expect(watch(e.subarray(0, 1))).toBe(false);
    expect(watch(e.subarray(1))).toBe(true);
  });
});

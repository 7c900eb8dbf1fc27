import { describe, expect, test } from "bun:test";
import { ARENA_MAX_BYTES, Arena, WASM_PAGE_SIZE } from "./arena.ts";

describe("the arena", () => {
  test("allocations are aligned, never at offset 0, and grow the memory to cover them", () => {
    const arena = Arena.create();
    if (arena === undefined) throw new Error("this host cannot make a shared WebAssembly memory");
    const a = arena.allocate(100, 64);
    const b = arena.allocate(3 * WASM_PAGE_SIZE, 4096);
    expect(a).toBe(WASM_PAGE_SIZE);
    expect(b).toBe(WASM_PAGE_SIZE + 4096);
    expect(arena.buffer.byteLength).toBeGreaterThanOrEqual(WASM_PAGE_SIZE + 4096 + 3 * WASM_PAGE_SIZE);
    // Views made before a grow still see the same bytes.
    const early = arena.bytes(a ?? 0, 100);
    early[5] = 42;
    arena.allocate(10 * WASM_PAGE_SIZE, 4096);
    expect(arena.bytes(a ?? 0, 100)[5]).toBe(42);
  });
  test("an allocation that does not fit below 4 GiB is refused, and later small ones still fit", () => {
    const arena = Arena.create();
    if (arena === undefined) throw new Error("this host cannot make a shared WebAssembly memory");
    expect(arena.allocate(ARENA_MAX_BYTES, 4096)).toBeUndefined();
    expect(arena.allocate(4096, 4096)).toBe(WASM_PAGE_SIZE);
  });
});

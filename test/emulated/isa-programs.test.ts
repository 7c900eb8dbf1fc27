/**
 * The ISA conformance programs (test/guests/isa/**.elf, self-checking, HTIF tohost) on the emulated hart, on every
 * tier: the reference interpreter, the fast path with its defaults, and everything compiled at once to JavaScript
 * ("js") and to WebAssembly ("wasm").
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_ENGINE_OPTIONS } from "../../src/hal/emulated/engine.ts";
import { BareBoard } from "./bare-harness.ts";
import { COMPILE_AT_ONCE } from "./fixture.ts";

const ISA_DIR = join(import.meta.dir, "../guests/isa");

function findElfs(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findElfs(path));
    else if (name.endsWith(".elf")) found.push(path);
  }
  return found.sort();
}

const programs = findElfs(ISA_DIR);

describe("ISA conformance programs on the emulated hart", () => {
  test("the program set is present", () => {
    expect(programs.length).toBeGreaterThan(10);
  });
  for (const tier of ["fast", "interp", "wasm-interp", "reference", "js", "wasm"] as const) {
    for (const path of programs) {
      const name = path.slice(ISA_DIR.length + 1);
      test(`${name} passes (${tier})`, () => {
        using board = new BareBoard(16 << 20);
        const engine = tier === "reference" ? "reference" : "fast";
        const engineOptions =
          tier === "js"
            ? COMPILE_AT_ONCE
            : tier === "wasm"
              ? { ...COMPILE_AT_ONCE, wasm: true }
              : tier === "interp" || tier === "wasm-interp"
                ? { ...DEFAULT_ENGINE_OPTIONS, jit: false, wasmInterpreter: tier === "wasm-interp" }
                : undefined;
        const result = board.run(readFileSync(path), {
          engine,
          maxInstructions: 20_000_000,
          ...(engineOptions === undefined ? {} : { engineOptions }),
        });
        expect({ status: result.status, test: result.testNumber, detail: result.detail }).toEqual({
          status: "pass",
          test: undefined,
          detail: "",
        });
      });
    }
  }
});

/**
 * The ISA conformance programs (test/guests/isa/**.elf, self-checking, HTIF tohost) on the emulated hart, with
 * both the fast path and the reference interpreter.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BareBoard } from "./bare-harness.ts";

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
  for (const engine of ["fast", "reference"] as const) {
    for (const path of programs) {
      const name = path.slice(ISA_DIR.length + 1);
      test(`${name} passes (${engine})`, () => {
        using board = new BareBoard(16 << 20);
        const result = board.run(readFileSync(path), { engine, maxInstructions: 20_000_000 });
        expect({ status: result.status, test: result.testNumber, detail: result.detail }).toEqual({
          status: "pass",
          test: undefined,
          detail: "",
        });
      });
    }
  }
});

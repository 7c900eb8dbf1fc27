import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import * as D from "./decode.ts";

test("every literal case label of the fast interpreter matches the decoder's operation number", () => {
  const ops = D as unknown as Record<string, unknown>;
  // The interpreter's switch uses numeric literals (for JavaScriptCore's jump table) with the decoder's name in a
  // comment beside each: each literal must be that name's operation number.
  const source = readFileSync(new URL("./interp.ts", import.meta.url), "utf8");
  const labels = [...source.matchAll(/case (\d+): (?:\{\s*)?\/\/ (OP_\w+)/g)].map((m) => [m[2], Number(m[1])]);
  expect(labels.length).toBeGreaterThan(30);
  for (const [name, literal] of labels) expect({ name, value: ops[name as string] }).toEqual({ name, value: literal });
});

/**
 * The environment `axvisor` runs with (src/common/runtime-env.ts) is set the same way everywhere the process is
 * started from: package.json's `axvisor` and `bench` scripts and the shebang of src/cli/main.ts (which `bun link`
 * and `npm install -g` run).
 */

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runtimeEnvPrefix } from "../src/common/runtime-env.ts";

const root = join(import.meta.dir, "..");

describe("runtime environment", () => {
  test("package.json's axvisor and bench scripts start bun with it", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.axvisor).toBe(`${runtimeEnvPrefix()} bun src/cli/main.ts`);
    expect(pkg.scripts.bench).toBe(`${runtimeEnvPrefix()} bun bench/run.ts`);
  });

  test("the CLI's shebang starts bun with it", () => {
    const firstLine = readFileSync(join(root, "src/cli/main.ts"), "utf8").split("\n")[0];
    expect(firstLine).toBe(`#!/usr/bin/env -S ${runtimeEnvPrefix()} bun`);
  });
});

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

import { formatViolation, lintImports, ruleBroken, scanImports } from "../scripts/lint-imports.ts";

const REPO = resolve(import.meta.dir, "..");
const SCRIPT = join(REPO, "scripts/lint-imports.ts");

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A temporary tree with the given files (root-relative path → contents). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "lint-imports-"));
  temps.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** A minimal tree that obeys the rules, to which each test adds one file. */
const GOOD: Record<string, string> = {
  "src/hal/types.ts": "export type BackendName = 'kvm';\n",
  "src/hal/kvm/sys.ts":
    'import { dlopen } from "bun:ffi";\nimport type { BackendName } from "../types.ts";\nexport const x = dlopen;\n',
  "src/hal/kvm/index.ts": 'import { x } from "./sys.ts";\nexport { x };\n',
  "src/devices/uart.ts": 'import type { BackendName } from "../hal/types.ts";\nexport type Y = BackendName;\n',
  "src/vmm/vmm.ts":
    'import { x } from "../hal/kvm/index.ts";\nimport type { Y } from "../devices/uart.ts";\nexport const v: Y | typeof x = x;\n',
  "src/cli/main.ts": 'import { v } from "../vmm/vmm.ts";\nconsole.log(v);\n',
};

function run(root: string): { exitCode: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync(["bun", SCRIPT, root], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("scanImports", () => {
  test("finds every form of import with its line", () => {
    const source = [
      'import a from "./a.ts";', // 1
      'import type { B } from "./b.ts";', // 2
      "import {", // 3
      "  c,", // 4
      "  type D,", // 5
      '} from "./c.ts";', // 6
      'import "./side-effect.ts";', // 7
      'export * from "./e.ts";', // 8
      'export type { F } from "./f.ts";', // 9
      'export { g as h } from "./g.ts"', // 10
      'const m = await import("./m.ts");', // 11
      'type T = typeof import("./t.ts");', // 12
      "const meta = import.meta.dir;", // 13
      'import * as ns from "node:fs";', // 14
    ].join("\n");
    expect(scanImports(source)).toEqual([
      { specifier: "./a.ts", line: 1, kind: "static" },
      { specifier: "./b.ts", line: 2, kind: "static" },
      { specifier: "./c.ts", line: 3, kind: "static" },
      { specifier: "./side-effect.ts", line: 7, kind: "static" },
      { specifier: "./e.ts", line: 8, kind: "export-from" },
      { specifier: "./f.ts", line: 9, kind: "export-from" },
      { specifier: "./g.ts", line: 10, kind: "export-from" },
      { specifier: "./m.ts", line: 11, kind: "dynamic" },
      { specifier: "./t.ts", line: 12, kind: "dynamic" },
      { specifier: "node:fs", line: 14, kind: "static" },
    ]);
  });

  test("is not fooled by comments, strings, templates, regexes and property names", () => {
    const source = [
      '// import x from "./comment.ts";',
      '/* import y from "./block.ts"; */',
      "const s = \"import z from './string.ts'\";",
      "const t = `import w from \"./template.ts\" ${'}'} ${`nested ${1}`}`;",
      'const r = /import q from "\\.\\/regex.ts"/;',
      "const o = { import: 1 };",
      "obj.import('./method.ts');",
      "export const k = 1; export { k as j };",
      'import real from "./real.ts";',
    ].join("\n");
    expect(scanImports(source)).toEqual([{ specifier: "./real.ts", line: 9, kind: "static" }]);
  });

  test("a hashbang line is skipped", () => {
    expect(scanImports('#!/usr/bin/env bun\nimport a from "./a.ts";')).toEqual([
      { specifier: "./a.ts", line: 2, kind: "static" },
    ]);
  });

  test("a computed dynamic import has no specifier", () => {
    expect(scanImports("const m = await import(`./${name}.ts`);\nawait import(path);")).toEqual([
      { specifier: undefined, line: 1, kind: "dynamic" },
      { specifier: undefined, line: 2, kind: "dynamic" },
    ]);
  });

  test("finds at least every import Bun's own transpiler sees, in every file under src", () => {
    const transpiler = new Bun.Transpiler({ loader: "ts" });
    const glob = new Bun.Glob("src/**/*.ts");
    let files = 0;
    for (const path of glob.scanSync({ cwd: REPO })) {
      // Bun's transpiler rejects a hashbang in this mode; blank it (same line count) for both scanners.
      const source = readFileSync(join(REPO, path), "utf8").replace(/^#!.*/, "");
      const ours = new Set(scanImports(source).map((ref) => ref.specifier));
      for (const theirs of transpiler.scanImports(source)) {
        if (!ours.has(theirs.path))
          throw new Error(`${path}: scanImports missed ${JSON.stringify(theirs.path)} (${theirs.kind})`);
      }
      files++;
    }
    expect(files).toBeGreaterThan(0);
  });
});

describe("rules", () => {
  const cases: [from: string, to: string, allowed: boolean][] = [
    ["src/cli/main.ts", "src/vmm/vmm.ts", true],
    ["src/cli/info.ts", "src/hal/kvm/index.ts", true],
    ["src/vmm/vmm.ts", "src/hal/emulated/index.ts", true],
    ["src/vmm/vmm.ts", "src/cli/main.ts", false],
    ["src/devices/uart.ts", "src/hal/types.ts", true],
    ["src/devices/uart.ts", "src/hal/kvm/index.ts", false],
    ["src/devices/uart.ts", "src/vmm/vmm.ts", false],
    ["src/devices/uart.ts", "src/addrspace/guest-memory.ts", false],
    ["src/vcpu/axvcpu.ts", "src/devices/bus.ts", false],
    ["src/addrspace/a.ts", "src/addrspace/b.ts", true],
    ["src/hal/types.ts", "src/devices/types.ts", false],
    ["src/hal/kvm/vcpu.ts", "src/hal/types.ts", true],
    ["src/hal/kvm/vcpu.ts", "src/hal/kvm/sys.ts", true],
    ["src/hal/kvm/vcpu.ts", "src/hal/emulated/hart.ts", false],
    ["src/hal/kvm/vcpu.ts", "src/devices/bus.ts", false],
    ["src/hal/emulated/hart.ts", "src/vmm/vmm.ts", false],
    ["src/vmm/vmm.ts", "native/kick.c", false],
    ["src/devices/uart.ts", "test/support/fake.ts", false],
    ["src/devices/uart.test.ts", "test/support/fake.ts", true],
    ["src/vmm/vmm.ts", "scripts/build.ts", false],
    ["src/arch/riscv64/csr.ts", "src/arch/riscv64/causes.ts", true],
    ["src/arch/riscv64/csr.ts", "src/arch/x86_64/msr.ts", false],
    ["src/arch/riscv64/csr.ts", "src/hal/types.ts", false],
    ["src/arch/x86_64/msr.ts", "src/common/format.ts", false],
    ["src/common/format.ts", "src/common/ranges.ts", true],
    ["src/common/format.ts", "src/hal/types.ts", false],
    ["src/devices/plic.ts", "src/arch/riscv64/causes.ts", true],
    ["src/devices/plic.ts", "src/common/format.ts", true],
    ["src/hal/types.ts", "src/arch/x86_64/state.ts", true],
    ["src/hal/emulated/hart.ts", "src/arch/riscv64/csr.ts", true],
    ["src/vmm/vm.ts", "src/arch/mips/regs.ts", false],
    ["src/hal/kvm/vcpu.ts", "src/hal/kvm/x86_64/cpuid.ts", false],
    ["src/hal/kvm/arches.ts", "src/hal/kvm/x86_64/index.ts", true],
    ["src/hal/kvm/x86_64/cpuid.ts", "src/hal/kvm/sys.ts", true],
    ["src/hal/kvm/x86_64/vcpu.ts", "src/hal/kvm/aarch64/regs.ts", false],
    ["src/vmm/boards/x86-pc/board.ts", "src/hal/kvm/index.ts", false],
    ["src/vmm/boards/x86-pc/board.ts", "src/hal/types.ts", true],
    ["src/vmm/boards/x86-pc/board.ts", "src/vmm/boards/riscv-virt/layout.ts", false],
    ["src/vmm/boards/x86-pc/board.ts", "src/vmm/board.ts", true],
    ["src/vmm/boards/index.ts", "src/vmm/boards/x86-pc/board.ts", true],
  ];
  for (const [from, to, allowed] of cases) {
    test(`${from} → ${to}: ${allowed ? "allowed" : "forbidden"}`, () => {
      expect(ruleBroken(from, to) === undefined).toBe(allowed);
    });
  }
});

describe("lint-imports on trees", () => {
  test("a tree that follows the rules passes", () => {
    const result = run(tree(GOOD));
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("layer rules hold");
  });

  test("a device importing the VMM fails and names the file and line", () => {
    const root = tree({
      ...GOOD,
      "src/devices/virtio.ts": '// a device\nimport { v } from "../vmm/vmm.ts";\nexport const w = v;\n',
    });
    const result = run(root);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(
      "src/devices/virtio.ts:2: devices may not import src/vmm/vmm.ts (devices → its own folder and hal/types.ts; dependencies point down only)",
    );
  });

  test("each rule is reported, type-only imports included", () => {
    const root = tree({
      ...GOOD,
      "src/devices/a.ts": 'import type { x } from "../hal/kvm/index.ts";\n',
      "src/vcpu/b.ts": 'export type { Y } from "../devices/uart.ts";\n',
      "src/hal/kvm/c.ts": 'import { dlopen } from "bun:ffi";\nimport type { Q } from "../emulated/q.ts";\n',
      "src/hal/types.ts": 'import type { Y } from "../devices/uart.ts";\nexport type BackendName = "kvm";\n',
      "src/vmm/d.ts":
        'const m = await import("../../native/offsets.ts");\nconst n = await import(`../cli/${"main"}.ts`);\n',
    });
    const result = lintImports(root);
    expect(result.violations.map(formatViolation)).toEqual([
      "src/devices/a.ts:1: devices may not import src/hal/kvm/index.ts (devices → hal/types.ts only, never a backend)",
      "src/hal/kvm/c.ts:1: hal/kvm may not import bun:ffi (bun:ffi only in src/hal/<backend>/sys.ts)",
      "src/hal/kvm/c.ts:2: hal/kvm may not import src/hal/emulated/q.ts (hal/kvm → hal/types.ts and its own folder only)",
      "src/hal/types.ts:1: hal/types.ts may not import src/devices/uart.ts (hal/types.ts is the bottom of the graph and imports nothing from src)",
      "src/vcpu/b.ts:1: vcpu may not import src/devices/uart.ts (vcpu → its own folder and hal/types.ts; not devices)",
      "src/vmm/d.ts:1: vmm may not import native/offsets.ts (nothing under src imports native/; native code is reached through a backend's sys.ts)",
      "src/vmm/d.ts:2: vmm may not import a computed specifier (dynamic imports need a string literal so the layer rules can be checked)",
    ]);
  });

  test("the real tree passes", () => {
    const result = run(REPO);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
  });
});

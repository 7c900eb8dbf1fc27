/**
 * `.ci/run`'s end-to-end hook, on a scratch tree: scripts run in name order, non-executable ones are skipped, a
 * declared timeout is honoured, and the first failure fails the run. (The rest of `.ci/run` is the ordinary
 * install/typecheck/test sequence, exercised by CI itself.)
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { hasCommand, testIf } from "./support/skip.ts";

const CI_RUN = resolve(import.meta.dir, "../.ci/run");
const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function scratch(scripts: Record<string, { body: string; executable?: boolean }>): string {
  const root = mkdtempSync(join(tmpdir(), "ci-run-"));
  temps.push(root);
  mkdirSync(join(root, ".ci"));
  mkdirSync(join(root, "scripts/e2e"), { recursive: true });
  copyFileSync(CI_RUN, join(root, ".ci/run"));
  chmodSync(join(root, ".ci/run"), 0o755);
  for (const [name, script] of Object.entries(scripts)) {
    const path = join(root, "scripts/e2e", name);
    writeFileSync(path, `#!/usr/bin/env bash\n${script.body}\n`);
    chmodSync(path, script.executable === false ? 0o644 : 0o755);
  }
  return root;
}

function run(root: string): { code: number; out: string } {
  // The hook's own knobs must not leak in from the CI run that is running this test.
  const env: Record<string, string | undefined> = {
    ...process.env,
    CI_SKIP_E2E: undefined,
    E2E_TIMEOUT_SECONDS: undefined,
  };
  const r = Bun.spawnSync([join(root, ".ci/run"), "--e2e-only"], {
    cwd: tmpdir(),
    stdout: "pipe",
    stderr: "pipe",
    env,
  });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

const tools = hasCommand("timeout");

describe(".ci/run end-to-end hook", () => {
  testIf(tools, ".ci/run hook")("runs executable scripts in name order from the repository root", async () => {
    const root = scratch({
      "20-second.sh": { body: 'echo second >> "$PWD/order.txt"' },
      "10-first.sh": { body: 'echo first >> "$PWD/order.txt"' },
      "15-off.sh": { body: "exit 9", executable: false },
    });
    const r = run(root);
    expect(r.code).toBe(0);
    expect(r.out).toContain("skipping scripts/e2e/15-off.sh (not executable)");
    expect(r.out).toContain("end-to-end scripts: 2 passed");
    expect(await Bun.file(join(root, "order.txt")).text()).toBe("first\nsecond\n");
  });

  testIf(tools, ".ci/run hook")("the first failure stops the run with its status", () => {
    const root = scratch({ "10-fails.sh": { body: "exit 3" }, "20-never.sh": { body: 'touch "$PWD/ran"' } });
    const r = run(root);
    expect(r.code).toBe(3);
    expect(r.out).toContain("scripts/e2e/10-fails.sh: failed with status 3");
    expect(Bun.file(join(root, "ran")).size).toBe(0);
  });

  testIf(tools, ".ci/run hook")("a script's declared timeout is honoured", () => {
    const root = scratch({ "10-slow.sh": { body: "# ci-timeout-seconds: 1\nsleep 20" } });
    const r = run(root);
    expect(r.code).toBe(124);
    expect(r.out).toContain("scripts/e2e/10-slow.sh (timeout 1s)");
    expect(r.out).toContain("timed out after 1s");
  });

  testIf(tools, ".ci/run hook")("no scripts is a pass", () => {
    const r = run(scratch({}));
    expect(r.code).toBe(0);
    expect(r.out).toContain("end-to-end scripts: 0 passed");
  });
});

describe("the test command", () => {
  const REPO = resolve(import.meta.dir, "..");
  const script = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> })
    .scripts.test;

  test("README.md and .ci/run both use `bun run test`", () => {
    expect(readFileSync(join(REPO, "README.md"), "utf8")).toContain("bun install && bun run test");
    expect(readFileSync(join(REPO, ".ci/run"), "utf8")).toMatch(/^bun run test$/m);
  });

  // Bun ignores a `timeout` in bunfig.toml; this runs the package's own test script on a test that needs more than
  // Bun's 5 s default, so a default that is not in effect fails here rather than at random under load.
  test("`bun run test` gives each test more than Bun's 5 s default", () => {
    expect(script).toBeDefined();
    const root = mkdtempSync(join(tmpdir(), "test-timeout-"));
    temps.push(root);
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: "timeout-probe", scripts: { test: script } }));
    writeFileSync(
      join(root, "slow.test.ts"),
      'import { test } from "bun:test";\ntest("slow", async () => { await Bun.sleep(5_500); });\n',
    );
    const r = Bun.spawnSync(["bun", "run", "test"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const out = r.stdout.toString() + r.stderr.toString();
    expect(out).toContain("1 pass");
    expect(r.exitCode).toBe(0);
  }, 30_000);
});

/**
 * The VMM on a host where KVM's native library cannot be opened (simulated with a preload that makes bun:ffi's
 * dlopen fail, see test/support/dlopen-fails.ts): importing the VMM and the KVM backend opens nothing, `axvisor
 * info` reports KVM unavailable with dlopen's reason, and an emulated VM still runs, chosen by "auto" over KVM.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "..");
const MAIN = join(REPO, "src/cli/main.ts");
const PRELOAD = join(REPO, "test/support/dlopen-fails.ts");
const dir = mkdtempSync(join(tmpdir(), "axvisor-no-libc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** configs/default.toml (the hello guest) with `backend` replaced, written to a temporary file. */
function helloConfig(backend: string): string {
  const config = readFileSync(join(REPO, "configs/default.toml"), "utf8")
    .replace('backend = "emulated"', `backend = "${backend}"`)
    .replace('"../test/guests/riscv/hello.bin"', JSON.stringify(join(REPO, "test/guests/riscv/hello.bin")));
  if (!config.includes(`backend = "${backend}"`)) throw new Error("configs/default.toml changed shape");
  const path = join(dir, `hello-${backend}.toml`);
  writeFileSync(path, config);
  return path;
}

function bun(args: readonly string[]): { code: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync(["bun", "--preload", PRELOAD, ...args], {
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

test("importing the VMM and every backend module loads no native library", () => {
  const script = `
    await import(${JSON.stringify(join(REPO, "src/vmm/index.ts"))});
    await import(${JSON.stringify(join(REPO, "src/hal/kvm/index.ts"))});
    await import(${JSON.stringify(join(REPO, "src/hal/hvf/index.ts"))});
    console.log(JSON.stringify(globalThis.dlopenAttempts));
  `;
  const r = bun(["-e", script]);
  expect(r.stderr).toBe("");
  expect(r.stdout.trim()).toBe("[]");
});

test("axvisor info: kvm unavailable with dlopen's reason, emulated available, exit 0", () => {
  const r = bun([MAIN, "info"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(
    /^ {2}kvm +unavailable +cannot load libc\.so\.6: Failed to open library "libc\.so\.6": .*cannot open shared object file/m,
  );
  expect(r.stdout).toMatch(/^ {2}emulated +available +guests riscv64/m);
});

test('an emulated VM runs, "auto" passing over KVM', () => {
  const r = bun([MAIN, "run", helloConfig("auto")]);
  expect(r.stdout).toContain("Hello from an axvisor-ts guest on RISC-V!");
  expect(r.code).toBe(0);
});

test("a VM that asks for KVM fails cleanly, naming the library and dlopen's reason", () => {
  const r = bun([MAIN, "run", helloConfig("kvm")]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(
    'backend "kvm" cannot run here: cannot load libc.so.6: Failed to open library "libc.so.6"',
  );
  expect(r.stderr).not.toMatch(/^\s+at /m);
});

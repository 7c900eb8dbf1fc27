/**
 * The real `axvisor` process: exit statuses, stdout/stderr separation, no stack traces for bad input, and runs of
 * real guests once the pieces they need exist (they skip with the reason until then).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { type Requirement, testIf } from "../../test/support/skip.ts";

const REPO = resolve(import.meta.dir, "../..");
const MAIN = join(REPO, "src/cli/main.ts");
const FIXTURES = join(REPO, "test/fixtures/configs");
const HELLO = join(REPO, "test/guests/riscv/hello.bin");
const ISA_ALU = join(REPO, "test/guests/isa/rv64i-alu.elf");

const dir = mkdtempSync(join(tmpdir(), "axvisor-main-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI can start only when the VMM and every backend it registers can be imported. */
async function vmmImportable(): Promise<Requirement> {
  try {
    await import("../vmm/index.ts");
    return { available: true, reason: "src/vmm/index.ts imports" };
  } catch (error) {
    return {
      available: false,
      reason: `the VMM cannot be imported yet: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
const vmm = await vmmImportable();

function fileRequirement(path: string, what: string): Requirement {
  return existsSync(path)
    ? { available: vmm.available, reason: vmm.reason }
    : { available: false, reason: `${what} (${path}) is not built` };
}

function axvisor(args: readonly string[], cwd = dir): { code: number; stdout: string; stderr: string } {
  const result = Bun.spawnSync(["bun", MAIN, ...args], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

describe("axvisor process", () => {
  test("check: a good config prints the VM on stdout, exit 0", () => {
    const r = axvisor(["check", join(FIXTURES, "linux-riscv64-qemu-smp1.toml")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('VM 1 "linux-qemu"');
  });

  test("check: a bad config lists its problems on stderr, no stack trace, exit 2", () => {
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, '[base]\nid = 1\nname = 7\ncpu_num = 0\n[kernel]\nkernel_path = "x"\nmemory_regions = []\n');
    const r = axvisor(["check", bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("base.name = 7: expected a string, got an integer");
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  testIf(vmm, "axvisor info")("info names every backend, exit 0", () => {
    const r = axvisor(["info"]);
    expect(r.code).toBe(0);
    for (const name of ["kvm", "hvf", "emulated"])
      expect(r.stdout).toMatch(new RegExp(`^  ${name} +(available|unavailable)`, "m"));
  });

  testIf(fileRequirement(HELLO, "the hello guest"), "default VM")(
    "no arguments runs configs/default.toml from any folder, exit 0",
    () => {
      const r = axvisor([], tmpdir());
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeGreaterThan(0);
    },
  );

  testIf(vmm, "Ctrl-C")("Ctrl-C stops a guest that never ends: exit 130", async () => {
    const spin = join(dir, "spin.bin");
    writeFileSync(spin, Uint8Array.of(0x6f, 0, 0, 0)); // jal x0, 0: a one-instruction infinite loop
    const proc = Bun.spawn(["bun", MAIN, "run", "--machine", "virt", "--bios", "none", spin], {
      cwd: dir,
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    });
    // Give the CLI time to start the VM (and install its handler) before interrupting it.
    await Bun.sleep(2000);
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(130);
  });

  testIf(fileRequirement(ISA_ALU, "the rv64i-alu ISA program"), "bare machine")(
    "run --machine virt --bios none <elf> exits with the program's verdict",
    () => {
      const r = axvisor(["run", "--machine", "virt", "--bios", "none", ISA_ALU]);
      expect(r.code).toBe(0);
    },
  );
});

/**
 * Runs every bare-metal ISA conformance program (test/guests/isa/**) on QEMU and requires it to pass, so the
 * programs themselves are known to be right before our emulated hart is judged by them.
 *
 * Each program runs on `-M spike -bios none` (it reports through HTIF `tohost`; QEMU exits with the failing test
 * number, 0 for pass) and on `-M virt -bios none` (no HTIF: the program falls back to the `sifive,test` finisher
 * with the same exit status), unless its source narrows that with a `QEMU-MACHINES:` line or opts out with a
 * `QEMU-SKIP: reason` line (used for axvisor-specific checks where QEMU 7.2 differs from our stricter behaviour).
 */
import { describe, expect } from "bun:test";
import { existsSync } from "node:fs";
import { listIsaPrograms, type QemuMachine, repoPath } from "./guests/guest-files.ts";
import { hasCommand, testIf } from "./support/skip.ts";

const QEMU = "qemu-system-riscv64";
/** A program needs well under a second; the limit only catches hangs (a program that never reports). */
const RUN_TIMEOUT_MS = 20_000;
/** The hart QEMU emulates: RV64GC with the H extension and Sstc. */
const QEMU_CPU = "rv64,h=true,sstc=true";

interface QemuResult {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly output: string;
}

async function runOnQemu(elf: string, machine: QemuMachine): Promise<QemuResult> {
  const proc = Bun.spawn(
    [
      QEMU,
      "-M",
      machine,
      "-cpu",
      QEMU_CPU,
      "-smp",
      "1",
      "-m",
      "256M",
      "-bios",
      "none",
      "-nographic",
      "-nodefaults",
      "-kernel",
      elf,
    ],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, RUN_TIMEOUT_MS);
  const [exitCode, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  clearTimeout(timer);
  return { exitCode: timedOut ? null : exitCode, timedOut, output: (stdout + stderr).trim() };
}

function verdict(result: QemuResult): string {
  if (result.timedOut) return `no verdict within ${RUN_TIMEOUT_MS} ms (hung)`;
  if (result.exitCode === 0) return "pass";
  return `test ${result.exitCode} failed${result.output === "" ? "" : ` (QEMU said: ${result.output})`}`;
}

const qemu = hasCommand(QEMU);
const programs = listIsaPrograms();

describe("ISA conformance programs on QEMU", () => {
  testIf({ available: programs.length > 0, reason: "no programs" }, "program discovery")(
    "every program has a committed ELF",
    () => {
      const missing = programs.filter((program) => !existsSync(program.elf)).map((program) => repoPath(program.source));
      expect(missing).toEqual([]);
    },
  );

  for (const program of programs) {
    for (const machine of program.qemuMachines) {
      const label = `${program.name} on QEMU ${machine}`;
      const requirement =
        program.qemuSkip !== undefined
          ? { available: false, reason: `not run on QEMU: ${program.qemuSkip}` }
          : !existsSync(program.elf)
            ? { available: false, reason: `${repoPath(program.elf)} is not built` }
            : qemu;
      testIf(requirement, label)(
        label,
        async () => {
          const result = await runOnQemu(program.elf, machine);
          expect(`${program.name}: ${verdict(result)}`).toBe(`${program.name}: pass`);
        },
        RUN_TIMEOUT_MS + 5_000,
      );
    }
  }
});

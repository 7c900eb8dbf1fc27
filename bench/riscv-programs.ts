/**
 * The emulated hart against QEMU's software CPU, program by program (issue #3's speed targets).
 *
 * Each bare-metal program in bench/guests/ (built by scripts/build-bench-guests.sh, self-checking) runs on our
 * `virt-bare` board and on `qemu-system-riscv64 -M spike -bios none` (same ELF, same run). The program records
 * minstret around main() in `bench_counters`, so MIPS = instructions / our wall time for the run. QEMU's time is
 * corrected by its start-up cost: each round runs QEMU on the empty program right before the program and takes the
 * difference (paired, so a load change between rounds cancels out); ours by the same empty program on our board.
 * Medians over the rounds (`--rounds N`, default 5), ours and QEMU alternating, are printed (issue #12's targets:
 * int-loop <= 1x, memcpy <= 2x, interp <= 3x, calls <= 3x, branchy <= 4x QEMU's time). Older targets: >= 150 MIPS on int-loop, >= 50 MIPS on the mixed programs. Printed, never asserted. The WebAssembly
 * tier's regions and their compile cost per region are printed too: the hart thread's share (planning,
 * generating, instantiating) and the background compile's time from request to ready module.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { emulatedBackend } from "../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../src/hal/emulated/vcpu.ts";
import { boardFor } from "../src/vmm/boards/index.ts";
import { assembleVm } from "../src/vmm/builder.ts";
import { bareMachineConfig } from "../src/vmm/config/bare-machine.ts";
import { parseElf } from "../src/vmm/loader/elf.ts";

const guests = join(import.meta.dir, "guests");
const programs = readdirSync(guests)
  .filter((f) => f.endsWith(".elf") && f !== "empty.elf")
  .sort();
const roundsArg = process.argv.indexOf("--rounds");
const ROUNDS = roundsArg > 0 ? Math.max(1, Number(process.argv[roundsArg + 1]) || 1) : 5;

interface OurRun {
  readonly seconds: number;
  readonly instructions: number;
  readonly exitCode: number;
  /** The WebAssembly tier's regions and compile cost (main thread; background, from request to module ready). */
  readonly regions: number;
  readonly compileMs: number;
  readonly backgroundMs: number;
}

async function runOurs(elfPath: string): Promise<OurRun> {
  const config = bareMachineConfig(elfPath, {});
  const counters = parseElf(new Uint8Array(await Bun.file(elfPath).arrayBuffer())).symbols.get("bench_counters");
  const hypervisor = emulatedBackend.open();
  const vm = assembleVm(config, {
    hypervisor,
    board: boardFor(config),
    console: { write: () => undefined, close: () => undefined },
  });
  const memory = vm.memory; // the emulated backend's RAM stays readable after the VM stops
  const start = performance.now();
  const result = await vm.run();
  const seconds = (performance.now() - start) / 1000;
  const tier = (vm.vcpu(0).arch as EmulatedVcpu).hart.memory.wasmTier?.stats;
  hypervisor[Symbol.dispose]();
  const instructions =
    counters === undefined ? 0 : Number(memory.readU64(counters.value + 8) - memory.readU64(counters.value));
  return {
    seconds,
    instructions,
    exitCode: result.exitCode,
    regions: tier?.regions ?? 0,
    compileMs: tier?.compileMs ?? 0,
    backgroundMs: tier?.backgroundMs ?? 0,
  };
}

async function runQemu(elfPath: string): Promise<{ seconds: number; exitCode: number }> {
  const start = performance.now();
  const proc = Bun.spawn(["qemu-system-riscv64", "-M", "spike", "-bios", "none", "-nographic", "-kernel", elfPath], {
    stdout: "ignore",
    stderr: "ignore",
  });
  const exitCode = await proc.exited;
  return { seconds: (performance.now() - start) / 1000, exitCode };
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

const haveQemu = Bun.which("qemu-system-riscv64") !== null;
if (!haveQemu)
  console.log("[skip] QEMU comparison: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)");

const emptyPath = join(guests, "empty.elf");
const emptyRuns: number[] = [];
for (let i = 0; i < 3; i++) emptyRuns.push((await runOurs(emptyPath)).seconds);
const emptyOurs = median(emptyRuns);
console.log(
  `${ROUNDS} rounds per program, each: ours, QEMU on the empty program, QEMU on the program; QEMU's time is the program's minus the empty program's of the same round (its start-up, ~70-200 ms here, dwarfs the programs), ours is in-process (start-up ${(emptyOurs * 1000).toFixed(1)} ms, subtracted); medians below`,
);

const rows: string[][] = [
  [
    "program",
    "instructions",
    "ours (s)",
    "MIPS",
    "QEMU (s)",
    "time ratio ours/QEMU",
    "wasm regions",
    "ms/region main",
    "ms/region bg",
    "result",
  ],
];
for (const program of programs) {
  const path = join(guests, program);
  const ours: OurRun[] = [];
  const qemuNets: number[] = [];
  let qemuExit = 0;
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(await runOurs(path));
    if (haveQemu) {
      const empty = await runQemu(emptyPath);
      const q = await runQemu(path);
      qemuNets.push(Math.max(1e-3, q.seconds - empty.seconds));
      if (q.exitCode !== 0) qemuExit = q.exitCode;
    }
  }
  const o = ours[0] ?? { seconds: 0, instructions: 0, exitCode: 1, regions: 0, compileMs: 0, backgroundMs: 0 };
  const oursNet = Math.max(1e-6, median(ours.map((r) => r.seconds)) - emptyOurs);
  const qemuNet = haveQemu ? median(qemuNets) : undefined;
  const failed = ours.find((r) => r.exitCode !== 0);
  const ok = failed === undefined && qemuExit === 0;
  rows.push([
    program.replace(/\.elf$/, ""),
    `${(o.instructions / 1e6).toFixed(1)} M`,
    oursNet.toFixed(3),
    (o.instructions / oursNet / 1e6).toFixed(1),
    qemuNet === undefined ? "n/a" : qemuNet.toFixed(3),
    qemuNet === undefined ? "n/a" : `${(oursNet / qemuNet).toFixed(1)}x`,
    String(o.regions),
    o.regions === 0 ? "-" : (o.compileMs / o.regions).toFixed(2),
    o.regions === 0 ? "-" : (o.backgroundMs / o.regions).toFixed(2),
    ok ? "pass" : `FAIL (ours ${failed?.exitCode ?? 0}, qemu ${qemuExit})`,
  ]);
}
const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
for (const row of rows) console.log(row.map((cell, c) => cell.padStart(widths[c] ?? 0)).join("  "));
console.log(
  "targets: int-loop >= 150 MIPS, mixed programs >= 50 MIPS (QEMU's time has a 1 ms floor after start-up correction)",
);

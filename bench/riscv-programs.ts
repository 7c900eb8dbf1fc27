/**
 * The emulated hart against QEMU's software CPU, program by program (issue #3's speed targets).
 *
 * Each bare-metal program in bench/guests/ (built by scripts/build-bench-guests.sh, self-checking) runs on our
 * `virt-bare` board and on `qemu-system-riscv64 -M spike -bios none` (same ELF, same run). The program records
 * minstret and the CLINT's mtime around main() in `bench_counters` and prints the mtime difference through HTIF
 * ("ticks=..."), so both sides are timed by the guest's own clock, without start-up (QEMU's start-up, 70-200 ms
 * here, is larger than most programs' run and too noisy to subtract). MIPS = instructions / that time. Medians
 * over the rounds (`--rounds N`, default 5), ours and QEMU alternating, are printed (issue #12's targets: int-loop
 * <= 1x, memcpy <= 2x, interp <= 3x, calls <= 3x, branchy <= 4x QEMU's time), with our whole run's wall time next
 * to it. Older targets: >= 150 MIPS on int-loop, >= 50 MIPS on the mixed programs. Printed, never asserted. The WebAssembly
 * tier's regions and their compile cost per region are printed too: the hart thread's share (planning,
 * generating, instantiating) and the background compile's time from request to ready module. Every round is a new
 * VM in this one process, so rounds after the first find the compiler thread's kept modules (wasm/module-cache.ts:
 * a loop's optimized code): the first round's time is printed too, and how many of the later rounds' compiles were
 * answered from kept modules.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { runtimeEnvNote } from "../src/common/runtime-env.ts";
import { emulatedBackend } from "../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../src/hal/emulated/vcpu.ts";
import { boardFor } from "../src/vmm/boards/index.ts";
import { assembleVm } from "../src/vmm/builder.ts";
import { bareMachineConfig } from "../src/vmm/config/bare-machine.ts";
import { parseElf } from "../src/vmm/loader/elf.ts";

const runtimeNote = runtimeEnvNote();
if (runtimeNote !== undefined) console.log(runtimeNote);

const guests = join(import.meta.dir, "guests");
const programs = readdirSync(guests)
  .filter((f) => f.endsWith(".elf") && f !== "empty.elf")
  .sort();
const roundsArg = process.argv.indexOf("--rounds");
const ROUNDS = roundsArg > 0 ? Math.max(1, Number(process.argv[roundsArg + 1]) || 1) : 5;

/** The CLINT mtime rate of QEMU's spike board and of our virt board (DEFAULT_TIMEBASE_HZ). */
const MTIME_HZ = 10_000_000;

interface OurRun {
  /** main()'s run time by the guest's own clock (mtime), free of start-up. */
  readonly seconds: number;
  /** Wall time of the whole VM run (start-up, background compiles' wait included). */
  readonly wallSeconds: number;
  readonly instructions: number;
  readonly exitCode: number;
  /** The WebAssembly tier's regions and compile cost (main thread; background, from request to module ready). */
  readonly regions: number;
  readonly compileMs: number;
  readonly backgroundMs: number;
  /** Compiles the compiler thread answered with a module it had kept. */
  readonly keptModules: number;
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
  const wallSeconds = (performance.now() - start) / 1000;
  const tier = (vm.vcpu(0).arch as EmulatedVcpu).hart.memory.wasmTier?.stats;
  hypervisor[Symbol.dispose]();
  const instructions =
    counters === undefined ? 0 : Number(memory.readU64(counters.value + 8) - memory.readU64(counters.value));
  const ticks =
    counters === undefined ? 0 : Number(memory.readU64(counters.value + 24) - memory.readU64(counters.value + 16));
  return {
    seconds: ticks / MTIME_HZ,
    wallSeconds,
    instructions,
    exitCode: result.exitCode,
    regions: tier?.regions ?? 0,
    compileMs: tier?.compileMs ?? 0,
    backgroundMs: tier?.backgroundMs ?? 0,
    keptModules: tier?.cachedCompiles ?? 0,
  };
}

/** QEMU's run: main()'s time from the "ticks=" line the program prints through HTIF (QEMU's RAM is not ours). */
async function runQemu(elfPath: string): Promise<{ seconds: number | undefined; exitCode: number }> {
  const proc = Bun.spawn(["qemu-system-riscv64", "-M", "spike", "-bios", "none", "-nographic", "-kernel", elfPath], {
    stdout: "pipe",
    stderr: "ignore",
  });
  const text = await new Response(proc.stdout).text();
  const exitCode = await proc.exited;
  const ticks = /ticks=([0-9a-f]{16})/.exec(text)?.[1];
  return { seconds: ticks === undefined ? undefined : Number.parseInt(ticks, 16) / MTIME_HZ, exitCode };
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

const haveQemu = Bun.which("qemu-system-riscv64") !== null;
if (!haveQemu)
  console.log("[skip] QEMU comparison: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)");

console.log(
  `${ROUNDS} rounds per program, ours and QEMU alternating; times are main()'s by the guest's own clock (CLINT mtime at 10 MHz, read by crt0.S around main), so neither side's start-up counts; medians below`,
);

const rows: string[][] = [
  [
    "program",
    "instructions",
    "ours (s)",
    "ours 1st round (s)",
    "ours wall (s)",
    "MIPS",
    "QEMU (s)",
    "time ratio ours/QEMU",
    "wasm regions",
    "ms/region main",
    "ms/region bg",
    "kept after 1st",
    "result",
  ],
];
for (const program of programs) {
  const path = join(guests, program);
  const ours: OurRun[] = [];
  const qemuTimes: number[] = [];
  let qemuExit = 0;
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(await runOurs(path));
    if (haveQemu) {
      const q = await runQemu(path);
      if (q.seconds !== undefined) qemuTimes.push(q.seconds);
      if (q.exitCode !== 0 || q.seconds === undefined) qemuExit = q.exitCode === 0 ? -1 : q.exitCode;
    }
  }
  const o = ours[0] ?? {
    seconds: 0,
    wallSeconds: 0,
    instructions: 0,
    exitCode: 1,
    regions: 0,
    compileMs: 0,
    backgroundMs: 0,
    keptModules: 0,
  };
  const oursNet = Math.max(1e-7, median(ours.map((r) => r.seconds)));
  const oursWall = median(ours.map((r) => r.wallSeconds));
  const qemuNet = qemuTimes.length === 0 ? undefined : Math.max(1e-7, median(qemuTimes));
  const failed = ours.find((r) => r.exitCode !== 0);
  const ok = failed === undefined && qemuExit === 0;
  rows.push([
    program.replace(/\.elf$/, ""),
    `${(o.instructions / 1e6).toFixed(1)} M`,
    oursNet.toFixed(3),
    o.seconds.toFixed(3),
    oursWall.toFixed(3),
    (o.instructions / oursNet / 1e6).toFixed(1),
    qemuNet === undefined ? "n/a" : qemuNet.toFixed(3),
    qemuNet === undefined ? "n/a" : `${(oursNet / qemuNet).toFixed(1)}x`,
    String(o.regions),
    o.regions === 0 ? "-" : (o.compileMs / o.regions).toFixed(2),
    o.regions === 0 ? "-" : (o.backgroundMs / o.regions).toFixed(2),
    `${ours.slice(1).reduce((sum, r) => sum + r.keptModules, 0)}/${ours.slice(1).reduce((sum, r) => sum + r.regions, 0)}`,
    ok ? "pass" : `FAIL (ours ${failed?.exitCode ?? 0}, qemu ${qemuExit})`,
  ]);
}
const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
for (const row of rows) console.log(row.map((cell, c) => cell.padStart(widths[c] ?? 0)).join("  "));
console.log(
  "issue #12 targets (time ratio): int-loop <= 1x, memcpy <= 2x, interp <= 3x, calls <= 3x, branchy <= 4x; ours wall = the whole VM run",
);

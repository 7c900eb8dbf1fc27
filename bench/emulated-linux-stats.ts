/**
 * Boots the riscv64 Linux guest on the emulated backend and prints where the time goes: set-up, the time to the
 * init's first line ("AXVISOR-INIT: hello") with the instructions retired by then, the time spent inside the
 * vCPUs' run(), exits per kind, and each hart's slow-path event counters (TLB misses per access kind, walks,
 * block builds and invalidations, compiles, flushes by cause, traps, atomics). A change to the fast path can so
 * be judged by what Linux makes it do, not only by a noisy wall time.
 *
 *   bun bench/emulated-linux-stats.ts [config.toml]     (default configs/linux-riscv64.toml)
 */
import { numberOfDFGCompiles, reoptimizationRetryCount } from "bun:jsc";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runtimeEnvNote } from "../src/common/runtime-env.ts";
import { emulatedBackend } from "../src/hal/emulated/index.ts";
import { interpret } from "../src/hal/emulated/interp.ts";
import type { EmulatedVcpu } from "../src/hal/emulated/vcpu.ts";
import { boardFor } from "../src/vmm/boards/index.ts";
import { assembleVm } from "../src/vmm/builder.ts";
import { loadVmConfig } from "../src/vmm/config/index.ts";
import { markerWatch } from "./marker-watch.ts";

const runtimeNote = runtimeEnvNote();
if (runtimeNote !== undefined) console.log(runtimeNote);

const root = join(import.meta.dir, "..");
const configPath = process.argv[2] ?? join(root, "configs/linux-riscv64.toml");
const image = join(root, ".cache/linux-riscv64/current/Image");
const MARKER = "AXVISOR-INIT: hello";
if (!existsSync(image)) {
  console.log(`[skip] ${image} is missing; build it with scripts/build-linux-riscv64.sh`);
  process.exit(0);
}

/**
 * CPU time of the main thread (where the harts run) in seconds, from Linux's schedstat: unlike wall time it does
 * not count waiting for a core, so it is steadier on a shared machine. Undefined where /proc has no schedstat.
 */
function mainThreadCpu(): number | undefined {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ");
    return Number(fields[0]) / 1e9;
  } catch {
    return undefined;
  }
}

const t0 = performance.now();
const cpu0 = mainThreadCpu();
let markerCpu: number | undefined;
const config = loadVmConfig(configPath);
const hypervisor = emulatedBackend.open();
const watch = markerWatch(MARKER);
let start = t0;
let markerAt: number | undefined;
let markerInsns = 0;
const harts = (): EmulatedVcpu[] => Array.from({ length: vm.vcpuCount }, (_, id) => vm.vcpu(id).arch as EmulatedVcpu);
const vm = assembleVm(config, {
  hypervisor,
  board: boardFor(config),
  console: {
    write: (bytes: Uint8Array) => {
      if (markerAt === undefined && watch(bytes)) {
        markerAt = (performance.now() - start) / 1000;
        const cpu = mainThreadCpu();
        markerCpu = cpu === undefined || cpu0 === undefined ? undefined : cpu - cpu0;
        markerInsns = harts().reduce((sum, v) => sum + v.hart.icount, 0);
      }
    },
    close: () => undefined,
  },
});

// Time inside run() and exits per kind; the rest of the wall time is the VMM (halts, devices, event loop).
const exits = new Map<string, number>();
let runSeconds = 0;
for (let id = 0; id < vm.vcpuCount; id++) {
  const arch = vm.vcpu(id).arch;
  const run = arch.run.bind(arch);
  arch.run = () => {
    const t = performance.now();
    const exit = run();
    runSeconds += (performance.now() - t) / 1000;
    exits.set(exit.kind, (exits.get(exit.kind) ?? 0) + 1);
    return exit;
  };
}

start = performance.now();
const result = await vm.run();
const seconds = (performance.now() - start) / 1000;
const mips = (n: number, s: number): string => (n / s / 1e6).toFixed(1);
console.log(`set-up ${((start - t0) / 1000).toFixed(3)} s`);
console.log(
  markerAt === undefined
    ? "marker: MISSING"
    : `marker after ${markerAt.toFixed(3)} s, ${(markerInsns / 1e6).toFixed(1)} M instructions (${mips(markerInsns, markerAt)} MIPS); main-thread CPU ${markerCpu === undefined ? "n/a" : `${markerCpu.toFixed(3)} s`} to it`,
);
console.log(`exit ${result.exitCode} after ${seconds.toFixed(3)} s; inside run() ${runSeconds.toFixed(3)} s`);
console.log(`exits: ${[...exits.entries()].map(([k, v]) => `${k} ${v}`).join(", ")}`);
for (const vcpu of harts()) {
  const h = vcpu.hart;
  const inRegions = h.stats.regionInstructions;
  console.log(
    `hart ${vcpu.id}: ${(h.icount / 1e6).toFixed(1)} M instructions, ${(inRegions / 1e6).toFixed(1)} M (${((100 * inRegions) / Math.max(1, h.icount)).toFixed(1)}%) in WebAssembly regions, the rest interpreted (${(h.stats.wasmInterpreted / 1e6).toFixed(1)} M by the WebAssembly interpreter)`,
  );
  const runs = h.stats.regionEntries;
  const chains = h.stats.regionChains;
  console.log(
    `  regions: ${runs} entered from outside (${h.stats.interpreterRegionEntries} of them by the WebAssembly interpreter, the rest by the run loop), ${chains} chained region to region; ${(inRegions / Math.max(1, runs + chains)).toFixed(0)} instructions per region run, ${(inRegions / Math.max(1, runs)).toFixed(0)} per return`,
  );
  const s = h.stats;
  console.log(
    `  returns (to the run loop or the interpreter): ${s.regionReturnsCall} after a call into the hart, ${s.regionReturnsLimit} at the limit, ${s.regionReturnsStop} stopped by a slow path, ${s.regionReturnsNoTlb} fetch-TLB misses, ${s.regionReturnsNoRegion} to pages without a region, ${s.regionReturnsNoBlock} to no block of a region`,
  );
  const stats = h.stats.snapshot();
  const entries = Object.entries(stats);
  for (let i = 0; i < entries.length; i += 4) {
    console.log(
      `  ${entries
        .slice(i, i + 4)
        .map(([k, v]) => `${k} ${v}`.padEnd(26))
        .join("")}`,
    );
  }
}
const tier = harts()[0]?.hart.memory.wasmTier;
if (tier !== undefined) {
  const t = tier.stats;
  console.log(
    `WebAssembly tier: ${t.regions} regions (${t.recompiles} recompiles, ${t.promotions} promoted to the optimizing tier, ${t.invalidations} invalidated), ${t.instructions} instructions, ${(t.bytes / 1024).toFixed(0)} KiB, main-thread compile ${t.compileMs.toFixed(0)} ms (${t.regions === 0 ? "-" : (t.compileMs / t.regions).toFixed(2)} ms per region, ${t.bytes === 0 ? "-" : ((t.compileMs * 1024) / t.bytes).toFixed(3)} ms per KiB), ${t.syncCompiles} compiled on the hart's thread, ${t.threadCompiles} on the compiler thread (${t.threadMs.toFixed(0)} ms there), background compile ${t.backgroundMs.toFixed(0)} ms in all, ${t.discarded} discarded, ${t.pending} pending`,
  );
}
// JavaScriptCore's optimizing compiles of the interpreter, and how often its optimized code was thrown away (OSR
// exits past the limit): each recompile costs 40-280 ms of JIT-thread CPU early in a boot, taken from the harts
// on a 2-core machine.
console.log(
  `JavaScriptCore: the interpreter optimized ${numberOfDFGCompiles(interpret)} times, reoptimized ${reoptimizationRetryCount(interpret)} times`,
);
hypervisor[Symbol.dispose]();

/**
 * The in-guest LCG of issue #12: a 64-bit LCG stepped 20 M times in a Linux user process, with 1 thread on 1 hart
 * and with 4 threads on 4 harts, on the emulated backend and on qemu-system-riscv64 (TCG, MTTCG for 4 harts) in the
 * same run. Both boot Debian's riscv64 6.12 kernel (scripts/fetch-debian-riscv64.sh) with our init
 * (test/guests/linux-init/init.c) in LCG mode (`axvisor.lcg=STEPS,THREADS` on the command line): the init lets the
 * kernel's deferred work after module loading finish (LCG_SETTLE_NS, 0.3 s of guest time: timed at once, the threads
 * shared their harts with it in some runs and not in others), times the threads with CLOCK_MONOTONIC (both guests'
 * clocks follow the host's) and prints the microseconds and the sum of the threads' final values, which this script
 * checks against the value it computes itself. Rounds alternate ours and
 * QEMU so both see the same machine load; the table shows medians and the ratio (targets: 1 thread <= 2x,
 * 4 threads <= 2.5x).
 *
 * Multi-hart VMs run their harts as AXVISOR_EMULATED_THREADS says (README: "Harts on host threads"); the table
 * names the mode. `--threads 1,2,4` measures other thread counts (the scaling from 1 to 4 harts).
 *
 *   bun bench/emulated-linux-lcg.ts [--rounds 3] [--steps 20000000] [--threads 1,4]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runtimeEnvNote } from "../src/common/runtime-env.ts";
import { HART_THREADS_ENV, hartThreadsWanted } from "../src/hal/emulated/threads/switch.ts";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import { Vmm } from "../src/vmm/vmm.ts";

const runtimeNote = runtimeEnvNote();
if (runtimeNote !== undefined) console.log(runtimeNote);

const root = join(import.meta.dir, "..");
const templatePath = join(root, "configs/linux-riscv64-debian.toml");
const RAM = "512M";
const LCG_MUL = 6364136223846793005n;
const LCG_ADD = 1442695040888963407n;
const MASK64 = (1n << 64n) - 1n;
const RESULT = /AXVISOR-INIT: lcg: (\d+) threads x (\d+) steps in (\d+) us, sum=0x([0-9a-f]{16})/;
const DONE = "AXVISOR-INIT: powering off";

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.log(`Cannot run the LCG benchmark: ${name} must be a positive integer, got ${process.argv[at + 1]}`);
    process.exit(2);
  }
  return value;
}
const ROUNDS = argument("--rounds", 3);
const STEPS = argument("--steps", 20_000_000);
const THREAD_COUNTS = threadCounts();

function threadCounts(): number[] {
  const at = process.argv.indexOf("--threads");
  if (at < 0) return [1, 4];
  const text = process.argv[at + 1] ?? "";
  const counts = text.split(",").map(Number);
  if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) {
    console.log(`Cannot run the LCG benchmark: --threads must list counts from 1 to 8 (e.g. 1,2,4), got ${text}`);
    process.exit(2);
  }
  return counts;
}

/**
 * x_n of x = x * MUL + ADD from `seed` after `steps` steps, by composing the affine map with itself (square and
 * multiply on (mul, add) pairs mod 2^64): O(log steps) instead of 20 M BigInt steps.
 */
function lcgAfter(seed: bigint, steps: number): bigint {
  let accMul = 1n;
  let accAdd = 0n;
  let curMul = LCG_MUL;
  let curAdd = LCG_ADD;
  let n = BigInt(steps);
  while (n > 0n) {
    if ((n & 1n) === 1n) {
      accMul = (accMul * curMul) & MASK64;
      accAdd = (accAdd * curMul + curAdd) & MASK64;
    }
    curAdd = (curAdd * curMul + curAdd) & MASK64;
    curMul = (curMul * curMul) & MASK64;
    n >>= 1n;
  }
  return (seed * accMul + accAdd) & MASK64;
}

function expectedSum(threads: number): bigint {
  let sum = 0n;
  for (let i = 0; i < threads; i++) sum = (sum + lcgAfter(BigInt(i + 1), STEPS)) & MASK64;
  return sum;
}

/** The kernel and initramfs built from this checkout's init.c (the script prints their folder, keyed by inputs). */
function debianImages(): { image: string; initramfs: string } | string {
  const proc = Bun.spawnSync([join(root, "scripts/fetch-debian-riscv64.sh")], { stdout: "pipe", stderr: "pipe" });
  const dir = new TextDecoder().decode(proc.stdout).trim().split("\n").pop() ?? "";
  if (proc.exitCode !== 0 || dir === "") {
    return `scripts/fetch-debian-riscv64.sh failed (exit ${proc.exitCode}): ${new TextDecoder().decode(proc.stderr).trim().split("\n").pop()}`;
  }
  return { image: join(dir, "Image"), initramfs: join(dir, "initramfs.cpio") };
}

const images = debianImages();
if (typeof images === "string") {
  console.log(`[skip] in-guest LCG benchmark: ${images}`);
  process.exit(0);
}

function cmdline(threads: number): string {
  return `console=ttyS0 earlycon=sbi axvisor.lcg=${STEPS},${threads}`;
}

interface Outcome {
  readonly micros: number | undefined;
  readonly problem: string | undefined;
}

/** Collects console text until the init powers off; then reads its result line. */
function outcomeWatch(threads: number): { feed: (bytes: Uint8Array) => boolean; outcome: () => Outcome } {
  const decoder = new TextDecoder();
  let text = "";
  return {
    feed: (bytes) => {
      text = (text + decoder.decode(bytes, { stream: true })).slice(-65536);
      return text.includes(DONE);
    },
    outcome: () => {
      const m = RESULT.exec(text);
      if (m === null)
        return { micros: undefined, problem: `no result line (console tail: ${JSON.stringify(text.slice(-300))})` };
      const [, gotThreads, gotSteps, micros, sum] = m;
      const want = expectedSum(threads).toString(16).padStart(16, "0");
      if (Number(gotThreads) !== threads || Number(gotSteps) !== STEPS || sum !== want) {
        return {
          micros: undefined,
          problem: `wrong result: ${gotThreads} threads x ${gotSteps} steps, sum 0x${sum}, expected ${threads} x ${STEPS}, 0x${want}`,
        };
      }
      return { micros: Number(micros), problem: undefined };
    },
  };
}

async function ours(threads: number, image: string, initramfs: string): Promise<Outcome> {
  const template = readFileSync(templatePath, "utf8");
  const text = template
    .replace(/^cpu_num = .*$/m, `cpu_num = ${threads}`)
    .replace(/^kernel_path = .*$/m, `kernel_path = ${JSON.stringify(image)}`)
    .replace(/^ramdisk_path = .*$/m, `ramdisk_path = ${JSON.stringify(initramfs)}`)
    .replace(/^cmdline = .*$/m, `cmdline = ${JSON.stringify(cmdline(threads))}`);
  const config = parseVmConfig(text, { baseDir: join(root, "configs"), sourceName: templatePath });
  const watch = outcomeWatch(threads);
  let stopped = false;
  const vmm: Vmm = new Vmm({
    logLevel: "warn",
    console: {
      writer: (bytes) => {
        if (!stopped && watch.feed(bytes)) {
          stopped = true;
          vmm.stop();
        }
      },
    },
  });
  vmm.addVm(config);
  await vmm.run();
  return watch.outcome();
}

async function qemu(threads: number, image: string, initramfs: string): Promise<Outcome> {
  const proc = Bun.spawn(
    [
      "qemu-system-riscv64",
      ...["-M", "virt", "-bios", "default", "-m", RAM, "-smp", String(threads), "-nographic"],
      ...["-kernel", image, "-initrd", initramfs, "-append", cmdline(threads)],
    ],
    { stdout: "pipe", stderr: "ignore" },
  );
  const watch = outcomeWatch(threads);
  for await (const chunk of proc.stdout) {
    if (watch.feed(chunk)) {
      proc.kill();
      break;
    }
  }
  await proc.exited;
  return watch.outcome();
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const fmt = (us: number | undefined): string => (us === undefined ? "no result" : `${(us / 1000).toFixed(0)} ms`);
const haveQemu = Bun.which("qemu-system-riscv64") !== null;
if (!haveQemu)
  console.log("[skip] QEMU reference: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)");

const load = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`LCG ${STEPS} steps per thread, ${ROUNDS} rounds, load average before: ${load()}`);
for (const threads of THREAD_COUNTS) {
  const o: number[] = [];
  const q: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await ours(threads, images.image, images.initramfs);
    if (a.micros !== undefined) o.push(a.micros);
    else console.log(`  ours, ${threads} threads, round ${r + 1}: ${a.problem}`);
    if (haveQemu) {
      const b = await qemu(threads, images.image, images.initramfs);
      if (b.micros !== undefined) q.push(b.micros);
      else console.log(`  QEMU, ${threads} threads, round ${r + 1}: ${b.problem}`);
    }
  }
  const om = median(o);
  const qm = median(q);
  const target = threads === 1 ? 2 : 2.5;
  console.log(
    `LCG, ${threads} thread${threads === 1 ? "" : "s"} on ${threads} hart${threads === 1 ? "" : "s"}${hartThreadsWanted(threads) ? " (harts on host threads)" : threads > 1 ? ` (harts on one thread, ${HART_THREADS_ENV}=${process.env[HART_THREADS_ENV] ?? ""})` : ""}: ours ${fmt(om)} (${o.length}/${ROUNDS}), QEMU ${fmt(qm)} (${q.length}/${haveQemu ? ROUNDS : 0}); ratio ${om !== undefined && qm !== undefined ? `${(om / qm).toFixed(1)}x` : "n/a"} (target <= ${target})`,
  );
}
console.log(`load average after: ${load()}`);

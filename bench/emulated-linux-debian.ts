/**
 * Debian's own riscv64 kernel (trixie, 6.12; scripts/fetch-debian-riscv64.sh) with our init in its initramfs, booted
 * to the init's first line ("AXVISOR-INIT: hello") on the emulated backend and on qemu-system-riscv64 (TCG, its
 * default OpenSBI, the same kernel, initramfs and command line, the same RAM), with 1 and 4 harts (issue #12's
 * targets: <= 1.5x with 1 hart, <= 2x with 4). Rounds alternate ours and QEMU so both see the same machine load;
 * the table shows medians. Both runs are stopped at the marker.
 *
 *   bun bench/emulated-linux-debian.ts [--rounds 3] [--harts 1|4]     (default: both)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runtimeEnvNote } from "../src/common/runtime-env.ts";
import { loadVmConfig } from "../src/vmm/config/index.ts";
import { Vmm } from "../src/vmm/vmm.ts";
import { markerWatch } from "./marker-watch.ts";

const runtimeNote = runtimeEnvNote();
if (runtimeNote !== undefined) console.log(runtimeNote);

const root = join(import.meta.dir, "..");
const current = join(root, ".cache/debian-riscv64/current");
const image = join(current, "Image");
const initramfs = join(current, "initramfs.cpio");
const configPath = join(root, "configs/linux-riscv64-debian.toml");
const MARKER = "AXVISOR-INIT: hello";
const CMDLINE = "console=ttyS0 earlycon=sbi";
const RAM = "512M";
const roundsArg = process.argv.indexOf("--rounds");
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
const hartsArg = process.argv.indexOf("--harts");
const HART_COUNTS = hartsArg > 0 ? [Number(process.argv[hartsArg + 1])] : [1, 4];

if (!existsSync(image) || !existsSync(initramfs)) {
  console.log(`[skip] Debian Linux boot benchmark: ${current} is missing; run scripts/fetch-debian-riscv64.sh`);
  process.exit(0);
}
if (!HART_COUNTS.every((n) => Number.isInteger(n) && n >= 1)) {
  console.log(
    `Cannot run the Debian boot benchmark: --harts must be a positive integer, got ${process.argv[hartsArg + 1]}`,
  );
  process.exit(2);
}
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.log(
    `Cannot run the Debian boot benchmark: --rounds must be a positive integer, got ${process.argv[roundsArg + 1]}`,
  );
  process.exit(2);
}

async function ours(harts: number): Promise<number | undefined> {
  const config = loadVmConfig(configPath);
  const watch = markerWatch(MARKER);
  let marker: number | undefined;
  const start = performance.now();
  const vmm: Vmm = new Vmm({
    logLevel: "warn",
    console: {
      writer: (bytes) => {
        if (marker === undefined && watch(bytes)) {
          marker = (performance.now() - start) / 1000;
          vmm.stop();
        }
      },
    },
  });
  vmm.addVm({ ...config, cpuNum: harts });
  await vmm.run();
  return marker;
}

async function qemu(harts: number): Promise<number | undefined> {
  const start = performance.now();
  const proc = Bun.spawn(
    [
      "qemu-system-riscv64",
      ...["-M", "virt", "-bios", "default", "-m", RAM, "-smp", String(harts), "-nographic"],
      ...["-kernel", image, "-initrd", initramfs, "-append", CMDLINE],
    ],
    { stdout: "pipe", stderr: "ignore" },
  );
  const watch = markerWatch(MARKER);
  let marker: number | undefined;
  for await (const chunk of proc.stdout) {
    if (watch(chunk)) {
      marker = (performance.now() - start) / 1000;
      proc.kill();
      break;
    }
  }
  await proc.exited;
  return marker;
}

const median = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const fmt = (s: number | undefined): string => (s === undefined ? "no marker" : `${s.toFixed(2)} s`);
const haveQemu = Bun.which("qemu-system-riscv64") !== null;
if (!haveQemu)
  console.log("[skip] QEMU reference: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)");

for (const harts of HART_COUNTS) {
  const o: number[] = [];
  const q: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await ours(harts);
    if (a !== undefined) o.push(a);
    if (haveQemu) {
      const b = await qemu(harts);
      if (b !== undefined) q.push(b);
    }
  }
  const om = median(o);
  const qm = median(q);
  const target = harts === 1 ? 1.5 : 2;
  console.log(
    `Debian 6.12, ${harts} hart${harts === 1 ? "" : "s"}: ours ${fmt(om)} (${o.length}/${ROUNDS} reached the marker), QEMU ${fmt(qm)} (${q.length}/${haveQemu ? ROUNDS : 0}); ratio ${om !== undefined && qm !== undefined ? `${(om / qm).toFixed(1)}x` : "n/a"} (target <= ${target})`,
  );
}

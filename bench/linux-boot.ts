/**
 * Linux boot-to-marker time on the emulated backend, next to QEMU booting the same `Image` (issue #12's target:
 * ratio <= 1.5; issue #4's was <= 4). The kernel comes from scripts/build-linux-riscv64.sh
 * (.cache/linux-riscv64/current/Image); its init prints "AXVISOR-INIT: hello" first thing. Both sides boot it with
 * 128 MiB, once with each hart count of `--harts` (default 1,4: issue #12's targets <= 1.5 and <= 2). QEMU runs
 * with its default OpenSBI (`-bios default`), so its time includes firmware start-up, which ours does not need.
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
const image = join(root, ".cache/linux-riscv64/current/Image");
const MARKER = "AXVISOR-INIT: hello";

if (!existsSync(image)) {
  console.log(
    `[skip] Linux boot benchmark: ${image} is missing; build it with scripts/build-linux-riscv64.sh (about 3-7 minutes)`,
  );
  process.exit(0);
}

const hartsArg = process.argv.indexOf("--harts");
const HART_COUNTS = (hartsArg > 0 ? (process.argv[hartsArg + 1] ?? "") : "1,4").split(",").map(Number);
if (HART_COUNTS.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) {
  console.log(
    `Cannot run the Linux boot benchmark: --harts must be a comma-separated list of 1-8, got ${process.argv[hartsArg + 1]}`,
  );
  process.exit(2);
}
/** Issue #12's targets: 1 hart <= 1.5x QEMU's time, 4 harts <= 2x. */
const target = (harts: number): number => (harts === 1 ? 1.5 : 2);

async function ours(harts: number): Promise<{ marker: number | undefined; total: number; exitCode: number }> {
  const config = { ...loadVmConfig(join(root, "configs/linux-riscv64.toml")), cpuNum: harts };
  const watch = markerWatch(MARKER);
  let marker: number | undefined;
  const start = performance.now();
  const vmm = new Vmm({
    logLevel: "warn",
    console: {
      writer: (bytes) => {
        if (marker === undefined && watch(bytes)) marker = (performance.now() - start) / 1000;
      },
    },
  });
  vmm.addVm(config);
  const result = await vmm.run();
  return { marker, total: (performance.now() - start) / 1000, exitCode: result.exitCode };
}

async function qemu(harts: number): Promise<{ marker: number | undefined; total: number; exitCode: number }> {
  const start = performance.now();
  const proc = Bun.spawn(
    [
      "qemu-system-riscv64",
      "-M",
      "virt",
      "-bios",
      "default",
      "-m",
      "128M",
      "-smp",
      String(harts),
      "-nographic",
      "-kernel",
      image,
      "-append",
      "console=ttyS0 earlycon=sbi",
    ],
    { stdout: "pipe", stderr: "ignore" },
  );
  const watch = markerWatch(MARKER);
  let marker: number | undefined;
  for await (const chunk of proc.stdout) {
    if (marker === undefined && watch(chunk)) marker = (performance.now() - start) / 1000;
  }
  const exitCode = await proc.exited;
  return { marker, total: (performance.now() - start) / 1000, exitCode };
}

const fmt = (s: number | undefined): string => (s === undefined ? "no marker" : `${s.toFixed(2)} s`);
const haveQemu = Bun.which("qemu-system-riscv64") !== null;
if (!haveQemu)
  console.log("[skip] QEMU reference: qemu-system-riscv64 is not installed (apt-get install qemu-system-misc)");
for (const harts of HART_COUNTS) {
  const o = await ours(harts);
  console.log(
    `${harts} hart${harts === 1 ? "" : "s"}: axvisor-ts (emulated): boot-to-marker ${fmt(o.marker)}, total ${fmt(o.total)}, exit ${o.exitCode}`,
  );
  if (!haveQemu) continue;
  const q = await qemu(harts);
  console.log(
    `${harts} hart${harts === 1 ? "" : "s"}: qemu-system-riscv64 -M virt -bios default: boot-to-marker ${fmt(q.marker)}, total ${fmt(q.total)}, exit ${q.exitCode}`,
  );
  if (o.marker !== undefined && q.marker !== undefined) {
    console.log(
      `${harts} hart${harts === 1 ? "" : "s"}: ratio (boot-to-marker, ours / QEMU): ${(o.marker / q.marker).toFixed(1)}x (issue #12's target <= ${target(harts)})`,
    );
  }
}

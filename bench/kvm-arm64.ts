/**
 * arm64 KVM: the MMIO exit round trip through our backend vs a C program doing the same KVM_RUN loop
 * (native/kvm-arm64-mmio-bench.c), and VM create-to-first-exit. The guest is test/guests/arm64/mmio-loop.bin: one
 * store to the test device's page per iteration, which KVM cannot satisfy, so each is a KVM_EXIT_MMIO. Rows: the
 * backend's run() and runAsync() in a bare loop, and the VMM's real path (what `axvisor run` does for one VM with one
 * vCPU: an AxVM on the arm64-virt board, the vCPU on the VMM's thread, each exit answered through the MMIO bus by the
 * board's test device), counted over KVM_BENCH_VMM_SECONDS after a warm-up. Target: the VMM path <= 1.15 x C.
 *
 * Needs /dev/kvm of an arm64 host (scripts/e2e/30-kvm-arm64-linux.sh runs it inside a nested arm64 guest). The C
 * reference is KVM_ARM64_BENCH_EXE when set (the e2e script cross-compiles it with aarch64-linux-gnu-gcc -static,
 * since the nested guest has no compiler), else built with gcc here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type KvmVm, kvmBackend } from "../src/hal/kvm/index.ts";
import { nativeHelpersProblem } from "../src/hal/kvm/sys.ts";
import { MappingFlags } from "../src/hal/types.ts";
import { Arm64VirtBoard } from "../src/vmm/boards/arm64-virt/board.ts";
import { ARM64_VIRT } from "../src/vmm/boards/arm64-virt/layout.ts";
import { assembleVm } from "../src/vmm/builder.ts";
import { parseVmConfig } from "../src/vmm/config/index.ts";
import { buildNative, gccRequirement, ROOT, runNative } from "../test/kvm/native-build.ts";

const EXITS = Number(process.env.KVM_BENCH_EXITS ?? 20_000);
const ROUNDS = 5;
const STARTUP_RUNS = 10;
const GUEST = join(ROOT, "test", "guests", "arm64", "mmio-loop.bin");
const RAM_SIZE = 0x20_0000;
const VMM_SECONDS = Number(process.env.KVM_BENCH_VMM_SECONDS ?? 2);
/** Until the JIT's background compiles are done: they take the CPU from the measured thread (see kvm-exit-breakdown). */
const VMM_WARMUP_MS = Number(process.env.KVM_BENCH_VMM_WARMUP_MS ?? 2000);

const support = kvmBackend.hasHardwareSupport();
if (!support.available || !support.archs.includes("aarch64")) {
  console.log(
    `[skip] kvm-arm64: ${support.available ? `this KVM runs ${support.archs.join(", ")} guests` : support.reason}`,
  );
  process.exit(0);
}

function cReference(): string | undefined {
  const prebuilt = process.env.KVM_ARM64_BENCH_EXE;
  if (prebuilt !== undefined && prebuilt !== "") return prebuilt;
  const gcc = gccRequirement();
  if (!gcc.available) {
    console.log(`[skip] C reference: ${gcc.reason}, and KVM_ARM64_BENCH_EXE is not set`);
    return undefined;
  }
  return buildNative("kvm-arm64-mmio-bench", ["native/kvm-arm64-mmio-bench.c"]);
}

const image = new Uint8Array(readFileSync(GUEST));

/** A VM as the arm64-virt board makes it (GICv3 at its addresses), with the guest in RAM and vCPU 0 at its start. */
function createVm(hypervisor: ReturnType<typeof kvmBackend.open>): KvmVm {
  const vm = hypervisor.createVm({
    arch: "aarch64",
    vmId: 1,
    cpuCount: 1,
    aarch64: {
      gicDistributorBase: ARM64_VIRT.GIC_DIST_BASE,
      gicRedistributorBase: ARM64_VIRT.GIC_REDIST_BASE,
      gicRedistributorSize: ARM64_VIRT.GIC_REDIST_SIZE,
    },
  });
  const ram = vm.allocateMemory(RAM_SIZE);
  ram.bytes.set(image);
  vm.mapGuestMemory(ARM64_VIRT.RAM_BASE, ram, MappingFlags.READ | MappingFlags.WRITE | MappingFlags.EXECUTE);
  return vm;
}

function measureSync(): number {
  using hypervisor = kvmBackend.open();
  using vm = createVm(hypervisor);
  const vcpu = vm.createVcpu(0);
  vcpu.setup({ entry: ARM64_VIRT.RAM_BASE });
  for (let i = 0; i < 1000; i++) vcpu.run(); // warm-up (JIT, first faults)
  let sum = 0n;
  const start = Bun.nanoseconds();
  for (let i = 0; i < EXITS; i++) {
    const exit = vcpu.run();
    if (exit.kind !== "MmioWrite") throw new Error(`unexpected exit ${exit.kind}`);
    sum += exit.data;
  }
  const ns = (Bun.nanoseconds() - start) / EXITS;
  if (sum === 0n) throw new Error("no data");
  return ns;
}

async function measureAsync(): Promise<number> {
  using hypervisor = kvmBackend.open();
  using vm = createVm(hypervisor);
  const vcpu = vm.createVcpu(0);
  vcpu.setup({ entry: ARM64_VIRT.RAM_BASE });
  for (let i = 0; i < 200; i++) await vcpu.runAsync();
  const count = Math.floor(EXITS / 4);
  const start = Bun.nanoseconds();
  for (let i = 0; i < count; i++) {
    const exit = await vcpu.runAsync();
    if (exit.kind !== "MmioWrite") throw new Error(`unexpected exit ${exit.kind}`);
  }
  return (Bun.nanoseconds() - start) / count;
}

function measureStartup(): number {
  const start = Bun.nanoseconds();
  using hypervisor = kvmBackend.open();
  using vm = createVm(hypervisor);
  const vcpu = vm.createVcpu(0);
  vcpu.setup({ entry: ARM64_VIRT.RAM_BASE });
  const exit = vcpu.run();
  const ns = Bun.nanoseconds() - start;
  if (exit.kind !== "MmioWrite") throw new Error(`unexpected first exit ${exit.kind}`);
  return ns;
}

/** ns per exit through AxVM's loop and the MMIO bus (the board's test device), over VMM_SECONDS of running. */
async function measureVmm(): Promise<number> {
  const config = parseVmConfig(
    [
      "[base]",
      'id = 1\nname = "mmio-loop"\ncpu_num = 1\narch = "aarch64"\nbackend = "kvm"',
      "[kernel]",
      `kernel_path = "${GUEST}"\nkernel_load_addr = ${ARM64_VIRT.RAM_BASE}`,
      `memory_regions = [[${ARM64_VIRT.RAM_BASE}, ${0x100_0000}, 7, 0]]`,
      "[devices]",
      'console = "none"',
    ].join("\n"),
    { baseDir: ROOT, sourceName: "mmio-loop.toml" },
  );
  using hypervisor = kvmBackend.open();
  const vm = assembleVm(config, {
    hypervisor,
    board: new Arm64VirtBoard(),
    console: { write: () => undefined, close: () => undefined },
    exclusiveThread: true,
  });
  const running = vm.run();
  await Bun.sleep(VMM_WARMUP_MS); // JIT, first faults
  const writes = (): number => vm.buses.mmio.stats.writes;
  const before = writes();
  const start = Bun.nanoseconds();
  await Bun.sleep(VMM_SECONDS * 1000);
  const count = writes() - before;
  const ns = (Bun.nanoseconds() - start) / count;
  vm.shutdown();
  const result = await running;
  if (result.reason !== "host-stop") throw new Error(`the VM stopped by itself: ${JSON.stringify(result)}`);
  return ns;
}

/** One row's ns per exit, measured in this process. */
async function measureRow(row: string): Promise<number> {
  switch (row) {
    case "run()":
      return measureSync();
    case "runAsync()":
      return await measureAsync();
    case "vmm":
      return await measureVmm();
    case "startup": {
      const startup: number[] = [];
      for (let i = 0; i < STARTUP_RUNS; i++) startup.push(measureStartup());
      return median(startup);
    }
    default:
      throw new Error(`unknown row "${row}"`);
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

const ROW_FLAG = process.argv.indexOf("--row");
if (ROW_FLAG >= 0) {
  // A child: one row, its number on stdout's last line.
  console.log(String(await measureRow(process.argv[ROW_FLAG + 1] ?? "")));
  process.exit(0);
}

/**
 * Run `row` in a process of its own (this script with --row): in one shared process the rows' different loops make
 * the JIT's call sites polymorphic and slow each other down, and the CLI's process only ever runs the VMM path.
 */
function measureRowInChild(row: string): number {
  const child = Bun.spawnSync([process.execPath, import.meta.path, "--row", row], { stderr: "pipe" });
  if (child.exitCode !== 0) throw new Error(`row "${row}" exited with ${child.exitCode}: ${child.stderr.toString()}`);
  const lines = child.stdout.toString().trim().split("\n");
  return Number(lines[lines.length - 1]);
}

const exe = cReference();
const c: number[] = [];
const cStartup: number[] = [];
const ours: number[] = [];
const asyncNs: number[] = [];
const vmmNs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  if (exe !== undefined) {
    const values = runNative(exe, [GUEST, String(EXITS)]);
    c.push(Number(values.get("exit_ns")));
    cStartup.push(Number(values.get("startup_ns")));
  }
  ours.push(measureRowInChild("run()"));
  asyncNs.push(measureRowInChild("runAsync()"));
  vmmNs.push(measureRowInChild("vmm"));
}
const startupNs = measureRowInChild("startup");

const syncNs = median(ours);
const workerNs = median(asyncNs);
console.log(`arm64 MMIO exit round-trip, ${EXITS} exits, median of ${ROUNDS} rounds, each row in a process of its own`);
// How KVM_RUN is called and kicked on this host (kvm-native.c, or the libc-only fallback and KVM_SET_SIGNAL_MASK).
console.log(`  native helpers: ${nativeHelpersProblem() ?? "KVM_RUN call and kick handler compiled (kvm-native.c)"}`);
if (exe !== undefined) console.log(`  C (ioctl loop)            ${(median(c) / 1000).toFixed(2)} us/exit`);
console.log(
  `  axvisor-ts run()          ${(syncNs / 1000).toFixed(2)} us/exit${exe === undefined ? "" : `   ratio ${(syncNs / median(c)).toFixed(3)} (target <= 1.15)`}`,
);
console.log(
  `  axvisor-ts runAsync()     ${(workerNs / 1000).toFixed(2)} us/exit${exe === undefined ? "" : `   ratio ${(workerNs / median(c)).toFixed(3)}`}; Worker signalling costs ${((workerNs - syncNs) / 1000).toFixed(2)} us/exit`,
);
const vmmPath = median(vmmNs);
console.log(
  `  VMM path (the CLI's: 1 VM x 1 vCPU on the VMM's thread)   ${(vmmPath / 1000).toFixed(2)} us/exit${exe === undefined ? "" : `   ratio ${(vmmPath / median(c)).toFixed(3)} (target <= 1.15)`}`,
);
console.log(`VM create-to-first-exit, median of ${STARTUP_RUNS} (ours) / ${ROUNDS} (C)`);
if (exe !== undefined) console.log(`  C (KVM_CREATE_VM .. first KVM_RUN)   ${(median(cStartup) / 1e6).toFixed(2)} ms`);
console.log(
  `  axvisor-ts (open .. first exit)      ${(startupNs / 1e6).toFixed(2)} ms${exe === undefined ? "" : `   ratio ${(startupNs / median(cStartup)).toFixed(2)}`}`,
);

/**
 * Where the time of one PIO exit goes between KVM_RUN returning and the next KVM_RUN, on x86 (test/guests/x86/
 * pio-loop.bin: one `out` per iteration). Each row runs the same guest a different way, in the same process, in
 * interleaved rounds; the differences between rows are the costs of the layers:
 *   raw       KVM_RUN through bun:ffi and one DataView read of exit_reason: the floor of any JS VMM here
 *   raw+mask  the same after KVM_SET_SIGNAL_MASK (a run Worker's set-up, and the caller thread's without the native
 *             kick handler): the kernel's per-run mask switch
 *   raw cc    as raw, through sys.ts `kvmRunFunction` (kvm-native.c: int in, int out, errno in C): what KvmVcpu calls
 *   run()     KvmVcpu.run() (decode into an AxVCpuExitReason)
 *   caller    KvmVcpu.run() after useCallerThread (the wake-block atomics, the kicker thread)
 *   accesses  KvmVcpu.runAccesses() on the caller thread in batches of 1024 (the VMM's), a handler that only sums
 *   bus       the same answered by the VMM's handler (BusExitHandler.accessHandler) over the PC board's port devices
 *   vmm       AxVM on the PC board, the vCPU on the VMM's thread: the CLI's path (bus dispatch, the vCPU loop); the
 *             guest's port (0x510) is one no device claims, so the PC board's unclaimed-port catch-all answers it
 *   vmm com1  the same with test/guests/x86/pio-scratch-loop.bin: byte writes to COM1's scratch register, a device
 *             model proper (the 16550's register file)
 * and the C loop (native/kvm-pio-bench.c) for reference. `bun run bench` runs it too (it skips without an x86 KVM).
 * Under a nested QEMU, `KVM_NESTED_QEMU_ARGS="-icount shift=0" scripts/kvm-x86-nested.sh -- '...'` makes its times
 * instruction counts (1 ns each), independent of the host's load.
 *
 * Every row runs in a process of its own (this script with `--row NAME`), rounds interleaved: in one shared process
 * the rows' different handlers and loops make the JIT's call sites polymorphic, which slows every row down, and
 * the CLI's process only ever runs the vmm path. Measuring each row alone is what the CLI sees.
 * KVM_BENCH_ROWS=c,vmm,... runs only those rows.
 */

import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { consola } from "consola";
import { Bus } from "../src/devices/bus.ts";
import { KVM_RUN, KVM_RUN_LAYOUT, KVM_SET_SIGNAL_MASK, KVM_SIGNAL_MASK_LAYOUT } from "../src/hal/kvm/abi.ts";
import { kvmBackend } from "../src/hal/kvm/index.ts";
import * as sys from "../src/hal/kvm/sys.ts";
import type { HalAccessHandler } from "../src/hal/types.ts";
import { X86PcBoard } from "../src/vmm/boards/x86-pc/board.ts";
import { attachX86LegacyDevices } from "../src/vmm/boards/x86-pc/legacy-devices.ts";
import { assembleVm } from "../src/vmm/builder.ts";
import { BusExitHandler } from "../src/vmm/bus-exits.ts";
import {
  createTestVm,
  GUEST_DIR,
  guestImage,
  kvmRequirement,
  pioLoopConfig,
  REAL_MODE_LOAD,
} from "../test/kvm/harness.ts";
import { buildNative, gccRequirement, runNative } from "../test/kvm/native-build.ts";

const EXITS = Number(process.env.KVM_BENCH_EXITS ?? 10_000);
const ROUNDS = Number(process.env.KVM_BENCH_ROUNDS ?? 3);
const VMM_MS = Number(process.env.KVM_BENCH_VMM_MS ?? 2000);
/**
 * How long a VMM row runs before it is timed: until the JIT's background compiles are done. They take the CPU
 * from the measured thread (one vCPU in the nested set-up), and a row timed right after a 300 ms warm-up came out
 * 0.15 us/exit (5%) slower than after a 2 s one (nested x86 under icount, same boot).
 */
const VMM_WARMUP_MS = Number(process.env.KVM_BENCH_VMM_WARMUP_MS ?? 2000);
/**
 * Exits run before timing a row: each row starts in a fresh process, and the JIT reaches its top tier only after
 * some tens of thousands of iterations (the VMM rows warm up for VMM_WARMUP_MS).
 */
const WARMUP = Number(process.env.KVM_BENCH_WARMUP ?? 30_000);
/** Accesses per runAccesses call in the accesses and bus rows: the VMM's batch (vcpu-exits.ts ACCESS_EXIT_BATCH). */
const BATCH = 1024;

const kvm = kvmRequirement();
if (!kvm.available) {
  console.log(`[skip] kvm-exit-breakdown: ${kvm.reason}`);
  process.exit(0);
}

/** The fd of the (only) vCPU this process has open: its /proc/self/fd link names anon_inode:kvm-vcpu:N. */
function vcpuFdOfThisProcess(): number {
  const found: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`).startsWith("anon_inode:kvm-vcpu")) found.push(Number(name));
    } catch {
      // a fd closed meanwhile
    }
  }
  if (found.length !== 1) throw new Error(`expected one vCPU fd, found ${found.length}`);
  return found[0] ?? -1;
}

function raw(withMask: boolean, helper = false): number {
  using t = createTestVm();
  t.memory.write(REAL_MODE_LOAD, guestImage("pio-loop"));
  const vcpu = t.vm.createVcpu(0);
  vcpu.setup({ entry: REAL_MODE_LOAD });
  vcpu.run(); // the set-up's registers are written on the first run
  const fd = vcpuFdOfThisProcess();
  if (withMask) {
    const mask = new Uint8Array(KVM_SIGNAL_MASK_LAYOUT.size + sys.KERNEL_SIGSET_BYTES);
    new DataView(mask.buffer).setUint32(KVM_SIGNAL_MASK_LAYOUT.fields.len.offset, sys.KERNEL_SIGSET_BYTES, true);
    sys.ioctlBuf(fd, KVM_SET_SIGNAL_MASK, mask);
  }
  const run = sys.mmapShared(fd, 4096);
  const view = new DataView(run.buffer);
  const at = KVM_RUN_LAYOUT.fields.exit_reason.offset;
  let sum = 0;
  const kvmRun = helper ? sys.kvmRunFunction() : (vcpuFd: number) => sys.ioctlIntRaw(vcpuFd, KVM_RUN);
  for (let i = 0; i < WARMUP; i++) sum += kvmRun(fd) + view.getUint32(at, true);
  const start = Bun.nanoseconds();
  for (let i = 0; i < EXITS; i++) sum += kvmRun(fd) + view.getUint32(at, true);
  const ns = (Bun.nanoseconds() - start) / EXITS;
  sys.munmap(run);
  if (sum !== 2 * (EXITS + WARMUP)) throw new Error(`unexpected exits (sum ${sum})`);
  return ns;
}

/**
 * KvmVcpu.runAccesses on the caller thread in the VMM's batches, answered by `handler` ("accesses": one that only
 * sums; "bus": the VMM's own, BusExitHandler.accessHandler over the PC board's port devices, where port 0x510 is
 * the unclaimed-port catch-all's).
 */
function kvmAccesses(withBus: boolean): number {
  using t = createTestVm();
  t.memory.write(REAL_MODE_LOAD, guestImage("pio-loop"));
  const vcpu = t.vm.createVcpu(0);
  vcpu.setup({ entry: REAL_MODE_LOAD });
  if (!vcpu.useCallerThread(10)) throw new Error("useCallerThread failed");
  let sum = 0;
  const buses = { mmio: new Bus("mmio"), port: new Bus("port"), sysreg: new Bus("sysreg") };
  attachX86LegacyDevices({
    portBus: buses.port,
    mmioBus: buses.mmio,
    setIrqLine: () => undefined,
    serialSink: () => undefined,
    onReset: () => undefined,
    onBootComplete: () => undefined,
    onPowerOff: () => undefined,
    onUnsupportedSleep: () => undefined,
  });
  const handler: HalAccessHandler = withBus
    ? new BusExitHandler({
        buses,
        policy: "ignore",
        unmappedRead: "zeros",
        label: "bench",
        log: consola,
        fault: (error) => {
          throw error;
        },
      }).accessHandler(0)
    : {
        mmioRead: () => 0,
        mmioWrite: () => undefined,
        portRead: () => 0,
        portWrite: (_port, _width, value) => {
          sum += value;
        },
      };
  const runs = (count: number): void => {
    for (let done = 0; done < count; done += BATCH) {
      const exit = vcpu.runAccesses(handler, BATCH);
      if (exit.kind !== "Nothing") throw new Error(`unexpected exit ${exit.kind}`);
    }
  };
  runs(WARMUP);
  const exitsBefore = vcpu.stats.exits;
  const start = Bun.nanoseconds();
  runs(EXITS);
  const ns = (Bun.nanoseconds() - start) / (vcpu.stats.exits - exitsBefore);
  if (withBus ? buses.port.stats.writes === 0 : sum === 0) throw new Error("no data");
  return ns;
}

function kvmRun(caller: boolean): number {
  using t = createTestVm();
  t.memory.write(REAL_MODE_LOAD, guestImage("pio-loop"));
  const vcpu = t.vm.createVcpu(0);
  vcpu.setup({ entry: REAL_MODE_LOAD });
  if (caller && !vcpu.useCallerThread(10)) throw new Error("useCallerThread failed");
  for (let i = 0; i < WARMUP; i++) vcpu.run();
  let exits = 0;
  const start = Bun.nanoseconds();
  for (let i = 0; i < EXITS; i++) if (vcpu.run().kind === "IoWrite") exits++;
  const ns = (Bun.nanoseconds() - start) / exits;
  if (exits < EXITS * 0.9) throw new Error(`only ${exits} of ${EXITS} runs were I/O exits`);
  return ns;
}

/** ns per exit through AxVM's loop, the port bus and the device at the guest's port; and the batches' numbers. */
async function vmm(guest: string): Promise<Record<string, number>> {
  using hypervisor = kvmBackend.open();
  const vm = assembleVm(pioLoopConfig(guest), {
    hypervisor,
    board: new X86PcBoard(),
    console: { write: () => undefined, close: () => undefined },
    exclusiveThread: true,
  });
  const runVcpu = vm.runVcpu.bind(vm);
  let batchNs = 0;
  let batchExits = 0;
  let batches = 0;
  vm.runVcpu = (id) => {
    const t0 = Bun.nanoseconds();
    const before = vm.buses.port.stats.writes;
    const exit = runVcpu(id);
    batchNs += Bun.nanoseconds() - t0;
    batchExits += vm.buses.port.stats.writes - before;
    batches++;
    return exit;
  };
  const running = vm.run();
  await Bun.sleep(VMM_WARMUP_MS);
  batchNs = 0;
  batchExits = 0;
  batches = 0;
  const writes = (): number => vm.buses.port.stats.writes + vm.buses.port.stats.unmappedWrites;
  const before = writes();
  const start = Bun.nanoseconds();
  await Bun.sleep(VMM_MS);
  const total = Bun.nanoseconds() - start;
  const ns = total / (writes() - before);
  vm.shutdown();
  const result = await running;
  if (result.reason !== "host-stop") throw new Error(`the VM stopped by itself: ${JSON.stringify(result)}`);
  if (vm.buses.port.stats.badAccesses !== 0) throw new Error(`${vm.buses.port.stats.badAccesses} bad port accesses`);
  return {
    "": ns,
    " batch": batchNs / batchExits,
    " out%": (1000 * 100 * (total - batchNs)) / total,
    " batches/s": (1000 * batches) / (total / 1e9),
  };
}

/** One row's numbers (name suffix -> value; "" is the row's ns per exit), measured in this process. */
async function measureRow(row: string): Promise<Record<string, number>> {
  switch (row) {
    case "raw":
      return { "": raw(false) };
    case "raw+mask":
      return { "": raw(true) };
    case "raw cc":
      return { "": raw(false, true) };
    case "run()":
      return { "": kvmRun(false) };
    case "caller":
      return { "": kvmRun(true) };
    case "accesses":
      return { "": kvmAccesses(false) };
    case "bus":
      return { "": kvmAccesses(true) };
    case "vmm":
      return await vmm("pio-loop");
    case "vmm com1":
      return await vmm("pio-scratch-loop");
    default:
      throw new Error(`unknown row "${row}"`);
  }
}

const ROW_FLAG = process.argv.indexOf("--row");
if (ROW_FLAG >= 0) {
  // A child: one row, its numbers as JSON on stdout.
  console.log(JSON.stringify(await measureRow(process.argv[ROW_FLAG + 1] ?? "")));
  process.exit(0);
}

/** Run `row` in a process of its own (this script with --row). */
function measureRowInChild(row: string): Record<string, number> {
  const child = Bun.spawnSync([process.execPath, import.meta.path, "--row", row], { stderr: "pipe" });
  if (child.exitCode !== 0) throw new Error(`row "${row}" exited with ${child.exitCode}: ${child.stderr.toString()}`);
  const lines = child.stdout.toString().trim().split("\n");
  return JSON.parse(lines[lines.length - 1] ?? "{}") as Record<string, number>;
}

const prebuilt = process.env.KVM_PIO_BENCH_EXE;
const exe = prebuilt ?? (gccRequirement().available ? buildNative("kvm-pio-bench", ["native/kvm-pio-bench.c"]) : "");
const ALL_ROWS = ["c", "raw", "raw+mask", "raw cc", "run()", "caller", "accesses", "bus", "vmm", "vmm com1"];
const selected = process.env.KVM_BENCH_ROWS?.split(",") ?? ALL_ROWS;
const rows: Record<string, number[]> = {};
const record = (name: string, value: number): void => {
  const values = rows[name] ?? [];
  values.push(value);
  rows[name] = values;
};
for (let round = 0; round < ROUNDS; round++) {
  for (const row of selected) {
    if (row !== "c") {
      for (const [suffix, value] of Object.entries(measureRowInChild(row))) record(row + suffix, value);
    } else if (exe !== "") {
      record("c", Number(runNative(exe, [join(GUEST_DIR, "pio-loop.bin"), String(EXITS)]).get("exit_ns")));
    }
  }
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const c = median(rows.c ?? []);
console.log(`x86 PIO exit breakdown: ${EXITS} exits, median of ${ROUNDS} rounds (us/exit; ratio to C)`);
// How KVM_RUN is called and kicked on this host (kvm-native.c, or the libc-only fallback and KVM_SET_SIGNAL_MASK).
console.log(
  `  native helpers: ${sys.nativeHelpersProblem() ?? "KVM_RUN call and kick handler compiled (kvm-native.c)"}`,
);
for (const [name, values] of Object.entries(rows)) {
  const m = median(values);
  console.log(
    `  ${name.padEnd(10)} median ${(m / 1000).toFixed(2).padStart(8)}  x${(m / c).toFixed(3)}  min ${(Math.min(...values) / 1000).toFixed(2)}  [${values.map((v) => (v / 1000).toFixed(1)).join(" ")}]`,
  );
}

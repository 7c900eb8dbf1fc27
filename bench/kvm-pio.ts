/**
 * PIO exit round-trip through our KVM backend vs a C program doing the same loop (native/kvm-pio-bench.c, built
 * with gcc now, or KVM_PIO_BENCH_EXE when set: scripts/kvm-x86-nested.sh builds it statically on the host, since
 * its nested guest has no compiler). The guest is test/guests/x86/pio-loop.bin: one `out` per iteration.
 *
 * Rows: the backend's `run()` and `runAsync()` (a Worker pumping KVM_RUN) called in a bare loop; and the VMM's real
 * path, what `axvisor run` does: an AxVM on the x86 PC board, the exit dispatched through its port bus (the port
 * goes to the unclaimed-port device), counted over a second of running, once with the only vCPU on the VMM's
 * thread (what the CLI does for a single one-vCPU VM: `AxVMOptions.exclusiveThread`) and once on a run Worker (what
 * it did before, and what SMP VMs and several VMs per process still do); and the CLI's path again with
 * pio-scratch-loop.bin, whose byte writes go to a device model proper (COM1's scratch register). Target: the VMM
 * path <= 1.15 x C.
 *
 * Each VMM row runs in a process of its own (this script with `--vmm caller|worker GUEST`): sharing a process with
 * the other rows' loops and handlers makes the JIT's call sites polymorphic, and the CLI's process runs one path.
 */

import { join } from "node:path";
import { kvmBackend } from "../src/hal/kvm/index.ts";
import { nativeHelpersProblem } from "../src/hal/kvm/sys.ts";
import { X86PcBoard } from "../src/vmm/boards/x86-pc/board.ts";
import { assembleVm } from "../src/vmm/builder.ts";
import {
  createTestVm,
  GUEST_DIR,
  guestImage,
  kvmRequirement,
  pioLoopConfig,
  REAL_MODE_LOAD,
} from "../test/kvm/harness.ts";
import { buildNative, gccRequirement, runNative } from "../test/kvm/native-build.ts";

const EXITS = Number(process.env.KVM_BENCH_EXITS ?? 20_000);
const VMM_SECONDS = Number(process.env.KVM_BENCH_VMM_SECONDS ?? 2);
/** Until the JIT's background compiles are done: they take the CPU from the measured thread (see kvm-exit-breakdown). */
const VMM_WARMUP_MS = Number(process.env.KVM_BENCH_VMM_WARMUP_MS ?? 2000);
const ROUNDS = 3;

const kvm = kvmRequirement();
const prebuilt = process.env.KVM_PIO_BENCH_EXE;
const gcc = gccRequirement();
if (!kvm.available || (prebuilt === undefined && !gcc.available)) {
  console.log(`[skip] kvm-pio: ${kvm.available ? `${gcc.reason}, and KVM_PIO_BENCH_EXE is not set` : kvm.reason}`);
  process.exit(0);
}

function measureSync(): number {
  using t = createTestVm();
  t.memory.write(REAL_MODE_LOAD, guestImage("pio-loop"));
  const vcpu = t.vm.createVcpu(0);
  vcpu.setup({ entry: REAL_MODE_LOAD });
  let sum = 0n;
  for (let i = 0; i < 1000; i++) vcpu.run(); // warm-up (JIT, first faults)
  const start = Bun.nanoseconds();
  for (let i = 0; i < EXITS; i++) {
    const exit = vcpu.run();
    if (exit.kind !== "IoWrite") throw new Error(`unexpected exit ${exit.kind}`);
    sum += exit.data + BigInt(exit.port);
  }
  const ns = (Bun.nanoseconds() - start) / EXITS;
  if (sum === 0n) throw new Error("no data");
  return ns;
}

async function measureAsync(): Promise<number> {
  using t = createTestVm();
  t.memory.write(REAL_MODE_LOAD, guestImage("pio-loop"));
  const vcpu = t.vm.createVcpu(0);
  vcpu.setup({ entry: REAL_MODE_LOAD });
  for (let i = 0; i < 1000; i++) await vcpu.runAsync();
  const count = Math.floor(EXITS / 2);
  const start = Bun.nanoseconds();
  for (let i = 0; i < count; i++) {
    const exit = await vcpu.runAsync();
    if (exit.kind !== "IoWrite") throw new Error(`unexpected exit ${exit.kind}`);
  }
  return (Bun.nanoseconds() - start) / count;
}

/** ns per exit through AxVM's loop and the port bus, over VMM_SECONDS of running. */
async function measureVmm(exclusiveThread: boolean, guest: string): Promise<number> {
  using hypervisor = kvmBackend.open();
  const vm = assembleVm(pioLoopConfig(guest), {
    hypervisor,
    board: new X86PcBoard(),
    console: { write: () => undefined, close: () => undefined },
    exclusiveThread,
  });
  const running = vm.run();
  await Bun.sleep(VMM_WARMUP_MS); // warm-up: JIT, first faults
  const writes = (): number => vm.buses.port.stats.writes + vm.buses.port.stats.unmappedWrites;
  const before = writes();
  const start = Bun.nanoseconds();
  await Bun.sleep(VMM_SECONDS * 1000);
  const count = writes() - before;
  const ns = (Bun.nanoseconds() - start) / count;
  vm.shutdown();
  const result = await running;
  if (result.reason !== "host-stop") throw new Error(`the VM stopped by itself: ${JSON.stringify(result)}`);
  if (vm.buses.port.stats.badAccesses !== 0) throw new Error(`${vm.buses.port.stats.badAccesses} bad port accesses`);
  return ns;
}

const VMM_FLAG = process.argv.indexOf("--vmm");
if (VMM_FLAG >= 0) {
  // A child: one VMM measurement, its ns per exit on stdout.
  const guest = process.argv[VMM_FLAG + 2] ?? "pio-loop";
  console.log(await measureVmm(process.argv[VMM_FLAG + 1] === "caller", guest));
  process.exit(0);
}

/** `measureVmm` in a process of its own (this script with --vmm). */
function measureVmmInChild(exclusiveThread: boolean, guest: string): number {
  const args = ["--vmm", exclusiveThread ? "caller" : "worker", guest];
  const child = Bun.spawnSync([process.execPath, import.meta.path, ...args], { stderr: "pipe" });
  if (child.exitCode !== 0) throw new Error(`${args.join(" ")} exited with ${child.exitCode}: ${child.stderr}`);
  return Number(child.stdout.toString().trim().split("\n").at(-1));
}

const exe = prebuilt ?? buildNative("kvm-pio-bench", ["native/kvm-pio-bench.c"]);
const c: number[] = [];
const ours: number[] = [];
const asyncNs: number[] = [];
const vmmCaller: number[] = [];
const vmmWorker: number[] = [];
const vmmDevice: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  c.push(Number(runNative(exe, [join(GUEST_DIR, "pio-loop.bin"), String(EXITS)]).get("exit_ns")));
  ours.push(measureSync());
  asyncNs.push(await measureAsync());
  vmmCaller.push(measureVmmInChild(true, "pio-loop"));
  vmmWorker.push(measureVmmInChild(false, "pio-loop"));
  vmmDevice.push(measureVmmInChild(true, "pio-scratch-loop"));
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const cNs = median(c);
const syncNs = median(ours);
const workerNs = median(asyncNs);
console.log(`PIO exit round-trip, ${EXITS} exits, median of ${ROUNDS} rounds`);
// How KVM_RUN is called and kicked on this host (kvm-native.c, or the libc-only fallback and KVM_SET_SIGNAL_MASK).
console.log(`  native helpers: ${nativeHelpersProblem() ?? "KVM_RUN call and kick handler compiled (kvm-native.c)"}`);
console.log(`  C (ioctl loop)            ${(cNs / 1000).toFixed(2)} us/exit`);
console.log(
  `  axvisor-ts run()          ${(syncNs / 1000).toFixed(2)} us/exit   ratio ${(syncNs / cNs).toFixed(3)} (target <= 1.15)`,
);
console.log(
  `  axvisor-ts runAsync()     ${(workerNs / 1000).toFixed(2)} us/exit   ratio ${(workerNs / cNs).toFixed(3)}; Worker signalling costs ${((workerNs - syncNs) / 1000).toFixed(2)} us/exit`,
);
const callerNs = median(vmmCaller);
const poolNs = median(vmmWorker);
console.log(
  `  VMM path, vCPU on the VMM's thread (the CLI's, 1 VM x 1 vCPU)   ${(callerNs / 1000).toFixed(2)} us/exit   ratio ${(callerNs / cNs).toFixed(3)} (target <= 1.15)`,
);
console.log(
  `  VMM path, vCPU on a run Worker (SMP VMs, several VMs)          ${(poolNs / 1000).toFixed(2)} us/exit   ratio ${(poolNs / cNs).toFixed(3)}`,
);
const deviceNs = median(vmmDevice);
console.log(
  `  VMM path, vCPU on the VMM's thread, COM1 scratch-register writes  ${(deviceNs / 1000).toFixed(2)} us/exit   ratio ${(deviceNs / cNs).toFixed(3)} (target <= 1.15)`,
);

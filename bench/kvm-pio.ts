/**
 * PIO exit round-trip through our KVM backend vs a C program doing the same loop (native/kvm-pio-bench.c, built
 * with gcc now). The guest is test/guests/x86/pio-loop.bin: one `out` per iteration. Also the cost of runAsync
 * (a Worker pumping KVM_RUN, SharedArrayBuffer + Atomics signalling) per exit. Target: sync ratio <= 1.15.
 */

import { join } from "node:path";
import { createTestVm, GUEST_DIR, guestImage, kvmRequirement, REAL_MODE_LOAD } from "../test/kvm/harness.ts";
import { buildNative, gccRequirement, runNative } from "../test/kvm/native-build.ts";

const EXITS = Number(process.env.KVM_BENCH_EXITS ?? 20_000);
const ROUNDS = 3;

const kvm = kvmRequirement();
const gcc = gccRequirement();
if (!kvm.available || !gcc.available) {
  console.log(`[skip] kvm-pio: ${kvm.available ? gcc.reason : kvm.reason}`);
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

const exe = buildNative("kvm-pio-bench", ["native/kvm-pio-bench.c"]);
const c: number[] = [];
const ours: number[] = [];
const asyncNs: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  c.push(Number(runNative(exe, [join(GUEST_DIR, "pio-loop.bin"), String(EXITS)]).get("exit_ns")));
  ours.push(measureSync());
  asyncNs.push(await measureAsync());
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const cNs = median(c);
const syncNs = median(ours);
const workerNs = median(asyncNs);
console.log(`PIO exit round-trip, ${EXITS} exits, median of ${ROUNDS} rounds`);
console.log(`  C (ioctl loop)            ${(cNs / 1000).toFixed(2)} us/exit`);
console.log(
  `  axvisor-ts run()          ${(syncNs / 1000).toFixed(2)} us/exit   ratio ${(syncNs / cNs).toFixed(3)} (target <= 1.15)`,
);
console.log(
  `  axvisor-ts runAsync()     ${(workerNs / 1000).toFixed(2)} us/exit   ratio ${(workerNs / cNs).toFixed(3)}; Worker signalling costs ${((workerNs - syncNs) / 1000).toFixed(2)} us/exit`,
);

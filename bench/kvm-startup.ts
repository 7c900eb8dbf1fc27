/**
 * VM create-to-first-exit time: open /dev/kvm, create the VM (TSS, irqchip, PIT), map 2 MiB of RAM, load a guest,
 * create and set up a vCPU (CPUID, MSRs, FPU, LAPIC, registers), and run until its first exit (a serial byte).
 * Reference: native/kvm-pio-bench.c's KVM_CREATE_VM-to-first-exit time in C (a leaner set-up: no CPUID/MSR/LAPIC).
 */
import { join } from "node:path";
import { createTestVm, GUEST_DIR, guestImage, kvmRequirement, REAL_MODE_LOAD } from "../test/kvm/harness.ts";
import { buildNative, gccRequirement, runNative } from "../test/kvm/native-build.ts";

const RUNS = 20;
const kvm = kvmRequirement();
const gcc = gccRequirement();
if (!kvm.available || !gcc.available) {
  console.log(`[skip] kvm-startup: ${kvm.available ? gcc.reason : kvm.reason}`);
  process.exit(0);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const image = guestImage("serial-hello");
const ours: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const start = Bun.nanoseconds();
  using t = createTestVm();
  t.memory.write(REAL_MODE_LOAD, image);
  const vcpu = t.vm.createVcpu(0);
  vcpu.setup({ entry: REAL_MODE_LOAD });
  const exit = vcpu.run();
  ours.push(Bun.nanoseconds() - start);
  if (exit.kind !== "IoWrite") throw new Error(`unexpected first exit ${exit.kind}`);
}
const exe = buildNative("kvm-pio-bench", ["native/kvm-pio-bench.c"]);
const c: number[] = [];
for (let i = 0; i < 5; i++) c.push(Number(runNative(exe, [join(GUEST_DIR, "pio-loop.bin"), "1"]).get("startup_ns")));
console.log(`VM create-to-first-exit, median of ${RUNS} (ours) / 5 (C)`);
console.log(`  C (KVM_CREATE_VM .. first KVM_RUN)   ${(median(c) / 1e6).toFixed(2)} ms`);
console.log(
  `  axvisor-ts (open .. first exit)      ${(median(ours) / 1e6).toFixed(2)} ms   ratio ${(median(ours) / median(c)).toFixed(2)}`,
);

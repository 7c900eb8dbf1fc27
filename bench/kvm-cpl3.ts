/**
 * A compute loop at CPL3 inside a KVM guest vs the same loop on the host. The guest is test/guests/x86/cpl3.bin
 * (long mode, IRETQ to ring 3, then cpl3_loop(n) rounds reported by hypercall); the host runs the very same
 * assembly (test/guests/x86/cpl3-loop.S) linked into native/cpl3-host.c. On PVM hosts ring-3 guest code runs
 * natively, so the ratio should be near 1 (target >= 0.9 of host speed).
 */
import { setupLongModeBoot } from "../src/vmm/boards/x86-pc/boot-cpu.ts";
import {
  createTestVm,
  guestImage,
  HC_CPL3_ROUND,
  isHypercall,
  kvmRequirement,
  LONG_MODE_LOAD,
  setupX86,
} from "../test/kvm/harness.ts";
import { buildNative, gccRequirement, runNative } from "../test/kvm/native-build.ts";

const ITERATIONS = 50_000_000n;
const ROUNDS = 7;

const kvm = kvmRequirement();
const gcc = gccRequirement();
if (!kvm.available || !gcc.available) {
  console.log(`[skip] kvm-cpl3: ${kvm.available ? gcc.reason : kvm.reason}`);
  process.exit(0);
}

const exe = buildNative("cpl3-host", ["native/cpl3-host.c", "test/guests/x86/cpl3-loop.S"]);

using t = createTestVm();
t.memory.write(LONG_MODE_LOAD, guestImage("cpl3"));
const vcpu = t.vm.createVcpu(0);
setupX86(vcpu, setupLongModeBoot(t.memory, { entry: LONG_MODE_LOAD, userPages: true, gprs: { rdi: ITERATIONS } }));
const nextRound = (): bigint => {
  for (;;) {
    const exit = vcpu.run();
    if (isHypercall(exit, HC_CPL3_ROUND) && exit.kind === "Hypercall") return exit.args[0];
    if (exit.kind !== "Nothing") throw new Error(`unexpected exit ${exit.kind}`);
  }
};
nextRound(); // the first round includes the ring-0 set-up (emulated on PVM)

// Host and guest rounds alternate so that load from other processes hits both alike; medians are compared.
const hostRounds: number[] = [];
const guestRounds: number[] = [];
let result = 0n;
let hostResult: string | undefined;
for (let i = 0; i < ROUNDS; i++) {
  const host = runNative(exe, [String(ITERATIONS), "1"]);
  hostRounds.push(Number(host.get("ns")));
  hostResult = host.get("result");
  const start = Bun.nanoseconds();
  result = nextRound();
  guestRounds.push(Bun.nanoseconds() - start);
}
if (`0x${result.toString(16)}` !== hostResult)
  throw new Error(`guest result 0x${result.toString(16)} differs from the host's ${hostResult}`);
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const hostNs = median(hostRounds);
const guestNs = median(guestRounds);

console.log(`xorshift64 loop, ${ITERATIONS} iterations per round, median of ${ROUNDS} alternating rounds`);
console.log(`  host                 ${(hostNs / 1e6).toFixed(1)} ms/round`);
console.log(
  `  guest at CPL3 (KVM)  ${(guestNs / 1e6).toFixed(1)} ms/round   speed ${(hostNs / guestNs).toFixed(3)} of host (target >= 0.9)`,
);

/**
 * Micro-benchmarks of the emulated hart, in MIPS (millions of guest instructions per second):
 * - "tight loop": a 4-instruction integer loop (the ≥ 150 MIPS target);
 * - "mixed": loads, stores, calls, a multiply and data-dependent branches over a 64 KiB array (≥ 50 MIPS).
 * Each runs on the fast path (block cache + compiled blocks), on the fast path without compilation, and on the
 * reference interpreter, so the ratios are measured in the same run.
 *
 *   bun bench/emulated-mips.ts [--seconds 1]
 */
import { emulatedBackend } from "../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../src/hal/emulated/vcpu.ts";
import * as A from "../test/emulated/asm.ts";

const RAM = 0x8000_0000;

function tightLoop(): Uint8Array {
  const p = new A.Program(RAM);
  p.emit(A.li(A.a0, 1n << 40n));
  p.label("loop");
  p.emit(A.addi(A.a1, A.a1, 1), A.add(A.a2, A.a2, A.a1), A.addi(A.a0, A.a0, -1));
  p.ref("loop", (off) => A.bne(A.a0, A.zero, off));
  return p.assemble();
}

function mixed(): Uint8Array {
  const p = new A.Program(RAM);
  // s0 = array base (64 KiB of 64-bit words after the code), s1 = index mask
  p.emit(A.li(A.s0, RAM + 0x10000), A.li(A.s1, 0xfff8), A.li(A.s2, 0x9e3779b97f4a7c15n), A.li(A.a0, 1));
  p.label("outer");
  p.emit(A.li(A.t0, 0));
  p.label("inner");
  p.emit(A.and(A.t1, A.t0, A.s1), A.add(A.t1, A.t1, A.s0), A.ld(A.t2, A.t1, 0));
  p.emit(A.mul(A.t3, A.a0, A.s2), A.xor(A.t2, A.t2, A.t3), A.sd(A.t2, A.t1, 0));
  p.emit(A.srli(A.t4, A.t2, 7));
  p.emit(A.andi(A.t4, A.t4, 1));
  p.ref("skip", (off) => A.beq(A.t4, A.zero, off));
  p.ref("func", (off) => A.jal(A.ra, off));
  p.label("skip");
  p.emit(A.addi(A.t0, A.t0, 8), A.lui(A.t5, 0x10000));
  p.ref("inner", (off) => A.blt(A.t0, A.t5, off));
  p.emit(A.addi(A.a0, A.a0, 1));
  p.ref("outer", (off) => A.jal(0, off));
  p.label("func");
  p.emit(A.lw(A.a1, A.s0, 8), A.addi(A.a1, A.a1, 3), A.sw(A.a1, A.s0, 8), A.slli(A.a2, A.a1, 3), A.jalr(0, A.ra, 0));
  return p.assemble();
}

function measure(code: Uint8Array, engine: "fast" | "reference", jit: boolean, seconds: number): number {
  using hv = emulatedBackend.open();
  using vm = hv.createVm({ arch: "riscv64", vmId: 1, cpuCount: 1, mode: "bare-machine" });
  const ram = vm.allocateMemory(1 << 20);
  vm.mapGuestMemory(RAM, ram, 7);
  ram.bytes.set(code);
  const vcpu = vm.createVcpu(0) as EmulatedVcpu;
  vcpu.setup({ entry: RAM });
  vcpu.engine = engine;
  vcpu.engineOptions = { ...vcpu.engineOptions, jit };
  vcpu.instructionBudget = 2_000_000;
  // Warm up, then measure.
  const warm = performance.now();
  while (performance.now() - warm < 200) vcpu.run();
  const start = performance.now();
  const before = vcpu.hart.icount;
  while (performance.now() - start < seconds * 1000) {
    const exit = vcpu.run();
    if (exit.kind !== "Nothing") throw new Error(`benchmark guest exited: ${exit.kind}`);
  }
  const elapsed = (performance.now() - start) / 1000;
  return (vcpu.hart.icount - before) / elapsed / 1e6;
}

const secondsArg = process.argv.indexOf("--seconds");
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1;
for (const [name, code] of [
  ["tight loop", tightLoop()],
  ["mixed", mixed()],
] as const) {
  const fast = measure(code, "fast", true, seconds);
  const interp = measure(code, "fast", false, seconds);
  const ref = measure(code, "reference", false, seconds);
  console.log(
    `${name.padEnd(11)} fast ${fast.toFixed(1).padStart(7)} MIPS | blocks interpreted ${interp.toFixed(1).padStart(6)} MIPS | reference ${ref.toFixed(1).padStart(6)} MIPS | fast/reference ${(fast / ref).toFixed(1)}x`,
  );
}

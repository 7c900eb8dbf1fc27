/**
 * Harts on threads of their own (src/hal/emulated/threads/), through the HAL on a bare-machine VM:
 * - atomics across threads: four harts, each on its own Worker over the shared arena, hammer shared counters with
 *   amoadd.w, amoadd.d, lr.w/sc.w and lr.d/sc.d loops; the final counts must be exact. With the Atomics path
 *   disabled (exec.ts execSharedAmo skipped) the counts come out short by thousands, so a lost update fails this.
 *   The 64-bit counters start just below 2^32 so every 64-bit update also carries across the two halves.
 * - an interrupt line raised by the VMM's thread while a hart runs on its own (an IPI as the SBI layer delivers it):
 *   the hart takes the machine software interrupt in its handler.
 * - remote fences while the hart runs: a page-table entry changed from the VMM's thread is seen only after
 *   `riscv.fence("sfence.vma")` (the hart keeps the old translation until then), and code rewritten from the
 *   VMM's thread runs after `riscv.fence("fence.i")`.
 * - writes made on the VMM's thread outside the harts (a device's DMA, `HostMemory.notifyWritten`) reach a hart
 *   running on its own thread, as they reach a hart on the VMM's thread: code it has decoded is dropped (it runs the
 *   new code) and a changed page-table page drops its translations, with no fence. Each thread keeps its own page
 *   flags, so the VMM's thread used to find nothing to drop and the hart ran the old code forever.
 * - harts of a hypervisor VM handling exits on their threads (`riscv.handleExitsOnHartThread`): one hart's SBI
 *   remote fence.i and send_ipi reach the other, which waits in WFI on its thread, with no exit to the VMM (without
 *   the switch both exit; without the fence the rewritten code never runs), and the PMU events are handed over.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { AddrSpace } from "../../src/addrspace/addr-space.ts";
import {
  CSR_MCAUSE,
  CSR_MEPC,
  CSR_MIE,
  CSR_MSTATUS,
  CSR_MTVEC,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_SATP,
  CSR_SCAUSE,
  CSR_SIE,
  CSR_SIP,
  CSR_SSTATUS,
  CSR_STVEC,
  MSTATUS_MIE,
  MSTATUS_SIE,
} from "../../src/arch/riscv64/csr.ts";
import {
  SBI_EXT_IPI,
  SBI_EXT_RFENCE,
  SBI_PMU_FW_FENCE_I_RECEIVED,
  SBI_PMU_FW_FENCE_I_SENT,
  SBI_PMU_FW_IPI_RECEIVED,
  SBI_PMU_FW_IPI_SENT,
} from "../../src/arch/riscv64/sbi.ts";
import { IRQ_M_SOFT, IRQ_S_SOFT, MIP_MSIP, MIP_SSIP } from "../../src/arch/riscv64/traps.ts";
import { HART_THREADS_ENV } from "../../src/hal/emulated/threads/switch.ts";
import { ThreadedVcpu } from "../../src/hal/emulated/threads/threaded-vcpu.ts";
import { EmulatedVm } from "../../src/hal/emulated/vm.ts";
import type { GuestMemoryAccess, HalVcpu } from "../../src/hal/types.ts";
import * as A from "./asm.ts";

const RAM = 0x8000_0000;
const RAM_SIZE = 1 << 20;
const DATA = 0x8000; // offset in RAM of the shared words
const T0 = 5;
const T1 = 6;
const T2 = 7;
const A0 = 10;
const A1 = 11;
const A2 = 12;
const A3 = 13;
const A4 = 14;
const A5 = 15;
const S2 = 18;

let saved: string | undefined;
beforeAll(() => {
  saved = process.env[HART_THREADS_ENV];
  process.env[HART_THREADS_ENV] = "on";
});
afterAll(() => {
  if (saved === undefined) delete process.env[HART_THREADS_ENV];
  else process.env[HART_THREADS_ENV] = saved;
});

interface Machine extends Disposable {
  readonly vm: EmulatedVm;
  readonly ram: DataView;
  readonly bytes: Uint8Array;
  readonly vcpus: HalVcpu[];
  /** Tell the backend that RAM offsets [offset, offset + length) were written outside the harts (a device's DMA). */
  readonly notifyWritten: (offset: number, length: number) => void;
}

function machine(harts: number, code: Uint8Array): Machine {
  const vm = new EmulatedVm({ arch: "riscv64", vmId: 1, cpuCount: harts, mode: "bare-machine" });
  expect(vm.threaded).toBe(true);
  const memory = vm.allocateMemory(RAM_SIZE);
  vm.mapGuestMemory(RAM, memory, 7);
  memory.bytes.set(code);
  const vcpus = Array.from({ length: harts }, (_, id) => vm.createVcpu(id));
  for (const vcpu of vcpus) {
    expect(vcpu).toBeInstanceOf(ThreadedVcpu);
    vcpu.setup({ entry: RAM });
  }
  return {
    vm,
    bytes: memory.bytes,
    ram: new DataView(memory.bytes.buffer, memory.bytes.byteOffset, RAM_SIZE),
    vcpus,
    notifyWritten: (offset, length) => memory.notifyWritten(offset, length),
    [Symbol.dispose]: () => vm[Symbol.dispose](),
  };
}

/** Run a vCPU (answering nothing but its time slices) until it halts in WFI; its other exits are errors. */
async function runToHalt(vcpu: HalVcpu, deadline: number): Promise<void> {
  const run = vcpu.runAsync;
  if (run === undefined) throw new Error("a threaded vCPU has runAsync");
  while (performance.now() < deadline) {
    const exit = await run.call(vcpu);
    if (exit.kind === "Halt") return;
    if (exit.kind !== "Nothing") throw new Error(`vCPU ${vcpu.id}: unexpected exit ${exit.kind}`);
  }
  throw new Error(`vCPU ${vcpu.id} did not halt in time (pc 0x${vcpu.riscv?.getPc().toString(16)})`);
}

/** Run `vcpu` on its thread run after run (each must end with Nothing) until `stop()`, which waits for the last. */
function keepRunning(vcpu: HalVcpu): { stop: () => Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    const run = vcpu.runAsync;
    if (run === undefined) throw new Error("a threaded vCPU has runAsync");
    while (!stopped) {
      const exit = await run.call(vcpu);
      if (exit.kind !== "Nothing") throw new Error(`unexpected exit ${exit.kind}`);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** `wfi; j .-4`: the hart's run ends with a Halt exit (nothing can wake it). */
function halt(p: A.Program): A.Program {
  return p
    .label("halt")
    .emit(A.wfi())
    .ref("halt", (off) => A.jal(0, off));
}

const ITERATIONS = 20_000;
const HARTS = 4;
const START_64 = 0xffff_f000n; // below 2^32: the 64-bit counters carry into their high half

test(`${HARTS} harts on ${HARTS} threads: amoadd.w/.d and lr.w/sc.w, lr.d/sc.d counters are exact`, async () => {
  const [AMO_W, AMO_D, LRSC_W, LRSC_D, DONE] = [0, 8, 16, 24, 32].map((o) => RAM + DATA + o) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const p = new A.Program(RAM)
    .emit(A.li(A0, AMO_W), A.li(A1, AMO_D), A.li(A2, LRSC_W), A.li(A3, LRSC_D), A.li(T2, ITERATIONS), A.li(S2, 1))
    .label("loop")
    .emit(A.amoaddW(0, S2, A0), A.amoaddD(0, S2, A1))
    .label("retry-w")
    .emit(A.lrW(T0, A2), A.addi(T0, T0, 1), A.scW(T1, T0, A2))
    .ref("retry-w", (off) => A.bne(T1, 0, off))
    .label("retry-d")
    .emit(A.lrD(T0, A3), A.addi(T0, T0, 1), A.scD(T1, T0, A3))
    .ref("retry-d", (off) => A.bne(T1, 0, off))
    .emit(A.addi(T2, T2, -1))
    .ref("loop", (off) => A.bne(T2, 0, off))
    .emit(A.li(A4, DONE), A.amoaddW(0, S2, A4));
  using m = machine(HARTS, halt(p).assemble());
  m.ram.setBigUint64(DATA + 8, START_64, true);
  m.ram.setBigUint64(DATA + 24, START_64, true);
  const deadline = performance.now() + 50_000;
  await Promise.all(m.vcpus.map((vcpu) => runToHalt(vcpu, deadline)));
  const total = HARTS * ITERATIONS;
  expect(m.ram.getInt32(DATA + 32, true)).toBe(HARTS);
  expect(m.ram.getInt32(DATA, true)).toBe(total);
  expect(m.ram.getBigUint64(DATA + 8, true)).toBe(START_64 + BigInt(total));
  expect(m.ram.getInt32(DATA + 16, true)).toBe(total);
  expect(m.ram.getBigUint64(DATA + 24, true)).toBe(START_64 + BigInt(total));
}, 60_000);

test("an interrupt line raised from the VMM's thread reaches a hart running on its own (IPI)", async () => {
  const HEARTBEAT = RAM + DATA;
  const CAUSE = RAM + DATA + 8;
  const p = new A.Program(RAM)
    .emit(A.li(A0, HEARTBEAT), A.li(S2, 1), A.li(A1, MIP_MSIP), A.csrw(CSR_MIE, A1), A.li(A1, RAM + 0x400))
    .emit(A.csrw(CSR_MTVEC, A1), A.li(A1, MSTATUS_MIE), A.csrs(CSR_MSTATUS, A1))
    .label("spin")
    .emit(A.amoaddW(0, S2, A0))
    .ref("spin", (off) => A.jal(0, off));
  const code = p.assemble();
  // The handler (at +0x400): record mcause, mask the line, halt.
  const handler = halt(
    new A.Program(RAM + 0x400).emit(A.csrr(A2, CSR_MCAUSE), A.li(A3, CAUSE), A.sd(A2, A3), A.csrw(CSR_MIE, 0)),
  ).assemble();
  const image = new Uint8Array(0x400 + handler.length);
  image.set(code);
  image.set(handler, 0x400);
  using m = machine(2, image);
  const [target] = m.vcpus;
  if (target === undefined) throw new Error("no vCPU 0");
  let halted = false;
  const running = runToHalt(target, performance.now() + 30_000).then(() => {
    halted = true;
  });
  // Raise the line while the hart is in its spin loop (its run is in flight on its own thread).
  await until("the hart to spin", () => m.ram.getInt32(DATA, true) > 1000);
  expect(halted).toBe(false);
  target.setInterruptLevel(IRQ_M_SOFT, true);
  await running;
  expect(m.ram.getBigUint64(DATA + 8, true)).toBe((1n << 63n) | BigInt(IRQ_M_SOFT));
}, 60_000);

/** Sv39 PTE bits. */
const PTE_V = 1;
const PTE_R = 2;
const PTE_W = 4;
const PTE_X = 8;
const PTE_A = 64;
const PTE_D = 128;
const pte = (pa: number, flags: number): bigint => (BigInt(pa >>> 12) << 10n) | BigInt(flags);

test("remote sfence.vma from the VMM's thread: a running hart sees a changed PTE after the fence, not before", async () => {
  const ROOT = 0x1_0000;
  const L1 = 0x1_1000;
  const L0 = 0x1_2000;
  const PAGE_A = 0x1_3000;
  const PAGE_B = 0x1_4000;
  const VA = 0x4000_0000; // root index 1, L1 index 0, L0 index 0
  const SEEN = DATA; // what the S-mode loop last read through VA
  const LOOPS = DATA + 8;
  const S_ENTRY = 0x200;
  const satp = (8n << 60n) | BigInt((RAM + ROOT) >>> 12);
  // M-mode: open PMP to everything, turn on Sv39, drop to S-mode at S_ENTRY.
  const mmode = new A.Program(RAM)
    .emit(A.li(A0, -1), A.csrw(CSR_PMPADDR0, A0), A.li(A0, 0x1f), A.csrw(CSR_PMPCFG0, A0))
    .emit(A.li(A0, satp), A.csrw(CSR_SATP, A0), A.li(A0, 1 << 11), A.csrs(CSR_MSTATUS, A0))
    .emit(A.li(A0, RAM + S_ENTRY), A.csrw(CSR_MEPC, A0), A.mret())
    .assemble();
  const smode = new A.Program(RAM + S_ENTRY)
    .emit(A.li(A0, VA), A.li(A1, RAM + SEEN), A.li(A2, RAM + LOOPS), A.li(S2, 1))
    .label("loop")
    .emit(A.ld(A3, A0), A.sd(A3, A1), A.amoaddW(0, S2, A2))
    .ref("loop", (off) => A.jal(0, off))
    .assemble();
  const image = new Uint8Array(S_ENTRY + smode.length);
  image.set(mmode);
  image.set(smode, S_ENTRY);
  using m = machine(1 + 1, image);
  const [vcpu] = m.vcpus;
  if (vcpu === undefined) throw new Error("no vCPU 0");
  m.ram.setBigUint64(ROOT + 2 * 8, pte(RAM, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D), true); // 2 GiB identity
  m.ram.setBigUint64(ROOT + 1 * 8, pte(RAM + L1, PTE_V), true);
  m.ram.setBigUint64(L1, pte(RAM + L0, PTE_V), true);
  m.ram.setBigUint64(L0, pte(RAM + PAGE_A, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D), true);
  m.ram.setBigUint64(PAGE_A, 0xaaaan, true);
  m.ram.setBigUint64(PAGE_B, 0xbbbbn, true);
  const running = keepRunning(vcpu);
  try {
    await until("the hart to read page A through VA", () => m.ram.getBigUint64(SEEN, true) === 0xaaaan);
    m.ram.setBigUint64(L0, pte(RAM + PAGE_B, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D), true);
    // Without a fence the hart keeps its cached translation: many more loads still read page A.
    const loops = m.ram.getInt32(LOOPS, true);
    await until("the hart to loop on", () => m.ram.getInt32(LOOPS, true) > loops + 100_000);
    expect(m.ram.getBigUint64(SEEN, true)).toBe(0xaaaan);
    vcpu.riscv?.fence("sfence.vma");
    // The fence returned, so the hart has applied it: its next loads go through the new PTE.
    const after = m.ram.getInt32(LOOPS, true);
    await until("the hart to loop after the fence", () => m.ram.getInt32(LOOPS, true) > after + 10);
    expect(m.ram.getBigUint64(SEEN, true)).toBe(0xbbbbn);
  } finally {
    await running.stop();
  }
}, 60_000);

/**
 * A loop that stores 1 to SEEN and counts its rounds at LOOPS; the `addi a5, x0, 1` at `patchAt` (offset in RAM) is
 * what the code-rewriting tests change to store 2.
 */
function patchableLoop(): { SEEN: number; LOOPS: number; patchAt: number; code: Uint8Array } {
  const SEEN = DATA;
  const LOOPS = DATA + 8;
  const p = new A.Program(RAM).emit(A.li(A1, RAM + SEEN), A.li(A2, RAM + LOOPS), A.li(S2, 1)).label("loop");
  const patchAt = p.pc - RAM;
  p.emit(A.addi(A5, 0, 1), A.sd(A5, A1), A.amoaddW(0, S2, A2)).ref("loop", (off) => A.jal(0, off));
  return { SEEN, LOOPS, patchAt, code: p.assemble() };
}

test("remote fence.i from the VMM's thread: a running hart runs code rewritten by another thread", async () => {
  const { SEEN, LOOPS, patchAt, code } = patchableLoop();
  using m = machine(2, code);
  const [vcpu] = m.vcpus;
  if (vcpu === undefined) throw new Error("no vCPU 0");
  const running = keepRunning(vcpu);
  try {
    await until("the hart to run the old code", () => m.ram.getBigUint64(SEEN, true) === 1n);
    m.ram.setUint32(patchAt, A.addi(A5, 0, 2) >>> 0, true);
    vcpu.riscv?.fence("fence.i");
    const after = m.ram.getInt32(LOOPS, true);
    await until("the hart to loop after the fence", () => m.ram.getInt32(LOOPS, true) > after + 10);
    expect(m.ram.getBigUint64(SEEN, true)).toBe(2n);
  } finally {
    await running.stop();
  }
}, 60_000);

test("a device's write into code a running hart has decoded reaches its thread: it runs the new code, no fence", async () => {
  const { SEEN, LOOPS, patchAt, code } = patchableLoop();
  using m = machine(2, code);
  const [vcpu] = m.vcpus;
  if (vcpu === undefined) throw new Error("no vCPU 0");
  const running = keepRunning(vcpu);
  try {
    await until("the hart to run the old code", () => m.ram.getBigUint64(SEEN, true) === 1n);
    // Long enough for the loop to be decoded and compiled (the write must drop what the hart's thread holds).
    await until("the hart to loop", () => m.ram.getInt32(LOOPS, true) > 200_000);
    m.ram.setUint32(patchAt, A.addi(A5, 0, 2) >>> 0, true);
    m.notifyWritten(patchAt, 4);
    await until("the hart to run the written code", () => m.ram.getBigUint64(SEEN, true) === 2n, 10_000);
  } finally {
    await running.stop();
  }
}, 60_000);

test("a device's write into a page table a running hart walked reaches its thread: the new PTE holds, no fence", async () => {
  const ROOT = 0x1_0000;
  const L1 = 0x1_1000;
  const L0 = 0x1_2000;
  const PAGE_A = 0x1_3000;
  const PAGE_B = 0x1_4000;
  const VA = 0x4000_0000; // root index 1, L1 index 0, L0 index 0
  const SEEN = DATA;
  const S_ENTRY = 0x200;
  const satp = (8n << 60n) | BigInt((RAM + ROOT) >>> 12);
  const mmode = new A.Program(RAM)
    .emit(A.li(A0, -1), A.csrw(CSR_PMPADDR0, A0), A.li(A0, 0x1f), A.csrw(CSR_PMPCFG0, A0))
    .emit(A.li(A0, satp), A.csrw(CSR_SATP, A0), A.li(A0, 1 << 11), A.csrs(CSR_MSTATUS, A0))
    .emit(A.li(A0, RAM + S_ENTRY), A.csrw(CSR_MEPC, A0), A.mret())
    .assemble();
  const smode = new A.Program(RAM + S_ENTRY)
    .emit(A.li(A0, VA), A.li(A1, RAM + SEEN))
    .label("loop")
    .emit(A.ld(A3, A0), A.sd(A3, A1))
    .ref("loop", (off) => A.jal(0, off))
    .assemble();
  const image = new Uint8Array(S_ENTRY + smode.length);
  image.set(mmode);
  image.set(smode, S_ENTRY);
  using m = machine(2, image);
  const [vcpu] = m.vcpus;
  if (vcpu === undefined) throw new Error("no vCPU 0");
  m.ram.setBigUint64(ROOT + 2 * 8, pte(RAM, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D), true);
  m.ram.setBigUint64(ROOT + 1 * 8, pte(RAM + L1, PTE_V), true);
  m.ram.setBigUint64(L1, pte(RAM + L0, PTE_V), true);
  m.ram.setBigUint64(L0, pte(RAM + PAGE_A, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D), true);
  m.ram.setBigUint64(PAGE_A, 0xaaaan, true);
  m.ram.setBigUint64(PAGE_B, 0xbbbbn, true);
  const running = keepRunning(vcpu);
  try {
    await until("the hart to read page A through VA", () => m.ram.getBigUint64(SEEN, true) === 0xaaaan);
    m.ram.setBigUint64(L0, pte(RAM + PAGE_B, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D), true);
    m.notifyWritten(L0, 8);
    await until("the hart to read page B through VA", () => m.ram.getBigUint64(SEEN, true) === 0xbbbbn, 10_000);
  } finally {
    await running.stop();
  }
}, 60_000);

// RVWMO makes aligned doublewords single-copy atomic. The JavaScript tiers move a doubleword as two 32-bit halves, so
// on RAM that harts on other threads share they move it as one wasm i64 access instead (threads/atomics.ts,
// memory-slow.ts): with that path disabled this test counted thousands of torn reads in 2 M loads.
test("aligned 64-bit plain stores and loads are single-copy atomic across threads (no torn doublewords)", async () => {
  const WORD = RAM + DATA;
  const TORN = RAM + DATA + 8;
  const READY = RAM + DATA + 16;
  const ROUNDS = 1_000_000;
  // Hart 0 stores i * 0x1_0000_0001 (both halves equal) for i = 1..ROUNDS; hart 1 loads the word as often and
  // counts the values whose halves differ (a store or load made as two 32-bit accesses shows up as one). The writer
  // starts when the reader says it is reading, so the two loops overlap.
  const writer = new A.Program(RAM).emit(A.li(A0, WORD), A.li(T2, ROUNDS), A.li(A1, 0x1_0000_0001n), A.li(A2, 0));
  writer
    .emit(A.li(A3, READY))
    .label("wait")
    .emit(A.lw(A4, A3))
    .ref("wait", (off) => A.beq(A4, 0, off))
    .label("w")
    .emit(A.add(A2, A2, A1), A.sd(A2, A0), A.addi(T2, T2, -1))
    .ref("w", (off) => A.bne(T2, 0, off));
  const reader = new A.Program(RAM + 0x400).emit(A.li(A0, WORD), A.li(A3, TORN), A.li(T2, ROUNDS * 2));
  reader
    .emit(A.li(A4, READY), A.li(S2, 1), A.sw(S2, A4))
    .label("r")
    .emit(A.ld(A1, A0), A.srli(A2, A1, 32), A.slli(A1, A1, 32), A.srli(A1, A1, 32))
    .ref("same", (off) => A.beq(A1, A2, off))
    .emit(A.li(S2, 1), A.amoaddW(0, S2, A3))
    .label("same")
    .emit(A.addi(T2, T2, -1))
    .ref("r", (off) => A.bne(T2, 0, off));
  const w = halt(writer).assemble();
  const r = halt(reader).assemble();
  const image = new Uint8Array(0x400 + r.length);
  image.set(w);
  image.set(r, 0x400);
  using m = machine(2, image);
  const [hart0, hart1] = m.vcpus;
  if (hart0 === undefined || hart1 === undefined) throw new Error("no vCPUs");
  hart1.riscv?.setPc(BigInt(RAM + 0x400));
  const deadline = performance.now() + 50_000;
  await Promise.all([runToHalt(hart0, deadline), runToHalt(hart1, deadline)]);
  expect(m.ram.getBigUint64(DATA, true)).toBe(BigInt(ROUNDS) * 0x1_0000_0001n);
  expect(m.ram.getInt32(DATA + 8, true)).toBe(0);
}, 60_000);

/** A hypervisor VM (VS-mode guests behind a G-stage table, as the VMM builds them) whose harts run on threads. */
function guestMachine(harts: number, code: Uint8Array): { memory: GuestMemoryAccess; vcpus: HalVcpu[] } & Disposable {
  const vm = new EmulatedVm({ arch: "riscv64", vmId: 2, cpuCount: harts });
  expect(vm.threaded).toBe(true);
  const space = AddrSpace.create(vm, [{ name: "ram", gpa: RAM, size: RAM_SIZE, flags: 7, mapType: "alloc" }]);
  const memory = space.guestMemory;
  memory.write(RAM, code);
  const stage2 = space.stage2();
  const vcpus = Array.from({ length: harts }, (_, id) => {
    const vcpu = vm.createVcpu(id);
    vcpu.setup({ entry: RAM, ...(stage2 === undefined ? {} : { stage2 }) });
    vcpu.setGpr(A0, BigInt(id));
    return vcpu;
  });
  return { memory, vcpus, [Symbol.dispose]: () => vm[Symbol.dispose]() };
}

test("a hart's thread answers SBI remote fence.i and send_ipi, and waits in WFI, with no exit to the VMM", async () => {
  const MARK = RAM + DATA; // hart 1: the value its loop's rewritten instruction stores
  const CAUSE = RAM + DATA + 8; // hart 1: scause of its interrupt
  const HANDLED = RAM + DATA + 16; // hart 1: interrupts taken
  const RESULTS = RAM + DATA + 24; // hart 0: a0 of its two SBI calls (+0, +8), then 1 at +16 when done
  const A6 = 16;
  const A7 = 17;
  // Hart 1 (a0 = 1) runs at +0x200, its handler at +0x300; hart 0 falls through.
  const LOOP = RAM + 0x200;
  const p = new A.Program(RAM)
    .ref("hart1", (off) => A.bne(A0, 0, off))
    // Hart 0: wait for hart 1's loop, rewrite its `addi t1, zero, 1` to store 2, remote fence.i it, send it an IPI.
    .emit(A.li(A1, MARK))
    .label("wait")
    .emit(A.lw(T0, A1, 0))
    .ref("wait", (off) => A.beq(T0, 0, off))
    .emit(A.li(T0, A.addi(T1, 0, 2)), A.li(A2, LOOP), A.sw(T0, A2, 0))
    .emit(A.li(A7, Number(SBI_EXT_RFENCE)), A.li(A6, 0), A.li(A0, 0b10), A.li(A1, 0), A.ecall())
    .emit(A.li(A3, RESULTS), A.sd(A0, A3, 0))
    .emit(A.li(A7, Number(SBI_EXT_IPI)), A.li(A6, 0), A.li(A0, 0b10), A.li(A1, 0), A.ecall())
    .emit(A.sd(A0, A3, 8), A.li(T0, 1), A.sd(T0, A3, 16))
    .label("idle")
    .emit(A.wfi())
    .ref("idle", (off) => A.jal(0, off));
  const hart0 = p.label("hart1").assemble();
  // Hart 1: take supervisor software interrupts, then loop: store (1, or 2 once rewritten) to MARK, wfi.
  const setup = new A.Program(RAM + hart0.length)
    .emit(A.li(A1, RAM + 0x300), A.csrw(CSR_STVEC, A1), A.li(A1, MIP_SSIP), A.csrw(CSR_SIE, A1))
    .emit(A.li(A1, MSTATUS_SIE), A.csrs(CSR_SSTATUS, A1), A.li(A1, MARK), A.li(A2, LOOP), A.jalr(0, A2))
    .assemble();
  const loop = new A.Program(LOOP).emit(A.addi(T1, 0, 1), A.sw(T1, A1, 0), A.wfi(), A.jal(0, -12)).assemble();
  // The handler: record scause, count, clear SSIP, return.
  const handler = new A.Program(RAM + 0x300)
    .emit(A.csrr(T2, CSR_SCAUSE), A.li(A4, CAUSE), A.sd(T2, A4, 0), A.li(A4, HANDLED), A.li(A5, 1))
    .emit(A.amoaddW(0, A5, A4), A.li(A5, MIP_SSIP), A.csrc(CSR_SIP, A5), A.sret())
    .assemble();
  const image = new Uint8Array(0x400);
  image.set(hart0);
  image.set(setup, hart0.length);
  image.set(loop, 0x200);
  image.set(handler, 0x300);
  using m = guestMachine(2, image);
  for (const vcpu of m.vcpus) vcpu.riscv?.handleExitsOnHartThread?.();
  const runs = m.vcpus.map((vcpu) => keepRunning(vcpu));
  const read = (gpa: number): bigint => m.memory.readU64(gpa);
  await until("hart 0's SBI calls", () => read(RESULTS + 16) === 1n);
  await until("hart 1 to run its rewritten loop after its interrupt", () => read(MARK) === 2n && read(HANDLED) >= 1n);
  for (const run of runs) await run.stop();
  expect(read(RESULTS)).toBe(0n);
  expect(read(RESULTS + 8)).toBe(0n);
  expect(read(CAUSE)).toBe((1n << 63n) | BigInt(IRQ_S_SOFT));
  // What the threads answered, for the VMM's PMU and legacy clear_ipi bookkeeping.
  const [sender, target] = m.vcpus.map((vcpu) => vcpu.riscv?.takeAnsweredSbiEvents?.());
  expect(sender?.firmwareEvents[SBI_PMU_FW_FENCE_I_SENT]).toBe(1);
  expect(sender?.firmwareEvents[SBI_PMU_FW_IPI_SENT]).toBe(1);
  expect(target?.firmwareEvents[SBI_PMU_FW_FENCE_I_RECEIVED]).toBe(1);
  expect(target?.firmwareEvents[SBI_PMU_FW_IPI_RECEIVED]).toBe(1);
  expect(target?.ipiRaised).toBe(true);
  expect(m.vcpus[1]?.riscv?.takeAnsweredSbiEvents?.()).toBeUndefined();
}, 60_000);

/**
 * Property test: random 32-bit and 16-bit instruction words, executed in every privilege mode (M, HS, U, VS,
 * VU) with random register contents and paging on or off, never throw out of the hart. Each one either retires
 * (pc moved on, or jumped) or takes a trap with a legal cause; the same holds with the fast path.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { HEDELEG_MASK, MEDELEG_MASK, MSTATUS_FS_SHIFT } from "../../src/arch/riscv64/csr.ts";
import { HGATP_MODE_SV39X4, SATP_MODE_SV39 } from "../../src/arch/riscv64/paging.ts";
import {
  CAUSE_BREAKPOINT,
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_FETCH_GUEST_PAGE_FAULT,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_LOAD_GUEST_PAGE_FAULT,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_MACHINE_ECALL,
  CAUSE_MISALIGNED_FETCH,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS_FAULT,
  CAUSE_STORE_GUEST_PAGE_FAULT,
  CAUSE_STORE_PAGE_FAULT,
  CAUSE_SUPERVISOR_ECALL,
  CAUSE_USER_ECALL,
  CAUSE_VIRTUAL_INSTRUCTION,
  CAUSE_VIRTUAL_SUPERVISOR_ECALL,
  PRV_M,
} from "../../src/arch/riscv64/traps.ts";
import { STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { type Mode, makeHart, RAM_BASE } from "./fixture.ts";

/** Every exception cause the privileged spec defines. */
const LEGAL_CAUSES = new Set([
  CAUSE_MISALIGNED_FETCH,
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_BREAKPOINT,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS_FAULT,
  CAUSE_USER_ECALL,
  CAUSE_SUPERVISOR_ECALL,
  CAUSE_VIRTUAL_SUPERVISOR_ECALL,
  CAUSE_MACHINE_ECALL,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_STORE_PAGE_FAULT,
  CAUSE_FETCH_GUEST_PAGE_FAULT,
  CAUSE_LOAD_GUEST_PAGE_FAULT,
  CAUSE_VIRTUAL_INSTRUCTION,
  CAUSE_STORE_GUEST_PAGE_FAULT,
]);
const MODES: Mode[] = ["M", "HS", "U", "VS", "VU"];
const CODE = RAM_BASE + 0x1000;

function runOne(
  word: number,
  compressed: boolean,
  mode: Mode,
  regs: bigint[],
  engine: "reference" | "fast" | "winterp" | "jit",
  paging: boolean,
): void {
  const f = makeHart({ ramSize: 1 << 20, arena: engine === "winterp" });
  const h = f.hart;
  h.mtvec = RAM_BASE + 0x4000;
  h.stvec = RAM_BASE + 0x5000;
  h.vstvec = RAM_BASE + 0x6000;
  // Delegate everything possible so traps land in every mode, with FP on so F/D words reach the FPU.
  h.medeleg = MEDELEG_MASK;
  h.hedeleg = HEDELEG_MASK;
  h.mstatus |= 1 << MSTATUS_FS_SHIFT;
  h.vsstatus |= 1 << MSTATUS_FS_SHIFT;
  h.mcounteren = h.hcounteren = h.scounteren = -1;
  if (paging) {
    // Sv39/Sv39x4 with no valid entries: every translated access faults, which is what we want to exercise.
    h.satpLo = (RAM_BASE + 0x8000) / 4096;
    h.satpHi = SATP_MODE_SV39 << 28;
    h.hgatpLo = (RAM_BASE + 0x10000) / 4096;
    h.hgatpHi = HGATP_MODE_SV39X4 << 28;
  }
  const bytes = compressed
    ? [word & 0xff, (word >>> 8) & 0xff]
    : [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24];
  f.write(CODE, Uint8Array.from(bytes));
  regs.forEach((v, i) => f.setX(i + 1, v));
  f.enter(mode, CODE);
  const icount = h.icount;
  const steps = f.run(1, engine);
  expect(steps).toBeGreaterThanOrEqual(1);
  if (h.icount === icount && h.stop === STOP_NONE) {
    // Not retired: a trap was taken (or a fetch fault) — its cause must be legal.
    const cause = h.priv === PRV_M ? h.mcauseLo : h.virt ? h.vscauseLo : h.scauseLo;
    expect(LEGAL_CAUSES.has(cause)).toBe(true);
  }
  expect(Number.isFinite(h.pc)).toBe(true);
  expect(h.xlo[0]).toBe(0);
  expect(h.xhi[0]).toBe(0);
}

const reg = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, BigInt(RAM_BASE), BigInt(RAM_BASE + 0x2000), 0x1000_0000n, (1n << 64n) - 1n, 1n << 63n),
);

describe("random instructions never throw", () => {
  for (const engine of ["reference", "jit", "winterp"] as const) {
    test(`32-bit words in every mode (${engine})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0xffff_ffff }),
          fc.constantFrom(...MODES),
          fc.array(reg, { minLength: 31, maxLength: 31 }),
          fc.boolean(),
          (w, mode, regs, paging) => runOne((w | 3) >>> 0, false, mode, regs, engine, paging),
        ),
        { numRuns: 1500 },
      );
    });
    test(`16-bit parcels in every mode (${engine})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0xffff }).filter((w) => (w & 3) !== 3),
          fc.constantFrom(...MODES),
          fc.array(reg, { minLength: 31, maxLength: 31 }),
          fc.boolean(),
          (w, mode, regs, paging) => runOne(w, true, mode, regs, engine, paging),
        ),
        { numRuns: 1500 },
      );
    });
  }

  test("every SYSTEM-opcode word with small fields in every mode (reference)", () => {
    // Exhaustive over funct3 and the privileged funct12 space that matters (xRET, WFI, fences, CSRs, HLV/HSV).
    for (const mode of MODES) {
      for (let funct12 = 0; funct12 < 0x1000; funct12 += 0x23) {
        for (const funct3 of [0, 1, 2, 3, 4, 5, 6, 7]) {
          const word = ((funct12 << 20) | (5 << 15) | (funct3 << 12) | (6 << 7) | 0x73) >>> 0;
          runOne(word, false, mode, new Array<bigint>(31).fill(BigInt(RAM_BASE)), "reference", false);
        }
      }
    }
  });
});

/**
 * Which CSR instructions end the run they are part of (csr-effects.ts): a run goes on past trap-state and FP
 * CSRs, reads and interrupt masking, and ends where the translation context or interrupt delivery may change.
 * And an addressed SFENCE.VMA goes on where the fetch translation of what follows stays (exec.ts).
 */

import { describe, expect, test } from "bun:test";
import {
  CSR_FCSR,
  CSR_SATP,
  CSR_SEPC,
  CSR_SIE,
  CSR_SSCRATCH,
  CSR_SSTATUS,
  CSR_TIME,
  MSTATUS_FS_SHIFT,
  MSTATUS_SIE,
  MSTATUS_SUM,
} from "../../src/arch/riscv64/csr.ts";
import { MIP_SSIP } from "../../src/arch/riscv64/traps.ts";
import { decode32 } from "../../src/hal/emulated/decode.ts";
import { execCsr, execute } from "../../src/hal/emulated/exec.ts";
import { EXEC_END, EXEC_NEXT } from "../../src/hal/emulated/hart.ts";
import { translateFetch } from "../../src/hal/emulated/memory-slow.ts";
import * as A from "./asm.ts";
import { makeHart } from "./fixture.ts";

/** Run one CSR instruction in HS-mode; returns what `execCsr` said and the hart. */
function run(word: number, setUp: (f: ReturnType<typeof makeHart>) => void = () => undefined) {
  const f = makeHart({ ramSize: 1 << 20 });
  f.enter("HS", 0x8000_0000);
  // The clock readable from S-mode, the FPU on: none of the accesses below may trap.
  f.hart.mcounteren = -1;
  f.hart.mstatus |= 1 << MSTATUS_FS_SHIFT;
  f.setX(A.t0, 0x1234);
  setUp(f);
  const result = execCsr(f.hart, decode32(word >>> 0));
  return { result, hart: f.hart };
}

describe("CSR accesses that end a run", () => {
  test("reads, trap-state and FP CSRs go on", () => {
    for (const word of [
      A.csrr(A.a0, CSR_TIME),
      A.csrr(A.a0, CSR_SSTATUS),
      A.csrw(CSR_SSCRATCH, A.t0),
      A.csrrw(A.a0, CSR_SEPC, A.t0),
      A.csrw(CSR_FCSR, A.t0),
    ])
      expect(run(word).result).toBe(EXEC_NEXT);
  });

  test("masking interrupts goes on; unmasking ends the run only when an interrupt is pending", () => {
    expect(run(A.csrrci(A.a0, CSR_SSTATUS, MSTATUS_SIE)).result).toBe(EXEC_NEXT);
    expect(run(A.csrrsi(A.a0, CSR_SSTATUS, MSTATUS_SIE)).result).toBe(EXEC_NEXT);
    const pending = (f: ReturnType<typeof makeHart>) => {
      f.hart.mie = MIP_SSIP;
      f.hart.mipSoft = MIP_SSIP;
    };
    const unmasked = run(A.csrrsi(A.a0, CSR_SSTATUS, MSTATUS_SIE), pending);
    expect(unmasked.result).toBe(EXEC_END);
    expect(unmasked.hart.irqDirty).toBe(true);
    // Already unmasked: setting the bit again changes nothing.
    const again = run(A.csrrsi(A.a0, CSR_SSTATUS, MSTATUS_SIE), (f) => {
      pending(f);
      f.hart.mstatus |= MSTATUS_SIE;
      f.hart.irqDirty = false;
    });
    expect(again.result).toBe(EXEC_NEXT);
    expect(again.hart.irqDirty).toBe(false);
  });

  test("a change of the translation context or of interrupt and paging CSRs ends the run", () => {
    expect(run(A.csrs(CSR_SSTATUS, A.t1), (f) => f.setX(A.t1, MSTATUS_SUM)).result).toBe(EXEC_END);
    expect(run(A.csrw(CSR_SATP, A.zero)).result).toBe(EXEC_END);
    expect(run(A.csrw(CSR_SIE, A.t0)).result).toBe(EXEC_END);
  });
});

describe("SFENCE.VMA and the run it is part of", () => {
  /** An SFENCE.VMA at 0x8000_0000 in HS-mode with the fetch TLB mapping its page; rs1 = t0 = `address`. */
  function fence(rs1: number, address: number): number {
    const f = makeHart({ ramSize: 1 << 20 });
    f.enter("HS", 0x8000_0000);
    expect(translateFetch(f.hart, 0x8000_0000)).toBe(0x8000_0000);
    f.setX(A.t0, address);
    return execute(f.hart, decode32(A.sfenceVma(rs1, 0) >>> 0));
  }

  test("an addressed fence of another page goes on: the next fetch is still mapped", () => {
    expect(fence(A.t0, 0x8004_0000)).toBe(EXEC_NEXT);
  });

  test("a fence of the running page, or of everything, ends the run", () => {
    expect(fence(A.t0, 0x8000_0010)).toBe(EXEC_END);
    expect(fence(A.zero, 0)).toBe(EXEC_END);
  });
});

/**
 * The emulated hart's architectural state as plain data, for snapshots (`HalVcpu.saveState`/`loadState`): the
 * pc, privilege level and virtualization mode, the integer and floating-point registers, and every CSR the hart
 * implements that holds state, read and written through the CSR file (`csrRead`/`csrWrite`) rather than the
 * hart's internal fields, so the format does not depend on how the hart stores them.
 *
 * Not saved, by design: translation caches and decoded code (dropped on load: they are rebuilt from memory and
 * the CSRs), an LR reservation (dropped: a later SC fails, which the ISA allows at any time), `time` (the VM's
 * clock, saved by the VMM), the external interrupt lines (driven again by the interrupt controller's restore) and
 * the timer-pending bits (recomputed from the comparators and the clock).
 */

import {
  CSR_FCSR,
  CSR_HCOUNTEREN,
  CSR_HEDELEG,
  CSR_HENVCFG,
  CSR_HGATP,
  CSR_HIDELEG,
  CSR_HSTATUS,
  CSR_HTIMEDELTA,
  CSR_HTINST,
  CSR_HTVAL,
  CSR_HVIP,
  CSR_MCAUSE,
  CSR_MCOUNTEREN,
  CSR_MCOUNTINHIBIT,
  CSR_MCYCLE,
  CSR_MEDELEG,
  CSR_MENVCFG,
  CSR_MEPC,
  CSR_MIDELEG,
  CSR_MIE,
  CSR_MINSTRET,
  CSR_MIP,
  CSR_MSCRATCH,
  CSR_MSTATUS,
  CSR_MTINST,
  CSR_MTVAL,
  CSR_MTVAL2,
  CSR_MTVEC,
  CSR_PMPADDR0,
  CSR_PMPADDR63,
  CSR_PMPCFG0,
  CSR_PMPCFG15,
  CSR_SATP,
  CSR_SCAUSE,
  CSR_SCOUNTEREN,
  CSR_SENVCFG,
  CSR_SEPC,
  CSR_SSCRATCH,
  CSR_STIMECMP,
  CSR_STVAL,
  CSR_STVEC,
  CSR_VSATP,
  CSR_VSCAUSE,
  CSR_VSEPC,
  CSR_VSSCRATCH,
  CSR_VSSTATUS,
  CSR_VSTIMECMP,
  CSR_VSTVAL,
  CSR_VSTVEC,
} from "../../arch/riscv64/csr.ts";
import { FPR_COUNT, GPR_COUNT } from "../../arch/riscv64/registers.ts";
import { PRV_M, PRV_S, PRV_U } from "../../arch/riscv64/traps.ts";
import { HalError, type HalVcpuState } from "../types.ts";
import { csrRead, csrWrite } from "./csr-file.ts";
import type { Hart } from "./hart.ts";
import { presetCycle, presetInstret } from "./timers.ts";

/** The `format` of this file's state; a change of shape or meaning gets a new number. */
export const RISCV_HART_STATE_FORMAT = "riscv64-emulated-hart/1";

/** The state record (`HalVcpuState.data`). 64-bit values are hex strings ("0x..."). */
export interface RiscvHartState {
  readonly pc: string;
  readonly priv: number;
  readonly virt: boolean;
  readonly gprs: readonly string[];
  /** f0..f31 as their raw 64-bit patterns (NaN-boxed singles included). */
  readonly fprs: readonly string[];
  /** CSR number (hex) → value, in the order they are written back. */
  readonly csrs: Readonly<Record<string, string>>;
}

const PMPCFG_EVEN: readonly number[] = Array.from(
  { length: (CSR_PMPCFG15 - CSR_PMPCFG0 + 1) / 2 },
  (_, i) => CSR_PMPCFG0 + 2 * i,
);
const PMPADDRS: readonly number[] = Array.from(
  { length: CSR_PMPADDR63 - CSR_PMPADDR0 + 1 },
  (_, i) => CSR_PMPADDR0 + i,
);

/**
 * The CSRs saved, in the order they are written back: status and configuration first (mstatus before the
 * values whose legality depends on it, menvcfg before the Sstc comparators, mcountinhibit before the counters),
 * then PMP, trap registers, address translation, timers, counters, and the pending bits last.
 */
const SAVED_CSRS: readonly number[] = [
  CSR_FCSR,
  CSR_MSTATUS,
  CSR_HSTATUS,
  CSR_VSSTATUS,
  CSR_MEDELEG,
  CSR_MIDELEG,
  CSR_HEDELEG,
  CSR_HIDELEG,
  CSR_MIE,
  CSR_MCOUNTEREN,
  CSR_SCOUNTEREN,
  CSR_HCOUNTEREN,
  CSR_MENVCFG,
  CSR_HENVCFG,
  CSR_SENVCFG,
  CSR_MCOUNTINHIBIT,
  ...PMPCFG_EVEN,
  ...PMPADDRS,
  CSR_MTVEC,
  CSR_STVEC,
  CSR_VSTVEC,
  CSR_MEPC,
  CSR_SEPC,
  CSR_VSEPC,
  CSR_MTVAL,
  CSR_STVAL,
  CSR_VSTVAL,
  CSR_MTVAL2,
  CSR_HTVAL,
  CSR_MTINST,
  CSR_HTINST,
  CSR_MCAUSE,
  CSR_SCAUSE,
  CSR_VSCAUSE,
  CSR_MSCRATCH,
  CSR_SSCRATCH,
  CSR_VSSCRATCH,
  CSR_SATP,
  CSR_VSATP,
  CSR_HGATP,
  CSR_HTIMEDELTA,
  CSR_STIMECMP,
  CSR_VSTIMECMP,
  CSR_MCYCLE,
  CSR_MINSTRET,
  CSR_HVIP,
  CSR_MIP,
];

const hex64 = (lo: number, hi: number): string => `0x${((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)).toString(16)}`;

/** Read the hart's state. The hart must be stopped between instructions (not inside `run`). */
export function saveHartState(h: Hart): HalVcpuState {
  const csrs: Record<string, string> = {};
  for (const csr of SAVED_CSRS) {
    csrRead(h, csr);
    csrs[`0x${csr.toString(16)}`] = hex64(h.csrLo, h.csrHi);
  }
  const fpBits = new BigUint64Array(h.fp.f64.buffer, h.fp.f64.byteOffset, FPR_COUNT);
  const data: RiscvHartState = {
    pc: `0x${BigInt.asUintN(64, BigInt(h.pc)).toString(16)}`,
    priv: h.priv,
    virt: h.virt,
    gprs: Array.from({ length: GPR_COUNT }, (_, r) => `0x${h.getReg(r).toString(16)}`),
    fprs: Array.from(fpBits, (bits) => `0x${bits.toString(16)}`),
    csrs,
  };
  return { format: RISCV_HART_STATE_FORMAT, data };
}

/** Load `state` (from `saveHartState`) into the hart; throws HalError "invalid-argument" naming what is wrong. */
export function loadHartState(h: Hart, state: HalVcpuState, vcpuId: number): void {
  const data = checkState(state, vcpuId);
  const fpBits = new BigUint64Array(h.fp.f64.buffer, h.fp.f64.byteOffset, FPR_COUNT);
  data.fprs.forEach((bits, i) => {
    fpBits[i] = BigInt(bits);
  });
  for (let r = 1; r < GPR_COUNT; r++) h.setReg(r, BigInt(data.gprs[r] ?? "0"));
  for (const csr of SAVED_CSRS) {
    const value = BigInt(data.csrs[`0x${csr.toString(16)}`] ?? "0");
    // A CSR instruction's write of a counter allows for that instruction's own retirement (the value read next is
    // one less than written); a restore retires nothing, so the counters are preset to exactly the saved value.
    if (csr === CSR_MCYCLE) presetCycle(h, Number(value));
    else if (csr === CSR_MINSTRET) presetInstret(h, Number(value));
    else csrWrite(h, csr, Number(value & 0xffff_ffffn) | 0, Number(value >> 32n) | 0);
  }
  h.pc = Number(BigInt.asIntN(64, BigInt(data.pc)));
  h.priv = data.priv;
  h.virt = data.virt;
  h.reservationValid = false;
  h.flushAllTlbs();
  h.updateContext();
  h.irqDirty = true;
}

function checkState(state: HalVcpuState, vcpuId: number): RiscvHartState {
  const fail = (why: string): never => {
    throw new HalError("emulated", "invalid-argument", "loadState", `Cannot load the state of vCPU ${vcpuId}: ${why}`);
  };
  if (state.format !== RISCV_HART_STATE_FORMAT)
    fail(`its format is "${state.format}", this hart reads "${RISCV_HART_STATE_FORMAT}"`);
  const data = state.data as Partial<RiscvHartState> | null;
  if (typeof data !== "object" || data === null) return fail("no state record");
  const isHex = (v: unknown): v is string => typeof v === "string" && /^0x[0-9a-f]{1,16}$/.test(v);
  if (!isHex(data.pc)) fail(`pc ${JSON.stringify(data.pc)} is not a 64-bit hex value`);
  if (data.priv !== PRV_M && data.priv !== PRV_S && data.priv !== PRV_U)
    fail(`priv ${JSON.stringify(data.priv)} is not 0, 1 or 3`);
  if (typeof data.virt !== "boolean") fail("virt is not a boolean");
  if (!Array.isArray(data.gprs) || data.gprs.length !== GPR_COUNT || !data.gprs.every(isHex))
    fail(`gprs must be ${GPR_COUNT} hex values`);
  if (!Array.isArray(data.fprs) || data.fprs.length !== FPR_COUNT || !data.fprs.every(isHex))
    fail(`fprs must be ${FPR_COUNT} hex values`);
  const csrs = data.csrs;
  if (typeof csrs !== "object" || csrs === null) return fail("no csrs");
  for (const csr of SAVED_CSRS) {
    const key = `0x${csr.toString(16)}`;
    if (!isHex(csrs[key])) fail(`CSR ${key} is missing or not a 64-bit hex value`);
  }
  return data as RiscvHartState;
}

/**
 * Pending interrupts of a hart: mip as software reads it (software-writable bits, lines driven from outside,
 * hvip, the Sstc timers), the lines the VMM and devices drive, and taking the highest-priority interrupt that is
 * pending, enabled and allowed at the current privilege (mideleg/hideleg decide whether M, HS or VS takes it).
 */

import { MSTATUS_MIE, MSTATUS_SIE } from "../../arch/riscv64/csr.ts";
import {
  INTERRUPT_PRIORITY,
  MIP_STIP,
  MIP_VSTIP,
  PRV_M,
  PRV_S,
  PRV_U,
  VS_INTERRUPTS,
  VS_TO_S_CAUSE_SHIFT,
} from "../../arch/riscv64/traps.ts";
import type { Hart } from "./hart.ts";
import { enterTrap } from "./trap.ts";

/** The value of mip as software reads it (all sources merged). */
export function mipValue(h: Hart): number {
  let v = h.mipSoft | h.mipExt | h.hvip;
  if (h.stce()) v = (v & ~MIP_STIP) | (h.stimerPending ? MIP_STIP : 0) | (h.mipExt & MIP_STIP);
  if (h.vstimerPending) v |= MIP_VSTIP;
  return v;
}

/** Drive an external interrupt line (bare-machine CLINT/PLIC, or the VMM's view of a line). */
export function setExternalLine(h: Hart, irq: number, level: boolean): void {
  const bit = 1 << irq;
  const next = level ? h.mipExt | bit : h.mipExt & ~bit;
  if (next !== h.mipExt) {
    h.mipExt = next;
    h.irqDirty = true;
  }
}

/** Set or clear an hvip bit (VSSIP/VSTIP/VSEIP), as HS software would. */
export function setHvip(h: Hart, bit: number, level: boolean): void {
  const next = level ? h.hvip | bit : h.hvip & ~bit;
  if (next !== h.hvip) {
    h.hvip = next & VS_INTERRUPTS;
    h.irqDirty = true;
  }
}

/** WFI wake-up condition: some interrupt pending and enabled in mie, ignoring the global enables. */
export function wakeupPending(h: Hart): boolean {
  return (mipValue(h) & h.mie) !== 0;
}

/**
 * Take the highest-priority interrupt that is pending, enabled and allowed at the current privilege, if any.
 * Returns true when a trap was taken.
 */
export function takeInterrupt(h: Hart): boolean {
  const pending = mipValue(h) & h.mie;
  if (pending === 0) return false;
  const priv = h.priv;
  const virt = h.virt;
  const toM = pending & ~h.mideleg;
  if (toM !== 0 && (priv < PRV_M || (h.mstatus & MSTATUS_MIE) !== 0)) {
    enterTrap(h, PRV_M, false, highestPriority(toM), true, 0, 0, 0, false);
    return true;
  }
  const toHs = pending & h.mideleg & ~h.hideleg;
  if (toHs !== 0 && priv !== PRV_M && (virt || priv === PRV_U || (h.mstatus & MSTATUS_SIE) !== 0)) {
    enterTrap(h, PRV_S, false, highestPriority(toHs), true, 0, 0, 0, false);
    return true;
  }
  const toVs = pending & h.mideleg & h.hideleg;
  if (toVs !== 0 && virt && (priv === PRV_U || (h.vsstatus & MSTATUS_SIE) !== 0)) {
    // VS-level interrupts appear to the guest with their supervisor cause numbers (VSSIP 2 → SSIP 1, ...).
    enterTrap(h, PRV_S, true, highestPriority(toVs) - VS_TO_S_CAUSE_SHIFT, true, 0, 0, 0, false);
    return true;
  }
  return false;
}

function highestPriority(bits: number): number {
  for (const irq of INTERRUPT_PRIORITY) if ((bits >>> irq) & 1) return irq;
  return 31 - Math.clz32(bits);
}

/**
 * What this hart implements where the privileged specification leaves a choice (WARL fields, extensions). The
 * architecture's own facts (CSR numbers, fields, causes, PTE bits, opcodes) are in `src/arch/riscv64/`.
 */

import {
  HSTATUS_GVA,
  HSTATUS_HU,
  HSTATUS_SPV,
  HSTATUS_SPVP,
  HSTATUS_VTSR,
  HSTATUS_VTVM,
  HSTATUS_VTW,
  MISA_HI_MXL64,
  MSTATUS_FS,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPRV,
  MSTATUS_MXR,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  MSTATUS_SUM,
  MSTATUS_TSR,
  MSTATUS_TVM,
  MSTATUS_TW,
  misaBit,
} from "../../arch/riscv64/csr.ts";
import { M_INTERRUPTS, MIP_SGEIP, S_INTERRUPTS, VS_INTERRUPTS } from "../../arch/riscv64/traps.ts";

/** Writable low-word mstatus bits (VS, XS, UBE and the BE bits are read-only zero: no V extension, little-endian). */
export const MSTATUS_WRITE_MASK =
  MSTATUS_SIE |
  MSTATUS_MIE |
  MSTATUS_SPIE |
  MSTATUS_MPIE |
  MSTATUS_SPP |
  MSTATUS_MPP |
  MSTATUS_FS |
  MSTATUS_MPRV |
  MSTATUS_SUM |
  MSTATUS_MXR |
  MSTATUS_TVM |
  MSTATUS_TW |
  MSTATUS_TSR;
/** Writable sstatus (and vsstatus) bits. */
export const SSTATUS_WRITE_MASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;
/** Writable hstatus bits. VGEIN is read-only zero because GEILEN = 0 (no guest external interrupt files). */
export const HSTATUS_WRITE_MASK =
  HSTATUS_GVA | HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_HU | HSTATUS_VTVM | HSTATUS_VTW | HSTATUS_VTSR;

/** misa: RV64 (MXL = 2) with A, C, D, F, H, I, M, S and U. */
export const MISA_HI = MISA_HI_MXL64;
export const MISA_LO =
  misaBit("A") |
  misaBit("C") |
  misaBit("D") |
  misaBit("F") |
  misaBit("H") |
  misaBit("I") |
  misaBit("M") |
  misaBit("S") |
  misaBit("U");

/** Every interrupt bit this hart implements (no LCOFI, no guest external interrupt files beyond SGEIP). */
export const ALL_INTERRUPTS = S_INTERRUPTS | VS_INTERRUPTS | M_INTERRUPTS | MIP_SGEIP;

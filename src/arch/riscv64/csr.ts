/**
 * CSR numbers and the bit fields of the status, delegation, environment-configuration and counter-enable CSRs,
 * with the names of the privileged specification (1.12, with the H extension and Sstc).
 *
 * 64-bit CSRs are handled as two 32-bit words by the emulated hart: a field in bits 31..0 is named plainly, a
 * field in bits 63..32 is named `…_HI_…` and given as its position in the high word.
 */

import { MIP_SGEIP, VS_INTERRUPTS } from "./traps.ts";

// ---------------------------------------------------------------------------------------------------------------
// CSR numbers
// ---------------------------------------------------------------------------------------------------------------
export const CSR_FFLAGS = 0x001;
export const CSR_FRM = 0x002;
export const CSR_FCSR = 0x003;
export const CSR_CYCLE = 0xc00;
export const CSR_TIME = 0xc01;
export const CSR_INSTRET = 0xc02;
export const CSR_HPMCOUNTER3 = 0xc03;
export const CSR_HPMCOUNTER31 = 0xc1f;

export const CSR_SSTATUS = 0x100;
export const CSR_SIE = 0x104;
export const CSR_STVEC = 0x105;
export const CSR_SCOUNTEREN = 0x106;
export const CSR_SENVCFG = 0x10a;
export const CSR_SSCRATCH = 0x140;
export const CSR_SEPC = 0x141;
export const CSR_SCAUSE = 0x142;
export const CSR_STVAL = 0x143;
export const CSR_SIP = 0x144;
export const CSR_STIMECMP = 0x14d;
export const CSR_SATP = 0x180;

export const CSR_VSSTATUS = 0x200;
export const CSR_VSIE = 0x204;
export const CSR_VSTVEC = 0x205;
export const CSR_VSSCRATCH = 0x240;
export const CSR_VSEPC = 0x241;
export const CSR_VSCAUSE = 0x242;
export const CSR_VSTVAL = 0x243;
export const CSR_VSIP = 0x244;
export const CSR_VSTIMECMP = 0x24d;
export const CSR_VSATP = 0x280;

export const CSR_HSTATUS = 0x600;
export const CSR_HEDELEG = 0x602;
export const CSR_HIDELEG = 0x603;
export const CSR_HIE = 0x604;
export const CSR_HTIMEDELTA = 0x605;
export const CSR_HCOUNTEREN = 0x606;
export const CSR_HGEIE = 0x607;
export const CSR_HENVCFG = 0x60a;
export const CSR_HTVAL = 0x643;
export const CSR_HIP = 0x644;
export const CSR_HVIP = 0x645;
export const CSR_HTINST = 0x64a;
export const CSR_HGATP = 0x680;
export const CSR_HGEIP = 0xe12;

export const CSR_MVENDORID = 0xf11;
export const CSR_MARCHID = 0xf12;
export const CSR_MIMPID = 0xf13;
export const CSR_MHARTID = 0xf14;
export const CSR_MCONFIGPTR = 0xf15;
export const CSR_MSTATUS = 0x300;
export const CSR_MISA = 0x301;
export const CSR_MEDELEG = 0x302;
export const CSR_MIDELEG = 0x303;
export const CSR_MIE = 0x304;
export const CSR_MTVEC = 0x305;
export const CSR_MCOUNTEREN = 0x306;
export const CSR_MENVCFG = 0x30a;
export const CSR_MCOUNTINHIBIT = 0x320;
export const CSR_MHPMEVENT3 = 0x323;
export const CSR_MHPMEVENT31 = 0x33f;
export const CSR_MSCRATCH = 0x340;
export const CSR_MEPC = 0x341;
export const CSR_MCAUSE = 0x342;
export const CSR_MTVAL = 0x343;
export const CSR_MIP = 0x344;
export const CSR_MTINST = 0x34a;
export const CSR_MTVAL2 = 0x34b;
export const CSR_PMPCFG0 = 0x3a0;
export const CSR_PMPCFG15 = 0x3af;
export const CSR_PMPADDR0 = 0x3b0;
export const CSR_PMPADDR63 = 0x3ef;
export const CSR_MCYCLE = 0xb00;
export const CSR_MINSTRET = 0xb02;
export const CSR_MHPMCOUNTER3 = 0xb03;
export const CSR_MHPMCOUNTER31 = 0xb1f;
export const CSR_TSELECT = 0x7a0;
export const CSR_TDATA1 = 0x7a1;
export const CSR_TDATA2 = 0x7a2;
export const CSR_TDATA3 = 0x7a3;

/** CSR address bits 11:10: 3 means read-only. */
export const CSR_ACCESS_SHIFT = 10;
export const CSR_ACCESS_READ_ONLY = 3;
/** CSR address bits 9:8: the lowest privilege level that may access it (0 U, 1 S, 2 HS/hypervisor, 3 M). */
export const CSR_LEVEL_SHIFT = 8;
export const CSR_LEVEL_HYPERVISOR = 2;

// ---------------------------------------------------------------------------------------------------------------
// mstatus / sstatus / vsstatus. The low word holds everything but UXL/SXL (bits 35:32), GVA (38), MPV (39) and
// SD (63).
// ---------------------------------------------------------------------------------------------------------------
export const MSTATUS_SIE = 1 << 1;
export const MSTATUS_MIE = 1 << 3;
export const MSTATUS_SPIE = 1 << 5;
export const MSTATUS_UBE = 1 << 6;
export const MSTATUS_MPIE = 1 << 7;
export const MSTATUS_SPP = 1 << 8;
export const MSTATUS_VS = 3 << 9;
export const MSTATUS_MPP = 3 << 11;
export const MSTATUS_MPP_SHIFT = 11;
export const MSTATUS_FS = 3 << 13;
export const MSTATUS_FS_SHIFT = 13;
export const MSTATUS_XS = 3 << 15;
export const MSTATUS_MPRV = 1 << 17;
export const MSTATUS_SUM = 1 << 18;
export const MSTATUS_MXR = 1 << 19;
export const MSTATUS_TVM = 1 << 20;
export const MSTATUS_TW = 1 << 21;
export const MSTATUS_TSR = 1 << 22;
/** High word: UXL = 2 (64-bit) at bits 33:32. */
export const MSTATUS_HI_UXL64 = 2;
/** High word: SXL = 2 (64-bit) at bits 35:34. */
export const MSTATUS_HI_SXL64 = 2 << 2;
export const MSTATUS_HI_GVA = 1 << (38 - 32);
export const MSTATUS_HI_MPV = 1 << (39 - 32);
export const MSTATUS_HI_SD = 1 << 31;

/** The values of the FS (and VS, XS) fields. */
export const FS_OFF = 0;
export const FS_INITIAL = 1;
export const FS_CLEAN = 2;
export const FS_DIRTY = 3;

/** Low-word bits of mstatus visible through sstatus (and the layout of vsstatus). */
export const SSTATUS_MASK =
  MSTATUS_SIE |
  MSTATUS_SPIE |
  MSTATUS_UBE |
  MSTATUS_SPP |
  MSTATUS_VS |
  MSTATUS_FS |
  MSTATUS_XS |
  MSTATUS_SUM |
  MSTATUS_MXR;

// ---------------------------------------------------------------------------------------------------------------
// hstatus
// ---------------------------------------------------------------------------------------------------------------
export const HSTATUS_VSBE = 1 << 5;
export const HSTATUS_GVA = 1 << 6;
export const HSTATUS_SPV = 1 << 7;
export const HSTATUS_SPVP = 1 << 8;
export const HSTATUS_HU = 1 << 9;
export const HSTATUS_VGEIN = 0x3f << 12;
export const HSTATUS_VTVM = 1 << 20;
export const HSTATUS_VTW = 1 << 21;
export const HSTATUS_VTSR = 1 << 22;
/** High word: VSXL = 2 (64-bit) at bits 33:32. */
export const HSTATUS_HI_VSXL64 = 2;

// ---------------------------------------------------------------------------------------------------------------
// misa
// ---------------------------------------------------------------------------------------------------------------
/** High word: MXL = 2 (64-bit) at bits 63:62. */
export const MISA_HI_MXL64 = 2 << 30;

/** The misa bit of extension `letter` ("A".."Z"). */
export function misaBit(letter: string): number {
  return 1 << (letter.charCodeAt(0) - 65);
}

// ---------------------------------------------------------------------------------------------------------------
// Delegation
// ---------------------------------------------------------------------------------------------------------------
/** Exceptions medeleg can delegate: 0–10, 12, 13, 15 and the H causes 20–23 (11, ecall from M, is read-only 0). */
export const MEDELEG_MASK = 0x7ff | (1 << 12) | (1 << 13) | (1 << 15) | (0xf << 20);
/** Exceptions hedeleg can delegate to VS: 0–8, 12, 13, 15 (9–11 and 20–23 are read-only 0). */
export const HEDELEG_MASK = 0x1ff | (1 << 12) | (1 << 13) | (1 << 15);
/** mideleg bits that are read-only one when the H extension is present: VSSIP, VSTIP, VSEIP and SGEIP. */
export const MIDELEG_READ_ONLY_ONE = VS_INTERRUPTS | MIP_SGEIP;

// ---------------------------------------------------------------------------------------------------------------
// menvcfg / henvcfg / senvcfg
// ---------------------------------------------------------------------------------------------------------------
export const ENVCFG_FIOM = 1;
/** High word of menvcfg/henvcfg: STCE is bit 63 (Sstc). */
export const ENVCFG_HI_STCE = 1 << 31;

// ---------------------------------------------------------------------------------------------------------------
// Counters: mcounteren / hcounteren / scounteren and mcountinhibit share the layout
// ---------------------------------------------------------------------------------------------------------------
export const COUNTEREN_CY = 1 << 0;
export const COUNTEREN_TM = 1 << 1;
export const COUNTEREN_IR = 1 << 2;
/** mcountinhibit.CY and .IR (bit 1, TM, is read-only zero: time cannot be inhibited). */
export const COUNTINHIBIT_CY = COUNTEREN_CY;
export const COUNTINHIBIT_IR = COUNTEREN_IR;

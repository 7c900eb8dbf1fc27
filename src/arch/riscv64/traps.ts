/**
 * Privilege levels, exception causes and interrupts of RISC-V, with the names of the privileged specification
 * (1.12 with the H extension): the values of xcause, the bit numbers of mip/mie/hvip and the order in which
 * pending interrupts are taken.
 */

// ---------------------------------------------------------------------------------------------------------------
// Privilege levels (the encoding of mstatus.MPP / sstatus.SPP and of the current mode)
// ---------------------------------------------------------------------------------------------------------------
export const PRV_U = 0;
export const PRV_S = 1;
export const PRV_M = 3;

// ---------------------------------------------------------------------------------------------------------------
// Exception causes (xcause with the Interrupt bit clear)
// ---------------------------------------------------------------------------------------------------------------
export const CAUSE_MISALIGNED_FETCH = 0;
export const CAUSE_FETCH_ACCESS_FAULT = 1;
export const CAUSE_ILLEGAL_INSTRUCTION = 2;
export const CAUSE_BREAKPOINT = 3;
export const CAUSE_MISALIGNED_LOAD = 4;
export const CAUSE_LOAD_ACCESS_FAULT = 5;
export const CAUSE_MISALIGNED_STORE = 6;
export const CAUSE_STORE_ACCESS_FAULT = 7;
export const CAUSE_USER_ECALL = 8;
export const CAUSE_SUPERVISOR_ECALL = 9;
export const CAUSE_VIRTUAL_SUPERVISOR_ECALL = 10;
export const CAUSE_MACHINE_ECALL = 11;
export const CAUSE_FETCH_PAGE_FAULT = 12;
export const CAUSE_LOAD_PAGE_FAULT = 13;
export const CAUSE_STORE_PAGE_FAULT = 15;
export const CAUSE_FETCH_GUEST_PAGE_FAULT = 20;
export const CAUSE_LOAD_GUEST_PAGE_FAULT = 21;
export const CAUSE_VIRTUAL_INSTRUCTION = 22;
export const CAUSE_STORE_GUEST_PAGE_FAULT = 23;
/** A translation fault with a cause at or above this one is a guest-page fault (G-stage; it writes htval/mtval2). */
export const CAUSE_FIRST_GUEST_PAGE_FAULT = CAUSE_FETCH_GUEST_PAGE_FAULT;

/** High word of xcause: the Interrupt bit (bit 63 on RV64). */
export const CAUSE_HI_INTERRUPT = 1 << 31;

// ---------------------------------------------------------------------------------------------------------------
// Interrupt numbers (bit positions in mip/mie; xcause = Interrupt | number)
// ---------------------------------------------------------------------------------------------------------------
export const IRQ_S_SOFT = 1;
export const IRQ_VS_SOFT = 2;
export const IRQ_M_SOFT = 3;
export const IRQ_S_TIMER = 5;
export const IRQ_VS_TIMER = 6;
export const IRQ_M_TIMER = 7;
export const IRQ_S_EXT = 9;
export const IRQ_VS_EXT = 10;
export const IRQ_M_EXT = 11;
export const IRQ_S_GEXT = 12;

export const MIP_SSIP = 1 << IRQ_S_SOFT;
export const MIP_VSSIP = 1 << IRQ_VS_SOFT;
export const MIP_MSIP = 1 << IRQ_M_SOFT;
export const MIP_STIP = 1 << IRQ_S_TIMER;
export const MIP_VSTIP = 1 << IRQ_VS_TIMER;
export const MIP_MTIP = 1 << IRQ_M_TIMER;
export const MIP_SEIP = 1 << IRQ_S_EXT;
export const MIP_VSEIP = 1 << IRQ_VS_EXT;
export const MIP_MEIP = 1 << IRQ_M_EXT;
export const MIP_SGEIP = 1 << IRQ_S_GEXT;

/** The VS-level interrupt bits (the writable set of hideleg and hvip). */
export const VS_INTERRUPTS = MIP_VSSIP | MIP_VSTIP | MIP_VSEIP;
/** The supervisor-level interrupt bits. */
export const S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP;
/** The machine-level interrupt bits. */
export const M_INTERRUPTS = MIP_MSIP | MIP_MTIP | MIP_MEIP;
/**
 * A VS-level interrupt appears to the guest with its supervisor cause number: VSSIP (2) as SSIP (1), VSTIP (6) as
 * STIP (5), VSEIP (10) as SEIP (9). vsip/vsie are hip/hie shifted right by this much.
 */
export const VS_TO_S_CAUSE_SHIFT = IRQ_VS_SOFT - IRQ_S_SOFT;

/** The order in which pending interrupts are taken (privileged spec 3.1.9 and the H extension's 8.2). */
export const INTERRUPT_PRIORITY: readonly number[] = [
  IRQ_M_EXT,
  IRQ_M_SOFT,
  IRQ_M_TIMER,
  IRQ_S_EXT,
  IRQ_S_SOFT,
  IRQ_S_TIMER,
  IRQ_S_GEXT,
  IRQ_VS_EXT,
  IRQ_VS_SOFT,
  IRQ_VS_TIMER,
];

// ---------------------------------------------------------------------------------------------------------------
// Trap vectors
// ---------------------------------------------------------------------------------------------------------------
/** xtvec.MODE (bits 1:0): all traps to BASE. */
export const TVEC_MODE_DIRECT = 0;
/** xtvec.MODE: interrupts to BASE + 4 × cause. */
export const TVEC_MODE_VECTORED = 1;

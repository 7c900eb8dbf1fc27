/**
 * Virtual-memory facts of RV64 (privileged spec 1.12, "Supervisor-Level ISA" 4.3–4.4 and the H extension's
 * "Two-Stage Address Translation"): page-table entry bits, the MODE values of satp/vsatp/hgatp, and the shape of
 * each translation scheme.
 *
 * satp, vsatp and hgatp share a layout: MODE in bits 63:60, ASID (satp) or VMID (hgatp) in 59:44, PPN in 43:0.
 */

// ---------------------------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------------------------
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** Physical addresses are at most 56 bits (a 44-bit PPN and a 12-bit offset). */
export const PA_BITS = 56;

// ---------------------------------------------------------------------------------------------------------------
// Page-table entries (8 bytes; the same format in every scheme and stage)
// ---------------------------------------------------------------------------------------------------------------
export const PTE_V = 1 << 0;
export const PTE_R = 1 << 1;
export const PTE_W = 1 << 2;
export const PTE_X = 1 << 3;
export const PTE_U = 1 << 4;
export const PTE_G = 1 << 5;
export const PTE_A = 1 << 6;
export const PTE_D = 1 << 7;
/** The PPN starts at bit 10 and is 44 bits wide (bits 53:10). */
export const PTE_PPN_SHIFT = 10;
export const PTE_SIZE = 8;
/** Bits 63:54 of a PTE (Svpbmt, Svnapot, reserved) as their position in the high word: 54 - 32. */
export const PTE_HI_RESERVED_SHIFT = 22;
/** Entries of one (non-root G-stage) page table, and the VPN bits each level translates. */
export const PTES_PER_TABLE = 512;
export const LEVEL_BITS = 9;

// ---------------------------------------------------------------------------------------------------------------
// satp / vsatp / hgatp
// ---------------------------------------------------------------------------------------------------------------
/** MODE: bits 63:60. */
export const ATP_MODE_SHIFT = 60;
/** ASID (satp, bits 59:44) or VMID (hgatp, bits 57:44). */
export const ATP_ID_SHIFT = 44;
/** PPN: bits 43:0. */
export const ATP_PPN_BITS = 44;
/** The same fields as positions in the high word, for the hart's split 32-bit CSRs. */
export const ATP_HI_MODE_SHIFT = ATP_MODE_SHIFT - 32;
export const ATP_HI_ID_SHIFT = ATP_ID_SHIFT - 32;
export const ATP_HI_PPN_MASK = 2 ** (ATP_PPN_BITS - 32) - 1;

export const SATP_MODE_BARE = 0;
export const SATP_MODE_SV39 = 8;
export const SATP_MODE_SV48 = 9;
export const HGATP_MODE_SV39X4 = 8;
export const HGATP_MODE_SV48X4 = 9;
/** ASIDLEN, the largest the spec allows on RV64. */
export const ASID_BITS = 16;
/** VMIDLEN, the largest the spec allows on RV64. */
export const VMID_BITS = 14;

// ---------------------------------------------------------------------------------------------------------------
// Translation schemes
// ---------------------------------------------------------------------------------------------------------------
export const SV39_LEVELS = 3;
export const SV48_LEVELS = 4;
export const SV39_VA_BITS = 39;
export const SV48_VA_BITS = 48;
/** The G-stage schemes widen the root's index by 2 bits: GPAs are 41 (Sv39x4) or 50 (Sv48x4) bits. */
export const SV39X4_GPA_BITS = 41;
export const SV48X4_GPA_BITS = 50;
/** The G-stage root table has 2048 entries (16 KiB) and is 16 KiB aligned: hgatp.PPN[1:0] are zero. */
export const GSTAGE_ROOT_ENTRIES = 2048;
export const GSTAGE_ROOT_SIZE = GSTAGE_ROOT_ENTRIES * PTE_SIZE;

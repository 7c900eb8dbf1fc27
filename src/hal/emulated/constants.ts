/**
 * Architectural constants of the emulated RV64GC + H hart, with the names the RISC-V privileged specification
 * (1.12, with the H extension and Sstc) uses. Everything the hart, the MMU and the backend compare against lives
 * here, so no magic number appears in the execution code.
 */

// ---------------------------------------------------------------------------------------------------------------
// Privilege levels
// ---------------------------------------------------------------------------------------------------------------
export const PRV_U = 0;
export const PRV_S = 1;
export const PRV_M = 3;

// ---------------------------------------------------------------------------------------------------------------
// Exception causes (mcause with the interrupt bit clear)
// ---------------------------------------------------------------------------------------------------------------
export const CAUSE_MISALIGNED_FETCH = 0;
export const CAUSE_FETCH_ACCESS = 1;
export const CAUSE_ILLEGAL_INSTRUCTION = 2;
export const CAUSE_BREAKPOINT = 3;
export const CAUSE_MISALIGNED_LOAD = 4;
export const CAUSE_LOAD_ACCESS = 5;
export const CAUSE_MISALIGNED_STORE = 6;
export const CAUSE_STORE_ACCESS = 7;
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

// ---------------------------------------------------------------------------------------------------------------
// Interrupt numbers (bit positions in mip/mie; mcause = 2^63 | number)
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

/** The VS-level interrupt bits (hideleg/hvip/hip writable set). */
export const VS_INTERRUPTS = MIP_VSSIP | MIP_VSTIP | MIP_VSEIP;
/** Interrupts that belong to HS/VS and are therefore always delegated by mideleg when H is present. */
export const MIDELEG_READ_ONLY_ONE = VS_INTERRUPTS | MIP_SGEIP;
/** The supervisor-level interrupt bits. */
export const S_INTERRUPTS = MIP_SSIP | MIP_STIP | MIP_SEIP;
/** Every interrupt bit this hart implements. */
export const ALL_INTERRUPTS = S_INTERRUPTS | VS_INTERRUPTS | MIP_MSIP | MIP_MTIP | MIP_MEIP | MIP_SGEIP;

/** Priority order for taking interrupts (privileged spec 3.1.9 and the H extension's 8.2.x). */
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

// ---------------------------------------------------------------------------------------------------------------
// mstatus / sstatus / vsstatus fields. The low word holds everything except UXL/SXL (32..35), GVA (38), MPV (39)
// and SD (63); those are named as bit positions in the high word (…_HI).
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
/** High word: UXL = 2 (64-bit) at bits 33:32, SXL = 2 at bits 35:34. Both are read-only in this hart. */
export const MSTATUS_HI_UXL64 = 2;
export const MSTATUS_HI_SXL64 = 2 << 2;
export const MSTATUS_HI_GVA = 1 << (38 - 32);
export const MSTATUS_HI_MPV = 1 << (39 - 32);
export const MSTATUS_HI_SD = 1 << 31;

export const FS_OFF = 0;
export const FS_INITIAL = 1;
export const FS_CLEAN = 2;
export const FS_DIRTY = 3;

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
export const SSTATUS_WRITE_MASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR;

// hstatus
export const HSTATUS_VSBE = 1 << 5;
export const HSTATUS_GVA = 1 << 6;
export const HSTATUS_SPV = 1 << 7;
export const HSTATUS_SPVP = 1 << 8;
export const HSTATUS_HU = 1 << 9;
export const HSTATUS_VGEIN = 0x3f << 12;
export const HSTATUS_VTVM = 1 << 20;
export const HSTATUS_VTW = 1 << 21;
export const HSTATUS_VTSR = 1 << 22;
/** High word: VSXL = 2 (64-bit) at bits 33:32, read-only. */
export const HSTATUS_HI_VSXL64 = 2;
/** VGEIN is read-only zero because GEILEN = 0 (no guest external interrupt files). */
export const HSTATUS_WRITE_MASK =
  HSTATUS_GVA | HSTATUS_SPV | HSTATUS_SPVP | HSTATUS_HU | HSTATUS_VTVM | HSTATUS_VTW | HSTATUS_VTSR;

// misa: MXL = 2 (bits 63:62) and the extension letters.
export const MISA_HI = 2 << 30;
export const MISA_LO =
  (1 << ("A".charCodeAt(0) - 65)) |
  (1 << ("C".charCodeAt(0) - 65)) |
  (1 << ("D".charCodeAt(0) - 65)) |
  (1 << ("F".charCodeAt(0) - 65)) |
  (1 << ("H".charCodeAt(0) - 65)) |
  (1 << ("I".charCodeAt(0) - 65)) |
  (1 << ("M".charCodeAt(0) - 65)) |
  (1 << ("S".charCodeAt(0) - 65)) |
  (1 << ("U".charCodeAt(0) - 65));

/** Exceptions medeleg can delegate: 0–10, 12, 13, 15 and the H causes 20–23 (11, ecall from M, is read-only 0). */
export const MEDELEG_MASK = 0x7ff | (1 << 12) | (1 << 13) | (1 << 15) | (0xf << 20);
/** Exceptions hedeleg can delegate to VS: 0–8, 12, 13, 15 (9–11 and 20–23 are read-only 0). */
export const HEDELEG_MASK = 0x1ff | (1 << 12) | (1 << 13) | (1 << 15);

// menvcfg / henvcfg / senvcfg
export const ENVCFG_FIOM = 1;
/** High word of menvcfg/henvcfg: STCE is bit 63 (Sstc). */
export const ENVCFG_HI_STCE = 1 << 31;

// Counter enable bits
export const COUNTEREN_CY = 1 << 0;
export const COUNTEREN_TM = 1 << 1;
export const COUNTEREN_IR = 1 << 2;

// satp / vsatp / hgatp (MODE in bits 63:60: high word bits 31:28)
export const SATP_MODE_BARE = 0;
export const SATP_MODE_SV39 = 8;
export const SATP_MODE_SV48 = 9;
export const HGATP_MODE_SV39X4 = 8;
export const HGATP_MODE_SV48X4 = 9;
/** ASIDLEN = 16 (satp bits 59:44). */
export const ASID_BITS = 16;
/** VMIDLEN = 14 (hgatp bits 57:44). */
export const VMID_BITS = 14;

// Page-table entry bits
export const PTE_V = 1 << 0;
export const PTE_R = 1 << 1;
export const PTE_W = 1 << 2;
export const PTE_X = 1 << 3;
export const PTE_U = 1 << 4;
export const PTE_G = 1 << 5;
export const PTE_A = 1 << 6;
export const PTE_D = 1 << 7;

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** htinst pseudo-instructions for implicit VS-stage page-table accesses (H extension, "transformed instruction"). */
export const TINST_PTE_READ_64 = 0x00003000;
export const TINST_PTE_WRITE_64 = 0x00003020;

export const INSN_WFI = 0x10500073;

export const TWO_POW_32 = 4294967296;

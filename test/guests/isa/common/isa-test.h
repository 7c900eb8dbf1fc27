/*
 * Framework for the bare-metal RISC-V ISA conformance programs (one self-checking .S file per program).
 *
 * A program looks like:
 *
 *     #include "isa-test.h"
 *     TEST_CODE_BEGIN
 *         TEST 1
 *         li a0, 3
 *         addi a0, a0, 4
 *         CHECK a0, 7
 *         TEST_PASS
 *     TEST_CODE_END
 *     TEST_DATA_BEGIN
 *         ... .data for the program ...
 *     TEST_DATA_END
 *
 * It starts in M-mode at 0x8000_0000 (hart 0; other harts park in WFI) and reports through HTIF: the 8-byte
 * `tohost` word receives 1 for "pass" or (n << 1) | 1 for "test n failed". QEMU `-M spike -bios none` exits with
 * status n (0 for pass), so test numbers are 1..255. A machine without HTIF (QEMU `virt`, where the time CSR and
 * Sstc exist) keeps running after that store; the program then writes the same verdict to the `sifive,test`
 * finisher at 0x10_0000 (0x5555 pass, (n << 16) | 0x3333 fail), which makes QEMU exit with status n.
 *
 * Register conventions (the framework relies on them; test code must not use these registers for its values):
 *   gp (x3)  number of the current test (`TEST n`), reported on failure
 *   t4, t5   scratch of the CHECK macros
 *   t6       trap resume target (see below); zero means "no trap expected"
 *   sp       a valid M-mode stack after start; the trap handlers use their own save areas (mscratch/sscratch)
 *
 * Traps. The framework's M-mode handler (and `s_trap_entry` for S/HS-mode, `vs_trap_entry` for VS-mode, which a
 * test installs in stvec/vstvec itself) records the trap (cause, epc, tval, status, tval2/htval, tinst/htinst,
 * count) in `m_trap`, `s_trap` or `vs_trap` and then:
 *   - t6 == 0: the trap was not expected: the test fails with the current test number. A handler below M
 *     escalates with `ecall` (t6 = 0), so the M-mode handler does the reporting.
 *   - t6 == label: returns (xRET) to `label` in the mode the trap came from (privilege and V unchanged).
 *   - t6 == label | 1: returns to `label` in the handler's own mode (M for m_trap, HS/S for s_trap) with
 *     interrupts of that level disabled (xPIE cleared), so a still-pending interrupt does not fire again.
 * The handler clears t6 before returning: each expectation is used once.
 *
 * `fail` in any mode is `li t6, 0; ecall`: the ecall reaches M (or S, which escalates) as an unexpected trap.
 * Test code running below M therefore needs the framework pages executable and, for s_trap/vs_trap, the trap
 * records writable at their physical (guest-physical) address: map the program identity in page tables.
 */
#ifndef AXVISOR_ISA_TEST_H
#define AXVISOR_ISA_TEST_H

/* ---------------------------------------------------------------------------------------------------------- */
/* CSR numbers the toolchain (binutils 2.40) may not know by name (privileged spec 1.12, Sstc)                 */
/* ---------------------------------------------------------------------------------------------------------- */
#define CSR_MENVCFG 0x30a
#define CSR_SENVCFG 0x10a
#define CSR_MTINST 0x34a
#define CSR_MTVAL2 0x34b
#define CSR_STIMECMP 0x14d
#define CSR_VSTIMECMP 0x24d
#define CSR_HENVCFG 0x60a

/* mstatus / sstatus */
#define MSTATUS_SIE (1 << 1)
#define MSTATUS_MIE (1 << 3)
#define MSTATUS_SPIE (1 << 5)
#define MSTATUS_UBE (1 << 6)
#define MSTATUS_MPIE (1 << 7)
#define MSTATUS_SPP (1 << 8)
#define MSTATUS_VS (3 << 9)
#define MSTATUS_MPP (3 << 11)
#define MSTATUS_MPP_S (1 << 11)
#define MSTATUS_MPP_M (3 << 11)
#define MSTATUS_FS (3 << 13)
#define MSTATUS_FS_INITIAL (1 << 13)
#define MSTATUS_XS (3 << 15)
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_SUM (1 << 18)
#define MSTATUS_MXR (1 << 19)
#define MSTATUS_TVM (1 << 20)
#define MSTATUS_TW (1 << 21)
#define MSTATUS_TSR (1 << 22)
#define MSTATUS_UXL (3 << 32)
#define MSTATUS_SXL (3 << 34)
#define MSTATUS_SBE (1 << 36)
#define MSTATUS_MBE (1 << 37)
#define MSTATUS_GVA (1 << 38)
#define MSTATUS_MPV (1 << 39)
#define MSTATUS_SD (1 << 63)

/* hstatus */
#define HSTATUS_VSBE (1 << 5)
#define HSTATUS_GVA (1 << 6)
#define HSTATUS_SPV (1 << 7)
#define HSTATUS_SPVP (1 << 8)
#define HSTATUS_HU (1 << 9)
#define HSTATUS_VGEIN (0x3f << 12)
#define HSTATUS_VTVM (1 << 20)
#define HSTATUS_VTW (1 << 21)
#define HSTATUS_VTSR (1 << 22)
#define HSTATUS_VSXL (3 << 32)

/* Privilege levels (mstatus.MPP encoding) */
#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* Exception codes (mcause/scause with the interrupt bit clear) */
#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT 3
#define CAUSE_MISALIGNED_LOAD 4
#define CAUSE_LOAD_ACCESS 5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS 7
#define CAUSE_USER_ECALL 8
#define CAUSE_SUPERVISOR_ECALL 9
#define CAUSE_VIRTUAL_SUPERVISOR_ECALL 10
#define CAUSE_MACHINE_ECALL 11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT 13
#define CAUSE_STORE_PAGE_FAULT 15
#define CAUSE_FETCH_GUEST_PAGE_FAULT 20
#define CAUSE_LOAD_GUEST_PAGE_FAULT 21
#define CAUSE_VIRTUAL_INSTRUCTION 22
#define CAUSE_STORE_GUEST_PAGE_FAULT 23

/* Interrupt numbers (bit positions in mip/mie; mcause = (1 << 63) | n) */
#define IRQ_S_SOFT 1
#define IRQ_VS_SOFT 2
#define IRQ_M_SOFT 3
#define IRQ_S_TIMER 5
#define IRQ_VS_TIMER 6
#define IRQ_M_TIMER 7
#define IRQ_S_EXT 9
#define IRQ_VS_EXT 10
#define IRQ_M_EXT 11
#define IRQ_SGEI 12
#define CAUSE_INTERRUPT (1 << 63)
#define MIP_SSIP (1 << IRQ_S_SOFT)
#define MIP_VSSIP (1 << IRQ_VS_SOFT)
#define MIP_MSIP (1 << IRQ_M_SOFT)
#define MIP_STIP (1 << IRQ_S_TIMER)
#define MIP_VSTIP (1 << IRQ_VS_TIMER)
#define MIP_MTIP (1 << IRQ_M_TIMER)
#define MIP_SEIP (1 << IRQ_S_EXT)
#define MIP_VSEIP (1 << IRQ_VS_EXT)
#define MIP_MEIP (1 << IRQ_M_EXT)

/* misa extension bits */
#define MISA_A (1 << 0)
#define MISA_C (1 << 2)
#define MISA_D (1 << 3)
#define MISA_F (1 << 5)
#define MISA_H (1 << 7)
#define MISA_I (1 << 8)
#define MISA_M (1 << 12)
#define MISA_S (1 << 18)
#define MISA_U (1 << 20)

/* Page-table entries (Sv39/Sv48 and the G-stage Sv39x4/Sv48x4) */
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)
#define PTE_PPN_SHIFT 10
#define PAGE_SHIFT 12
#define PAGE_SIZE 4096
#define MEGAPAGE_SIZE 0x200000
#define GIGAPAGE_SIZE 0x40000000

/* satp / vsatp / hgatp MODE field (bits 63:60) */
#define SATP_MODE_SHIFT 60
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9
#define HGATP_MODE_SV39X4 8
#define HGATP_MODE_SV48X4 9
#define HGATP_VMID_SHIFT 44

/* menvcfg / henvcfg */
#define ENVCFG_STCE (1 << 63)

/* CLINT (SiFive layout, at the same address on QEMU `spike`, QEMU `virt` and our board); 10 MHz mtime */
#define CLINT_BASE 0x02000000
#define CLINT_MSIP (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME (CLINT_BASE + 0xbff8)

/* QEMU `virt`'s `sifive,test` finisher: the fallback exit when tohost is plain RAM (no HTIF on that machine).
   QEMU exits with status 0 for PASS and `code` for FAIL | code << 16. */
#define SIFIVE_TEST_BASE 0x100000
#define FINISHER_PASS 0x5555
#define FINISHER_FAIL 0x3333

/* Trap record layout (m_trap, s_trap, vs_trap) */
#define TR_CAUSE 0
#define TR_EPC 8
#define TR_TVAL 16
#define TR_STATUS 24 /* mstatus / sstatus (as read in the handler) */
#define TR_TVAL2 32 /* mtval2 / htval (zero when the hart has no H) */
#define TR_TINST 40 /* mtinst / htinst (zero when the hart has no H) */
#define TR_HSTATUS 48 /* s_trap only: hstatus */
#define TR_COUNT 56
#define TR_SIZE 64

#define TEST_MAX 255

#ifdef __ASSEMBLER__

/* ---------------------------------------------------------------------------------------------------------- */
/* Test numbering and checks                                                                                  */
/* ---------------------------------------------------------------------------------------------------------- */

/* Start test n: failures from here on report n. */
.macro TEST n
  .if (\n < 1) || (\n > TEST_MAX)
    .error "test numbers must be 1..255 (the HTIF exit status keeps 8 bits)"
  .endif
  li gp, \n
.endm

/* Fail the current test, from any privilege mode (an unexpected ecall; see the header comment). */
.macro FAIL
  li t6, 0
  ecall
.endm

/* reg must equal the constant val. */
.macro CHECK reg, val
  li t5, \val
  beq \reg, t5, .Lcheck_ok\@
  FAIL
.Lcheck_ok\@:
.endm

/* reg must equal reg2. */
.macro CHECK_REG reg, reg2
  beq \reg, \reg2, .Lcheck_ok\@
  FAIL
.Lcheck_ok\@:
.endm

/* reg must equal the address of label. */
.macro CHECK_ADDR reg, label
  la t5, \label
  beq \reg, t5, .Lcheck_ok\@
  FAIL
.Lcheck_ok\@:
.endm

/* A recorded trap field (record = m_trap | s_trap | vs_trap, field = TR_*) must equal the constant val. */
.macro CHECK_TRAP record, field, val
  la t4, \record
  ld t4, \field(t4)
  li t5, \val
  beq t4, t5, .Lcheck_ok\@
  FAIL
.Lcheck_ok\@:
.endm

/* A recorded trap field must equal the address of label. */
.macro CHECK_TRAP_ADDR record, field, label
  la t4, \record
  ld t4, \field(t4)
  la t5, \label
  beq t4, t5, .Lcheck_ok\@
  FAIL
.Lcheck_ok\@:
.endm

/* A recorded trap field must equal a register. */
.macro CHECK_TRAP_REG record, field, reg
  la t4, \record
  ld t4, \field(t4)
  beq t4, \reg, .Lcheck_ok\@
  FAIL
.Lcheck_ok\@:
.endm

/* Load a recorded trap field into reg. */
.macro LOAD_TRAP reg, record, field
  la \reg, \record
  ld \reg, \field(\reg)
.endm

/* Forget earlier traps of a record (cause/epc/... = 0, count = 0); M-mode (or any mode that can write it). */
.macro CLEAR_TRAP record
  la t4, \record
  sd zero, TR_CAUSE(t4)
  sd zero, TR_EPC(t4)
  sd zero, TR_TVAL(t4)
  sd zero, TR_STATUS(t4)
  sd zero, TR_TVAL2(t4)
  sd zero, TR_TINST(t4)
  sd zero, TR_HSTATUS(t4)
  sd zero, TR_COUNT(t4)
.endm

/* The next trap returns to label in the mode it came from. */
.macro EXPECT_TRAP label
  la t6, \label
.endm

/* The next trap returns to label in the handler's mode (M for the M handler), interrupts of that level off. */
.macro EXPECT_TRAP_TO_HANDLER label
  la t6, \label
  ori t6, t6, 1
.endm

/* From S/U/VS/VU: go back to M-mode at label (an ecall the M handler turns into a return to M). */
.macro RETURN_TO_M label
  EXPECT_TRAP_TO_HANDLER \label
  ecall
.endm

/* ---------------------------------------------------------------------------------------------------------- */
/* Operation tests: run `op` on constants and check the result, also with rd aliasing each source            */
/* (uses a0-a2)                                                                                               */
/* ---------------------------------------------------------------------------------------------------------- */

/* op rd, rs1, rs2 with rs1 = a, rs2 = b must give expected. */
.macro TEST_RR n, op, expected, a, b
  TEST \n
  li a1, \a
  li a2, \b
  \op a0, a1, a2
  CHECK a0, \expected
  \op a1, a1, a2
  CHECK a1, \expected
  li a1, \a
  \op a2, a1, a2
  CHECK a2, \expected
.endm

/* op rd, rs1, imm with rs1 = a must give expected. */
.macro TEST_RI n, op, expected, a, imm
  TEST \n
  li a1, \a
  \op a0, a1, \imm
  CHECK a0, \expected
  \op a1, a1, \imm
  CHECK a1, \expected
.endm

/* op rd, rs1 with rs1 = a must give expected. */
.macro TEST_R n, op, expected, a
  TEST \n
  li a1, \a
  \op a0, a1
  CHECK a0, \expected
  \op a1, a1
  CHECK a1, \expected
.endm

/* ---------------------------------------------------------------------------------------------------------- */
/* Mode changes from M-mode (mret); clobbers t0                                                               */
/* ---------------------------------------------------------------------------------------------------------- */

.macro MRET_TO prv, virt, label
  li t0, MSTATUS_MPP | MSTATUS_MPV
  csrc mstatus, t0
  li t0, (\prv << 11) | (\virt << 39)
  csrs mstatus, t0
  la t0, \label
  csrw mepc, t0
  mret
.endm

.macro ENTER_S label
  MRET_TO PRV_S, 0, \label
.endm
.macro ENTER_U label
  MRET_TO PRV_U, 0, \label
.endm
.macro ENTER_VS label
  MRET_TO PRV_S, 1, \label
.endm
.macro ENTER_VU label
  MRET_TO PRV_U, 1, \label
.endm

/* Fail (test 255) unless misa has all of the given extension bits. */
.macro REQUIRE_MISA bits
  csrr t4, misa
  li t5, \bits
  and t4, t4, t5
  beq t4, t5, .Lhas_ext\@
  li gp, TEST_MAX
  FAIL
.Lhas_ext\@:
.endm

/* ---------------------------------------------------------------------------------------------------------- */
/* Program skeleton                                                                                           */
/* ---------------------------------------------------------------------------------------------------------- */

#define TEST_CODE_BEGIN                                                                                         \
  .section .text.init, "ax", @progbits;                                                                         \
  .globl _start;                                                                                                \
  _start:                                                                                                       \
  j isa_reset;                                                                                                  \
  .text;                                                                                                        \
  .globl test_main;                                                                                             \
  test_main:

#define TEST_CODE_END                                                                                           \
  FAIL; /* falling off the end of the test body is a failure */                                                 \
  ISA_FRAMEWORK_CODE

#define TEST_PASS j isa_pass

#define TEST_DATA_BEGIN .data; .balign 8;
#define TEST_DATA_END ISA_FRAMEWORK_DATA

/* Start-up, pass/fail and the trap handlers (emitted once, by TEST_CODE_END). */
#define ISA_FRAMEWORK_CODE isa_framework_code

.macro isa_framework_code
  .section .text.init, "ax", @progbits
  .balign 4
isa_reset:
  csrr a0, mhartid
  bnez a0, isa_park
  li gp, 0
  li t6, 0
  la sp, isa_m_stack_top
  la t0, isa_m_save
  csrw mscratch, t0
  la t0, isa_m_trap_entry
  csrw mtvec, t0
  csrw mie, zero
  csrw mip, zero
  /* Feature probe: misa may be zero ("not implemented"), then assume no H and no F. */
  csrr t1, misa
  li t2, MISA_H
  and t2, t1, t2
  la t0, isa_has_h
  sd t2, 0(t0)
  li t2, MISA_F
  and t2, t1, t2
  beqz t2, 1f
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  csrwi fcsr, 0
1:
  /* CSRs that an implementation may lack: a trap while writing them skips to the next step. */
  la t0, 2f
  csrw mtvec, t0
  /* PMP entry 0: NAPOT over the whole address space, RWX, so S/U-mode may access memory. */
  li t0, -1
  csrw pmpaddr0, t0
  li t0, 0x1f
  csrw pmpcfg0, t0
  .balign 4
2:
  la t0, 3f
  csrw mtvec, t0
  csrw medeleg, zero
  csrw mideleg, zero
  csrw satp, zero
  li t0, 7
  csrw mcounteren, t0
  csrw scounteren, t0
  .balign 4
3:
  /* menvcfg (1.12): start with every feature off (STCE: with Sstc on, mip.STIP would follow stimecmp). */
  la t0, 5f
  csrw mtvec, t0
  csrw CSR_MENVCFG, zero
  .balign 4
5:
  la t0, isa_m_trap_entry
  csrw mtvec, t0
  la t0, isa_has_h
  ld t0, 0(t0)
  beqz t0, 4f
  csrw hedeleg, zero
  csrw hideleg, zero
  csrw hvip, zero
  csrw hgatp, zero
  csrw vsatp, zero
  csrw hstatus, zero
  li t0, 7
  csrw hcounteren, t0
4:
  li t0, MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_MIE | MSTATUS_SIE
  csrc mstatus, t0
  li a0, 0
  li a1, 0
  li t0, 0
  li t1, 0
  li t2, 0
  j test_main

isa_park:
  wfi
  j isa_park

  .text
  .balign 4
  .globl isa_pass
isa_pass:
  fence
  li t0, 1
  la t1, tohost
  sd t0, 0(t1)
  /* Still running: this machine has no HTIF (QEMU `virt`); its `sifive,test` finisher ends the run. */
  fence
  li t0, SIFIVE_TEST_BASE
  li t1, FINISHER_PASS
  sw t1, 0(t0)
1:
  j 1b

  .globl isa_fail_report
isa_fail_report:
  /* gp holds the failing test number; gp = 0 means the failure came from start-up code. */
  fence
  andi gp, gp, 0xff
  bnez gp, 1f
  li gp, TEST_MAX
1:
  slli t0, gp, 1
  ori t0, t0, 1
  la t1, tohost
  sd t0, 0(t1)
  fence
  li t0, SIFIVE_TEST_BASE
  slli t1, gp, 16
  li t2, FINISHER_FAIL
  or t1, t1, t2
  sw t1, 0(t0)
2:
  j 2b

  /* M-mode trap handler: record, then follow t6 (see the header comment). Vectored-mode tests point their
     vectors here too: it does not depend on the vector slot it was reached from. */
  .balign 4
  .globl isa_m_trap_entry
isa_m_trap_entry:
  csrrw sp, mscratch, sp
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  la t0, m_trap
  csrr t1, mcause
  sd t1, TR_CAUSE(t0)
  csrr t1, mepc
  sd t1, TR_EPC(t0)
  csrr t1, mtval
  sd t1, TR_TVAL(t0)
  csrr t1, mstatus
  sd t1, TR_STATUS(t0)
  sd zero, TR_TVAL2(t0)
  sd zero, TR_TINST(t0)
  la t1, isa_has_h
  ld t1, 0(t1)
  beqz t1, 1f
  csrr t1, CSR_MTVAL2
  sd t1, TR_TVAL2(t0)
  csrr t1, CSR_MTINST
  sd t1, TR_TINST(t0)
1:
  ld t1, TR_COUNT(t0)
  addi t1, t1, 1
  sd t1, TR_COUNT(t0)
  beqz t6, isa_fail_report
  andi t1, t6, 1
  andi t2, t6, -2
  csrw mepc, t2
  li t6, 0
  beqz t1, 2f
  /* Return to M-mode with MIE staying clear and MPRV off (the checks that follow use physical addresses). */
  li t2, MSTATUS_MPP_M
  csrs mstatus, t2
  li t2, MSTATUS_MPIE | MSTATUS_MPRV
  csrc mstatus, t2
  la t1, isa_has_h
  ld t1, 0(t1)
  beqz t1, 2f
  li t2, MSTATUS_MPV
  csrc mstatus, t2
2:
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  csrrw sp, mscratch, sp
  mret

  /* S/HS-mode trap handler (install with `la t0, s_trap_entry; csrw stvec, t0` and sscratch = isa_s_save). */
  .balign 4
  .globl s_trap_entry
s_trap_entry:
  csrrw sp, sscratch, sp
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  la t0, s_trap
  csrr t1, scause
  sd t1, TR_CAUSE(t0)
  csrr t1, sepc
  sd t1, TR_EPC(t0)
  csrr t1, stval
  sd t1, TR_TVAL(t0)
  csrr t1, sstatus
  sd t1, TR_STATUS(t0)
  sd zero, TR_TVAL2(t0)
  sd zero, TR_TINST(t0)
  sd zero, TR_HSTATUS(t0)
  la t1, isa_has_h
  ld t1, 0(t1)
  beqz t1, 1f
  csrr t1, htval
  sd t1, TR_TVAL2(t0)
  csrr t1, htinst
  sd t1, TR_TINST(t0)
  csrr t1, hstatus
  sd t1, TR_HSTATUS(t0)
1:
  ld t1, TR_COUNT(t0)
  addi t1, t1, 1
  sd t1, TR_COUNT(t0)
  bnez t6, 2f
  /* Unexpected: restore and escalate to M with an ecall (t6 = 0), which reports the failure. */
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  csrrw sp, sscratch, sp
  ecall
2:
  andi t1, t6, 1
  andi t2, t6, -2
  csrw sepc, t2
  li t6, 0
  beqz t1, 3f
  li t2, MSTATUS_SPP
  csrs sstatus, t2
  li t2, MSTATUS_SPIE
  csrc sstatus, t2
  la t1, isa_has_h
  ld t1, 0(t1)
  beqz t1, 3f
  li t2, HSTATUS_SPV
  csrc hstatus, t2
3:
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  csrrw sp, sscratch, sp
  sret

  /* VS-mode trap handler (install with `csrw vstvec` and vsscratch = isa_vs_save, or from VS with stvec).
     Runs with V=1, so it touches only the VS CSRs (through their S names) and guest-physical memory. */
  .balign 4
  .globl vs_trap_entry
vs_trap_entry:
  csrrw sp, sscratch, sp
  sd t0, 0(sp)
  sd t1, 8(sp)
  sd t2, 16(sp)
  la t0, vs_trap
  csrr t1, scause
  sd t1, TR_CAUSE(t0)
  csrr t1, sepc
  sd t1, TR_EPC(t0)
  csrr t1, stval
  sd t1, TR_TVAL(t0)
  csrr t1, sstatus
  sd t1, TR_STATUS(t0)
  ld t1, TR_COUNT(t0)
  addi t1, t1, 1
  sd t1, TR_COUNT(t0)
  bnez t6, 2f
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  csrrw sp, sscratch, sp
  ecall
2:
  andi t1, t6, 1
  andi t2, t6, -2
  csrw sepc, t2
  li t6, 0
  beqz t1, 3f
  li t2, MSTATUS_SPP
  csrs sstatus, t2
  li t2, MSTATUS_SPIE
  csrc sstatus, t2
3:
  ld t0, 0(sp)
  ld t1, 8(sp)
  ld t2, 16(sp)
  csrrw sp, sscratch, sp
  sret

  /* pt_slot(a0 = root table PA, a1 = VA, a4 = level of the wanted entry (0 = 4 KiB leaf, 1 = 2 MiB, 2 = 1 GiB,
     3 = 512 GiB), a5 = number of levels (3 = Sv39, 4 = Sv48), a6 = extra root index bits (2 for the G-stage
     Sv39x4/Sv48x4 root, else 0)) -> a0 = address of the entry for VA at that level. Missing intermediate tables
     are taken from the pool (pt_pool_next) and zeroed. Clobbers t0-t3, a7. */
  .globl pt_slot
pt_slot:
  addi t0, a5, -1 /* t0 = current level */
1:
  /* index = (VA >> (12 + 9 * level)) & mask; the root level's mask has a6 extra bits */
  slli t1, t0, 3
  add t1, t1, t0
  addi t1, t1, PAGE_SHIFT
  srl t2, a1, t1
  li t3, 0x200
  addi t1, a5, -1
  bne t0, t1, 2f
  sll t3, t3, a6
2:
  addi t3, t3, -1
  and t2, t2, t3
  slli t2, t2, 3
  add t2, t2, a0 /* t2 = address of the entry at this level */
  beq t0, a4, 5f
  ld t3, 0(t2)
  andi t1, t3, PTE_V
  bnez t1, 4f
  /* allocate and zero a table */
  la a7, pt_pool_next
  ld t3, 0(a7)
  bnez t3, 6f
  la t3, pt_pool
6:
  li t1, PAGE_SIZE
  add t1, t3, t1
  sd t1, 0(a7)
  la a7, pt_pool_end
  bgtu t1, a7, isa_fail_report /* pool exhausted: a bug in the test */
  mv a7, t3
7:
  sd zero, 0(a7)
  addi a7, a7, 8
  bltu a7, t1, 7b
  srli t3, t3, PAGE_SHIFT
  slli t3, t3, PTE_PPN_SHIFT
  ori t3, t3, PTE_V
  sd t3, 0(t2)
4:
  /* descend: next table = PPN << 12 */
  srli t3, t3, PTE_PPN_SHIFT
  slli a0, t3, PAGE_SHIFT
  addi t0, t0, -1
  j 1b
5:
  mv a0, t2
  ret

  /* pt_map(a0 = root, a1 = VA, a2 = PA, a3 = PTE flags, a4 = leaf level, a5 = levels, a6 = extra root bits):
     writes the leaf PTE ((PA >> 12) << 10 | flags). Clobbers a0, t0-t3, a7. */
  .globl pt_map
pt_map:
  addi sp, sp, -16
  sd ra, 0(sp)
  call pt_slot
  srli t0, a2, PAGE_SHIFT
  slli t0, t0, PTE_PPN_SHIFT
  or t0, t0, a3
  sd t0, 0(a0)
  ld ra, 0(sp)
  addi sp, sp, 16
  ret
.endm

#define ISA_FRAMEWORK_DATA isa_framework_data

.macro isa_framework_data
  .section .tohost, "aw", @progbits
  .balign 64
  .globl tohost
  .type tohost, @object
  .size tohost, 8
tohost:
  .dword 0
  .balign 64
  .globl fromhost
  .type fromhost, @object
  .size fromhost, 8
fromhost:
  .dword 0

  .data
  .balign 64
  .globl m_trap
m_trap:
  .fill TR_SIZE / 8, 8, 0
  .globl s_trap
s_trap:
  .fill TR_SIZE / 8, 8, 0
  .globl vs_trap
vs_trap:
  .fill TR_SIZE / 8, 8, 0
isa_has_h:
  .dword 0
  .globl pt_pool_next
pt_pool_next:
  .dword 0

  .bss
  .balign 64
isa_m_save:
  .fill 8, 8, 0
  .globl isa_s_save
isa_s_save:
  .fill 8, 8, 0
  .globl isa_vs_save
isa_vs_save:
  .fill 8, 8, 0
  .balign 16
isa_m_stack:
  .fill 512, 8, 0
  .globl isa_m_stack_top
isa_m_stack_top:
  .balign PAGE_SIZE
  .globl pt_pool
pt_pool:
  .fill 24 * PAGE_SIZE / 8, 8, 0
  .globl pt_pool_end
pt_pool_end:
.endm

#endif /* __ASSEMBLER__ */
#endif /* AXVISOR_ISA_TEST_H */

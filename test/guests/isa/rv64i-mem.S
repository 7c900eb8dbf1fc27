/*
 * RV64I loads and stores: LB/LBU/LH/LHU/LW/LWU/LD with sign and zero extension, SB/SH/SW/SD writing only their
 * bytes, positive and negative 12-bit offsets, little-endian byte order, a load into x0, and FENCE.
 * Only naturally aligned accesses: misaligned behaviour is implementation-defined (it may be handled or trap).
 * Unprivileged spec 2.6 "Load and Store Instructions" and 5.3 (RV64I).
 */
#include "isa-test.h"

  .option norvc

/* load `op` from data + off must give expected. */
.macro TEST_LD n, op, expected, off
  TEST \n
  la a1, data
  \op a0, \off(a1)
  CHECK a0, \expected
.endm

TEST_CODE_BEGIN

  /* data = 00 80 7f ff 01 02 03 84 | f0 de bc 9a 78 56 34 12 (bytes at increasing addresses) */
  TEST_LD 1, lb, 0x0000000000000000, 0
  TEST_LD 2, lb, 0xffffffffffffff80, 1
  TEST_LD 3, lb, 0x000000000000007f, 2
  TEST_LD 4, lb, 0xffffffffffffffff, 3
  TEST_LD 5, lbu, 0x0000000000000080, 1
  TEST_LD 6, lbu, 0x00000000000000ff, 3
  TEST_LD 7, lh, 0xffffffffffff8000, 0
  TEST_LD 8, lh, 0xffffffffffffff7f, 2
  TEST_LD 9, lh, 0x0000000000000201, 4
  TEST_LD 10, lh, 0xffffffffffff8403, 6
  TEST_LD 11, lhu, 0x0000000000008000, 0
  TEST_LD 12, lhu, 0x000000000000ff7f, 2
  TEST_LD 13, lw, 0xffffffffff7f8000, 0
  TEST_LD 14, lw, 0xffffffff84030201, 4
  TEST_LD 15, lw, 0xffffffff9abcdef0, 8
  TEST_LD 16, lw, 0x0000000012345678, 12
  TEST_LD 17, lwu, 0x00000000ff7f8000, 0
  TEST_LD 18, lwu, 0x0000000084030201, 4
  TEST_LD 19, ld, 0x84030201ff7f8000, 0
  TEST_LD 20, ld, 0x123456789abcdef0, 8

  /* negative offsets */
  TEST 21
  la a1, data + 16
  ld a0, -8(a1)
  CHECK a0, 0x123456789abcdef0
  lb a0, -15(a1)
  CHECK a0, 0xffffffffffffff80
  TEST 22                     /* the largest offsets: -2048 and +2047 */
  la a1, far_data + 2048
  lbu a0, -2048(a1)
  CHECK a0, 0xa5
  la a1, far_data - 2047 + 4095
  lbu a0, 2047(a1)
  CHECK a0, 0x5a

  /* stores write exactly their bytes */
  TEST 23
  la a1, scratch
  li a0, -1
  sd a0, 0(a1)
  sd a0, 8(a1)
  li a2, 0x1122334455667788
  sb a2, 0(a1)
  ld a0, 0(a1)
  CHECK a0, 0xffffffffffffff88
  TEST 24
  sh a2, 2(a1)
  ld a0, 0(a1)
  CHECK a0, 0xffffffff7788ff88
  TEST 25
  sw a2, 4(a1)
  ld a0, 0(a1)
  CHECK a0, 0x556677887788ff88
  TEST 26
  sd a2, 8(a1)
  ld a0, 8(a1)
  CHECK a0, 0x1122334455667788
  lbu a0, 15(a1)              /* little-endian: the most significant byte at the highest address */
  CHECK a0, 0x11
  TEST 27
  sb zero, 9(a1)
  sh zero, 12(a1)
  ld a0, 8(a1)
  CHECK a0, 0x1122000055660088
  TEST 28                     /* negative store offsets */
  addi a3, a1, 16
  li a0, 0x0102030405060708
  sd a0, -16(a3)
  sw zero, -12(a3)
  ld a0, 0(a1)
  CHECK a0, 0x0000000005060708

  /* a load into x0 still happens but x0 stays zero */
  TEST 29
  la a1, data
  ld x0, 8(a1)
  CHECK x0, 0

  /* load after store to the same address through a different width */
  TEST 30
  la a1, scratch
  li a0, 0x8000000080000080
  sd a0, 0(a1)
  lw a2, 0(a1)
  CHECK a2, 0xffffffff80000080
  lw a2, 4(a1)
  CHECK a2, 0xffffffff80000000
  lhu a2, 6(a1)
  CHECK a2, 0x8000
  lb a2, 0(a1)
  CHECK a2, 0xffffffffffffff80

  /* FENCE and FENCE.TSO order memory; on one hart they change nothing visible */
  TEST 31
  sd zero, 0(a1)
  fence rw, rw
  fence.tso
  fence iorw, iorw
  ld a0, 0(a1)
  CHECK a0, 0

  TEST_PASS
TEST_CODE_END

TEST_DATA_BEGIN
  .balign 16
data:
  .byte 0x00, 0x80, 0x7f, 0xff, 0x01, 0x02, 0x03, 0x84
  .byte 0xf0, 0xde, 0xbc, 0x9a, 0x78, 0x56, 0x34, 0x12
  .balign 16
scratch:
  .fill 4, 8, 0
  .balign 16
far_data:
  .byte 0xa5
  .fill 4094, 1, 0
  .byte 0x5a
TEST_DATA_END

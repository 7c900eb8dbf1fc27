import { expect, test } from "bun:test";
import * as HB from "../../src/hal/emulated/hart-block.ts";
import { RETURN_REASONS } from "../../src/hal/emulated/wasm/tier.ts";

test("the registers are little-endian int64 at HB_X, and registerWords' words are their halves", () => {
  const buffer = new ArrayBuffer(HB.HART_BLOCK_BYTES);
  const { lo, hi } = HB.registerWords(buffer, HB.HB_X);
  const x = new BigInt64Array(buffer, HB.HB_X, 32);
  const value = (r: number): bigint => BigInt.asIntN(64, (BigInt(r) << 56n) | (0x1234_5678n << 24n) | BigInt(r));
  for (let r = 0; r < 32; r++) {
    lo[2 * r] = Number(BigInt.asIntN(32, value(r)));
    hi[2 * r] = Number(BigInt.asIntN(32, value(r) >> 32n));
  }
  for (let r = 0; r < 32; r++) expect(x[r]).toBe(value(r));
  x[7] = -2n;
  expect([lo[14], hi[14]]).toEqual([-2, -1]);
  expect([lo[12], hi[12], lo[16], hi[16]]).toEqual([
    Number(BigInt.asIntN(32, value(6))),
    Number(BigInt.asIntN(32, value(6) >> 32n)),
    Number(BigInt.asIntN(32, value(8))),
    Number(BigInt.asIntN(32, value(8) >> 32n)),
  ]);
});

test("the block's fields do not overlap and fit in HART_BLOCK_BYTES", () => {
  const fields: [string, number, number][] = [
    ["HB_NEXT_PC", HB.HB_NEXT_PC, 8],
    ["HB_LOAD_VALUE", HB.HB_LOAD_VALUE, 8],
    ["HB_VBASE", HB.HB_VBASE, 8],
    ["HB_REGION", HB.HB_REGION, 4],
    ["HB_CHAIN_STOP", HB.HB_CHAIN_STOP, 4],
    ["HB_ITLB", HB.HB_ITLB, 4],
    ["HB_CHAINS", HB.HB_CHAINS, 4],
    ["HB_RETURN_REASON", HB.HB_RETURN_REASON, 4],
    ["HB_MSTATUS", HB.HB_MSTATUS, 4],
    ["HB_VSSTATUS", HB.HB_VSSTATUS, 4],
    ["HB_SSTATUS_DIRECT", HB.HB_SSTATUS_DIRECT, 4],
    ["HB_X", HB.HB_X, 32 * 8],
    ["HB_INTERP_REGION_CALLS", HB.HB_INTERP_REGION_CALLS, 4],
    ["HB_INTERP_REGION_INSNS", HB.HB_INTERP_REGION_INSNS, 4],
    ["HB_MISS_LIMIT", HB.HB_MISS_LIMIT, 4],
    ["HB_VOLUME_LIMIT", HB.HB_VOLUME_LIMIT, 8],
    ["HB_INTERP_RETURNS", HB.HB_INTERP_RETURNS, 4 * RETURN_REASONS],
    ["HB_DECODES", HB.HB_DECODES, 4],
    ["HB_RESERVATION_VALID", HB.HB_RESERVATION_VALID, 4],
    ["HB_RESERVATION_ADDR", HB.HB_RESERVATION_ADDR, 8],
  ];
  fields.sort((a, b) => a[1] - b[1]);
  for (let k = 0; k < fields.length; k++) {
    const [name, offset, size] = fields[k] ?? ["", 0, 0];
    expect(offset % Math.min(size, 8)).toBe(0); // aligned for its accesses
    const next = fields[k + 1];
    const end = next === undefined ? HB.HART_BLOCK_BYTES : next[1];
    if (offset + size > end) throw new Error(`${name} (${offset}+${size}) runs into ${next?.[0] ?? "the block's end"}`);
  }
});

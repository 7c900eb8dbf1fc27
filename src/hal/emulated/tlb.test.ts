import { describe, expect, test } from "bun:test";
import { TAG_EMPTY, TLB_MASK, TLB_SIZE, TlbSet } from "./tlb.ts";

const VIEW = new DataView(new ArrayBuffer(4096));
const MIB2 = 2 ** 21;

/** Whether the read or write entry for `va` is present. */
function has(set: TlbSet, kind: "r" | "w", va: number): boolean {
  const i = (va >>> 12) & TLB_MASK;
  const lo = kind === "r" ? set.rlo : set.wlo;
  const hi = kind === "r" ? set.rhi : set.whi;
  return lo[i] === (va | 0) && hi[i] === (Math.floor(va / 2 ** 32) | 0);
}

describe("TlbSet", () => {
  test("a fill makes the entry hit at its own address words only", () => {
    const set = new TlbSet();
    set.fillRead(0x20_0000_1000, 0, VIEW, 0, 0x8000_1000, 4096);
    expect(has(set, "r", 0x20_0000_1000)).toBe(true);
    expect(has(set, "r", 0x1000)).toBe(false); // same low word, other high word
    set.flushRead();
    expect(set.rlo.every((t) => t === TAG_EMPTY)).toBe(true);
  });

  test("dropWritablePage drops exactly the write entries of that physical page, also after the index is rebuilt", () => {
    const set = new TlbSet();
    for (let k = 0; k < TLB_SIZE; k++) set.fillWrite(k * 4096, 0, VIEW, 0, 0x9000_0000 + (k % 7) * 4096, 4096);
    // Refill one slot more often than the index keeps entries before rebuilding itself (4 x TLB_SIZE): the
    // entries filled before the rebuild must still be found afterwards.
    for (let k = 0; k < 4 * TLB_SIZE; k++) set.fillWrite(0, 0, VIEW, 0, 0x9000_0000, 4096);
    const present = (page: number): number => {
      let n = 0;
      for (let i = 0; i < TLB_SIZE; i++) if (set.wlo[i] !== TAG_EMPTY && set.wpage[i] === page) n++;
      return n;
    };
    expect(present(0x9000_3000)).toBeGreaterThan(0);
    const others = present(0x9000_4000);
    set.dropWritablePage(0x9000_3000);
    expect(present(0x9000_3000)).toBe(0);
    expect(present(0x9000_4000)).toBe(others);
  });

  test("an addressed flush drops every 4 KiB piece of the superpages containing the address, and nothing else", () => {
    const set = new TlbSet();
    // Pieces of two 2 MiB superpages (at 4 MiB and 6 MiB), then one piece refilled until the index rebuilds.
    for (let k = 0; k < 512; k++) {
      set.fillRead(2 * MIB2 + k * 4096, 0, VIEW, 0, 0, MIB2);
      set.fillWrite(3 * MIB2 + k * 4096, 0, VIEW, 0, 0x8000_0000 + k * 4096, MIB2);
    }
    for (let k = 0; k < 4 * TLB_SIZE; k++) set.fillRead(2 * MIB2, 0, VIEW, 0, 0, MIB2);
    expect(has(set, "r", 2 * MIB2 + 0x5000)).toBe(true);
    set.flushVa(2 * MIB2 + 0x12_3456); // inside the first superpage
    for (let k = 0; k < 512; k++) expect(has(set, "r", 2 * MIB2 + k * 4096)).toBe(false);
    expect(has(set, "w", 3 * MIB2 + 0x5000)).toBe(true);
    set.flushVa(3 * MIB2 + 8);
    expect(has(set, "w", 3 * MIB2 + 0x5000)).toBe(false);
  });
});

/**
 * The WebAssembly interpreter's decoder (src/hal/emulated/wasm/decode-emit.ts) against the TypeScript decoder:
 * every compressed parcel, and 32-bit words of every major opcode with each funct3 and the funct7 values the ISA
 * uses (plus random ones). A slot it decodes must be exactly the one `packSlot`/`slotImmediate` make of `decode`'s
 * result; and it must leave exactly these to TypeScript: illegal encodings, the operations whose slots keep their
 * `Insn` (OP_FENCE..OP_FP) and the bit-manipulation extensions.
 */
import { describe, expect, test } from "bun:test";
import { packSlot, SLOT_DECODED, slotImmediate } from "../../src/hal/emulated/block.ts";
import * as D from "../../src/hal/emulated/decode.ts";
import { HB_DECODES } from "../../src/hal/emulated/hart-block.ts";
import {
  CODE_PAGE_COUNT,
  CODE_PAGE_HOST,
  CODE_PAGE_MARKED,
  CODE_PAGE_SLOTS,
} from "../../src/hal/emulated/phys-memory.ts";
import { defineDecoder } from "../../src/hal/emulated/wasm/decode-emit.ts";
import { ModuleBuilder } from "../../src/hal/emulated/wasm/emit.ts";

const HB = 1024;
const CODE = 65536;
const HOST = 3 * 65536;

function makeDecoder(): {
  memory: WebAssembly.Memory;
  decodeSlot: (hb: number, code: number, off: number) => number;
} {
  const m = new ModuleBuilder();
  m.importMemory("t", "memory", 4, 4, false);
  m.exportFunction("decodeSlot", defineDecoder(m));
  const memory = new WebAssembly.Memory({ initial: 4, maximum: 4 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(m.encode()), { t: { memory } });
  const decodeSlot = instance.exports.decodeSlot as (hb: number, code: number, off: number) => number;
  const words = new Int32Array(memory.buffer);
  words[(CODE + CODE_PAGE_MARKED) / 4] = 1;
  words[(CODE + CODE_PAGE_HOST) / 4] = HOST;
  return { memory, decodeSlot };
}

/** What the decoder must leave to TypeScript. */
function leftToTypeScript(op: number): boolean {
  return op === D.OP_ILLEGAL || (op >= D.OP_FENCE && op <= D.OP_FP) || D.isBitmanip(op);
}

/** Decode `bits` (a parcel, or a 32-bit word) at page offset `off`; the slot word and immediate stored, or 0. */
function decodeHere(
  d: ReturnType<typeof makeDecoder>,
  bits: number,
  off = 0,
): { word: number; stored: number; imm: number } {
  const view = new DataView(d.memory.buffer);
  const slots = new Int32Array(d.memory.buffer, CODE + CODE_PAGE_SLOTS, 4096 + 2);
  view.setUint32(HOST + off, bits >>> 0, true);
  slots[off] = 0;
  slots[off + 1] = 0;
  const word = d.decodeSlot(HB, CODE, off);
  return { word, stored: slots[off] ?? 0, imm: slots[off + 1] ?? 0 };
}

function check(d: ReturnType<typeof makeDecoder>, bits: number, insn: D.Insn): void {
  const got = decodeHere(d, bits);
  if (leftToTypeScript(insn.op)) {
    if (got.word !== 0) throw new Error(`0x${(bits >>> 0).toString(16)}: decoded, but is TypeScript's (op ${insn.op})`);
    return;
  }
  const want = packSlot(insn);
  const wantImm = slotImmediate(insn);
  if (got.word !== want || got.stored !== want || got.imm !== wantImm) {
    const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
    throw new Error(
      `${hex(bits)} (op ${insn.op}): word ${hex(got.word)} stored ${hex(got.stored)} imm ${got.imm}, ` +
        `expected ${hex(want)} imm ${wantImm}`,
    );
  }
}

describe("emulated: the WebAssembly interpreter's decoder", () => {
  test("every compressed parcel decodes as decode16 does, or is left to TypeScript", () => {
    const d = makeDecoder();
    let decoded = 0;
    for (let p = 0; p < 0x10000; p++) {
      if ((p & 3) === 3) continue;
      const insn = D.decode16(p);
      check(d, p, insn);
      if (!leftToTypeScript(insn.op)) decoded++;
    }
    // (`check` already requires every parcel not left to TypeScript to be decoded here; most of the RVC space is.)
    expect(decoded).toBeGreaterThan(38_000);
  });

  test("32-bit words of every opcode, funct3 and the ISA's funct7 values decode as decode32 does", () => {
    const d = makeDecoder();
    let seed = 0x1234_5678;
    const random = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) | 0;
      return (seed ^ (seed >>> 15)) >>> 0;
    };
    const funct7s = [0, 1, 0x04, 0x05, 0x10, 0x14, 0x20, 0x24, 0x30, 0x34, 0x12, 0x1a, 0x0a, 0x18, 0x7f];
    let decoded = 0;
    for (let major = 0; major < 32; major++) {
      for (let funct3 = 0; funct3 < 8; funct3++) {
        for (let k = 0; k < 200; k++) {
          let bits = (random() & ~0x707f) | (funct3 << 12) | (major << 2) | 3;
          if (k < funct7s.length * 4) bits = (bits & 0x01ff_ffff) | ((funct7s[k % funct7s.length] ?? 0) << 25);
          // The fixed 12-bit fields of the count and sign-extend instructions, and shifts with shamt[5] set.
          if (k === 190) bits = (bits & 0x000f_ffff) | (0x600 << 20);
          if (k === 191) bits = (bits & 0x000f_ffff) | (0x605 << 20);
          if (k === 192) bits = (bits & 0x03ff_ffff) | (1 << 25);
          if (k === 193) bits = (bits & 0x03ff_ffff) | (0x11 << 25);
          const insn = D.decode32(bits >>> 0);
          check(d, bits, insn);
          if (!leftToTypeScript(insn.op)) decoded++;
        }
      }
    }
    expect(decoded).toBeGreaterThan(9_000);
  });

  test("it leaves a straddling word, a page not marked as code and a page outside the arena to TypeScript", () => {
    const d = makeDecoder();
    const addi = 0x0010_0093; // addi x1, x0, 1
    expect(decodeHere(d, addi, 4092).word).not.toBe(0);
    const view = new DataView(d.memory.buffer);
    view.setUint16(HOST + 4094, addi & 0xffff, true);
    expect(d.decodeSlot(HB, CODE, 4094)).toBe(0);
    const words = new Int32Array(d.memory.buffer);
    words[(CODE + CODE_PAGE_MARKED) / 4] = 0;
    expect(decodeHere(d, addi).word).toBe(0);
    words[(CODE + CODE_PAGE_MARKED) / 4] = 1;
    words[(CODE + CODE_PAGE_HOST) / 4] = 0;
    expect(decodeHere(d, addi).word).toBe(0);
  });

  test("each slot it decodes is counted in the hart's block and the page", () => {
    const d = makeDecoder();
    const words = new Int32Array(d.memory.buffer);
    words[(HB + HB_DECODES) / 4] = 0;
    words[(CODE + CODE_PAGE_COUNT) / 4] = 0;
    expect(decodeHere(d, 0x0010_0093, 0).word & SLOT_DECODED).toBe(SLOT_DECODED);
    expect(decodeHere(d, 0x4505, 8).word & SLOT_DECODED).toBe(SLOT_DECODED); // c.li a0, 1
    expect(decodeHere(d, 0x0000_000f, 16).word).toBe(0); // fence: TypeScript's
    expect(words[(HB + HB_DECODES) / 4]).toBe(2);
    expect(words[(CODE + CODE_PAGE_COUNT) / 4]).toBe(2);
  });
});

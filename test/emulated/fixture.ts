/**
 * A hart on its own (no VM): RAM at 0x8000_0000, a settable clock, helpers to place code and page tables and to
 * run a number of instructions with either engine.
 */
import { DEFAULT_ENGINE_OPTIONS, runFast, runReference } from "../../src/hal/emulated/engine.ts";
import { Hart, STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { MemBlock, PhysicalMemory } from "../../src/hal/emulated/phys-memory.ts";
import { PRV_M, PRV_S, PRV_U } from "../../src/hal/emulated/constants.ts";

export const RAM_BASE = 0x8000_0000;

export interface HartFixture {
  readonly hart: Hart;
  readonly memory: PhysicalMemory;
  readonly ram: MemBlock;
  readonly view: DataView;
  /** The clock the hart reads (ticks). */
  time: number;
  /** Copy bytes (or 32-bit words) to a physical address and drop decoded code there. */
  write(pa: number, data: Uint8Array | readonly number[]): void;
  read64(pa: number): bigint;
  write64(pa: number, value: bigint): void;
  /** Run up to `steps` steps; returns the steps used. */
  run(steps: number, engine?: "fast" | "reference" | "jit"): number;
  /** Register value as an unsigned bigint. */
  x(reg: number): bigint;
  setX(reg: number, value: bigint | number): void;
  /** Put the hart in `mode` at `pc` (M, HS, U, VS, VU). */
  enter(mode: Mode, pc: number): void;
}

export type Mode = "M" | "HS" | "U" | "VS" | "VU";

export function makeHart(options: { ramSize?: number; mmioExits?: boolean; hostTraps?: boolean } = {}): HartFixture {
  const memory = new PhysicalMemory();
  const ram = new MemBlock(new Uint8Array(options.ramSize ?? 4 << 20));
  memory.map(RAM_BASE, ram);
  const clock = { time: 0 };
  const hart = new Hart({
    hartId: 0,
    memory,
    now: () => clock.time,
    mmioExits: options.mmioExits ?? true,
    hostTraps: options.hostTraps ?? false,
  });
  hart.reset(RAM_BASE);
  const fixture: HartFixture = {
    hart,
    memory,
    ram,
    view: ram.view,
    get time() {
      return clock.time;
    },
    set time(t: number) {
      clock.time = t;
    },
    write(pa, data) {
      const bytes = data instanceof Uint8Array ? data : wordsToBytes(data);
      ram.bytes.set(bytes, pa - RAM_BASE);
      memory.externalWrite(ram, pa - RAM_BASE, bytes.length);
    },
    read64(pa) {
      return ram.view.getBigUint64(pa - RAM_BASE, true);
    },
    write64(pa, value) {
      ram.view.setBigUint64(pa - RAM_BASE, BigInt.asUintN(64, value), true);
      memory.externalWrite(ram, pa - RAM_BASE, 8);
    },
    run(steps, engine = "reference") {
      const h = fixture.hart;
      h.stop = STOP_NONE;
      if (engine === "reference") return runReference(h, steps);
      if (engine === "jit") return runFast(h, steps, { jit: true, hotThreshold: 1, hotLoopThreshold: 1, minHeatRate: 0 });
      return runFast(h, steps, { ...DEFAULT_ENGINE_OPTIONS, jit: false });
    },
    x(reg) {
      return fixture.hart.getReg(reg);
    },
    setX(reg, value) {
      fixture.hart.setReg(reg, BigInt(value));
    },
    enter(mode, pc) {
      const h = fixture.hart;
      h.priv = mode === "M" ? PRV_M : mode === "HS" || mode === "VS" ? PRV_S : PRV_U;
      h.virt = mode === "VS" || mode === "VU";
      h.pc = pc;
      h.updateContext();
      h.irqDirty = true;
    },
  };
  return fixture;
}

export function wordsToBytes(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 4);
  const view = new DataView(out.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w >>> 0, true));
  return out;
}

/** PTE for a physical address with flags (V R W X U G A D in bits 0..7). */
export function pte(pa: number, flags: number): bigint {
  return ((BigInt(pa) >> 12n) << 10n) | BigInt(flags);
}

export const V = 1, R = 2, W = 4, X = 8, U = 16, G = 32, A = 64, D = 128;

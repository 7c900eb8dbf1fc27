/**
 * A hart on its own (no VM): RAM at 0x8000_0000, a settable clock, helpers to place code and page tables and to
 * run a number of instructions with either engine.
 */

import {
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  PMP_A_NAPOT,
  PMP_A_SHIFT,
  PMP_R,
  PMP_W,
  PMP_X,
} from "../../src/arch/riscv64/csr.ts";
import { PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X } from "../../src/arch/riscv64/paging.ts";
import { PRV_M, PRV_S, PRV_U } from "../../src/arch/riscv64/traps.ts";
import { Arena } from "../../src/hal/emulated/arena.ts";
import { csrWrite } from "../../src/hal/emulated/csr-file.ts";
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions, runFast, runReference } from "../../src/hal/emulated/engine.ts";
import { Hart, STOP_NONE } from "../../src/hal/emulated/hart.ts";
import { MemBlock, PhysicalMemory } from "../../src/hal/emulated/phys-memory.ts";
import type { CompileService } from "../../src/hal/emulated/wasm/compile-service.ts";
import type { CompileReply } from "../../src/hal/emulated/wasm/compile-thread.ts";
import * as Asm from "./asm.ts";

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
  /**
   * Run up to `steps` steps; returns the steps used. "fast" is the TypeScript fast interpreter alone, "winterp"
   * the WebAssembly one alone; "jit" compiles hot blocks to JavaScript, "wasm" pages to WebAssembly, both from
   * the first landing ("winterp" and "wasm": the fixture must have been made with `arena: true`).
   */
  run(steps: number, engine?: Engine): number;
  /** Register value as an unsigned bigint. */
  x(reg: number): bigint;
  setX(reg: number, value: bigint | number): void;
  /** Put the hart in `mode` at `pc` (M, HS, U, VS, VU). */
  enter(mode: Mode, pc: number): void;
}

export type Mode = "M" | "HS" | "U" | "VS" | "VU";
export type Engine = "fast" | "winterp" | "reference" | "jit" | "wasm";

/** Engine options that compile everything at once (the JavaScript or the WebAssembly tier). */
export const COMPILE_AT_ONCE: EngineOptions = {
  jit: true,
  wasm: false,
  hotThreshold: 1,
  hotLoopThreshold: 1,
  minHeatRate: 0,
  wasmThreshold: 1,
  wasmSync: true,
};

export function makeHart(
  options: {
    ramSize?: number;
    mmioExits?: boolean;
    hostTraps?: boolean;
    /**
     * "open" (default): PMP entry 0 opens all of physical memory to S and U, as M-mode firmware leaves it (without
     * any entry, every S/U access fails). "reset": PMP as at reset, for tests of PMP itself.
     */
    pmp?: "open" | "reset";
    /** Put RAM in a WebAssembly arena (as VMs do), so the WebAssembly tier can run. */
    arena?: boolean;
  } = {},
): HartFixture {
  const arena = options.arena === true ? Arena.create() : undefined;
  if (options.arena === true && arena === undefined) throw new Error("this host cannot make a WebAssembly arena");
  const memory = new PhysicalMemory(arena);
  const ramSize = options.ramSize ?? 4 << 20;
  const ramOffset = arena?.allocate(ramSize, 4096) ?? -1;
  const ram =
    arena !== undefined && ramOffset >= 0
      ? new MemBlock(arena.bytes(ramOffset, ramSize), ramOffset)
      : new MemBlock(new Uint8Array(ramSize));
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
  if ((options.pmp ?? "open") === "open") {
    csrWrite(hart, CSR_PMPADDR0, -1, -1);
    csrWrite(hart, CSR_PMPCFG0, (PMP_A_NAPOT << PMP_A_SHIFT) | PMP_R | PMP_W | PMP_X, 0);
  }
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
      if (engine === "jit") return runFast(h, steps, COMPILE_AT_ONCE);
      if (engine === "wasm") return runFast(h, steps, { ...COMPILE_AT_ONCE, wasm: true });
      if (engine === "winterp") {
        if (h.blockBase < 0) throw new Error('the "winterp" engine needs a fixture made with arena: true');
        return runFast(h, steps, { ...DEFAULT_ENGINE_OPTIONS, jit: false });
      }
      return runFast(h, steps, { ...DEFAULT_ENGINE_OPTIONS, jit: false, wasmInterpreter: false });
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

export const V = PTE_V,
  R = PTE_R,
  W = PTE_W,
  X = PTE_X,
  U = PTE_U,
  G = PTE_G,
  A = PTE_A,
  D = PTE_D;

/** Page-table builder over the fixture's RAM (tables from a bump allocator at RAM + 2 MiB). */
export class Tables {
  next = RAM_BASE + 0x20_0000;
  constructor(readonly f: HartFixture) {}

  alloc(size = 4096): number {
    const at = Math.ceil(this.next / size) * size;
    this.next = at + size;
    return at;
  }

  /**
   * Map `va` → `pa` with a leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB) in the table rooted at `root` with
   * `levels` levels; `rootEntries` is 512 (Sv39/48) or 2048 (x4 G-stage roots).
   */
  map(root: number, levels: number, va: bigint, pa: number, level: number, flags: number, rootEntries = 512): void {
    let table = root;
    for (let l = levels - 1; l > level; l--) {
      const index = Number((va >> BigInt(12 + 9 * l)) & BigInt(l === levels - 1 ? rootEntries - 1 : 511));
      const entry = table + index * 8;
      let next = this.f.read64(entry);
      if ((next & 1n) === 0n) {
        const t = this.alloc();
        next = pte(t, V);
        this.f.write64(entry, next);
      }
      table = Number((next >> 10n) << 12n);
    }
    const index = Number((va >> BigInt(12 + 9 * level)) & BigInt(level === levels - 1 ? rootEntries - 1 : 511));
    this.f.write64(table + index * 8, pte(pa, flags | V));
  }
}

export function satp(mode: number, root: number, asid = 0): [number, number] {
  const ppn = root / 4096;
  return [ppn | 0, (mode << 28) | (asid << 12) | Math.floor(ppn / 2 ** 32)];
}

export function setSatp(f: HartFixture, mode: number, root: number): void {
  [f.hart.satpLo, f.hart.satpHi] = satp(mode, root);
  f.hart.flushAllTlbs();
}

/**
 * a0 = n + (n-1) + ... + 1 by a loop, then a jump-to-self at `done`; with `prefixLoads`, that many loads (into
 * t1, from the code itself) run once before the loop.
 */
export function sumLoop(n: number, prefixLoads = 0): Uint8Array {
  const p = new Asm.Program(RAM_BASE);
  p.emit(Asm.auipc(Asm.t2, 0));
  for (let k = 0; k < prefixLoads; k++) p.emit(Asm.ld(Asm.t1, Asm.t2, (k * 8) & 0x7f8));
  p.emit(Asm.li(Asm.a0, 0), Asm.li(Asm.a1, n));
  p.label("loop");
  p.emit(Asm.add(Asm.a0, Asm.a0, Asm.a1), Asm.addi(Asm.a1, Asm.a1, -1));
  p.ref("loop", (off) => Asm.bne(Asm.a1, Asm.zero, off));
  p.label("done");
  p.ref("done", (off) => Asm.jal(Asm.zero, off));
  return p.assemble();
}

/**
 * Ask `service` to compile a page holding `sumLoop(10)` from its start, and wait (up to 20 s) for the reply, turning
 * the event loop and delivering replies meanwhile. Returns the reply, or undefined if none came.
 */
export async function compileSumLoopPage(service: CompileService): Promise<CompileReply | undefined> {
  const page = new Uint8Array(4096);
  page.set(sumLoop(10));
  let reply: CompileReply | undefined;
  service.request({ page, entries: [0], mapBase: 0x10000, threaded: false, optimizable: false }, (r) => {
    reply = r;
  });
  const deadline = Date.now() + 20_000;
  while (reply === undefined && Date.now() < deadline) {
    await Bun.sleep(1);
    service.deliver();
  }
  return reply;
}

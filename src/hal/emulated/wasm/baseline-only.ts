/**
 * Keeping a region's module in JavaScriptCore's baseline WebAssembly tier (BBQ).
 *
 * JavaScriptCore compiles a WebAssembly function with its single-pass BBQ compiler first and recompiles it with
 * its optimizing compiler (OMG, B3) on a helper thread once the function has run enough (entries and loop
 * back-edges counted). A region is one function of ~20 KiB with a block-dispatch loop, so every region that runs
 * a while is recompiled, at ~2.7 ms of helper-thread CPU per KiB: booting Debian's 6.12 kernel spent 5.9 s of
 * helper-thread CPU on it against 8.9 s on the hart's thread, with no gain on the hart's thread (JavaScriptCore
 * run with OMG switched off: 4.2 ns per instruction on the hart's thread, 4.35 with it; helper thread 0.4 s), and
 * on a 2-core machine that CPU is taken from the harts. JavaScriptCore never OMG-compiles a function body larger
 * than `maximumOMGCandidateCost` (100,000 bytes since WebKit b34d02f4bcef), so `baselineOnly` pads every function
 * body of a module past that size with a block it branches out of at once: nothing added ever executes, and BBQ
 * skips unreachable code while compiling. The cost is the padding's bytes, kept by the module while it lives.
 *
 * Encoding reference: the WebAssembly core specification, binary format (modules 5.5, code section 5.5.13).
 */

/** Function bodies at least this long are never OMG-compiled (JavaScriptCore's maximumOMGCandidateCost + 1). */
export const BASELINE_ONLY_BODY_BYTES = 100_001;

/**
 * Modules of at most this many bytes are left to JavaScriptCore's optimizing tier from their first compile (not
 * padded). Their OMG compile is cheap (~2.7 ms of helper-thread CPU per KiB) and JavaScriptCore only starts it for
 * a function that has run a lot; the padding, parsed on every compile, is most of their compile time (a 1 KiB
 * region, warm: 0.95 ms with it, 0.29 ms without), and a small region that runs long is a tight loop, which OMG
 * runs faster (int-loop's main(), 18 rounds each in alternating processes: median 39.8 against 42.3 ms, its region
 * no longer run baseline-only until promoted and compiled again). Debian's 6.12 boot to init compiles 3 regions
 * this small of its 138.
 */
export const OPTIMIZABLE_MAX_BYTES = 2048;

/**
 * The module to compile for `generated`: as it is when it may be OMG-compiled (`optimizable`, or at most
 * OPTIMIZABLE_MAX_BYTES), else padded (`baselineOnly`); and whether it may be.
 */
export function moduleForTier(
  generated: Uint8Array<ArrayBuffer>,
  optimizable: boolean,
): { readonly bytes: Uint8Array<ArrayBuffer>; readonly optimizable: boolean } {
  if (optimizable || generated.length <= OPTIMIZABLE_MAX_BYTES) return { bytes: generated, optimizable: true };
  return { bytes: baselineOnly(generated), optimizable: false };
}

const CODE_SECTION = 10;
const BLOCK = 0x02;
const EMPTY_BLOCK_TYPE = 0x40;
const BR = 0x0c;
const NOP = 0x01;
const F64_CONST = 0x44;
const DROP = 0x1a;
const END = 0x0b;
/** `block; br 0;` before the filler and `end` after it. */
const PADDING_FRAME_BYTES = 5;
/** `f64.const 0; drop`: JavaScriptCore parses 100 KB of these ~2x faster than as many nops (on the hart's thread). */
const FILLER = [F64_CONST, 0, 0, 0, 0, 0, 0, 0, 0, DROP];

/** `block; br 0;` and then as many `f64.const 0; drop` pairs as the longest padding can hold. */
const PADDING_PAIRS = ((): Uint8Array => {
  const pairs = Math.floor((BASELINE_ONLY_BODY_BYTES - PADDING_FRAME_BYTES) / FILLER.length);
  const out = new Uint8Array(PADDING_FRAME_BYTES - 1 + pairs * FILLER.length);
  out.set([BLOCK, EMPTY_BLOCK_TYPE, BR, 0]);
  for (let o = PADDING_FRAME_BYTES - 1; o < out.length; o += FILLER.length) out.set(FILLER, o);
  return out;
})();
const NOPS = new Uint8Array(FILLER.length).fill(NOP);

/**
 * The padding that makes a body of `bodyBytes` bytes BASELINE_ONLY_BODY_BYTES long, in pieces: a block branched
 * out of at once, filled with whole `f64.const 0; drop` pairs and nops for the remainder, and its `end`.
 */
function padding(bodyBytes: number): Uint8Array[] {
  const filler = BASELINE_ONLY_BODY_BYTES - bodyBytes - PADDING_FRAME_BYTES;
  const pairs = Math.floor(filler / FILLER.length);
  return [
    PADDING_PAIRS.subarray(0, PADDING_FRAME_BYTES - 1 + pairs * FILLER.length),
    NOPS.subarray(0, filler - pairs * FILLER.length),
    Uint8Array.of(END),
  ];
}

/** An unsigned LEB128 read at `pos`: its value and the position after it. */
function readU32(bytes: Uint8Array, pos: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  for (let p = pos; p < bytes.length && shift < 35; p++) {
    const b = bytes[p] ?? 0;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return { value, next: p + 1 };
    shift += 7;
  }
  throw new Error(
    `Cannot read a LEB128 number of a WebAssembly module: it runs past byte ${pos} (length ${bytes.length})`,
  );
}

function u32Bytes(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    const b = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? b : b | 0x80);
  } while (v !== 0);
  return out;
}

/**
 * `module` with every function body shorter than BASELINE_ONLY_BODY_BYTES padded to that length (see the file
 * comment). Throws when the module's sections or code entries do not parse (a bug in the emitter).
 */
export function baselineOnly(module: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const parts: (Uint8Array | number[])[] = [module.subarray(0, 8)];
  let pos = 8;
  while (pos < module.length) {
    const id = module[pos] ?? 0;
    const size = readU32(module, pos + 1);
    const end = size.next + size.value;
    if (end > module.length)
      throw new Error(`Cannot pad a WebAssembly module: section ${id} at byte ${pos} ends past the module's end`);
    if (id !== CODE_SECTION) {
      parts.push(module.subarray(pos, end));
      pos = end;
      continue;
    }
    const bodies: (Uint8Array | number[])[] = [];
    const count = readU32(module, size.next);
    bodies.push(u32Bytes(count.value));
    let p = count.next;
    for (let f = 0; f < count.value; f++) {
      const bodySize = readU32(module, p);
      const bodyStart = bodySize.next;
      const bodyEnd = bodyStart + bodySize.value;
      // The locals: a count of (count, type) groups; the types emitted here are one byte each.
      const groups = readU32(module, bodyStart);
      let localsEnd = groups.next;
      for (let g = 0; g < groups.value; g++) localsEnd = readU32(module, localsEnd).next + 1;
      if (bodyEnd > end || localsEnd > bodyEnd)
        throw new Error(`Cannot pad a WebAssembly module: function body ${f} at byte ${p} ends past its section`);
      if (bodySize.value + PADDING_FRAME_BYTES >= BASELINE_ONLY_BODY_BYTES) {
        bodies.push(module.subarray(p, bodyEnd));
      } else {
        bodies.push(
          u32Bytes(BASELINE_ONLY_BODY_BYTES),
          module.subarray(bodyStart, localsEnd),
          ...padding(bodySize.value),
          module.subarray(localsEnd, bodyEnd),
        );
      }
      p = bodyEnd;
    }
    const contentLength = bodies.reduce((sum, b) => sum + b.length, 0);
    parts.push([CODE_SECTION, ...u32Bytes(contentLength)], ...bodies);
    pos = end;
  }
  const out = new Uint8Array(parts.reduce((sum, b) => sum + b.length, 0));
  let o = 0;
  for (const part of parts) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

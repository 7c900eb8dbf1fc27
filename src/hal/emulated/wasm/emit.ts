/**
 * A small WebAssembly binary writer: just what the hart's compiler emits (one module per compiled region, the
 * atomics helper module). Functions are written as flat instruction streams with LEB128 immediates; the module
 * writer lays out the type, import, function, export and code sections. No validation beyond what the builder's
 * types give: `WebAssembly.Module` validates every module before it runs, and the compiler's tests compile what
 * it emits.
 *
 * Encoding reference: the WebAssembly core specification, binary format (sections 5.1-5.5), plus the threads
 * proposal's shared memory limits (flag 3) and atomic instructions (prefix 0xfe).
 */

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export type ValType = typeof I32 | typeof I64 | typeof F32 | typeof F64;
/** The empty block type. */
export const VOID = 0x40;

/** Opcodes (single byte). */
export const Op = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  /** Tail call through a table (the tail-call proposal, WebAssembly 3.0; JavaScriptCore has it). */
  returnCallIndirect: 0x13,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  i32Load: 0x28,
  i64Load: 0x29,
  f64Load: 0x2b,
  i32Load8S: 0x2c,
  i32Load8U: 0x2d,
  i32Load16S: 0x2e,
  i32Load16U: 0x2f,
  i64Load8S: 0x30,
  i64Load8U: 0x31,
  i64Load16S: 0x32,
  i64Load16U: 0x33,
  i64Load32S: 0x34,
  i64Load32U: 0x35,
  i32Store: 0x36,
  i64Store: 0x37,
  f64Store: 0x39,
  i32Store8: 0x3a,
  i32Store16: 0x3b,
  i64Store8: 0x3c,
  i64Store16: 0x3d,
  i64Store32: 0x3e,
  i32Const: 0x41,
  i64Const: 0x42,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeS: 0x4c,
  i32LeU: 0x4d,
  i32GeS: 0x4e,
  i32GeU: 0x4f,
  i64Eqz: 0x50,
  i64Eq: 0x51,
  i64Ne: 0x52,
  i64LtS: 0x53,
  i64LtU: 0x54,
  i64GtS: 0x55,
  i64GtU: 0x56,
  i64LeS: 0x57,
  i64LeU: 0x58,
  i64GeS: 0x59,
  i64GeU: 0x5a,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32DivS: 0x6d,
  i32DivU: 0x6e,
  i32RemS: 0x6f,
  i32RemU: 0x70,
  i32And: 0x71,
  i32Or: 0x72,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrS: 0x75,
  i32ShrU: 0x76,
  i32Rotl: 0x77,
  i32Rotr: 0x78,
  i32Clz: 0x67,
  i32Ctz: 0x68,
  i32Popcnt: 0x69,
  i64Clz: 0x79,
  i64Ctz: 0x7a,
  i64Popcnt: 0x7b,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64DivS: 0x7f,
  i64DivU: 0x80,
  i64RemS: 0x81,
  i64RemU: 0x82,
  i64And: 0x83,
  i64Or: 0x84,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64ShrU: 0x88,
  i64Rotl: 0x89,
  i64Rotr: 0x8a,
  i32WrapI64: 0xa7,
  i64ExtendI32S: 0xac,
  i64ExtendI32U: 0xad,
  f64Eq: 0x61,
  f64Ge: 0x66,
  f64Add: 0xa0,
  f64ConvertI32S: 0xb7,
  f64ConvertI64S: 0xb9,
  i64TruncF64S: 0xb0,
  i64Extend8S: 0xc2,
  i64Extend16S: 0xc3,
  i64Extend32S: 0xc4,
} as const;

/** Atomic instructions (prefix 0xfe, threads proposal). */
export const AtomicOp = {
  fence: 0x03,
  i32Load: 0x10,
  i64Load: 0x11,
  i32Store: 0x17,
  i64Store: 0x18,
  i32RmwAdd: 0x1e,
  i64RmwAdd: 0x1f,
  i32RmwAnd: 0x2c,
  i64RmwAnd: 0x2d,
  i32RmwOr: 0x33,
  i64RmwOr: 0x34,
  i32RmwXor: 0x3a,
  i64RmwXor: 0x3b,
  i32RmwXchg: 0x41,
  i64RmwXchg: 0x42,
  i32RmwCmpxchg: 0x48,
  i64RmwCmpxchg: 0x49,
} as const;

/** A growable byte buffer (the instruction stream of a function). */
export class ByteWriter {
  #bytes = new Uint8Array(1024);
  length = 0;

  push(byte: number): void {
    if (this.length === this.#bytes.length) {
      const bigger = new Uint8Array(this.#bytes.length * 2);
      bigger.set(this.#bytes);
      this.#bytes = bigger;
    }
    this.#bytes[this.length++] = byte;
  }

  append(bytes: Uint8Array): void {
    while (this.length + bytes.length > this.#bytes.length) {
      const bigger = new Uint8Array(this.#bytes.length * 2);
      bigger.set(this.#bytes);
      this.#bytes = bigger;
    }
    this.#bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The bytes written so far (a view, valid until the next push). */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.length);
  }
}

/** Where LEB128 and raw bytes can be appended. */
export interface ByteSink {
  push(byte: number): unknown;
}

/** Append the unsigned LEB128 encoding of `value` (a non-negative safe integer). */
export function writeU32Leb(out: ByteSink, value: number): void {
  if (value < 0x80) {
    out.push(value);
    return;
  }
  let v = value;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Append the signed LEB128 encoding of an int32. */
export function writeI32Leb(out: ByteSink, value: number): void {
  if (value >= -64 && value < 64) {
    out.push(value & 0x7f);
    return;
  }
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

/** Append the signed LEB128 encoding of a 64-bit value given as (lo, hi) int32 halves. */
export function writeI64Leb(out: ByteSink, lo: number, hi: number): void {
  let l = lo >>> 0;
  let h = hi | 0;
  for (;;) {
    const byte = l & 0x7f;
    // Arithmetic shift of the 64-bit value by 7.
    l = ((l >>> 7) | (h << 25)) >>> 0;
    h >>= 7;
    const signBit = (byte & 0x40) !== 0;
    if ((l === 0 && h === 0 && !signBit) || (l === 0xffffffff && h === -1 && signBit)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function writeName(out: ByteSink, name: string): void {
  const bytes = new TextEncoder().encode(name);
  writeU32Leb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** A function body being written: locals and the instruction stream. */
export class FunctionBody {
  readonly code = new ByteWriter();
  readonly #locals: ValType[] = [];
  readonly #paramCount: number;

  constructor(readonly params: readonly ValType[]) {
    this.#paramCount = params.length;
  }

  /** Declare a local; returns its index. */
  local(type: ValType): number {
    this.#locals.push(type);
    return this.#paramCount + this.#locals.length - 1;
  }

  op(opcode: number): this {
    this.code.push(opcode);
    return this;
  }

  /** Two opcodes in a row. */
  op2(a: number, b: number): this {
    this.code.push(a);
    this.code.push(b);
    return this;
  }

  /** A structured-control instruction (block, loop, if) with a block type (VOID or a value type). */
  block(opcode: number, type: number = VOID): this {
    this.code.push(opcode);
    this.code.push(type);
    return this;
  }

  /** An instruction with one unsigned immediate (br, br_if, call, local.*, global.*). */
  opU(opcode: number, imm: number): this {
    this.code.push(opcode);
    writeU32Leb(this.code, imm);
    return this;
  }

  i32(value: number): this {
    this.code.push(Op.i32Const);
    writeI32Leb(this.code, value);
    return this;
  }

  /** i64.const from (lo, hi) halves. */
  i64(lo: number, hi: number): this {
    this.code.push(Op.i64Const);
    writeI64Leb(this.code, lo, hi);
    return this;
  }

  /** i64.const of a safe integer (the pc and addresses). */
  i64n(value: number): this {
    const hi = Math.floor(value / 4294967296);
    return this.i64(value | 0, hi | 0);
  }

  f64(value: number): this {
    this.code.push(Op.f64Const);
    const bytes = new Uint8Array(new Float64Array([value]).buffer);
    for (const b of bytes) this.code.push(b);
    return this;
  }

  get(local: number): this {
    return this.opU(Op.localGet, local);
  }

  set(local: number): this {
    return this.opU(Op.localSet, local);
  }

  tee(local: number): this {
    return this.opU(Op.localTee, local);
  }

  /** A memory instruction with its alignment (log2) and offset. */
  mem(opcode: number, alignLog2: number, offset: number): this {
    this.code.push(opcode);
    writeU32Leb(this.code, alignLog2);
    writeU32Leb(this.code, offset);
    return this;
  }

  /** An atomic memory instruction (natural alignment required). */
  atomic(opcode: number, alignLog2: number, offset: number): this {
    this.code.push(0xfe);
    writeU32Leb(this.code, opcode);
    writeU32Leb(this.code, alignLog2);
    writeU32Leb(this.code, offset);
    return this;
  }

  atomicFence(): this {
    this.code.push(0xfe);
    this.code.push(AtomicOp.fence);
    this.code.push(0);
    return this;
  }

  /** call_indirect / return_call_indirect of function type `type` through table `table`. */
  callIndirect(opcode: number, type: number, table: number): this {
    this.code.push(opcode);
    writeU32Leb(this.code, type);
    writeU32Leb(this.code, table);
    return this;
  }

  brTable(targets: readonly number[], defaultTarget: number): this {
    this.code.push(Op.brTable);
    writeU32Leb(this.code, targets.length);
    for (const t of targets) writeU32Leb(this.code, t);
    writeU32Leb(this.code, defaultTarget);
    return this;
  }

  /** Append the encoded body (its size, the local declarations run-length by type, the code and `end`). */
  encodeInto(out: ByteWriter): void {
    const header = new ByteWriter();
    const groups: [number, ValType][] = [];
    for (const t of this.#locals) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    writeU32Leb(header, groups.length);
    for (const [count, type] of groups) {
      writeU32Leb(header, count);
      header.push(type);
    }
    const code = this.code.view();
    writeU32Leb(out, header.length + code.length + 1);
    out.append(header.view());
    out.append(code);
    out.push(Op.end);
  }
}

export interface FuncType {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

interface ImportedFunc {
  readonly module: string;
  readonly name: string;
  readonly type: number;
}

interface ImportedMemory {
  readonly module: string;
  readonly name: string;
  readonly minPages: number;
  readonly maxPages: number;
  readonly shared: boolean;
}

interface ImportedTable {
  readonly module: string;
  readonly name: string;
  readonly minSize: number;
}

/** A module being written: imported functions, memory and funcref table, defined functions, exports. */
export class ModuleBuilder {
  readonly #types: FuncType[] = [];
  readonly #typeKeys = new Map<string, number>();
  readonly #imports: ImportedFunc[] = [];
  #memory: ImportedMemory | undefined;
  #table: ImportedTable | undefined;
  readonly #functions: { type: number; body: FunctionBody }[] = [];
  readonly #exports: { name: string; index: number }[] = [];

  /** The index of a function type (deduplicated). */
  type(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(",")}:${results.join(",")}`;
    const known = this.#typeKeys.get(key);
    if (known !== undefined) return known;
    this.#types.push({ params, results });
    this.#typeKeys.set(key, this.#types.length - 1);
    return this.#types.length - 1;
  }

  /** Import a function; returns its function index. Imports must all be declared before any defined function. */
  importFunction(module: string, name: string, params: readonly ValType[], results: readonly ValType[]): number {
    if (this.#functions.length !== 0) throw new Error("Cannot import a function after defining one");
    this.#imports.push({ module, name, type: this.type(params, results) });
    return this.#imports.length - 1;
  }

  importMemory(module: string, name: string, minPages: number, maxPages: number, shared: boolean): void {
    this.#memory = { module, name, minPages, maxPages, shared };
  }

  /** Import a funcref table (table index 0) of at least `minSize` elements. */
  importTable(module: string, name: string, minSize: number): void {
    this.#table = { module, name, minSize };
  }

  /** Define a function; returns its function index and the body to write. */
  defineFunction(params: readonly ValType[], results: readonly ValType[]): { index: number; body: FunctionBody } {
    const body = new FunctionBody(params);
    this.#functions.push({ type: this.type(params, results), body });
    return { index: this.#imports.length + this.#functions.length - 1, body };
  }

  exportFunction(name: string, index: number): void {
    this.#exports.push({ name, index });
  }

  encode(): Uint8Array<ArrayBuffer> {
    const out = new ByteWriter();
    for (const b of [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]) out.push(b);
    const section = (id: number, content: ByteWriter): void => {
      out.push(id);
      writeU32Leb(out, content.length);
      out.append(content.view());
    };
    // Type section.
    const types = new ByteWriter();
    writeU32Leb(types, this.#types.length);
    for (const t of this.#types) {
      types.push(0x60);
      writeU32Leb(types, t.params.length);
      for (const p of t.params) types.push(p);
      writeU32Leb(types, t.results.length);
      for (const r of t.results) types.push(r);
    }
    section(1, types);
    // Import section.
    const imports = new ByteWriter();
    const memory = this.#memory;
    const table = this.#table;
    writeU32Leb(imports, this.#imports.length + (memory === undefined ? 0 : 1) + (table === undefined ? 0 : 1));
    for (const imp of this.#imports) {
      writeName(imports, imp.module);
      writeName(imports, imp.name);
      imports.push(0x00);
      writeU32Leb(imports, imp.type);
    }
    if (memory !== undefined) {
      writeName(imports, memory.module);
      writeName(imports, memory.name);
      imports.push(0x02);
      imports.push(memory.shared ? 0x03 : 0x01);
      writeU32Leb(imports, memory.minPages);
      writeU32Leb(imports, memory.maxPages);
    }
    if (table !== undefined) {
      writeName(imports, table.module);
      writeName(imports, table.name);
      imports.push(0x01);
      imports.push(0x70); // funcref
      imports.push(0x00); // limits: a minimum only
      writeU32Leb(imports, table.minSize);
    }
    section(2, imports);
    // Function section.
    const funcs = new ByteWriter();
    writeU32Leb(funcs, this.#functions.length);
    for (const f of this.#functions) writeU32Leb(funcs, f.type);
    section(3, funcs);
    // Export section.
    const exports = new ByteWriter();
    writeU32Leb(exports, this.#exports.length);
    for (const e of this.#exports) {
      writeName(exports, e.name);
      exports.push(0x00);
      writeU32Leb(exports, e.index);
    }
    section(7, exports);
    // Code section.
    const code = new ByteWriter();
    writeU32Leb(code, this.#functions.length);
    for (const f of this.#functions) f.body.encodeInto(code);
    section(10, code);
    return Uint8Array.from(out.view());
  }
}

/** Structured-control labels by name, so that branches find their depth. */
export class Labels {
  readonly #stack: string[] = [];
  constructor(readonly f: FunctionBody) {}
  open(opcode: number, name = "", type?: number): void {
    this.f.block(opcode, type);
    this.#stack.push(name);
  }
  end(): void {
    this.f.op(Op.end);
    this.#stack.pop();
  }
  /** `br` (or `br_if`) to the label `name`. */
  br(name: string, opcode: number = Op.br): void {
    const at = this.#stack.lastIndexOf(name);
    if (at < 0) throw new Error(`no label ${name}`);
    this.f.opU(opcode, this.#stack.length - 1 - at);
  }
  depthOf(name: string): number {
    return this.#stack.length - 1 - this.#stack.lastIndexOf(name);
  }
}

/**
 * A flattened device tree (DTB) writer: build a tree of nodes and properties, then serialize it as a version 17
 * blob (Devicetree Specification v0.4, chapter 5 "Flattened Devicetree (DTB) Format").
 *
 * Blob layout we emit: header (40 bytes) · memory reservation block (8-byte aligned, (address, size) u64 pairs
 * ending with (0, 0)) · structure block (FDT_BEGIN_NODE / FDT_PROP / FDT_END_NODE tokens, 4-byte aligned, ending
 * with FDT_END) · strings block (property names, NUL-terminated, each name stored once). All integers big-endian.
 *
 * Phandles are allocated on first use of `node.phandle` (1, 2, 3, ...) and written as the node's `phandle`
 * property; a cell array may hold nodes, which serialize as their phandle, so references read like the DTS
 * (`interrupts-extended = [cpu0Intc, 9]`).
 */

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
export const FDT_BEGIN_NODE = 0x1;
export const FDT_END_NODE = 0x2;
export const FDT_PROP = 0x3;
export const FDT_NOP = 0x4;
export const FDT_END = 0x9;
/** Size of the v17 header: ten big-endian u32 fields. */
export const FDT_HEADER_SIZE = 40;
/** Longest node name (without unit address) and property name the specification allows. */
export const FDT_MAX_NAME_LENGTH = 31;

export type FdtErrorKind =
  | "invalid-name" // a node or property name the specification does not allow
  | "duplicate-node" // two children with the same name (unit address included)
  | "invalid-value" // a value that does not fit its encoding (u32 out of range, NUL inside a string, ...)
  | "malformed"; // (reader) a blob that is not a valid DTB

export class FdtError extends Error {
  override readonly name = "FdtError";
  readonly kind: FdtErrorKind;
  /** The node path or property concerned, when there is one. */
  readonly path: string | undefined;
  constructor(kind: FdtErrorKind, message: string, path?: string) {
    super(message);
    this.kind = kind;
    this.path = path;
  }
}

/** One u32 cell: a number, or a node that stands for its phandle. */
export type FdtCell = number | FdtNode;

// Devicetree spec 2.2.1 (node names) and 2.2.4 (property names).
const NODE_NAME = /^[A-Za-z0-9,._+-]+$/;
const UNIT_ADDRESS = /^[A-Za-z0-9,._+-]+$/;
const PROPERTY_NAME = /^[A-Za-z0-9,._+?#-]+$/;

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const encoder = new TextEncoder();

/** A property value: raw bytes, or cells whose node entries are turned into phandles when the blob is built. */
type PropertyValue =
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "cells"; readonly cells: readonly FdtCell[] };

/** Counter shared by all nodes of one tree. */
interface PhandleAllocator {
  next: number;
}

export class FdtNode {
  readonly name: string;
  readonly path: string;
  readonly #children: FdtNode[] = [];
  readonly #properties = new Map<string, PropertyValue>();
  readonly #allocator: PhandleAllocator;
  #phandle: number | undefined;

  /** Use `Fdt.root` and `addNode`; the constructor is for the tree. */
  constructor(name: string, parentPath: string | undefined, allocator: PhandleAllocator) {
    this.name = name;
    this.path = parentPath === undefined ? "/" : parentPath === "/" ? `/${name}` : `${parentPath}/${name}`;
    this.#allocator = allocator;
  }

  /** Add a child node `name` (`base` or `base@unit-address`). Names must be unique among siblings. */
  addNode(name: string): FdtNode {
    validateNodeName(name, this.path);
    if (this.#children.some((child) => child.name === name)) {
      throw new FdtError(
        "duplicate-node",
        `Cannot add node "${name}" under ${this.path}: a node with that name exists`,
        this.path,
      );
    }
    const child = new FdtNode(name, this.path, this.#allocator);
    this.#children.push(child);
    return child;
  }

  /** The child called `name`, if any. */
  child(name: string): FdtNode | undefined {
    return this.#children.find((c) => c.name === name);
  }

  get children(): readonly FdtNode[] {
    return this.#children;
  }

  /** Names of the properties in insertion order. */
  get propertyNames(): readonly string[] {
    return [...this.#properties.keys()];
  }

  /** This node's phandle, allocated (and written as its `phandle` property) on first use. */
  get phandle(): number {
    if (this.#phandle === undefined) {
      this.#phandle = this.#allocator.next++;
      this.#properties.set("phandle", { kind: "cells", cells: [this.#phandle] });
    }
    return this.#phandle;
  }

  /** An empty (boolean) property such as `interrupt-controller` or `ranges`. */
  empty(name: string): this {
    return this.#set(name, { kind: "bytes", bytes: new Uint8Array(0) });
  }

  u32(name: string, value: FdtCell): this {
    return this.cells(name, [value]);
  }

  /** A 64-bit value as two cells, high word first. */
  u64(name: string, value: bigint | number): this {
    return this.cells(name, splitU64(value, this.path, name));
  }

  /** An array of u32 cells; node entries become their phandles. */
  cells(name: string, values: readonly FdtCell[]): this {
    for (const value of values) {
      if (typeof value === "number") {
        if (!(Number.isInteger(value) && value >= 0 && value <= U32_MAX)) {
          throw new FdtError("invalid-value", `Cannot set ${this.path}:${name}: cell ${value} is not a u32`, this.path);
        }
      } else {
        if (!value.#sameTree(this.#allocator)) {
          throw new FdtError(
            "invalid-value",
            `Cannot set ${this.path}:${name}: ${value.path} belongs to another tree`,
            this.path,
          );
        }
        // Allocate now, not while serializing: the referenced node may already have been written out by then.
        void value.phandle;
      }
    }
    return this.#set(name, { kind: "cells", cells: [...values] });
  }

  /** An array of 64-bit values, each as two cells (a `reg` with #address-cells = #size-cells = 2). */
  u64s(name: string, values: readonly (bigint | number)[]): this {
    return this.cells(
      name,
      values.flatMap((v) => splitU64(v, this.path, name)),
    );
  }

  /** A NUL-terminated string. */
  string(name: string, value: string): this {
    return this.strings(name, [value]);
  }

  /** A string list: each string NUL-terminated, back to back (`compatible = "a", "b"`). */
  strings(name: string, values: readonly string[]): this {
    const parts: Uint8Array[] = [];
    for (const value of values) {
      if (value.includes("\0")) {
        throw new FdtError(
          "invalid-value",
          `Cannot set ${this.path}:${name}: string ${JSON.stringify(value)} contains NUL`,
          this.path,
        );
      }
      parts.push(encoder.encode(value), Uint8Array.of(0));
    }
    return this.#set(name, { kind: "bytes", bytes: concat(parts) });
  }

  /** Raw bytes, stored as given. */
  bytes(name: string, value: Uint8Array): this {
    return this.#set(name, { kind: "bytes", bytes: value.slice() });
  }

  /** Drop a property (no error if it is absent). */
  remove(name: string): this {
    if (name === "phandle" && this.#phandle !== undefined) {
      throw new FdtError(
        "invalid-value",
        `Cannot remove ${this.path}:phandle: other properties may reference it`,
        this.path,
      );
    }
    this.#properties.delete(name);
    return this;
  }

  /** The encoded value of property `name` (phandles resolved), or undefined. */
  property(name: string): Uint8Array | undefined {
    const value = this.#properties.get(name);
    return value === undefined ? undefined : encodeValue(value);
  }

  #sameTree(allocator: PhandleAllocator): boolean {
    return this.#allocator === allocator;
  }

  #set(name: string, value: PropertyValue): this {
    validatePropertyName(name, this.path);
    if (name === "phandle" && this.#phandle !== undefined) {
      throw new FdtError(
        "invalid-value",
        `Cannot set ${this.path}:phandle: it was allocated as ${this.#phandle}`,
        this.path,
      );
    }
    this.#properties.set(name, value);
    return this;
  }

  /** Properties in insertion order with encoded values (for the serializer). */
  *entries(): Generator<[string, Uint8Array]> {
    for (const [name, value] of this.#properties) yield [name, encodeValue(value)];
  }
}

/** A device tree under construction. */
export class Fdt {
  readonly root: FdtNode;
  readonly #reservations: Array<{ address: bigint; size: bigint }> = [];
  /** `boot_cpuid_phys` in the header. */
  bootCpuId: number;

  constructor(options: { bootCpuId?: number } = {}) {
    this.root = new FdtNode("", undefined, { next: 1 });
    this.bootCpuId = options.bootCpuId ?? 0;
  }

  /** Add a memory reservation block entry (memory the OS must not use: e.g. firmware). */
  addReservation(address: bigint | number, size: bigint | number): void {
    const a = toU64(address, "/", "memory reservation address");
    const s = toU64(size, "/", "memory reservation size");
    if (s === 0n)
      throw new FdtError("invalid-value", `Cannot reserve 0 bytes at 0x${a.toString(16)}: (0, 0) ends the block`, "/");
    this.#reservations.push({ address: a, size: s });
  }

  /** The node at an absolute path ("/", "/cpus/cpu@0"), if present. */
  find(path: string): FdtNode | undefined {
    if (path === "/") return this.root;
    let node: FdtNode | undefined = this.root;
    for (const part of path.split("/").slice(1)) {
      node = node?.child(part);
      if (node === undefined) return undefined;
    }
    return node;
  }

  /** Serialize as a DTB (version 17). */
  toDtb(): Uint8Array {
    if (!(Number.isInteger(this.bootCpuId) && this.bootCpuId >= 0 && this.bootCpuId <= U32_MAX)) {
      throw new FdtError("invalid-value", `Cannot build the DTB: boot CPU id ${this.bootCpuId} is not a u32`);
    }
    const strings = new StringTable();
    const struct = new ByteWriter();
    const emit = (node: FdtNode): void => {
      struct.u32(FDT_BEGIN_NODE);
      struct.bytes(encoder.encode(node.name));
      struct.u8(0);
      struct.align(4);
      for (const [name, value] of node.entries()) {
        struct.u32(FDT_PROP);
        struct.u32(value.length);
        struct.u32(strings.offsetOf(name));
        struct.bytes(value);
        struct.align(4);
      }
      for (const child of node.children) emit(child);
      struct.u32(FDT_END_NODE);
    };
    emit(this.root);
    struct.u32(FDT_END);

    const structBytes = struct.finish();
    const stringBytes = strings.finish();
    const offMemRsvmap = align(FDT_HEADER_SIZE, 8);
    const rsvmapSize = (this.#reservations.length + 1) * 16;
    const offStruct = offMemRsvmap + rsvmapSize;
    const offStrings = offStruct + structBytes.length;
    const totalSize = offStrings + stringBytes.length;
    if (totalSize > U32_MAX)
      throw new FdtError("invalid-value", `Cannot build the DTB: ${totalSize} bytes exceed the u32 totalsize`);

    const blob = new Uint8Array(totalSize);
    const view = new DataView(blob.buffer);
    const header = [
      FDT_MAGIC,
      totalSize,
      offStruct,
      offStrings,
      offMemRsvmap,
      FDT_VERSION,
      FDT_LAST_COMP_VERSION,
      this.bootCpuId,
      stringBytes.length,
      structBytes.length,
    ];
    header.forEach((value, i) => view.setUint32(i * 4, value));
    this.#reservations.forEach(({ address, size }, i) => {
      view.setBigUint64(offMemRsvmap + i * 16, address);
      view.setBigUint64(offMemRsvmap + i * 16 + 8, size);
    });
    blob.set(structBytes, offStruct);
    blob.set(stringBytes, offStrings);
    return blob;
  }
}

function validateNodeName(name: string, parentPath: string): void {
  const at = name.indexOf("@");
  const base = at < 0 ? name : name.slice(0, at);
  const unit = at < 0 ? undefined : name.slice(at + 1);
  const bad = (why: string): FdtError =>
    new FdtError("invalid-name", `Cannot add node "${name}" under ${parentPath}: ${why}`, parentPath);
  if (base.length === 0 || base.length > FDT_MAX_NAME_LENGTH)
    throw bad(`the name must have 1..${FDT_MAX_NAME_LENGTH} characters before any "@"`);
  if (!NODE_NAME.test(base)) throw bad("only letters, digits and , . _ + - are allowed");
  if (unit !== undefined && !UNIT_ADDRESS.test(unit))
    throw bad('the unit address after "@" must be non-empty and use only letters, digits and , . _ + -');
}

function validatePropertyName(name: string, path: string): void {
  if (name.length === 0 || name.length > FDT_MAX_NAME_LENGTH || !PROPERTY_NAME.test(name)) {
    throw new FdtError(
      "invalid-name",
      `Cannot set property "${name}" on ${path}: names have 1..${FDT_MAX_NAME_LENGTH} letters, digits or , . _ + ? # -`,
      path,
    );
  }
}

function toU64(value: bigint | number, path: string, what: string): bigint {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new FdtError(
      "invalid-value",
      `Cannot encode ${what} on ${path}: ${value} is not an integer (use a bigint above 2^53)`,
      path,
    );
  }
  const v = BigInt(value);
  if (v < 0n || v > U64_MAX)
    throw new FdtError("invalid-value", `Cannot encode ${what} on ${path}: ${v} is not a u64`, path);
  return v;
}

function splitU64(value: bigint | number, path: string, name: string): number[] {
  const v = toU64(value, path, `property "${name}"`);
  return [Number(v >> 32n), Number(v & 0xffff_ffffn)];
}

function encodeValue(value: PropertyValue): Uint8Array {
  if (value.kind === "bytes") return value.bytes;
  const out = new Uint8Array(value.cells.length * 4);
  const view = new DataView(out.buffer);
  value.cells.forEach((cell, i) => view.setUint32(i * 4, typeof cell === "number" ? cell : cell.phandle));
  return out;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Property names, each stored once; offsets are byte offsets into the block. */
class StringTable {
  readonly #offsets = new Map<string, number>();
  readonly #writer = new ByteWriter();
  offsetOf(name: string): number {
    const known = this.#offsets.get(name);
    if (known !== undefined) return known;
    const offset = this.#writer.length;
    this.#writer.bytes(encoder.encode(name));
    this.#writer.u8(0);
    this.#offsets.set(name, offset);
    return offset;
  }
  finish(): Uint8Array {
    return this.#writer.finish();
  }
}

/** A growable big-endian byte buffer. */
class ByteWriter {
  #buffer = new Uint8Array(1024);
  #length = 0;
  get length(): number {
    return this.#length;
  }
  #reserve(n: number): void {
    if (this.#length + n <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = next;
  }
  u8(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
  }
  u32(value: number): void {
    this.#reserve(4);
    new DataView(this.#buffer.buffer).setUint32(this.#length, value);
    this.#length += 4;
  }
  bytes(value: Uint8Array): void {
    this.#reserve(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
  }
  /** Zero-pad to a multiple of `to`. */
  align(to: number): void {
    const target = align(this.#length, to);
    this.#reserve(target - this.#length);
    this.#buffer.fill(0, this.#length, target);
    this.#length = target;
  }
  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

/**
 * A small DTB reader: header validation (for a user-supplied DTB the VMM loads as is, so a truncated or foreign
 * file is refused with a clear message) and a full parse into a tree (for tests of the generated board DTs, and
 * for `check`-style inspection). The blob is untrusted: every offset and length is checked before use, and any
 * malformation is an `FdtError` of kind "malformed", never another exception.
 */
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_MAGIC,
  FDT_NOP,
  FDT_PROP,
  FDT_VERSION,
  FdtError,
} from "./fdt.ts";

export interface DtbHeader {
  readonly magic: number;
  readonly totalSize: number;
  readonly offStruct: number;
  readonly offStrings: number;
  readonly offMemRsvmap: number;
  readonly version: number;
  readonly lastCompVersion: number;
  readonly bootCpuId: number;
  readonly sizeStrings: number;
  /** Version 17 field; for version 16 blobs the span up to the strings block or the end. */
  readonly sizeStruct: number;
}

export interface DtbNode {
  readonly name: string;
  readonly properties: ReadonlyMap<string, Uint8Array>;
  readonly children: readonly DtbNode[];
}

export interface Dtb {
  readonly header: DtbHeader;
  readonly reservations: ReadonlyArray<{ readonly address: bigint; readonly size: bigint }>;
  readonly root: DtbNode;
}

/** Deeper nesting than this is refused (real trees are < 10 deep; this bounds recursion on hostile input). */
const MAX_DEPTH = 64;
/** The oldest format we read: version 16 is the first with the layout we parse (no inline full paths). */
const MIN_VERSION = 16;

const malformed = (why: string): FdtError => new FdtError("malformed", `Cannot parse DTB: ${why}`);

/** Read and check the header of a DTB in `bytes` (which may be longer than the blob). */
export function readDtbHeader(bytes: Uint8Array): DtbHeader {
  if (bytes.length < FDT_HEADER_SIZE)
    throw malformed(`${bytes.length} bytes is shorter than the ${FDT_HEADER_SIZE}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (i: number): number => view.getUint32(i * 4);
  const magic = u32(0);
  if (magic !== FDT_MAGIC) throw malformed(`magic is 0x${magic.toString(16)}, expected 0x${FDT_MAGIC.toString(16)}`);
  const totalSize = u32(1);
  const offStruct = u32(2);
  const offStrings = u32(3);
  const offMemRsvmap = u32(4);
  const version = u32(5);
  const lastCompVersion = u32(6);
  const bootCpuId = u32(7);
  const sizeStrings = u32(8);
  if (version < MIN_VERSION) throw malformed(`version ${version} is older than ${MIN_VERSION}`);
  if (lastCompVersion > FDT_VERSION)
    throw malformed(`last compatible version ${lastCompVersion} is newer than ${FDT_VERSION}`);
  if (totalSize < FDT_HEADER_SIZE || totalSize > bytes.length) {
    throw malformed(`totalsize ${totalSize} does not fit the ${bytes.length} bytes given`);
  }
  const sizeStruct = version >= 17 ? u32(9) : (offStrings > offStruct ? offStrings : totalSize) - offStruct;
  const inside = (what: string, offset: number, size: number): void => {
    if (offset < FDT_HEADER_SIZE || offset + size > totalSize) {
      throw malformed(`${what} [${offset}, ${offset + size}) lies outside the blob (totalsize ${totalSize})`);
    }
  };
  inside("memory reservation block", offMemRsvmap, 16);
  inside("structure block", offStruct, sizeStruct);
  inside("strings block", offStrings, sizeStrings);
  if (offMemRsvmap % 8 !== 0) throw malformed(`memory reservation block offset ${offMemRsvmap} is not 8-byte aligned`);
  if (offStruct % 4 !== 0) throw malformed(`structure block offset ${offStruct} is not 4-byte aligned`);
  return {
    magic,
    totalSize,
    offStruct,
    offStrings,
    offMemRsvmap,
    version,
    lastCompVersion,
    bootCpuId,
    sizeStrings,
    sizeStruct,
  };
}

/** Parse a whole DTB. */
export function parseDtb(bytes: Uint8Array): Dtb {
  const header = readDtbHeader(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder("utf-8", { fatal: false });

  const reservations: Array<{ address: bigint; size: bigint }> = [];
  for (let at = header.offMemRsvmap; ; at += 16) {
    if (at + 16 > header.totalSize) throw malformed("the memory reservation block has no (0, 0) terminator");
    const address = view.getBigUint64(at);
    const size = view.getBigUint64(at + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const structEnd = header.offStruct + header.sizeStruct;
  const stringsEnd = header.offStrings + header.sizeStrings;
  let at = header.offStruct;

  const token = (): number => {
    if (at + 4 > structEnd) throw malformed(`structure block ends at ${structEnd} inside a token at ${at}`);
    const t = view.getUint32(at);
    at += 4;
    return t;
  };
  const cString = (start: number, end: number, what: string): [string, number] => {
    const nul = bytes.subarray(start, end).indexOf(0);
    if (nul < 0) throw malformed(`${what} at ${start} is not NUL-terminated`);
    return [decoder.decode(bytes.subarray(start, start + nul)), start + nul + 1];
  };
  const align4 = (n: number): number => (n + 3) & ~3;

  const readNode = (depth: number): DtbNode => {
    if (depth > MAX_DEPTH) throw malformed(`nodes nest deeper than ${MAX_DEPTH}`);
    const [name, afterName] = cString(at, structEnd, "a node name");
    at = align4(afterName);
    const properties = new Map<string, Uint8Array>();
    const children: DtbNode[] = [];
    for (;;) {
      const t = token();
      switch (t) {
        case FDT_PROP: {
          const len = token();
          const nameOff = token();
          if (at + len > structEnd)
            throw malformed(`property value of ${len} bytes at ${at} runs past the structure block`);
          if (nameOff >= header.sizeStrings)
            throw malformed(`property name offset ${nameOff} is outside the strings block`);
          const [propName] = cString(header.offStrings + nameOff, stringsEnd, "a property name");
          if (children.length > 0) throw malformed(`property "${propName}" of node "${name}" follows a child node`);
          properties.set(propName, bytes.slice(at, at + len));
          at = align4(at + len);
          break;
        }
        case FDT_BEGIN_NODE:
          children.push(readNode(depth + 1));
          break;
        case FDT_NOP:
          break;
        case FDT_END_NODE:
          return { name, properties, children };
        default:
          throw malformed(`unexpected token 0x${t.toString(16)} at ${at - 4} inside node "${name}"`);
      }
    }
  };

  let first = token();
  while (first === FDT_NOP) first = token();
  if (first !== FDT_BEGIN_NODE)
    throw malformed(`the structure block starts with token 0x${first.toString(16)}, not FDT_BEGIN_NODE`);
  const root = readNode(0);
  if (root.name !== "") throw malformed(`the root node is named "${root.name}", expected ""`);
  let last = token();
  while (last === FDT_NOP) last = token();
  if (last !== FDT_END) throw malformed(`token 0x${last.toString(16)} follows the root node, expected FDT_END`);
  return { header, reservations, root };
}

/** The node at an absolute path ("/cpus/cpu@0"). */
export function findDtbNode(root: DtbNode, path: string): DtbNode | undefined {
  if (path === "/") return root;
  let node: DtbNode | undefined = root;
  for (const part of path.split("/").slice(1)) {
    node = node?.children.find((c) => c.name === part);
    if (node === undefined) return undefined;
  }
  return node;
}

/** A property as big-endian u32 cells, or undefined when absent or not a multiple of 4 bytes. */
export function dtbCells(node: DtbNode, name: string): number[] | undefined {
  const value = node.properties.get(name);
  if (value === undefined || value.length % 4 !== 0) return undefined;
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return Array.from({ length: value.length / 4 }, (_, i) => view.getUint32(i * 4));
}

/** A property as a list of NUL-terminated strings, or undefined when absent or not NUL-terminated. */
export function dtbStrings(node: DtbNode, name: string): string[] | undefined {
  const value = node.properties.get(name);
  if (value === undefined || value.length === 0 || value[value.length - 1] !== 0) return undefined;
  return new TextDecoder().decode(value.subarray(0, value.length - 1)).split("\0");
}

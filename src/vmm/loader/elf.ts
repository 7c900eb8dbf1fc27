import { hex } from "../../common/format.ts";
/**
 * ELF64 little-endian executable parser for loading kernels and test programs.
 *
 * Only what a loader needs: the entry point, the PT_LOAD segments (file bytes + memory size, placed at their
 * physical address), and the symbol table (bare-metal test programs expose `tohost`/`fromhost`). Every offset
 * and size read from the file is checked against the file length before use: the image is untrusted input.
 */

export const EM_RISCV = 243;
export const EM_X86_64 = 62;

const ELF_MAGIC = 0x464c457f; // "\x7fELF" little-endian
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const ET_DYN = 3;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export interface ElfSegment {
  /** Physical load address (p_paddr). */
  readonly paddr: number;
  /** Virtual address (kernels link at high addresses such as 0xffffffff81000000, so this is a bigint). */
  readonly vaddr: bigint;
  /** The bytes present in the file (p_filesz); the rest up to `memSize` is zero. */
  readonly data: Uint8Array;
  readonly memSize: number;
  /** PF_R | PF_W | PF_X */
  readonly flags: number;
}

export interface ElfSymbol {
  readonly value: number;
  readonly size: number;
}

export interface ElfImage {
  readonly machine: number;
  readonly entry: number;
  readonly segments: readonly ElfSegment[];
  readonly symbols: ReadonlyMap<string, ElfSymbol>;
}

export type ElfErrorKind = "not-elf" | "unsupported" | "truncated" | "invalid";

export class ElfError extends Error {
  override readonly name = "ElfError";
  readonly kind: ElfErrorKind;
  constructor(kind: ElfErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === ELF_MAGIC;
}

/** Read a u64 field as a number, rejecting values that do not fit in 53 bits. */
function u64(view: DataView, offset: number, field: string, source: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ElfError("unsupported", `${source}: ${field} 0x${value.toString(16)} does not fit in 53 bits`);
  }
  return Number(value);
}

/** Random access to a file's bytes: a whole buffer, or reads from disk (config checks read only headers). */
export interface ElfByteSource {
  /** File size in bytes. */
  readonly length: number;
  /** Up to `length` bytes at `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Uint8Array;
}

/** A PT_LOAD segment as its program header describes it (file bytes not read). */
export interface ElfSegmentHeader {
  readonly paddr: number;
  readonly vaddr: bigint;
  readonly fileOffset: number;
  readonly fileSize: number;
  readonly memSize: number;
  readonly flags: number;
}

export interface ElfHeaders {
  readonly machine: number;
  readonly entry: number;
  /** Loadable segments with a non-zero memory size, in file order. */
  readonly segments: readonly ElfSegmentHeader[];
  readonly sectionHeaders: { readonly offset: number; readonly entrySize: number; readonly count: number };
}

/** Check the ELF header and program headers, reading only those bytes. */
export function parseElfHeaders(file: ElfByteSource, source = "image"): ElfHeaders {
  const head = file.read(0, EHDR_SIZE);
  if (head.length < EHDR_SIZE) {
    throw new ElfError(
      head.length >= 4 && isElf(head) ? "truncated" : "not-elf",
      `${source}: not an ELF file (${file.length} bytes)`,
    );
  }
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (view.getUint32(0, true) !== ELF_MAGIC) throw new ElfError("not-elf", `${source}: not an ELF file (bad magic)`);
  const elfClass = view.getUint8(4);
  if (elfClass !== ELFCLASS64) throw new ElfError("unsupported", `${source}: ELF class ${elfClass} is not ELF64`);
  const data = view.getUint8(5);
  if (data !== ELFDATA2LSB)
    throw new ElfError("unsupported", `${source}: ELF data encoding ${data} is not little-endian`);
  const type = view.getUint16(16, true);
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw new ElfError("unsupported", `${source}: ELF type ${type} is not an executable (ET_EXEC/ET_DYN)`);
  }
  const machine = view.getUint16(18, true);
  const entry = u64(view, 24, "e_entry", source);
  const phoff = u64(view, 32, "e_phoff", source);
  const shoff = u64(view, 40, "e_shoff", source);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  const shentsize = view.getUint16(58, true);
  const shnum = view.getUint16(60, true);

  if (phnum > 0 && phentsize < PHDR_SIZE)
    throw new ElfError("invalid", `${source}: e_phentsize ${phentsize} < ${PHDR_SIZE}`);
  if (phoff + phnum * phentsize > file.length) {
    throw new ElfError(
      "truncated",
      `${source}: program headers at ${hex(phoff)} (${phnum} × ${phentsize}) run past the end of the file (${file.length} bytes)`,
    );
  }
  const table = file.read(phoff, phnum * phentsize);
  const tableView = new DataView(table.buffer, table.byteOffset, table.byteLength);

  const segments: ElfSegmentHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (tableView.getUint32(at, true) !== PT_LOAD) continue;
    const flags = tableView.getUint32(at + 4, true);
    const fileOffset = u64(tableView, at + 8, `segment ${i} p_offset`, source);
    const vaddr = tableView.getBigUint64(at + 16, true);
    const paddr = u64(tableView, at + 24, `segment ${i} p_paddr`, source);
    const fileSize = u64(tableView, at + 32, `segment ${i} p_filesz`, source);
    const memSize = u64(tableView, at + 40, `segment ${i} p_memsz`, source);
    if (fileSize > memSize) {
      throw new ElfError("invalid", `${source}: segment ${i} p_filesz ${hex(fileSize)} > p_memsz ${hex(memSize)}`);
    }
    if (fileOffset + fileSize > file.length) {
      throw new ElfError(
        "truncated",
        `${source}: segment ${i} file bytes ${hex(fileOffset)}..${hex(fileOffset + fileSize)} run past the end of the file (${file.length} bytes)`,
      );
    }
    if (memSize === 0) continue;
    segments.push({ paddr, vaddr, fileOffset, fileSize, memSize, flags });
  }
  if (segments.length === 0) throw new ElfError("invalid", `${source}: no loadable (PT_LOAD) segments`);
  return { machine, entry, segments, sectionHeaders: { offset: shoff, entrySize: shentsize, count: shnum } };
}

/** What loading an ELF file needs: its segments (where their bytes lie in the file) and its symbols. */
export interface ElfLayout {
  readonly machine: number;
  readonly entry: number;
  readonly segments: readonly ElfSegmentHeader[];
  readonly symbols: ReadonlyMap<string, ElfSymbol>;
}

/** Check an ELF file and read its symbol table, reading only headers and tables (never the segments' bytes). */
export function parseElfLayout(file: ElfByteSource, source = "image"): ElfLayout {
  const headers = parseElfHeaders(file, source);
  return {
    machine: headers.machine,
    entry: headers.entry,
    segments: headers.segments,
    symbols: readSymbols(file, headers.sectionHeaders, source),
  };
}

/** Parse a whole ELF file: headers, the loadable segments' bytes, and the symbol table. */
export function parseElf(bytes: Uint8Array, source = "image"): ElfImage {
  const layout = parseElfLayout(
    { length: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) },
    source,
  );
  return {
    machine: layout.machine,
    entry: layout.entry,
    segments: layout.segments.map((h) => ({
      paddr: h.paddr,
      vaddr: h.vaddr,
      data: bytes.subarray(h.fileOffset, h.fileOffset + h.fileSize),
      memSize: h.memSize,
      flags: h.flags,
    })),
    symbols: layout.symbols,
  };
}

function readSymbols(
  file: ElfByteSource,
  sectionHeaders: ElfHeaders["sectionHeaders"],
  source: string,
): Map<string, ElfSymbol> {
  const { offset: shoff, entrySize: shentsize, count: shnum } = sectionHeaders;
  const symbols = new Map<string, ElfSymbol>();
  // A stripped or section-less file simply has no symbols; a malformed section table is an error.
  if (shnum === 0 || shoff === 0) return symbols;
  if (shentsize < SHDR_SIZE || shoff + shnum * shentsize > file.length) {
    throw new ElfError(
      "truncated",
      `${source}: section headers at ${hex(shoff)} (${shnum} × ${shentsize}) run past the end of the file`,
    );
  }
  const table = file.read(shoff, shnum * shentsize);
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const decoder = new TextDecoder();
  for (let i = 0; i < shnum; i++) {
    const at = i * shentsize;
    if (view.getUint32(at + 4, true) !== SHT_SYMTAB) continue;
    const symOffset = u64(view, at + 24, "symtab sh_offset", source);
    const symSize = u64(view, at + 32, "symtab sh_size", source);
    const link = view.getUint32(at + 40, true);
    if (link >= shnum) throw new ElfError("invalid", `${source}: symtab links to section ${link} of ${shnum}`);
    const strAt = link * shentsize;
    const strOffset = u64(view, strAt + 24, "strtab sh_offset", source);
    const strSize = u64(view, strAt + 32, "strtab sh_size", source);
    if (symOffset + symSize > file.length || strOffset + strSize > file.length) {
      throw new ElfError("truncated", `${source}: symbol or string table runs past the end of the file`);
    }
    const symtab = file.read(symOffset, symSize);
    const symView = new DataView(symtab.buffer, symtab.byteOffset, symtab.byteLength);
    const strtab = file.read(strOffset, strSize);
    for (let s = 0; s + SYM_SIZE <= symtab.length; s += SYM_SIZE) {
      const nameOffset = symView.getUint32(s, true);
      if (nameOffset === 0 || nameOffset >= strtab.length) continue;
      let end = nameOffset;
      while (end < strtab.length && strtab[end] !== 0) end++;
      const name = decoder.decode(strtab.subarray(nameOffset, end));
      const value = symView.getBigUint64(s + 8, true);
      const size = symView.getBigUint64(s + 16, true);
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || size > BigInt(Number.MAX_SAFE_INTEGER)) continue;
      if (!symbols.has(name)) symbols.set(name, { value: Number(value), size: Number(size) });
    }
  }
  return symbols;
}

/** The [lowest, highest) physical span covered by the loadable segments. */
export function elfPhysicalSpan(image: ElfImage): { start: number; end: number } {
  let start = Number.MAX_SAFE_INTEGER;
  let end = 0;
  for (const segment of image.segments) {
    start = Math.min(start, segment.paddr);
    end = Math.max(end, segment.paddr + segment.memSize);
  }
  return { start, end };
}

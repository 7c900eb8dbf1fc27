/**
 * The committed RISC-V test guests as data: where their sources and binaries are (by the directory convention of
 * test/guests/README.md), what their sources declare for the QEMU runner, and a small ELF64 reader to check the
 * binaries without a toolchain.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export const REPO_ROOT = join(import.meta.dir, "..", "..");
export const GUESTS_DIR = join(REPO_ROOT, "test", "guests");
export const ISA_DIR = join(GUESTS_DIR, "isa");
export const VS_GUESTS_DIR = join(GUESTS_DIR, "riscv");
export const BUILD_SCRIPT = join(REPO_ROOT, "scripts", "build-test-guests.sh");

/** Link address of the ISA programs (M-mode, start of RAM) and of the VS-mode guests. */
export const ISA_LINK_ADDRESS = 0x8000_0000;
export const VS_GUEST_LINK_ADDRESS = 0x8020_0000;

export type QemuMachine = "spike" | "virt";
export const QEMU_MACHINES: readonly QemuMachine[] = ["spike", "virt"];

export interface IsaProgram {
  /** Path below test/guests/isa without the extension, e.g. "rv64i-alu" or "fp/fadd". */
  readonly name: string;
  readonly source: string;
  readonly elf: string;
  /** QEMU machines the program runs on (`QEMU-MACHINES:` line of the source; default both). */
  readonly qemuMachines: readonly QemuMachine[];
  /** Why the program is not run on QEMU (`QEMU-SKIP:` line of the source), if it is not. */
  readonly qemuSkip: string | undefined;
}

export interface VsGuest {
  readonly name: string;
  readonly source: string;
  readonly elf: string;
  readonly bin: string;
}

export type GuestFileErrorKind = "bad-marker" | "bad-elf";

export class GuestFileError extends Error {
  override readonly name = "GuestFileError";
  readonly kind: GuestFileErrorKind;
  readonly file: string;

  constructor(kind: GuestFileErrorKind, file: string, message: string) {
    super(message);
    this.kind = kind;
    this.file = file;
  }
}

function walk(dir: string, skipDir: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (!skipDir(entry)) out.push(...walk(path, skipDir));
    } else {
      out.push(path);
    }
  }
  return out;
}

const MACHINES_MARKER = /^\s*\*?\s*QEMU-MACHINES:\s*(.+?)\s*$/m;
const SKIP_MARKER = /^\s*\*?\s*QEMU-SKIP:\s*(.+?)\s*$/m;

/** Reads the `QEMU-MACHINES:` and `QEMU-SKIP:` lines of a program's source. */
export function readQemuMarkers(source: string, text: string): Pick<IsaProgram, "qemuMachines" | "qemuSkip"> {
  const skip = SKIP_MARKER.exec(text)?.[1];
  const machinesText = MACHINES_MARKER.exec(text)?.[1];
  if (machinesText === undefined) return { qemuMachines: QEMU_MACHINES, qemuSkip: skip };
  const machines: QemuMachine[] = [];
  for (const word of machinesText.split(/[\s,]+/)) {
    if (word === "spike" || word === "virt") {
      machines.push(word);
    } else {
      throw new GuestFileError(
        "bad-marker",
        source,
        `Cannot read QEMU-MACHINES of ${source}: "${word}" is not one of ${QEMU_MACHINES.join(", ")}`,
      );
    }
  }
  return { qemuMachines: machines, qemuSkip: skip };
}

/** Every ISA program source (test/guests/isa/**.S outside `common/` directories), sorted. */
export function listIsaPrograms(): IsaProgram[] {
  return walk(ISA_DIR, (name) => name === "common")
    .filter((path) => path.endsWith(".S"))
    .map((source) => {
      const name = relative(ISA_DIR, source).replace(/\.S$/, "");
      return {
        name,
        source,
        elf: source.replace(/\.S$/, ".elf"),
        ...readQemuMarkers(source, readFileSync(source, "utf8")),
      };
    });
}

/** Every VS-mode guest source (test/guests/riscv/*.S and *.c, not `common/`), sorted. */
export function listVsGuests(): VsGuest[] {
  return readdirSync(VS_GUESTS_DIR)
    .sort()
    .filter((entry) => /\.(S|c)$/.test(entry) && statSync(join(VS_GUESTS_DIR, entry)).isFile())
    .map((entry) => {
      const name = entry.replace(/\.(S|c)$/, "");
      const base = join(VS_GUESTS_DIR, name);
      return { name, source: join(VS_GUESTS_DIR, entry), elf: `${base}.elf`, bin: `${base}.bin` };
    });
}

/** Path relative to the repository, for messages. */
export function repoPath(path: string): string {
  return relative(REPO_ROOT, path);
}

// ---------------------------------------------------------------------------------------------------------------
// ELF64 little-endian reader (only what the checks need)
// ---------------------------------------------------------------------------------------------------------------

export const EM_RISCV = 243;
export const ET_EXEC = 2;
export const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const ELF_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
const SECTION_HEADER_SIZE = 64;
const SYMBOL_SIZE = 24;

export interface ElfSegment {
  readonly type: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly paddr: number;
  readonly fileSize: number;
  readonly memSize: number;
}

export interface ElfSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
}

export interface ElfFile {
  readonly machine: number;
  readonly type: number;
  readonly entry: number;
  readonly segments: readonly ElfSegment[];
  readonly symbols: ReadonlyMap<string, ElfSymbol>;
}

function toNumber(file: string, what: string, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new GuestFileError("bad-elf", file, `Cannot read ${what} of ${file}: 0x${value.toString(16)} is too large`);
  }
  return Number(value);
}

/** Parses an ELF64 little-endian file; throws GuestFileError("bad-elf") naming the first problem. */
export function parseElf(file: string, bytes: Uint8Array): ElfFile {
  const bad = (message: string): never => {
    throw new GuestFileError("bad-elf", file, `Cannot parse ELF ${file}: ${message}`);
  };
  if (bytes.length < ELF_HEADER_SIZE) bad(`${bytes.length} bytes is shorter than an ELF64 header`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) bad("no ELF magic");
  if (bytes[4] !== 2) bad(`EI_CLASS is ${bytes[4]}, not ELFCLASS64`);
  if (bytes[5] !== 1) bad(`EI_DATA is ${bytes[5]}, not little-endian`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (offset: number, what: string): number => {
    if (offset + 8 > bytes.length) bad(`${what} at ${offset} is past the end (${bytes.length} bytes)`);
    return toNumber(file, what, view.getBigUint64(offset, true));
  };
  const u32 = (offset: number, what: string): number => {
    if (offset + 4 > bytes.length) bad(`${what} at ${offset} is past the end (${bytes.length} bytes)`);
    return view.getUint32(offset, true);
  };
  const u16 = (offset: number): number => view.getUint16(offset, true);

  const type = u16(16);
  const machine = u16(18);
  const entry = u64(24, "e_entry");
  const phoff = u64(32, "e_phoff");
  const shoff = u64(40, "e_shoff");
  const phentsize = u16(54);
  const phnum = u16(56);
  const shentsize = u16(58);
  const shnum = u16(60);
  if (phnum > 0 && phentsize !== PROGRAM_HEADER_SIZE) bad(`e_phentsize is ${phentsize}`);
  if (shnum > 0 && shentsize !== SECTION_HEADER_SIZE) bad(`e_shentsize is ${shentsize}`);

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const base = phoff + i * PROGRAM_HEADER_SIZE;
    const segment: ElfSegment = {
      type: u32(base, "p_type"),
      offset: u64(base + 8, "p_offset"),
      vaddr: u64(base + 16, "p_vaddr"),
      paddr: u64(base + 24, "p_paddr"),
      fileSize: u64(base + 32, "p_filesz"),
      memSize: u64(base + 40, "p_memsz"),
    };
    if (segment.offset + segment.fileSize > bytes.length) {
      bad(`segment ${i} (offset ${segment.offset}, ${segment.fileSize} bytes) is past the end of the file`);
    }
    if (segment.type === PT_LOAD && segment.fileSize > segment.memSize) bad(`segment ${i} has p_filesz > p_memsz`);
    segments.push(segment);
  }

  const symbols = new Map<string, ElfSymbol>();
  for (let i = 0; i < shnum; i++) {
    const base = shoff + i * SECTION_HEADER_SIZE;
    if (u32(base + 4, "sh_type") !== SHT_SYMTAB) continue;
    const offset = u64(base + 24, "sh_offset");
    const size = u64(base + 32, "sh_size");
    const link = u32(base + 40, "sh_link");
    if (link >= shnum) bad(`symbol table ${i} links to section ${link} of ${shnum}`);
    const strBase = shoff + link * SECTION_HEADER_SIZE;
    const strOffset = u64(strBase + 24, "sh_offset");
    const strSize = u64(strBase + 32, "sh_size");
    if (strOffset + strSize > bytes.length) bad("string table is past the end of the file");
    for (let at = offset; at + SYMBOL_SIZE <= offset + size; at += SYMBOL_SIZE) {
      const nameOffset = u32(at, "st_name");
      if (nameOffset >= strSize) bad(`symbol name offset ${nameOffset} is outside the string table`);
      let end = strOffset + nameOffset;
      while (end < strOffset + strSize && bytes[end] !== 0) end++;
      const name = new TextDecoder().decode(bytes.subarray(strOffset + nameOffset, end));
      if (name !== "") symbols.set(name, { name, value: u64(at + 8, "st_value"), size: u64(at + 16, "st_size") });
    }
  }
  return { machine, type, entry, segments, symbols };
}

/** The loadable image from the lowest PT_LOAD address to the end of the last segment's file bytes. */
export function flattenLoadSegments(bytes: Uint8Array, elf: ElfFile): { base: number; image: Uint8Array } {
  const loads = elf.segments.filter((segment) => segment.type === PT_LOAD && segment.fileSize > 0);
  if (loads.length === 0) return { base: 0, image: new Uint8Array(0) };
  const base = Math.min(...loads.map((segment) => segment.paddr));
  const end = Math.max(...loads.map((segment) => segment.paddr + segment.fileSize));
  const image = new Uint8Array(end - base);
  for (const segment of loads) {
    image.set(bytes.subarray(segment.offset, segment.offset + segment.fileSize), segment.paddr - base);
  }
  return { base, image };
}

export function readElf(path: string): { bytes: Uint8Array; elf: ElfFile } {
  const bytes = new Uint8Array(readFileSync(path));
  return { bytes, elf: parseElf(repoPath(path), bytes) };
}


/**
 * The committed RISC-V test guests as data: where their sources and binaries are (by the directory convention of
 * test/guests/README.md), what their sources declare for the QEMU runner, and a small ELF64 reader to check the
 * binaries without a toolchain.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ElfError, type ElfImage, EM_RISCV, parseElf } from "../../src/vmm/loader/elf.ts";

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
// ELF: the VMM's own loader parses the committed binaries, so what the checks read is what the VMM would load
// ---------------------------------------------------------------------------------------------------------------

export { EM_RISCV };
export type ElfFile = ElfImage;

/** The loadable image from the lowest PT_LOAD address to the end of the last segment's file bytes. */
export function flattenLoadSegments(elf: ElfFile): { base: number; image: Uint8Array } {
  const loads = elf.segments.filter((segment) => segment.data.length > 0);
  if (loads.length === 0) return { base: 0, image: new Uint8Array(0) };
  const base = Math.min(...loads.map((segment) => segment.paddr));
  const end = Math.max(...loads.map((segment) => segment.paddr + segment.data.length));
  const image = new Uint8Array(end - base);
  for (const segment of loads) image.set(segment.data, segment.paddr - base);
  return { base, image };
}

/** e_type of an ELF file (2 = ET_EXEC). */
export function elfType(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(16, true);
}

export function readElf(path: string): { bytes: Uint8Array; elf: ElfFile } {
  const bytes = new Uint8Array(readFileSync(path));
  try {
    return { bytes, elf: parseElf(bytes, repoPath(path)) };
  } catch (error) {
    if (error instanceof ElfError) throw new GuestFileError("bad-elf", repoPath(path), error.message);
    throw error;
  }
}

/**
 * Snapshots of a paused VM (Firecracker's full snapshot): a small JSON state file and a sparse memory file.
 *
 * State file (`SnapshotFile`, JSON through json.ts): the format name and version, the VM's identity (arch,
 * backend, board), its config (a restore builds the VM again from it: same board, devices, memory layout), the
 * memory file's layout (regions and the extents holding data) and the VM state (`AxVM.saveState`: clock, vCPUs,
 * devices, board). Memory file: memory-file.ts.
 *
 * A restore reads the state file, refuses another format, version or architecture with an error saying which,
 * builds the VM from the saved config, reads the memory extents into its RAM, and loads the VM state; the VM is
 * then paused at the saved instant, with its clock at the saved time.
 */

import { readFileSync, statSync, writeFileSync } from "node:fs";
import type { VmConfig } from "../config/types.ts";
import { errorMessage, VmError } from "../errors.ts";
import type { AxVM } from "../vm.ts";
import type { VmState } from "../vm-state.ts";
import { decodeSnapshotJson, encodeSnapshotJson } from "./json.ts";
import {
  type MemoryLayout,
  type MemoryLoad,
  type MemoryLoaded,
  type MemoryScan,
  type MemoryWritten,
  readMemoryFile,
  writeMemoryFile,
} from "./memory-file.ts";

export const SNAPSHOT_FORMAT = "axvisor-ts-snapshot";
/** Bumped whenever the state file's shape or meaning changes; a restore accepts only its own version. */
export const SNAPSHOT_VERSION = 1;

export interface SnapshotFile {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: number;
  readonly createdAt: string;
  readonly vm: {
    readonly id: number;
    readonly name: string;
    readonly arch: string;
    readonly backend: string;
    readonly board: string;
  };
  readonly config: VmConfig;
  readonly memory: MemoryLayout;
  readonly state: VmState;
}

export interface SnapshotCreated {
  /** Bytes of the state file. */
  readonly stateBytes: number;
  /** Bytes of guest memory written to the memory file (its apparent size is `memoryFileSize`). */
  readonly memoryDataBytes: number;
  readonly memoryFileSize: number;
  /** Bytes of RAM skipped without being read: the kernel said they were never touched (memory-file.ts). */
  readonly memorySkippedUntouched: number;
}

/** Write a snapshot of `vm`, which must be paused (await `vm.pause()` first). */
export function createSnapshot(
  vm: AxVM,
  paths: { readonly statePath: string; readonly memoryPath: string },
  options: { readonly scan?: MemoryScan } = {},
): SnapshotCreated {
  const state = vm.saveState();
  let written: MemoryWritten;
  try {
    written = writeMemoryFile(paths.memoryPath, vm.memory, options.scan);
  } catch (error) {
    throw new VmError(
      "snapshot",
      vm.label,
      `cannot write the memory file ${paths.memoryPath}: ${errorMessage(error)}`,
      {
        cause: error,
      },
    );
  }
  const memory: MemoryLayout = written.layout;
  const file: SnapshotFile = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    createdAt: new Date().toISOString(),
    vm: { id: vm.id, name: vm.name, arch: vm.config.arch, backend: vm.backend, board: vm.board.name },
    config: vm.config,
    memory,
    state,
  };
  const text = encodeSnapshotJson(file);
  try {
    writeFileSync(paths.statePath, text, { mode: 0o600 });
  } catch (error) {
    throw new VmError("snapshot", vm.label, `cannot write the state file ${paths.statePath}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return {
    stateBytes: Buffer.byteLength(text),
    memoryDataBytes: memory.extents.reduce((sum, [, length]) => sum + length, 0),
    memoryFileSize: memory.fileSize,
    memorySkippedUntouched: written.skippedUntouched,
  };
}

/**
 * Read and check a state file: its format, version, and that its guest can run on this host (`hostArch`: the
 * architecture hardware backends run here; the emulated backend runs riscv64 anywhere). Throws VmError
 * "snapshot" saying what does not match.
 */
export function readSnapshot(statePath: string, hostArch: string = process.arch): SnapshotFile {
  const label = `snapshot ${statePath}`;
  let raw: unknown;
  try {
    raw = decodeSnapshotJson(readFileSync(statePath, "utf8"));
  } catch (error) {
    throw new VmError("snapshot", label, `cannot read it: ${errorMessage(error)}`, { cause: error });
  }
  const file = raw as Partial<SnapshotFile> | null;
  if (typeof file !== "object" || file === null || file.format !== SNAPSHOT_FORMAT) {
    throw new VmError("snapshot", label, `not an axvisor-ts snapshot (no "format": "${SNAPSHOT_FORMAT}")`);
  }
  if (file.version !== SNAPSHOT_VERSION) {
    throw new VmError(
      "snapshot",
      label,
      `it is version ${JSON.stringify(file.version)} of the snapshot format; this axvisor-ts reads version ${SNAPSHOT_VERSION} only`,
    );
  }
  const vm = file.vm;
  if (vm === undefined || file.config === undefined || file.memory === undefined || file.state === undefined) {
    throw new VmError("snapshot", label, "it lacks one of vm, config, memory, state");
  }
  if (vm.arch !== file.config.arch) {
    throw new VmError("snapshot", label, `its vm.arch (${vm.arch}) and config.arch (${file.config.arch}) differ`);
  }
  const hostGuestArch = hostArch === "x64" ? "x86_64" : hostArch === "arm64" ? "aarch64" : hostArch;
  if (vm.backend !== "emulated" && vm.arch !== hostGuestArch) {
    throw new VmError(
      "snapshot",
      label,
      `it holds a ${vm.arch} guest of the ${vm.backend} backend; this host runs ${hostGuestArch} guests on hardware backends`,
    );
  }
  return file as SnapshotFile;
}

/**
 * Load a snapshot into `vm`, which was built from `file.config` and not booted: memory from `memoryPath` (mapped
 * where the memory allows, unless `load` is "read"), then the VM state. The VM is left paused.
 */
export function loadSnapshotInto(
  vm: AxVM,
  file: SnapshotFile,
  memoryPath: string,
  load: MemoryLoad = "map",
): MemoryLoaded {
  let size: number;
  try {
    size = statSync(memoryPath).size;
  } catch (error) {
    throw new VmError("snapshot", vm.label, `cannot open the memory file ${memoryPath}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (size !== file.memory.fileSize) {
    throw new VmError(
      "snapshot",
      vm.label,
      `the memory file ${memoryPath} is ${size} bytes, the snapshot's was ${file.memory.fileSize}: it belongs to another snapshot`,
    );
  }
  let loaded: MemoryLoaded;
  try {
    loaded = readMemoryFile(memoryPath, vm.memory, file.memory, vm.bootWrites, load);
  } catch (error) {
    throw new VmError("snapshot", vm.label, `cannot load memory from ${memoryPath}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  vm.restoreState(file.state);
  return loaded;
}

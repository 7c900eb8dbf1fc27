/**
 * Host files the VMM reads where it expects a regular file (config files, kernel and boot images): never block in
 * `open` and never read what is not a file. A FIFO given as a kernel image used to hang `check` and `run` in
 * open(2) beyond Ctrl-C (the open blocks until a writer appears, and the JS thread with it, so no signal handler
 * runs). So the path is `stat`ed first and refused unless it is a regular file; the open itself uses O_NONBLOCK
 * (a FIFO swapped in after the stat then fails with an error or opens at once instead of blocking), and the
 * opened descriptor is checked again with `fstat`.
 */

import { closeSync, constants, fstatSync, openSync, readSync, type Stats, statSync } from "node:fs";
import { dirname } from "node:path";

/** What a path that is not a regular file is, for messages ("a FIFO (named pipe)", "a directory", ...). */
export function fileKindOf(stats: Stats): string {
  if (stats.isFile()) return "a regular file";
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isSocket()) return "a socket";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isCharacterDevice()) return "a character device";
  return "not a regular file";
}

export type HostFileErrorKind =
  /** The path does not exist. */
  | "missing"
  /** It exists but is not a regular file (a FIFO, a directory, a device, ...). */
  | "not-regular"
  /** The operating system refused (permissions, I/O error). */
  | "io";

export class HostFileError extends Error {
  override readonly name = "HostFileError";
  readonly kind: HostFileErrorKind;
  readonly path: string;
  /** What is wrong with the file, without the action and path ("file not found", "is a directory, ..."). */
  readonly reason: string;
  /** The errno name (ENOENT, EACCES, ...) when the operating system gave one. */
  readonly code: string | undefined;
  /** The message is "Cannot read <what> <path>: <reason>". */
  constructor(
    kind: HostFileErrorKind,
    path: string,
    what: string,
    reason: string,
    options: { code?: string | undefined; cause?: unknown } = {},
  ) {
    super(`Cannot read ${what} ${path}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.path = path;
    this.reason = reason;
    this.code = options.code;
  }
}

/** The errno name (ENOENT, EIO, ...) of an error from node:fs, or undefined. */
export function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/**
 * Why `path` cannot be read as a regular file ("file not found", "is a FIFO (named pipe), not a regular file",
 * ...), or undefined when it can be tried. Never blocks: it only looks at the path.
 */
export function regularFileProblem(path: string): { kind: HostFileErrorKind; reason: string } | undefined {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = errnoCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing", reason: "file not found" };
    return { kind: "io", reason: `cannot open (${code ?? String(error)})` };
  }
  if (!stats.isFile()) return { kind: "not-regular", reason: `is ${fileKindOf(stats)}, not a regular file` };
  return undefined;
}

/**
 * Open a regular file for reading without ever blocking: stat first, open with O_NONBLOCK, fstat the descriptor.
 * Throws `HostFileError` whose message is "<what> <path>: <reason>". The caller closes the descriptor.
 */
export function openRegularFile(path: string, what: string): number {
  const problem = regularFileProblem(path);
  if (problem !== undefined) throw new HostFileError(problem.kind, path, what, problem.reason);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = errnoCode(error);
    throw new HostFileError("io", path, what, `cannot open (${code ?? String(error)})`, { code, cause: error });
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) {
      throw new HostFileError("not-regular", path, what, `is ${fileKindOf(stats)}, not a regular file`);
    }
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Read `length` bytes from `position` (fewer at the end of the file). */
export function readAt(fd: number, position: number, length: number): Uint8Array {
  const buffer = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

/** The whole content of a regular file (see `openRegularFile`). */
export function readRegularFile(path: string, what: string): Uint8Array {
  const fd = openRegularFile(path, what);
  try {
    return readAt(fd, 0, fstatSync(fd).size);
  } catch (error) {
    if (error instanceof HostFileError) throw error;
    const code = errnoCode(error);
    throw new HostFileError("io", path, what, `cannot read (${code ?? String(error)})`, { code, cause: error });
  } finally {
    closeSync(fd);
  }
}

/**
 * Why `path` cannot be a console output file, or undefined: it must be a regular file, a character device
 * (/dev/null, a terminal) or not exist yet in an existing folder. A FIFO is refused (opening it for writing waits
 * for a reader), as are directories, sockets and block devices. Never blocks: it only looks at the path.
 */
export function consoleFileProblem(path: string): string | undefined {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = errnoCode(error);
    if (code !== "ENOENT") return `cannot use it (${code ?? String(error)})`;
    try {
      if (!statSync(dirname(path)).isDirectory()) return `its folder ${dirname(path)} is not a directory`;
    } catch {
      return `its folder ${dirname(path)} does not exist`;
    }
    return undefined;
  }
  if (stats.isFile() || stats.isCharacterDevice()) return undefined;
  return `is ${fileKindOf(stats)}; a console file must be a regular file (or a character device such as /dev/null)`;
}

/**
 * Disk images for the VMM: opened and locked before a device ever sees them, as QEMU does. Two VMs writing one
 * image corrupt each other silently (31–59 of 2000 reads saw the other VM's data), so:
 *
 * - a read-write image gets an exclusive lock, a read-only one a shared lock (src/hal/host/sys.ts: OFD locks on
 *   Linux, flock on macOS); a conflict is an error naming the image and, where the OS tells, the holder;
 * - an image whose mode lets nobody write it (0444) is never opened read-write, even by root (who could);
 * - only a regular file or a block device is opened, after a `stat`, with O_NONBLOCK (a FIFO never blocks us).
 *
 * A read-write image can deallocate ranges (`punchHole`, for virtio-blk discard and write-zeroes): on Linux
 * `fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)`, which gives a sparse file's blocks back to the host file
 * system (and passes a discard down when the image is a block device). Where that call is refused as unsupported
 * (another OS, a file system without holes), `punchHole` answers false from then on and the device writes zeros.
 *
 * A host or file system without the lock call (another OS, a network file system answering ENOLCK) still runs
 * the VM: the image is then unlocked, and `lock` says why, for the VMM to warn about.
 */

import { closeSync, constants, fstatSync, openSync, readFileSync, type Stats, statSync } from "node:fs";
import { EACCES, EINVAL, ENODEV, ENOLCK, ENOSYS, EOPNOTSUPP, EROFS } from "../../common/errno.ts";
import { HostError } from "./errors.ts";
import { lockHolders } from "./lock-holders.ts";
import { type LockKind, lockWholeFile, punchHole } from "./sys.ts";

export interface DiskImage extends Disposable {
  readonly path: string;
  readonly fd: number;
  /** Bytes in the image. */
  readonly size: number;
  readonly readOnly: boolean;
  /** The lock held until `close`, or why there is none. */
  readonly lock: LockKind | { readonly unlocked: string };
  /**
   * Deallocate `length` bytes at `offset`, keeping the size (they read as zeros afterwards). False when the host
   * or file system cannot punch holes (asked once: later calls answer false at once); throws `HostError` "io" on
   * another failure, and "read-only" on a read-only image.
   */
  punchHole(offset: number, length: number): boolean;
  /** Close the descriptor, which releases the lock. Idempotent. */
  close(): void;
}

/** macOS's ENOTSUP (Linux calls it EOPNOTSUPP, 95). */
const ENOTSUP_DARWIN = 45;

function errnoOf(error: unknown): { code: string; errno: number | undefined } {
  if (error instanceof Error && "code" in error && typeof error.code === "string") {
    const errno = "errno" in error && typeof error.errno === "number" ? Math.abs(error.errno) : undefined;
    return { code: error.code, errno };
  }
  return { code: String(error), errno: undefined };
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice()) return "a character device";
  return "not a regular file";
}

/** "(pid 1234, qemu-system-x86)"-style text about who holds the conflicting lock. */
function holderText(stats: Stats, reported: { type: "read" | "write"; pid: number } | undefined): string {
  const holders = lockHolders(stats);
  const lockWord = (access: "read" | "write" | undefined): string =>
    access === undefined ? "a lock" : `a ${access} lock`;
  if (holders.length > 0) {
    const who = holders
      .map((h) => {
        const name = h.command === undefined ? "" : `, ${h.command}`;
        return h.pid === process.pid ? `pid ${h.pid}: this axvisor, another VM of this run` : `pid ${h.pid}${name}`;
      })
      .join("; ");
    return `${lockWord(holders[0]?.access ?? reported?.type)} is held by ${who}`;
  }
  if (reported !== undefined && reported.pid > 0) return `${lockWord(reported.type)} is held by pid ${reported.pid}`;
  return `${lockWord(reported?.type)} is held by another open of it (the OS does not say which process; \`lslocks\` may)`;
}

/**
 * Open `path` as a disk image, read-only or read-write, and lock it (shared or exclusive). Throws `HostError`:
 * "missing", "not-regular", "read-only" (read-write asked of a file nobody may write), "locked" (with the
 * holder), "io".
 */
export function openDiskImage(path: string, options: { readonly readOnly: boolean }): DiskImage {
  const { readOnly } = options;
  const how = readOnly ? "read-only" : "read-write";
  const what = `Cannot open disk image ${path} ${how}`;
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const { code, errno } = errnoOf(error);
    const kind = code === "ENOENT" || code === "ENOTDIR" ? "missing" : "io";
    throw new HostError(kind, path, "stat", `${what}: ${kind === "missing" ? "file not found" : code}`, {
      errno,
      cause: error,
    });
  }
  if (!stats.isFile() && !stats.isBlockDevice()) {
    throw new HostError("not-regular", path, "stat", `${what}: it is ${kindOf(stats)}, not a file or block device`);
  }
  // Root may write a 0444 file; an image made read-only by its mode is treated as read-only for everybody.
  if (!readOnly && (stats.mode & 0o222) === 0) {
    throw new HostError(
      "read-only",
      path,
      "stat",
      `${what}: its mode is 0${(stats.mode & 0o777).toString(8)}, nobody may write it; attach it with read_only = true`,
    );
  }
  let fd: number;
  try {
    fd = openSync(path, (readOnly ? constants.O_RDONLY : constants.O_RDWR) | constants.O_NONBLOCK);
  } catch (error) {
    const { code, errno } = errnoOf(error);
    const denied = !readOnly && (errno === EACCES || errno === EROFS || code === "EACCES" || code === "EROFS");
    throw new HostError(
      denied ? "read-only" : "io",
      path,
      "open",
      denied ? `${what}: ${code} (attach it with read_only = true)` : `${what}: ${code}`,
      { errno, cause: error },
    );
  }
  try {
    const opened = fstatSync(fd);
    if (!opened.isFile() && !opened.isBlockDevice()) {
      throw new HostError("not-regular", path, "fstat", `${what}: it is ${kindOf(opened)}, not a file or block device`);
    }
    const lock = takeLock(fd, path, readOnly ? "shared" : "exclusive", opened, what);
    let open = true;
    const close = (): void => {
      if (!open) return;
      open = false;
      closeSync(fd);
    };
    const punch = holePuncher(fd, path, readOnly, () => open);
    const size = opened.isBlockDevice() ? blockDeviceSize(opened, path, what) : opened.size;
    return { path, fd, size, readOnly, lock, punchHole: punch, close, [Symbol.dispose]: close };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function takeLock(
  fd: number,
  path: string,
  kind: LockKind,
  stats: Stats,
  what: string,
): LockKind | { readonly unlocked: string } {
  let attempt: ReturnType<typeof lockWholeFile>;
  try {
    attempt = lockWholeFile(fd, path, kind);
  } catch (error) {
    if (error instanceof HostError && error.kind === "unsupported") return { unlocked: error.message };
    throw error;
  }
  switch (attempt.kind) {
    case "held":
      return kind;
    case "conflict":
      throw new HostError(
        "locked",
        path,
        "lock",
        `${what}: it is in use, ${holderText(stats, attempt.holder)} (a ${kind === "exclusive" ? "read-write" : "read-only"} disk needs ${kind === "exclusive" ? "no other user" : "no writer"})`,
      );
    case "failed":
      // A file system without these locks: run unlocked, as QEMU does, and say so.
      if (
        attempt.errno === ENOLCK ||
        attempt.errno === EINVAL ||
        attempt.errno === EOPNOTSUPP ||
        attempt.errno === ENOTSUP_DARWIN
      ) {
        return { unlocked: `its file system does not support file locks (errno ${attempt.errno})` };
      }
      throw new HostError("io", path, "lock", `${what}: locking it failed (errno ${attempt.errno})`, {
        errno: attempt.errno,
      });
  }
}

/** `punchHole` for one image: refuses on a read-only or closed image, remembers a host that cannot punch. */
function holePuncher(
  fd: number,
  path: string,
  readOnly: boolean,
  isOpen: () => boolean,
): (offset: number, length: number) => boolean {
  let unsupported = false;
  return (offset, length) => {
    const what = `Cannot punch a hole of ${length} bytes at ${offset} in disk image ${path}`;
    if (readOnly) throw new HostError("read-only", path, "fallocate", `${what}: it is open read-only`);
    if (!isOpen()) throw new HostError("io", path, "fallocate", `${what}: it is closed`);
    if (unsupported) return false;
    let attempt: ReturnType<typeof punchHole>;
    try {
      attempt = punchHole(fd, path, offset, length);
    } catch (error) {
      if (error instanceof HostError && error.kind === "unsupported") {
        unsupported = true;
        return false;
      }
      throw error;
    }
    if (attempt.kind === "done") return true;
    // EOPNOTSUPP: the file system has no holes; ENOSYS: no fallocate; ENODEV: not a file or device that has it.
    if (attempt.errno === EOPNOTSUPP || attempt.errno === ENOSYS || attempt.errno === ENODEV) {
      unsupported = true;
      return false;
    }
    throw new HostError("io", path, "fallocate", `${what}: fallocate failed (errno ${attempt.errno})`, {
      errno: attempt.errno,
    });
  };
}

/**
 * A block device's size: `fstat` says 0 for one, so Linux's sysfs answers (/sys/dev/block/MAJOR:MINOR/size, in
 * 512-byte sectors whatever the device's block size).
 */
function blockDeviceSize(stats: Stats, path: string, what: string): number {
  // glibc's gnu_dev_major/minor: 12 bits of major and 20 of minor, spread over the 64-bit dev_t.
  const rdev = BigInt(stats.rdev);
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  const sysfs = `/sys/dev/block/${major}:${minor}/size`;
  let text: string;
  try {
    text = readFileSync(sysfs, "utf8");
  } catch (error) {
    const { code, errno } = errnoOf(error);
    throw new HostError("io", path, "stat", `${what}: it is a block device whose size ${sysfs} cannot say (${code})`, {
      errno,
      cause: error,
    });
  }
  const sectors = Number(text.trim());
  if (!Number.isSafeInteger(sectors) || sectors < 0 || !Number.isSafeInteger(sectors * 512)) {
    throw new HostError("io", path, "stat", `${what}: ${sysfs} says "${text.trim()}", not a sector count`);
  }
  return sectors * 512;
}

/**
 * The only file of the host-OS services that imports `bun:ffi`: the file locks node:fs does not offer. libc is
 * opened on first use, never when the module is imported (a `check`, or a VM without disks, never loads it).
 *
 * - Linux: open file description (OFD) locks, `fcntl(F_OFD_SETLK / F_OFD_GETLK)` on the whole file, as QEMU
 *   takes them: owned by the open file description, so they conflict between two opens in one process too, and
 *   end when the descriptor is closed. A whole-file lock also conflicts with QEMU's byte locks on an image.
 * - macOS: `flock(LOCK_SH / LOCK_EX | LOCK_NB)`, the same per-open-file semantics (it has no OFD fcntl).
 *
 * Arguments are checked before crossing into native code; failures come back as errno values for the caller to
 * name, never as strings.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { HostError } from "./errors.ts";

// <fcntl.h> on Linux (the same on x86_64, aarch64 and riscv64).
const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;
const SEEK_SET = 0;
/**
 * `struct flock` on 64-bit Linux: l_type (i16) at 0, l_whence (i16) at 2, l_start (i64) at 8, l_len (i64) at 16,
 * l_pid (i32) at 24; 32 bytes.
 */
const FLOCK_SIZE = 32;
const FLOCK_TYPE = 0;
const FLOCK_WHENCE = 2;
const FLOCK_START = 8;
const FLOCK_LEN = 16;
const FLOCK_PID = 24;
// <sys/file.h> (the same on Linux and macOS).
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;

export type LockKind = "shared" | "exclusive";

/** What taking a lock gave: held, refused because of another lock, or a failure to try (errno). */
export type LockAttempt =
  | { readonly kind: "held" }
  | {
      readonly kind: "conflict";
      /** The conflicting lock as the OS reports it (Linux), when it says. */
      readonly holder?: { readonly type: "read" | "write"; readonly pid: number };
    }
  | { readonly kind: "failed"; readonly errno: number };

interface LinuxLibc {
  readonly platform: "linux";
  fcntl(fd: number, command: number, flock: Uint8Array): number;
  errno(): number;
}
interface DarwinLibc {
  readonly platform: "darwin";
  flock(fd: number, operation: number): number;
  errno(): number;
}

let libc: LinuxLibc | DarwinLibc | undefined;

function load(path: string): LinuxLibc | DarwinLibc {
  if (libc !== undefined) return libc;
  try {
    if (process.platform === "linux") {
      const lib = dlopen("libc.so.6", {
        // fcntl is variadic; on 64-bit Linux a pointer travels as a variadic argument exactly as a fixed one.
        fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
      libc = {
        platform: "linux",
        fcntl: (fd, command, flock) => lib.symbols.fcntl(fd, command, ptr(flock)),
        errno: () => {
          const location = lib.symbols.__errno_location();
          return location === null ? 0 : read.i32(location, 0);
        },
      };
    } else if (process.platform === "darwin") {
      const lib = dlopen("/usr/lib/libSystem.B.dylib", {
        flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        __error: { args: [], returns: FFIType.ptr },
      });
      libc = {
        platform: "darwin",
        flock: (fd, operation) => lib.symbols.flock(fd, operation),
        errno: () => {
          const location = lib.symbols.__error();
          return location === null ? 0 : read.i32(location, 0);
        },
      };
    } else {
      throw new HostError("unsupported", path, "lock", `file locks are not implemented on ${process.platform}`);
    }
  } catch (error) {
    if (error instanceof HostError) throw error;
    throw new HostError(
      "unsupported",
      path,
      "dlopen",
      `cannot load the C library for file locks: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return libc;
}

// ---------------------------------------------------------------------------------------------------------------
// Punching holes in disk images (Linux): fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), for virtio-blk
// discard and write-zeroes. libc is bound on the first punch, separately from the lock calls.
// ---------------------------------------------------------------------------------------------------------------

/** <linux/falloc.h>: keep the file size; deallocate the range (it then reads as zeros). */
const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;

/** What a punch did: the range is a hole now, or the errno of the refusal (EOPNOTSUPP: not on this file system). */
export type PunchAttempt = { readonly kind: "done" } | { readonly kind: "failed"; readonly errno: number };

interface FallocateLibc {
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  errno(): number;
}

let fallocateLibc: FallocateLibc | undefined;

function loadFallocate(path: string): FallocateLibc {
  if (fallocateLibc !== undefined) return fallocateLibc;
  if (process.platform !== "linux") {
    throw new HostError("unsupported", path, "fallocate", `punching holes is not implemented on ${process.platform}`);
  }
  try {
    const lib = dlopen("libc.so.6", {
      // int fallocate(int fd, int mode, off_t offset, off_t len): off_t is 64-bit on 64-bit Linux.
      fallocate: { args: [FFIType.i32, FFIType.i32, FFIType.i64, FFIType.i64], returns: FFIType.i32 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    fallocateLibc = {
      fallocate: (fd, mode, offset, length) => lib.symbols.fallocate(fd, mode, offset, length),
      errno: () => {
        const location = lib.symbols.__errno_location();
        return location === null ? 0 : read.i32(location, 0);
      },
    };
  } catch (error) {
    throw new HostError(
      "unsupported",
      path,
      "dlopen",
      `cannot load the C library for fallocate: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return fallocateLibc;
}

/**
 * Deallocate `length` bytes at `offset` of `fd` (`path` for messages), keeping the file's size: the range reads as
 * zeros afterwards and a sparse image gives the space back to the host. Partial file-system blocks at the ends are
 * zeroed in place by the kernel. Throws `HostError` "unsupported" where there is no fallocate (not Linux).
 */
export function punchHole(fd: number, path: string, offset: number, length: number): PunchAttempt {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) {
    throw new HostError("io", path, "fallocate", `Cannot punch a hole in ${path}: ${fd} is not a file descriptor`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length <= 0) {
    throw new HostError(
      "io",
      path,
      "fallocate",
      `Cannot punch a hole in ${path}: offset ${offset} and length ${length} must be a byte range (length > 0)`,
    );
  }
  const c = loadFallocate(path);
  if (c.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) === 0) return { kind: "done" };
  return { kind: "failed", errno: c.errno() };
}

function checkFd(fd: number, path: string): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) {
    throw new HostError("io", path, "lock", `Cannot lock ${path}: ${fd} is not a file descriptor`);
  }
}

function flockStruct(type: number): Uint8Array {
  const bytes = new Uint8Array(FLOCK_SIZE);
  const view = new DataView(bytes.buffer);
  view.setInt16(FLOCK_TYPE, type, true);
  view.setInt16(FLOCK_WHENCE, SEEK_SET, true);
  view.setBigInt64(FLOCK_START, 0n, true);
  view.setBigInt64(FLOCK_LEN, 0n, true); // 0: to the end of the file, however it grows
  return bytes;
}

/** Try to lock the whole of `fd` (`path` for messages), without waiting. */
export function lockWholeFile(fd: number, path: string, kind: LockKind): LockAttempt {
  checkFd(fd, path);
  const c = load(path);
  if (c.platform === "darwin") {
    if (c.flock(fd, (kind === "shared" ? LOCK_SH : LOCK_EX) | LOCK_NB) === 0) return { kind: "held" };
    const errno = c.errno();
    // EWOULDBLOCK (35 on macOS): another open file holds a conflicting lock; flock does not say whose.
    return errno === 35 ? { kind: "conflict" } : { kind: "failed", errno };
  }
  const type = kind === "shared" ? F_RDLCK : F_WRLCK;
  if (c.fcntl(fd, F_OFD_SETLK, flockStruct(type)) === 0) return { kind: "held" };
  const errno = c.errno();
  // EAGAIN (11) or EACCES (13): a conflicting lock is held. Ask which one.
  if (errno !== 11 && errno !== 13) return { kind: "failed", errno };
  const query = flockStruct(type);
  if (c.fcntl(fd, F_OFD_GETLK, query) !== 0) return { kind: "conflict" };
  const view = new DataView(query.buffer);
  const found = view.getInt16(FLOCK_TYPE, true);
  // The holder let go between the two calls: still a conflict for this attempt, holder unknown.
  if (found === F_UNLCK) return { kind: "conflict" };
  return {
    kind: "conflict",
    holder: { type: found === F_RDLCK ? "read" : "write", pid: view.getInt32(FLOCK_PID, true) },
  };
}

/**
 * The only file of the host-OS services that imports `bun:ffi`: what node:fs does not offer. libc is opened on
 * first use, never when the module is imported (a `check`, or a VM without disks or nets, never loads it).
 *
 * - Linux: open file description (OFD) locks, `fcntl(F_OFD_SETLK / F_OFD_GETLK)` on the whole file, as QEMU
 *   takes them: owned by the open file description, so they conflict between two opens in one process too, and
 *   end when the descriptor is closed. A whole-file lock also conflicts with QEMU's byte locks on an image.
 * - macOS: `flock(LOCK_SH / LOCK_EX | LOCK_NB)`, the same per-open-file semantics (it has no OFD fcntl).
 *
 * TAP network interfaces (Linux only): `ioctl(TUNSETIFF)` on /dev/net/tun, and the calls the frame reader thread
 * makes (src/hal/host/tap-reader.ts): `read`/`write` of one frame, `poll` on the TAP and a wake-up eventfd.
 *
 * Arguments are checked before crossing into native code; failures come back as errno values for the caller to
 * name, never as strings. The module is loaded separately in each thread that imports it (the main thread and a
 * TAP reader), and so is libc's binding; errno is per thread, so the `__errno_location()` pointer is too.
 */
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { EFAULT, EINVAL } from "../../common/errno.ts";
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

// ---------------------------------------------------------------------------------------------------------------
// TAP interfaces and the calls of their reader thread (Linux)
// ---------------------------------------------------------------------------------------------------------------

/** <linux/if_tun.h>: `_IOW('T', 202, int)`, the same on x86_64, arm64 and riscv64 (asm-generic ioctl encoding). */
const TUNSETIFF = 0x4004_54ca;
/** `_IOR('T', 210, unsigned int)`: the interface's name and flags. */
const TUNGETIFF = 0x8004_54d2;
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
/** IFNAMSIZ: interface names are at most 15 bytes and a NUL. */
export const IFNAMSIZ = 16;
/** `struct ifreq` on 64-bit Linux: ifr_name[16], then a 24-byte union whose first member is `short ifr_flags`. */
const IFREQ_SIZE = 40;
const IFREQ_FLAGS = 16;
/** <poll.h> */
export const POLLIN = 0x001;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
/** `struct pollfd`: int fd, short events, short revents. */
const POLLFD_SIZE = 8;
/** <sys/eventfd.h>, <fcntl.h> */
const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;
export const EAGAIN = 11;
export const EINTR = 4;

interface NetLibc {
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  read(fd: number, buffer: Uint8Array, length: number): number;
  write(fd: number, buffer: Uint8Array, length: number): number;
  poll(fds: Uint8Array, count: number, timeoutMs: number): number;
  eventfd(initial: number, flags: number): number;
  close(fd: number): number;
  getpid(): number;
  /** syscall(2) with up to three arguments (tgkill). */
  syscall3(number: number, a: number, b: number, c: number): number;
  errno(): number;
}

/** tgkill(2)'s number by host arch (the generic table on arm64 and riscv64). */
const TGKILL_SYSCALL: Readonly<Partial<Record<NodeJS.Architecture, number>>> = { x64: 234, arm64: 131, riscv64: 131 };

let netLibc: NetLibc | undefined;

function loadNet(what: string): NetLibc {
  if (netLibc !== undefined) return netLibc;
  if (process.platform !== "linux") {
    throw new HostError(
      "unsupported",
      "/dev/net/tun",
      what,
      `TAP interfaces are a Linux feature, not ${process.platform}'s`,
    );
  }
  try {
    const lib = dlopen("libc.so.6", {
      // ioctl is variadic; on 64-bit Linux a pointer travels as a variadic argument exactly as a fixed one.
      ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
      read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
      write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
      poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
      eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
      getpid: { args: [], returns: FFIType.i32 },
      // syscall is variadic: declared with the form tgkill needs (number + 3 longs).
      syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    const s = lib.symbols;
    netLibc = {
      ioctl: (fd, request, arg) => s.ioctl(fd, request, ptr(arg)),
      read: (fd, buffer, length) => Number(s.read(fd, ptr(buffer), length)),
      write: (fd, buffer, length) => Number(s.write(fd, ptr(buffer), length)),
      poll: (fds, count, timeoutMs) => s.poll(ptr(fds), count, timeoutMs),
      eventfd: (initial, flags) => s.eventfd(initial, flags),
      close: (fd) => s.close(fd),
      getpid: () => s.getpid(),
      syscall3: (number, a, b, c) => Number(s.syscall(number, a, b, c)),
      errno: () => {
        const location = s.__errno_location();
        return location === null ? 0 : read.i32(location, 0);
      },
    };
  } catch (error) {
    throw new HostError(
      "unsupported",
      "/dev/net/tun",
      "dlopen",
      `cannot load the C library for TAP interfaces: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  return netLibc;
}

function checkDescriptor(fd: number, operation: string): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff) {
    throw new HostError("io", "/dev/net/tun", operation, `Cannot ${operation}: ${fd} is not a file descriptor`);
  }
}

/**
 * `ioctl(fd, TUNSETIFF)` with `name` and `flags` on an open /dev/net/tun: attaches the descriptor to the TAP named
 * `name`, creating it first when it does not exist (which needs CAP_NET_ADMIN). Returns 0 or the errno.
 */
export function tunSetInterface(fd: number, name: string, flags: number): number {
  checkDescriptor(fd, "TUNSETIFF");
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || bytes.includes(0)) {
    throw new HostError("io", "/dev/net/tun", "TUNSETIFF", `Cannot attach TAP "${name}": not an interface name`);
  }
  const c = loadNet("TUNSETIFF");
  const ifreq = new Uint8Array(IFREQ_SIZE);
  ifreq.set(bytes, 0);
  new DataView(ifreq.buffer).setInt16(IFREQ_FLAGS, flags, true);
  return c.ioctl(fd, TUNSETIFF, ifreq) === 0 ? 0 : c.errno();
}

/** `ioctl(fd, TUNGETIFF)`: the name and flags of the interface the descriptor is attached to. */
export function tunGetInterface(
  fd: number,
): { readonly name: string; readonly flags: number } | { readonly errno: number } {
  checkDescriptor(fd, "TUNGETIFF");
  const c = loadNet("TUNGETIFF");
  const ifreq = new Uint8Array(IFREQ_SIZE);
  if (c.ioctl(fd, TUNGETIFF, ifreq) !== 0) return { errno: c.errno() };
  const end = ifreq.indexOf(0);
  const name = new TextDecoder().decode(ifreq.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end));
  return { name, flags: new DataView(ifreq.buffer).getUint16(IFREQ_FLAGS, true) };
}

/** `read(fd, buffer)`: the byte count (one frame, on a TAP), or the negated errno (-EAGAIN when nothing waits). */
export function readFrame(fd: number, buffer: Uint8Array): number {
  checkDescriptor(fd, "read");
  if (buffer.length === 0) return 0;
  const c = loadNet("read");
  const n = c.read(fd, buffer, buffer.length);
  return n < 0 ? -c.errno() : n;
}

/** `write(fd, frame)`: the byte count written, or the negated errno. */
export function writeFrame(fd: number, frame: Uint8Array): number {
  checkDescriptor(fd, "write");
  if (frame.length === 0) return 0;
  const c = loadNet("write");
  const n = c.write(fd, frame, frame.length);
  return n < 0 ? -c.errno() : n;
}

/**
 * `poll` for input on `fds` (at most 8), waiting up to `timeoutMs` (-1: forever). Returns the `revents` of each
 * descriptor in order, or the negated errno (-EINTR when a signal interrupted the wait).
 */
export function pollInput(fds: readonly number[], timeoutMs: number): number[] | number {
  if (fds.length === 0 || fds.length > 8) {
    throw new HostError("io", "/dev/net/tun", "poll", `Cannot poll ${fds.length} descriptors (1..8)`);
  }
  for (const fd of fds) checkDescriptor(fd, "poll");
  if (!Number.isInteger(timeoutMs) || timeoutMs < -1 || timeoutMs > 0x7fff_ffff) {
    throw new HostError("io", "/dev/net/tun", "poll", `Cannot poll with a timeout of ${timeoutMs} ms`);
  }
  const c = loadNet("poll");
  const table = new Uint8Array(POLLFD_SIZE * fds.length);
  const view = new DataView(table.buffer);
  fds.forEach((fd, i) => {
    view.setInt32(i * POLLFD_SIZE, fd, true);
    view.setInt16(i * POLLFD_SIZE + 4, POLLIN, true);
  });
  if (c.poll(table, fds.length, timeoutMs) < 0) return -c.errno();
  return fds.map((_, i) => view.getUint16(i * POLLFD_SIZE + 6, true));
}

/** A non-blocking, close-on-exec eventfd (what wakes a reader thread out of `poll`). */
export function createEventfd(): number {
  const c = loadNet("eventfd");
  const fd = c.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    const errno = c.errno();
    throw new HostError("io", "eventfd", "eventfd", `Cannot create an eventfd (errno ${errno})`, { errno });
  }
  return fd;
}

/** Add 1 to an eventfd's counter (its reader's `poll` returns). */
export function signalEventfd(fd: number): void {
  checkDescriptor(fd, "eventfd write");
  const one = new Uint8Array(8);
  one[0] = 1;
  loadNet("eventfd write").write(fd, one, 8);
}

/** close(2) of a descriptor this module made (an eventfd); errors other than EBADF are not actionable here. */
export function closeDescriptor(fd: number): void {
  checkDescriptor(fd, "close");
  loadNet("close").close(fd);
}

/**
 * Send `signal` to thread `tid` of this process (tgkill): how a TAP reader gets the VMM's thread out of a vCPU run
 * it blocks in (hal/types.ts `HostWakeChannel`). False when the thread is gone (ESRCH) or the call failed: the
 * VMM's thread then sees the work at its next turn anyway.
 */
export function signalThread(tid: number, signal: number): boolean {
  if (!Number.isInteger(tid) || tid <= 0 || !Number.isInteger(signal) || signal <= 0 || signal > 64) {
    throw new HostError("io", "tgkill", "tgkill", `Cannot send signal ${signal} to thread ${tid}`);
  }
  const number = TGKILL_SYSCALL[process.arch];
  if (number === undefined) {
    throw new HostError("unsupported", "tgkill", "tgkill", `tgkill's number on ${process.arch} is not known here`);
  }
  const c = loadNet("tgkill");
  return c.syscall3(number, c.getpid(), tid, signal) === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// This process's memory (snapshot memory files, Linux): a file mapped privately over guest RAM, page sizes
// ---------------------------------------------------------------------------------------------------------------

// <sys/mman.h> on Linux (the same on x86_64, aarch64 and riscv64).
const PROT_READ_WRITE = 0x1 | 0x2;
const MAP_PRIVATE_FIXED = 0x02 | 0x10;

interface MemoryLibc {
  mmap(address: number, length: number, prot: number, flags: number, fd: number, offset: number): number;
  getpagesize(): number;
  errno(): number;
}

let memoryLibc: MemoryLibc | undefined;

/** libc's memory calls, or undefined off Linux or where libc cannot be loaded (callers then copy instead). */
function loadMemory(): MemoryLibc | undefined {
  if (memoryLibc !== undefined || process.platform !== "linux") return memoryLibc;
  try {
    const lib = dlopen("libc.so.6", {
      mmap: {
        args: [FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64],
        returns: FFIType.i64,
      },
      getpagesize: { args: [], returns: FFIType.i32 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    memoryLibc = {
      mmap: (address, length, prot, flags, fd, offset) =>
        Number(lib.symbols.mmap(address, length, prot, flags, fd, offset)),
      getpagesize: () => lib.symbols.getpagesize(),
      errno: () => {
        const location = lib.symbols.__errno_location();
        return location === null ? 0 : read.i32(location, 0);
      },
    };
  } catch {
    return undefined;
  }
  return memoryLibc;
}

/** The host's page size, or undefined where this module cannot ask (not Linux). */
export function hostPageSize(): number | undefined {
  return loadMemory()?.getpagesize();
}

/** The host-virtual address of a view's first byte (for /proc/self/pagemap). */
export function addressOf(view: Uint8Array): number {
  return view.length === 0 ? 0 : ptr(view);
}

/**
 * mmap(MAP_PRIVATE | MAP_FIXED) of [fileOffset, fileOffset + view.length) of `fd` over the bytes of `view`,
 * read-write: the view then reads the file, each page loaded by the kernel on first access and copied on first
 * write. Returns 0, or the errno (undefined: not possible on this host). The caller guarantees that the view is
 * whole host pages of a mapping nothing else reuses (memory-map.ts says which), and `fileOffset` a multiple of
 * the page size.
 */
export function mapFilePrivately(view: Uint8Array, fd: number, fileOffset: number): number | undefined {
  const c = loadMemory();
  if (c === undefined) return undefined;
  if (!Number.isSafeInteger(fileOffset) || fileOffset < 0 || !Number.isInteger(fd) || fd < 0) return EINVAL;
  const address = addressOf(view);
  const result = c.mmap(address, view.length, PROT_READ_WRITE, MAP_PRIVATE_FIXED, fd, fileOffset);
  if (result === -1) return c.errno();
  // MAP_FIXED maps exactly there or fails; anything else is a broken libc binding.
  return result === address ? 0 : EFAULT;
}

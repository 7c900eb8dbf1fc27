/**
 * The only file of the KVM backend that imports `bun:ffi`: thin, checked wrappers over libc (open, close, ioctl,
 * mmap, munmap, eventfd) and what a vCPU kick needs (gettid, tgkill, per-thread signal masks, sigtimedwait).
 *
 * libc is opened on first use, never at import: importing the backend (or the VMM, which loads backends lazily
 * anyway) works on any host, and a host whose libc cannot be opened (macOS, musl) gets a `HalError` of kind
 * "unsupported" naming the library and dlopen's reason, which the probe reports as "KVM unavailable".
 *
 * Every wrapper checks its arguments before crossing into native code (a wrong length or pointer crashes the
 * process, it does not throw) and turns a failure into a `HalError` of kind "syscall" carrying the operation name
 * and errno. errno is read through `__errno_location()` right after the failing call, before any other native
 * call on this thread can overwrite it.
 *
 * The module is loaded separately in each thread that imports it (the main thread and each vCPU Worker), and so is
 * libc's binding; errno is per thread, so the `__errno_location()` pointer is too.
 */

import { cc, dlopen, FFIType, ptr as ffiPtr, linkSymbols, read, toArrayBuffer } from "bun:ffi";
import { EAGAIN, EBADF, EINTR, ESRCH, errnoName } from "../../common/errno.ts";
import { HalError, HOST_WAKE_SIGNAL } from "../types.ts";
import {
  type Ioctl,
  ioctlArgSize,
  KVM_EXIT_IO,
  KVM_PIO_DATA_OFFSET,
  KVM_RUN,
  KVM_RUN_LAYOUT,
  KVM_RUN_PORT_IO,
} from "./abi.ts";

// <fcntl.h>, <sys/mman.h>, <sys/eventfd.h>, <signal.h>: Linux values, the same on x86_64 and arm64 (both take them
// from the asm-generic headers).
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;
/** <signal.h> sa_flags: restart the interrupted system call (KVM_RUN is never restarted: it returns -EINTR). */
export const SA_RESTART = 0x1000_0000;
/**
 * The signal that kicks a vCPU thread out of KVM_RUN. SIGURG's default action is "ignore", so a stray delivery
 * can never kill the process; the vCPU thread keeps it blocked and only KVM_RUN's signal mask unblocks it.
 */
export const SIGURG = HOST_WAKE_SIGNAL;
/** glibc's and musl's sigset_t are 1024 bits; the kernel's (and KVM_SET_SIGNAL_MASK's) is 64. */
export const LIBC_SIGSET_BYTES = 128;
export const KERNEL_SIGSET_BYTES = 8;
export const HOST_PAGE_SIZE = 4096;

/**
 * `syscall(2)` numbers, which differ per host architecture: x86_64's from arch/x86/entry/syscalls/syscall_64.tbl,
 * arm64's from include/uapi/asm-generic/unistd.h.
 */
const SYSCALL_NUMBERS: Readonly<Partial<Record<NodeJS.Architecture, { gettid: number; tgkill: number }>>> = {
  x64: { gettid: 186, tgkill: 234 },
  arm64: { gettid: 178, tgkill: 131 },
};

/** The C library the wrappers call (glibc's soname). */
export const LIBC_NAME = "libc.so.6";

function openLibc(name: string) {
  const libc = dlopen(name, {
    open: { args: [FFIType.ptr, FFIType.i32, FFIType.u32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    // ioctl is variadic; on x86_64 and arm64 Linux, integer and pointer variadic arguments travel exactly like
    // fixed ones, so each form we use is declared with fixed argument types.
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
    mmap: {
      args: [FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.i32, FFIType.i32, FFIType.i64],
      returns: FFIType.i64,
    },
    munmap: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
    eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
    poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
    getpid: { args: [], returns: FFIType.i32 },
    // syscall is variadic too: declared with the widest form (number + 3 longs) we need for gettid and tgkill.
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
    pthread_sigmask: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    sigaction: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    sigtimedwait: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
    dlsym: { args: [FFIType.ptr, FFIType.cstring], returns: FFIType.ptr },
  });
  /** A second binding of `ioctl` for requests whose third argument is an integer, not a pointer. */
  const ioctlInt = dlopen(name, {
    ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  });
  return { libc: libc.symbols, ioctlInt: ioctlInt.symbols.ioctl };
}

type Libc = ReturnType<typeof openLibc>;

/**
 * libc, opened on first use, or why it could not be. This is the one piece of module state in the backend: a
 * cache of a process-wide resource (the library is mapped once per process whatever we do), so two VMs share it
 * without sharing anything of their own.
 */
let loaded: Libc | { readonly failure: string } | undefined;

function load(): Libc | { readonly failure: string } {
  if (loaded === undefined) {
    try {
      loaded = openLibc(LIBC_NAME);
    } catch (error) {
      loaded = { failure: `cannot load ${LIBC_NAME}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return loaded;
}

/** Why the native library cannot be used on this host (it is opened now if it was not yet), or undefined. */
export function nativeLibraryProblem(): string | undefined {
  const state = load();
  return "failure" in state ? state.failure : undefined;
}

function native(): Libc {
  const state = load();
  if ("failure" in state) throw new HalError("kvm", "unsupported", "dlopen", state.failure);
  return state;
}

function lastErrno(): number {
  const location = native().libc.__errno_location();
  if (location === null) return 0;
  return read.i32(location, 0);
}

function fail(operation: string, what: string, errno: number): never {
  throw new HalError("kvm", "syscall", operation, `${what} failed: ${errnoName(errno)}`, { errno });
}

function invalid(operation: string, message: string): never {
  throw new HalError("kvm", "invalid-argument", operation, message);
}

function checkFd(operation: string, fd: number): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fff_ffff)
    invalid(operation, `Cannot use fd ${fd}: not a valid descriptor`);
}

// ---------------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------------

export function open(path: string, flags: number): number {
  if (path.length === 0 || path.includes("\0")) invalid("open", `Cannot open "${path}": bad path`);
  const cPath = Buffer.from(`${path}\0`, "utf8");
  const fd = native().libc.open(ffiPtr(cPath), flags | O_CLOEXEC, 0);
  if (fd < 0) fail("open", `open("${path}")`, lastErrno());
  return fd;
}

/** Like `open`, but returns the errno instead of throwing (for probes that must never throw). */
export function tryOpen(path: string, flags: number): { fd: number; errno: 0 } | { fd: -1; errno: number } {
  const cPath = Buffer.from(`${path}\0`, "utf8");
  const fd = native().libc.open(ffiPtr(cPath), flags | O_CLOEXEC, 0);
  if (fd < 0) return { fd: -1, errno: lastErrno() };
  return { fd, errno: 0 };
}

export function close(fd: number): void {
  checkFd("close", fd);
  if (native().libc.close(fd) < 0) fail("close", `close(${fd})`, lastErrno());
}

// ---------------------------------------------------------------------------------------------------------------
// ioctl
// ---------------------------------------------------------------------------------------------------------------

/** ioctl with no argument or an integer argument; returns the (non-negative) result. */
export function ioctlInt(fd: number, ioctl: Ioctl, arg: number | bigint = 0): number {
  checkFd(ioctl.name, fd);
  const result = native().ioctlInt(fd, ioctl.request, arg);
  if (result < 0) fail(ioctl.name, `ioctl(${fd})`, lastErrno());
  return result;
}

/**
 * ioctl whose argument is a struct in `buffer`. The request's encoded size (when it has one) must fit in the
 * buffer; `minBytes` covers variable-length structs (kvm_cpuid2 with its entries) whose encoded size is only the
 * header.
 */
export function ioctlBuf(fd: number, ioctl: Ioctl, buffer: Uint8Array, minBytes = 0): number {
  checkFd(ioctl.name, fd);
  const needed = Math.max(ioctlArgSize(ioctl), minBytes);
  if (buffer.byteLength < needed || buffer.byteLength === 0) {
    invalid(ioctl.name, `Cannot pass a ${buffer.byteLength}-byte buffer: the request needs at least ${needed} bytes`);
  }
  const result = native().libc.ioctl(fd, ioctl.request, ffiPtr(buffer));
  if (result < 0) fail(ioctl.name, `ioctl(${fd})`, lastErrno());
  return result;
}

/**
 * ioctl that may fail with EINTR/EAGAIN as a normal outcome (KVM_RUN interrupted by a kick): returns the result or
 * the negated errno instead of throwing, so the hot path allocates nothing on a kick.
 */
export function ioctlIntRaw(fd: number, ioctl: Ioctl): number {
  const result = native().ioctlInt(fd, ioctl.request, 0);
  return result < 0 ? -lastErrno() : result;
}

// ---------------------------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------------------------

/** A mapping: its address (a host-virtual address) and a view of its bytes (valid until `munmap`). */
export interface Mapping {
  readonly address: number;
  readonly length: number;
  readonly buffer: ArrayBuffer;
}

function checkLength(operation: string, length: number): void {
  if (!Number.isSafeInteger(length) || length <= 0 || length % HOST_PAGE_SIZE !== 0) {
    invalid(operation, `Cannot map ${length} bytes: the length must be a positive multiple of ${HOST_PAGE_SIZE}`);
  }
}

/** Anonymous, private, zero-filled memory (MAP_NORESERVE: guest RAM is committed as the guest touches it). */
export function mmapAnonymous(length: number): Mapping {
  checkLength("mmap", length);
  const address = native().libc.mmap(
    null,
    length,
    PROT_READ | PROT_WRITE,
    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
    -1,
    0,
  );
  return finishMmap(address, length, "mmap(anonymous)");
}

/** A shared mapping of `fd` (the vCPU's kvm_run area). */
export function mmapShared(fd: number, length: number): Mapping {
  checkFd("mmap", fd);
  checkLength("mmap", length);
  const address = native().libc.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return finishMmap(address, length, `mmap(fd ${fd})`);
}

function finishMmap(result: number | bigint, length: number, what: string): Mapping {
  const address = Number(result);
  if (address === -1 || address === 0) fail("mmap", `${what} of ${length} bytes`, lastErrno());
  return { address, length, buffer: toArrayBuffer(address, 0, length) };
}

/**
 * A view of memory mapped by another thread of this process (a Worker re-attaching to kvm_run): the address must
 * come from `mmapShared`/`mmapAnonymous` in this process and still be mapped.
 */
export function viewMapping(address: number, length: number): ArrayBuffer {
  if (!Number.isSafeInteger(address) || address <= 0 || address % HOST_PAGE_SIZE !== 0) {
    invalid("viewMapping", `Cannot view address 0x${address.toString(16)}: not a page-aligned mapping`);
  }
  checkLength("viewMapping", length);
  return toArrayBuffer(address, 0, length);
}

/**
 * Unmap. The mapping's ArrayBuffer is detached first, so a view that outlives the mapping reads as empty instead
 * of touching unmapped memory (which would crash the process).
 */
export function munmap(mapping: Mapping): void {
  if (!mapping.buffer.detached) mapping.buffer.transfer(0);
  if (native().libc.munmap(mapping.address, mapping.length) < 0) {
    fail("munmap", `munmap(0x${mapping.address.toString(16)}, ${mapping.length})`, lastErrno());
  }
}

// ---------------------------------------------------------------------------------------------------------------
// eventfd
// ---------------------------------------------------------------------------------------------------------------

export function eventfd(initial: number, flags: number): number {
  if (!Number.isInteger(initial) || initial < 0 || initial > 0xffff_ffff)
    invalid("eventfd", `Cannot start at ${initial}`);
  const fd = native().libc.eventfd(initial, flags | EFD_CLOEXEC);
  if (fd < 0) fail("eventfd", "eventfd", lastErrno());
  return fd;
}

/** Add `value` to an eventfd counter. */
export function eventfdWrite(fd: number, value: bigint): void {
  checkFd("eventfd_write", fd);
  const word = new BigUint64Array([value]);
  if (Number(native().libc.write(fd, ffiPtr(word), 8)) !== 8) fail("eventfd_write", `write(${fd})`, lastErrno());
}

/** Read and reset an eventfd counter; returns 0n when it is non-blocking and zero (EAGAIN). */
export function eventfdRead(fd: number): bigint {
  checkFd("eventfd_read", fd);
  const word = new BigUint64Array(1);
  if (Number(native().libc.read(fd, ffiPtr(word), 8)) !== 8) {
    const errno = lastErrno();
    if (errno === EAGAIN) return 0n;
    fail("eventfd_read", `read(${fd})`, errno);
  }
  return word[0] ?? 0n;
}

/** <poll.h> */
export const POLLIN = 0x001;
/** `struct pollfd`: int fd, short events, short revents. */
const POLLFD_SIZE = 8;

/**
 * A poll(2) table for input on a fixed list of descriptors, built once (the eventfd watcher polls the same list
 * in a loop, so nothing is allocated per wait).
 */
export class PollTable {
  readonly fds: readonly number[];
  readonly #table: Uint8Array;
  readonly #view: DataView;

  constructor(fds: readonly number[]) {
    if (fds.length === 0 || fds.length > 1024) invalid("poll", `Cannot poll ${fds.length} descriptors (1..1024)`);
    for (const fd of fds) checkFd("poll", fd);
    this.fds = fds;
    this.#table = new Uint8Array(POLLFD_SIZE * fds.length);
    this.#view = new DataView(this.#table.buffer);
    fds.forEach((fd, i) => {
      this.#view.setInt32(i * POLLFD_SIZE, fd, true);
      this.#view.setInt16(i * POLLFD_SIZE + 4, POLLIN, true);
    });
  }

  /** Wait up to `timeoutMs` (-1: forever); the number of ready descriptors, or the negated errno (-EINTR). */
  wait(timeoutMs: number): number {
    const n = native().libc.poll(ffiPtr(this.#table), this.fds.length, timeoutMs);
    return n < 0 ? -lastErrno() : n;
  }

  /** The `revents` of descriptor `index` after the last `wait`. */
  revents(index: number): number {
    return this.#view.getUint16(index * POLLFD_SIZE + 6, true);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Threads and signals (vCPU kick)
// ---------------------------------------------------------------------------------------------------------------

export function getpid(): number {
  return native().libc.getpid();
}

function syscallNumbers(operation: string): { gettid: number; tgkill: number } {
  const numbers = SYSCALL_NUMBERS[process.arch];
  if (numbers === undefined) {
    throw new HalError(
      "kvm",
      "unsupported",
      operation,
      `Cannot make system calls on a ${process.arch} host: no numbers`,
    );
  }
  return numbers;
}

/** The kernel thread id of the calling thread. */
export function gettid(): number {
  return Number(native().libc.syscall(syscallNumbers("gettid").gettid, 0, 0, 0));
}

/** Send `signal` to thread `tid` of process `pid`. Returns false if the thread is gone (ESRCH). */
export function tgkill(pid: number, tid: number, signal: number): boolean {
  if (!Number.isInteger(tid) || tid <= 0) invalid("tgkill", `Cannot signal thread ${tid}: not a thread id`);
  if (!Number.isInteger(signal) || signal <= 0 || signal > 64) invalid("tgkill", `Cannot send signal ${signal}`);
  const result = Number(native().libc.syscall(syscallNumbers("tgkill").tgkill, pid, tid, signal));
  if (result < 0) {
    const errno = lastErrno();
    if (errno === ESRCH) return false;
    fail("tgkill", `tgkill(${pid}, ${tid}, ${signal})`, errno);
  }
  return true;
}

function sigset(signals: readonly number[]): Uint8Array {
  const set = new Uint8Array(LIBC_SIGSET_BYTES);
  for (const signal of signals) {
    const bit = signal - 1;
    set[bit >> 3] = (set[bit >> 3] ?? 0) | (1 << (bit & 7));
  }
  return set;
}

/**
 * Block `signal` in the calling thread and return the thread's signal mask as it was before, as a kernel sigset
 * (8 bytes) with `signal` removed: the mask KVM_RUN should use so that only that signal interrupts it.
 */
export function blockSignalInThisThread(signal: number): Uint8Array {
  const old = new Uint8Array(LIBC_SIGSET_BYTES);
  const rc = native().libc.pthread_sigmask(SIG_BLOCK, ffiPtr(sigset([signal])), ffiPtr(old));
  if (rc !== 0) fail("pthread_sigmask", "pthread_sigmask(SIG_BLOCK)", rc);
  const kernelMask = old.slice(0, KERNEL_SIGSET_BYTES);
  const bit = signal - 1;
  kernelMask[bit >> 3] = (kernelMask[bit >> 3] ?? 0) & ~(1 << (bit & 7));
  return kernelMask;
}

/** Consume a pending (blocked) `signal` of the calling thread, if any, without waiting. Returns whether one was. */
export function consumePendingSignal(signal: number): boolean {
  const zeroTimeout = new BigInt64Array(2); // struct timespec { 0, 0 }
  const result = native().libc.sigtimedwait(ffiPtr(sigset([signal])), null, ffiPtr(zeroTimeout));
  if (result === signal) return true;
  const errno = lastErrno();
  if (errno === EAGAIN || errno === EINTR) return false;
  fail("sigtimedwait", `sigtimedwait(${signal})`, errno);
}

/** The address of a typed array's bytes (for structs that hold pointers, such as kvm_userspace_memory_region). */
export function addressOf(view: Uint8Array): number {
  return Number(ffiPtr(view));
}

// ---------------------------------------------------------------------------------------------------------------
// Native helpers (kvm-native.c, compiled by Bun's TinyCC): the cheapest KVM_RUN call and the kick handler
// ---------------------------------------------------------------------------------------------------------------

/**
 * glibc's `struct sigaction` on x86_64 and arm64 (the generic layout both use): the handler, a 1024-bit sa_mask,
 * int sa_flags, then sa_restorer (8-byte aligned; glibc fills it in itself).
 */
const SIGACTION_SIZE = 152;
const SIGACTION_HANDLER = 0;
const SIGACTION_FLAGS = 136;
/** sa_handler values that are not functions: SIG_DFL, SIG_IGN. */
const SIG_DFL = 0;
const SIG_IGN = 1;

/** The address of libc function `name` (dlsym with RTLD_DEFAULT, which is a null handle in glibc). */
function libcAddress(libc: Libc["libc"], name: string): bigint {
  const address = libc.dlsym(null, ffiPtr(Buffer.from(`${name}\0`, "utf8")));
  if (address === null) throw new Error(`dlsym cannot find ${name}`);
  return BigInt(address);
}

function openHelpers(libc: Libc["libc"]) {
  const helpers = cc({
    source: new URL("./kvm-native.c", import.meta.url).pathname,
    flags: ["-nostdlib"],
    define: {
      AXV_KVM_RUN: `0x${KVM_RUN.request.toString(16)}`,
      AXV_EBADF: String(EBADF),
      AXV_EXIT_IO: String(KVM_EXIT_IO),
      AXV_PIO_DATA: `${KVM_PIO_DATA_OFFSET}UL`,
      AXV_PORT_IO: `0x${KVM_RUN_PORT_IO.toString(16)}`,
      AXV_EXIT_REASON: String(RUN_FIELDS.exit_reason.offset),
      AXV_IO_HEAD: String(RUN_FIELDS["io.direction"].offset),
      AXV_IO_COUNT: String(RUN_FIELDS["io.count"].offset),
      AXV_IO_DATA_OFFSET: String(RUN_FIELDS["io.data_offset"].offset),
    },
    symbols: {
      axv_init: { args: [FFIType.u64, FFIType.u64], returns: FFIType.void },
      axv_set_run: { args: [FFIType.i32, FFIType.u64], returns: FFIType.i32 },
      axv_kick_handler: { args: [], returns: FFIType.ptr },
      axv_set_kick_target: { args: [FFIType.u64], returns: FFIType.void },
      axv_kvm_run_address: { args: [], returns: FFIType.ptr },
      axv_kvm_run_access_address: { args: [], returns: FFIType.ptr },
    },
  });
  helpers.symbols.axv_init(libcAddress(libc, "ioctl"), libcAddress(libc, "__errno_location"));
  // The hot entry points bound again through linkSymbols: the engine calls those directly from JIT code, cc()'s own
  // bindings through a wrapper (nested x86 under icount: 35-60 ns less per exit; a no-op call costs a third).
  const runAddress = helpers.symbols.axv_kvm_run_address();
  const runAccessAddress = helpers.symbols.axv_kvm_run_access_address();
  if (runAddress === null || runAccessAddress === null) throw new Error("kvm-native.c gave a null entry point");
  const direct = linkSymbols({
    axv_kvm_run: { args: [FFIType.i32], returns: FFIType.i32, ptr: runAddress },
    axv_kvm_run_access: { args: [FFIType.i32], returns: FFIType.i32, ptr: runAccessAddress },
  });
  // `compiled` keeps the compiled code alive as long as the direct bindings into it.
  return { libc, compiled: helpers, ...helpers.symbols, ...direct.symbols };
}

type Helpers = ReturnType<typeof openHelpers>;

/** The helpers, opened on first use, or why they could not be (then the callers fall back to libc alone). */
let helpersLoaded: Helpers | { readonly failure: string } | undefined;

function helpers(): Helpers | { readonly failure: string } {
  if (helpersLoaded === undefined) {
    try {
      helpersLoaded = openHelpers(native().libc);
    } catch (error) {
      helpersLoaded = {
        failure: `cannot compile kvm-native.c with bun:ffi cc: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }
  return helpersLoaded;
}

/** Why the native helpers (kvm-native.c) cannot be used on this host (they are compiled now if not yet), or undefined. */
export function nativeHelpersProblem(): string | undefined {
  const state = helpers();
  return "failure" in state ? state.failure : undefined;
}

/**
 * KVM_RUN as a function of the vCPU fd alone: its result, or the negated errno (-EINTR after a kick or
 * immediate_exit). The native helper when it could be compiled (one int in, one int out: no 64-bit argument to
 * convert, no second call for errno), else `ioctlIntRaw`. Fetch it once and keep it: the hot path calls it
 * directly.
 */
export function kvmRunFunction(): (vcpuFd: number) => number {
  const state = helpers();
  if ("failure" in state) return (vcpuFd) => ioctlIntRaw(vcpuFd, KVM_RUN);
  return state.axv_kvm_run;
}

/**
 * KVM_RUN for the in-place access loop of the vCPU whose fd is `vcpuFd` and whose kvm_run mapping is `run`: a
 * function of the fd giving -errno, or KVM_RUN_PORT_IO | direction << 24 | size << 16 | port for one plain `in`/
 * `out` (its data at KVM_PIO_DATA_OFFSET), or else the exit reason (kvm-native.c `axv_kvm_run_access`). Without
 * the helpers, or for an fd they cannot serve, the same answers computed here (never the packed word: the caller
 * decodes KVM_EXIT_IO itself). `forgetRunAccess(vcpuFd)` when the fd is closed.
 */
export function kvmRunAccessFunction(vcpuFd: number, run: Mapping): (vcpuFd: number) => number {
  const state = helpers();
  if (!("failure" in state) && state.axv_set_run(vcpuFd, run.address) === 1) return state.axv_kvm_run_access;
  const kvmRun = kvmRunFunction();
  const view = new DataView(run.buffer);
  const exitReason = RUN_FIELDS.exit_reason.offset;
  return (fd) => {
    const result = kvmRun(fd);
    return result < 0 ? result : view.getUint32(exitReason, true);
  };
}

/** The fd of a vCPU being closed: `kvmRunAccessFunction`'s helper no longer serves it. */
export function forgetRunAccess(vcpuFd: number): void {
  const state = helpersLoaded;
  if (state !== undefined && !("failure" in state)) state.axv_set_run(vcpuFd, 0);
}

const RUN_FIELDS = KVM_RUN_LAYOUT.fields;

/** The immediate_exit address the kick handler writes to (0: none), as this module last set it. */
let kickTarget = 0;

/**
 * Let `signal` (SIGURG) cut the calling thread's KVM_RUN short through the native kick handler
 * (kvm-native.c): install it for the process (once; refused when something else already handles the signal),
 * aim it at `immediateExitAddress` (the byte in the vCPU's kvm_run mapping), and unblock the signal in this
 * thread. KVM then runs with the thread's own mask, so no KVM_SET_SIGNAL_MASK and no per-run mask switch in the
 * kernel.
 */
export function takeSignalWithKickHandler(signal: number, immediateExitAddress: number): KickHandlerResult {
  if (kickTarget !== 0) return { kind: "busy" };
  const problem = installKickHandler(signal, immediateExitAddress);
  return problem === undefined ? { kind: "taken" } : { kind: "unavailable", reason: problem };
}

/**
 * `takeSignalWithKickHandler`'s answer: taken; busy (the handler serves another live vCPU: one caller-thread vCPU
 * per process has it); unavailable (no helpers, or the signal has another handler) with the reason.
 */
export type KickHandlerResult =
  | { readonly kind: "taken" }
  | { readonly kind: "busy" }
  | { readonly kind: "unavailable"; readonly reason: string };

function installKickHandler(signal: number, immediateExitAddress: number): string | undefined {
  const state = helpers();
  if ("failure" in state) return state.failure;
  const handler = Number(state.axv_kick_handler());
  const current = new Uint8Array(SIGACTION_SIZE);
  const view = new DataView(current.buffer);
  if (state.libc.sigaction(signal, null, ffiPtr(current)) !== 0)
    return `sigaction(${signal}) failed: ${errnoName(lastErrno())}`;
  const installed = Number(view.getBigUint64(SIGACTION_HANDLER, true));
  if (installed !== SIG_DFL && installed !== SIG_IGN && installed !== handler) {
    return `signal ${signal} already has a handler (0x${installed.toString(16)})`;
  }
  if (installed !== handler) {
    const action = new Uint8Array(SIGACTION_SIZE);
    const actionView = new DataView(action.buffer);
    actionView.setBigUint64(SIGACTION_HANDLER, BigInt(handler), true);
    actionView.setInt32(SIGACTION_FLAGS, SA_RESTART, true);
    if (state.libc.sigaction(signal, ffiPtr(action), null) !== 0) {
      return `sigaction(${signal}) failed: ${errnoName(lastErrno())}`;
    }
  }
  state.axv_set_kick_target(BigInt(immediateExitAddress));
  kickTarget = immediateExitAddress;
  const rc = state.libc.pthread_sigmask(SIG_UNBLOCK, ffiPtr(sigset([signal])), null);
  if (rc !== 0) {
    releaseKickTarget(immediateExitAddress);
    return `pthread_sigmask(SIG_UNBLOCK) failed: ${errnoName(rc)}`;
  }
  return undefined;
}

/**
 * Stop the kick handler writing to `immediateExitAddress` (before its mapping goes away). The handler stays
 * installed: with no target a SIGURG does nothing, as when it was ignored.
 */
export function releaseKickTarget(immediateExitAddress: number): void {
  if (kickTarget !== immediateExitAddress || kickTarget === 0) return;
  const state = helpers();
  if ("failure" in state) return;
  state.axv_set_kick_target(0n);
  kickTarget = 0;
}

/**
 * Decoding of `struct kvm_run` after KVM_RUN into `AxVCpuExitReason`: `decodeExit` is the one place that reads
 * an exit (kvm-ioctls `VcpuFd::run`). Pure functions over a DataView of the kvm_run mapping, so they are tested
 * with synthetic kvm_run images as well as with real guests.
 *
 * String I/O (`rep outsb`, `rep insw`, ...) arrives as ONE KVM_EXIT_IO with `count` > 1 and all elements in the
 * data area of the mapping. We present each element as its own IoRead/IoWrite exit (a `PioCursor` remembers
 * where we are) and re-enter the guest only after the last one, as KVM expects.
 *
 * Hypercalls: an `out` to `HYPERCALL_PORT` (any width) is a hypercall. The guest puts the call number in RAX and
 * up to six arguments in RDI, RSI, RCX, RBX, R8, R9; the VMM answers by setting RAX. (Not the Linux syscall
 * order: DX must hold the port for `out`, and real-mode code can reach the first four.) 0x0cf0 is unused on PCs: PCI configuration mechanism #1 uses 0xcf8-0xcff (0xcf9 is the reset control
 * register), mechanism #2 uses 0xc000-0xcfff with 0xcf8/0xcfa, EISA slot ids sit at 0xzc80.
 */
import type { AccessWidth, AxVCpuExitReason } from "../types.ts";
import {
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_IRQ_WINDOW_OPEN,
  KVM_EXIT_MMIO,
  KVM_EXIT_NAMES,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_INTERNAL_ERROR_DELIVERY_EV,
  KVM_INTERNAL_ERROR_EMULATION,
  KVM_INTERNAL_ERROR_SIMUL_EX,
  KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
  KVM_RUN_LAYOUT,
  KVM_SYSTEM_EVENT_CRASH,
  KVM_SYSTEM_EVENT_RESET,
  KVM_SYSTEM_EVENT_SHUTDOWN,
} from "./abi.ts";

/** The port whose `out` is a hypercall (see the file comment). */
export const HYPERCALL_PORT = 0x0cf0;
/** SystemDown.code for a triple fault (KVM_EXIT_SHUTDOWN): not a guest-chosen status, so non-zero. */
export const TRIPLE_FAULT_CODE = 1;

const F = KVM_RUN_LAYOUT.fields;
const EXIT_REASON = F.exit_reason.offset;
const IO_DIRECTION = F["io.direction"].offset;
const IO_SIZE = F["io.size"].offset;
const IO_PORT = F["io.port"].offset;
const IO_COUNT = F["io.count"].offset;
const IO_DATA_OFFSET = F["io.data_offset"].offset;
const MMIO_PHYS_ADDR = F["mmio.phys_addr"].offset;
const MMIO_DATA = F["mmio.data"].offset;
const MMIO_LEN = F["mmio.len"].offset;
const MMIO_IS_WRITE = F["mmio.is_write"].offset;

/** Where we are in a (string) I/O exit: element `next` of `count` is the one to present next. */
export interface PioCursor {
  readonly write: boolean;
  readonly port: number;
  readonly size: AccessWidth;
  readonly count: number;
  /** Offset of element 0 inside the kvm_run mapping. */
  readonly dataOffset: number;
  next: number;
}

/** What the vCPU must remember about the exit it returned. */
export type PendingCompletion =
  | { readonly kind: "none" }
  /** An IN element: `setReturnValue` writes `size` bytes at `at` in the mapping. */
  | { readonly kind: "io-in"; readonly at: number; readonly size: AccessWidth }
  /** An MMIO read: `setReturnValue` writes `size` bytes into mmio.data. */
  | { readonly kind: "mmio-read"; readonly size: AccessWidth };

/** Registers a hypercall needs, read only when the exit is one. */
export interface HypercallRegs {
  readonly rax: bigint;
  readonly rdi: bigint;
  readonly rsi: bigint;
  readonly rcx: bigint;
  readonly rbx: bigint;
  readonly r8: bigint;
  readonly r9: bigint;
}

export interface DecodeContext {
  readonly readHypercallRegs: () => HypercallRegs;
}

export interface Decoded {
  readonly exit: AxVCpuExitReason;
  /** Set for I/O exits with elements left to present after this one. */
  readonly cursor: PioCursor | undefined;
  readonly completion: PendingCompletion;
}

const NOTHING: AxVCpuExitReason = { kind: "Nothing" };
const HALT: AxVCpuExitReason = { kind: "Halt" };
const NO_COMPLETION: PendingCompletion = { kind: "none" };
/** errno values KVM_RUN returns when interrupted (a kick) rather than failed. */
const EINTR = 4;
const EAGAIN = 11;

function isAccessWidth(value: number): value is AccessWidth {
  return value === 1 || value === 2 || value === 4 || value === 8;
}

/** Read `width` little-endian bytes at `at` as an unsigned bigint. */
export function readLe(view: DataView, at: number, width: AccessWidth): bigint {
  switch (width) {
    case 1:
      return BigInt(view.getUint8(at));
    case 2:
      return BigInt(view.getUint16(at, true));
    case 4:
      return BigInt(view.getUint32(at, true));
    case 8:
      return view.getBigUint64(at, true);
  }
}

/** Write the low `width` bytes of `value` little-endian at `at`. */
export function writeLe(view: DataView, at: number, width: AccessWidth, value: bigint): void {
  switch (width) {
    case 1:
      view.setUint8(at, Number(value & 0xffn));
      return;
    case 2:
      view.setUint16(at, Number(value & 0xffffn), true);
      return;
    case 4:
      view.setUint32(at, Number(value & 0xffff_ffffn), true);
      return;
    case 8:
      view.setBigUint64(at, BigInt.asUintN(64, value), true);
      return;
  }
}

/**
 * Decode the exit KVM_RUN left in `run`. `result` is what the ioctl returned: 0, or a negated errno (-EINTR after
 * a kick or immediate_exit, which is `Nothing`). Other negative results are the caller's to throw.
 */
export function decodeExit(run: DataView, result: number, context: DecodeContext): Decoded {
  if (result === -EINTR || result === -EAGAIN) return { exit: NOTHING, cursor: undefined, completion: NO_COMPLETION };
  const reason = run.getUint32(EXIT_REASON, true);
  switch (reason) {
    case KVM_EXIT_IO: {
      const size = run.getUint8(IO_SIZE);
      const port = run.getUint16(IO_PORT, true);
      const count = run.getUint32(IO_COUNT, true);
      const dataOffset = Number(run.getBigUint64(IO_DATA_OFFSET, true));
      const write = run.getUint8(IO_DIRECTION) === KVM_EXIT_IO_OUT;
      if ((size !== 1 && size !== 2 && size !== 4) || count === 0 || dataOffset + size * count > run.byteLength) {
        return unsupported(
          `KVM_EXIT_IO size=${size} count=${count} data_offset=${dataOffset} port=0x${port.toString(16)}`,
        );
      }
      if (write && port === HYPERCALL_PORT && count === 1) {
        const r = context.readHypercallRegs();
        return {
          exit: { kind: "Hypercall", nr: r.rax, args: [r.rdi, r.rsi, r.rcx, r.rbx, r.r8, r.r9] },
          cursor: undefined,
          completion: NO_COMPLETION,
        };
      }
      const cursor: PioCursor = { write, port, size, count, dataOffset, next: 0 };
      return nextPioElement(run, cursor);
    }
    case KVM_EXIT_MMIO: {
      const address = Number(run.getBigUint64(MMIO_PHYS_ADDR, true));
      const len = run.getUint32(MMIO_LEN, true);
      if (!isAccessWidth(len)) return unsupported(`KVM_EXIT_MMIO len=${len} at 0x${address.toString(16)}`);
      if (run.getUint8(MMIO_IS_WRITE) !== 0) {
        return {
          exit: { kind: "MmioWrite", addr: address, width: len, data: readLe(run, MMIO_DATA, len) },
          cursor: undefined,
          completion: NO_COMPLETION,
        };
      }
      // KVM's instruction emulator completes the load itself from mmio.data (width, zero/sign extension and the
      // destination register are its business), so the register is not known here: -1.
      return {
        exit: { kind: "MmioRead", addr: address, width: len, reg: -1, regWidth: len, signedExt: false },
        cursor: undefined,
        completion: { kind: "mmio-read", size: len },
      };
    }
    case KVM_EXIT_HLT:
      return { exit: HALT, cursor: undefined, completion: NO_COMPLETION };
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      return { exit: NOTHING, cursor: undefined, completion: NO_COMPLETION };
    case KVM_EXIT_SHUTDOWN:
      // A triple fault (or an unrecoverable guest state): the machine would reset. We stop this VM only.
      return {
        exit: { kind: "SystemDown", action: "crash", code: TRIPLE_FAULT_CODE },
        cursor: undefined,
        completion: NO_COMPLETION,
      };
    case KVM_EXIT_SYSTEM_EVENT: {
      const type = run.getUint32(F["system_event.type"].offset, true);
      const action =
        type === KVM_SYSTEM_EVENT_SHUTDOWN
          ? "poweroff"
          : type === KVM_SYSTEM_EVENT_RESET
            ? "reboot"
            : type === KVM_SYSTEM_EVENT_CRASH
              ? "crash"
              : undefined;
      if (action === undefined) return unsupported(`KVM_EXIT_SYSTEM_EVENT type=${type}`);
      return {
        exit: { kind: "SystemDown", action, code: action === "poweroff" ? 0 : 1 },
        cursor: undefined,
        completion: NO_COMPLETION,
      };
    }
    case KVM_EXIT_FAIL_ENTRY: {
      const hardware = run.getBigUint64(F["fail_entry.hardware_entry_failure_reason"].offset, true);
      const cpu = run.getUint32(F["fail_entry.cpu"].offset, true);
      return {
        exit: {
          kind: "FailEntry",
          hardwareEntryFailureReason: hardware,
          detail: `KVM_EXIT_FAIL_ENTRY on host cpu ${cpu}`,
        },
        cursor: undefined,
        completion: NO_COMPLETION,
      };
    }
    case KVM_EXIT_INTERNAL_ERROR: {
      const suberror = run.getUint32(F["internal.suberror"].offset, true);
      const ndata = Math.min(run.getUint32(F["internal.ndata"].offset, true), 16);
      const data: string[] = [];
      for (let i = 0; i < ndata; i++)
        data.push(`0x${run.getBigUint64(F["internal.data"].offset + i * 8, true).toString(16)}`);
      return {
        exit: {
          kind: "FailEntry",
          hardwareEntryFailureReason: BigInt(suberror),
          detail: `KVM_EXIT_INTERNAL_ERROR ${INTERNAL_ERROR_NAMES.get(suberror) ?? `suberror ${suberror}`} data=[${data.join(", ")}]`,
        },
        cursor: undefined,
        completion: NO_COMPLETION,
      };
    }
    default:
      return unsupported(`${KVM_EXIT_NAMES.get(reason) ?? "exit reason"} ${reason}`);
  }
}

const INTERNAL_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [KVM_INTERNAL_ERROR_EMULATION, "emulation failure"],
  [KVM_INTERNAL_ERROR_SIMUL_EX, "simultaneous exceptions"],
  [KVM_INTERNAL_ERROR_DELIVERY_EV, "event delivery failure"],
  [KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, "unexpected exit reason"],
]);

function unsupported(raw: string): Decoded {
  return { exit: { kind: "Unsupported", backend: "kvm", raw }, cursor: undefined, completion: NO_COMPLETION };
}

/**
 * Present element `cursor.next` of an I/O exit and advance the cursor. IN elements are pre-filled with all-ones
 * (what an ISA bus returns with no device) until the VMM answers with `setReturnValue`.
 */
export function nextPioElement(run: DataView, cursor: PioCursor): Decoded {
  const at = cursor.dataOffset + cursor.next * cursor.size;
  cursor.next++;
  const rest = cursor.next < cursor.count ? cursor : undefined;
  if (cursor.write) {
    return {
      exit: { kind: "IoWrite", port: cursor.port, width: cursor.size, data: readLe(run, at, cursor.size) },
      cursor: rest,
      completion: NO_COMPLETION,
    };
  }
  writeLe(run, at, cursor.size, -1n);
  return {
    exit: { kind: "IoRead", port: cursor.port, width: cursor.size },
    cursor: rest,
    completion: { kind: "io-in", at, size: cursor.size },
  };
}

/** Store the VMM's answer to the read exit described by `completion` into the mapping. */
export function completeRead(run: DataView, completion: PendingCompletion, value: bigint): boolean {
  switch (completion.kind) {
    case "none":
      return false;
    case "io-in":
      writeLe(run, completion.at, completion.size, value);
      return true;
    case "mmio-read":
      writeLe(run, MMIO_DATA, completion.size, value);
      return true;
  }
}

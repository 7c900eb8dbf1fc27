/**
 * The x86-only exits (the generic ones are ../exits.ts's): port I/O, the axvisor hypercall port, triple faults,
 * interrupt windows and debug events (KVM_EXIT_DEBUG, see guest-debug.ts). Pure functions over a DataView of the kvm_run mapping, like the generic decoder.
 *
 * String I/O (`rep outsb`, `rep insw`, ...) arrives as ONE KVM_EXIT_IO with `count` > 1 and all elements in the
 * data area of the mapping. We present each element as its own IoRead/IoWrite exit (a `PioQueue` remembers where we
 * are) and re-enter the guest only after the last one, as KVM expects.
 *
 * Hypercalls: an `out` to AXVISOR_HYPERCALL_PORT (src/arch/x86_64/hypercall.ts) is a hypercall; the number and
 * arguments are read from the registers its contract names.
 */
import { AXVISOR_HYPERCALL_PORT } from "../../../arch/x86_64/hypercall.ts";
import type { AccessWidth, AxVCpuExitReason, HalAccessHandler } from "../../types.ts";
import {
  KVM_EXIT_DEBUG,
  KVM_EXIT_IO,
  KVM_EXIT_IRQ_WINDOW_OPEN,
  KVM_EXIT_SHUTDOWN,
  KVM_PIO_DATA_OFFSET,
  KVM_RUN_LAYOUT,
  KVM_RUN_PORT_IO,
} from "../abi.ts";
import {
  type ArchExitDecoder,
  answerMmioAccess,
  type Decoded,
  type ExitQueue,
  NO_COMPLETION,
  plainExit,
  readLe,
  unsupportedExit,
  writeLe,
} from "../exits.ts";
import { KVM_EXIT_IO_OUT, KVM_RUN_DEBUG_LAYOUT } from "./abi.ts";
import { type DebugSlot, decodeDebugExit } from "./guest-debug.ts";

/** SystemDown.code for a triple fault (KVM_EXIT_SHUTDOWN): not a guest-chosen status, so non-zero. */
export const TRIPLE_FAULT_CODE = 1;

const F = KVM_RUN_LAYOUT.fields;
const IO_DIRECTION = F["io.direction"].offset;
const IO_SIZE = F["io.size"].offset;
const IO_PORT = F["io.port"].offset;
const IO_COUNT = F["io.count"].offset;
const IO_DATA_OFFSET = F["io.data_offset"].offset;
/**
 * The word that holds io.direction (u8), io.size (u8) and io.port (u16), in that order, as in <linux/kvm.h>
 * (test/kvm/abi-layout.test.ts checks the offsets against the C header).
 */
const IO_HEAD = IO_DIRECTION;

const NOTHING: AxVCpuExitReason = { kind: "Nothing" };

/** A hypercall's number and arguments, read from the registers only when the exit is one. */
export interface HypercallRegs {
  readonly nr: bigint;
  readonly args: readonly [bigint, bigint, bigint, bigint, bigint, bigint];
}

export interface X86ExitContext {
  readonly readHypercallRegs: () => HypercallRegs;
  /** The debug-register slots in force (guest-debug.ts), to tell which one a KVM_EXIT_DEBUG reports. */
  readonly debugSlots?: () => readonly DebugSlot[];
}

/** Where we are in a (string) I/O exit: element `next` of `count` is the one to present next. */
export class PioQueue implements ExitQueue {
  readonly #run: DataView;
  readonly write: boolean;
  readonly port: number;
  readonly size: AccessWidth;
  readonly count: number;
  /** Offset of element 0 inside the kvm_run mapping. */
  readonly dataOffset: number;
  #next = 0;

  constructor(
    run: DataView,
    io: { write: boolean; port: number; size: AccessWidth; count: number; dataOffset: number },
  ) {
    this.#run = run;
    this.write = io.write;
    this.port = io.port;
    this.size = io.size;
    this.count = io.count;
    this.dataOffset = io.dataOffset;
  }

  /**
   * Present the next element and advance. IN elements are pre-filled with all-ones (what an ISA bus returns with no
   * device) until the VMM answers with `setReturnValue`.
   */
  next(): Decoded {
    const at = this.dataOffset + this.#next * this.size;
    this.#next++;
    const more = this.#next < this.count ? this : undefined;
    if (this.write) {
      return {
        exit: { kind: "IoWrite", port: this.port, width: this.size, data: readLe(this.#run, at, this.size) },
        completion: NO_COMPLETION,
        more,
      };
    }
    fillOnes(this.#run, at, this.size);
    return {
      exit: { kind: "IoRead", port: this.port, width: this.size },
      completion: { kind: "read", at, size: this.size },
      more,
    };
  }

  describe(): string {
    return `string I/O on port 0x${this.port.toString(16)} (element ${this.#next} of ${this.count} is next)`;
  }
}

/** Pre-fill an IN element with all-ones (what an ISA bus returns with no device), until the VMM answers. */
function fillOnes(run: DataView, at: number, size: AccessWidth): void {
  if (size === 1) run.setUint8(at, 0xff);
  else if (size === 2) run.setUint16(at, 0xffff, true);
  else if (size === 4) run.setUint32(at, 0xffff_ffff, true);
  else writeLe(run, at, size, -1n);
}

/** Decode the x86-only exit `reason`, or undefined when it is not one. */
export function decodeX86Exit(run: DataView, reason: number, context: X86ExitContext): Decoded | undefined {
  switch (reason) {
    case KVM_EXIT_IO: {
      const size = run.getUint8(IO_SIZE);
      const port = run.getUint16(IO_PORT, true);
      const count = run.getUint32(IO_COUNT, true);
      // A u64 read as two halves: no BigInt on the exit path (a high half makes the offset fail the check below).
      const dataOffset = run.getUint32(IO_DATA_OFFSET, true) + run.getUint32(IO_DATA_OFFSET + 4, true) * 2 ** 32;
      const write = run.getUint8(IO_DIRECTION) === KVM_EXIT_IO_OUT;
      if ((size !== 1 && size !== 2 && size !== 4) || count === 0 || dataOffset + size * count > run.byteLength) {
        return unsupportedExit(
          `KVM_EXIT_IO size=${size} count=${count} data_offset=${dataOffset} port=0x${port.toString(16)}`,
        );
      }
      if (write && port === AXVISOR_HYPERCALL_PORT && count === 1) {
        const { nr, args } = context.readHypercallRegs();
        return plainExit({ kind: "Hypercall", nr, args });
      }
      if (count === 1) {
        // The common case (one `in`/`out`): the element itself, without a queue.
        if (write) return plainExit({ kind: "IoWrite", port, width: size, data: readLe(run, dataOffset, size) });
        fillOnes(run, dataOffset, size);
        return {
          exit: { kind: "IoRead", port, width: size },
          completion: { kind: "read", at: dataOffset, size },
          more: undefined,
        };
      }
      return new PioQueue(run, { write, port, size, count, dataOffset }).next();
    }
    case KVM_EXIT_SHUTDOWN:
      // A triple fault (or an unrecoverable guest state): the machine would reset. We stop this VM only.
      return plainExit({ kind: "SystemDown", action: "crash", code: TRIPLE_FAULT_CODE });
    case KVM_EXIT_IRQ_WINDOW_OPEN:
      return plainExit(NOTHING);
    case KVM_EXIT_DEBUG: {
      const exit = decodeDebugExit(run, context.debugSlots?.() ?? []);
      if (exit !== undefined) return plainExit(exit);
      const D = KVM_RUN_DEBUG_LAYOUT.fields;
      return unsupportedExit(
        `KVM_EXIT_DEBUG exception=${run.getUint32(D["debug.arch.exception"].offset, true)} pc=0x${run.getBigUint64(D["debug.arch.pc"].offset, true).toString(16)} dr6=0x${run.getBigUint64(D["debug.arch.dr6"].offset, true).toString(16)}`,
      );
    }
    default:
      return undefined;
  }
}

/** kvm-native.c's packed answer for an `out` (KVM_RUN_PORT_IO | KVM_EXIT_IO_OUT << 24), compared as `code >>> 24`. */
const PORT_OUT = (KVM_RUN_PORT_IO >>> 24) | KVM_EXIT_IO_OUT;

/**
 * `HalVcpu.runAccesses` on x86: answer through `handler` the plain access that `code` (sys.ts
 * `kvmRunAccessFunction`: the exit reason, or the packed word of one plain `in`/`out`) reports: one `in`/`out`
 * (count 1, not the hypercall port), its bytes read or filled in the data area where KVM put them, or a plain MMIO
 * access (`answerMmioAccess`); false for every other exit (decoded as usual). The packed word is tested first: port
 * I/O is the commoner exit on a PC, and it needs no look at the mapping but for the data.
 */
export function answerX86Access(run: DataView, code: number, handler: HalAccessHandler): boolean {
  if (code >= KVM_RUN_PORT_IO) {
    const port = code & 0xffff;
    const size = (code >>> 16) & 0xff;
    if (code >>> 24 === PORT_OUT) {
      if (port === AXVISOR_HYPERCALL_PORT) return false;
      if (size === 1) handler.portWrite(port, 1, run.getUint8(KVM_PIO_DATA_OFFSET));
      else if (size === 2) handler.portWrite(port, 2, run.getUint16(KVM_PIO_DATA_OFFSET, true));
      else handler.portWrite(port, 4, run.getUint32(KVM_PIO_DATA_OFFSET, true));
      return true;
    }
    if (size === 1) run.setUint8(KVM_PIO_DATA_OFFSET, handler.portRead(port, 1));
    else if (size === 2) run.setUint16(KVM_PIO_DATA_OFFSET, handler.portRead(port, 2), true);
    else run.setUint32(KVM_PIO_DATA_OFFSET, handler.portRead(port, 4), true);
    return true;
  }
  if (code === KVM_EXIT_IO) return answerPortIo(run, handler);
  return answerMmioAccess(run, code, handler);
}

/** `answerX86Access` for a KVM_EXIT_IO given as the bare reason: the fields read from the mapping. */
function answerPortIo(run: DataView, handler: HalAccessHandler): boolean {
  if (run.getUint32(IO_COUNT, true) !== 1) return false;
  // direction, size and port are one little-endian word (u8, u8, u16): one read instead of three.
  const head = run.getUint32(IO_HEAD, true);
  const size = (head >>> 8) & 0xff;
  const port = head >>> 16;
  const dataOffset = run.getUint32(IO_DATA_OFFSET, true);
  if (
    (size !== 1 && size !== 2 && size !== 4) ||
    run.getUint32(IO_DATA_OFFSET + 4, true) !== 0 ||
    dataOffset + size > run.byteLength
  )
    return false;
  if ((head & 0xff) === KVM_EXIT_IO_OUT) {
    if (port === AXVISOR_HYPERCALL_PORT) return false;
    const value =
      size === 1
        ? run.getUint8(dataOffset)
        : size === 2
          ? run.getUint16(dataOffset, true)
          : run.getUint32(dataOffset, true);
    handler.portWrite(port, size, value);
    return true;
  }
  const value = handler.portRead(port, size);
  if (size === 1) run.setUint8(dataOffset, value);
  else if (size === 2) run.setUint16(dataOffset, value, true);
  else run.setUint32(dataOffset, value, true);
  return true;
}

/** `decodeX86Exit` as the generic decoder's arch hook. */
export function x86ExitDecoder(context: X86ExitContext): ArchExitDecoder {
  return { decodeExit: (run, reason) => decodeX86Exit(run, reason, context) };
}

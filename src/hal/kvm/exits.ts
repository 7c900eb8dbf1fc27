/**
 * Decoding of `struct kvm_run` after KVM_RUN into `AxVCpuExitReason`: `decodeExit` is the one place that reads an
 * exit (kvm-ioctls `VcpuFd::run`). It decodes the exit reasons every architecture shares (MMIO, HLT, system
 * events, entry failures, internal errors) and hands any other reason to the guest arch's decoder (x86: port I/O,
 * triple fault). Pure functions over a DataView of the kvm_run mapping, so they are tested with synthetic kvm_run
 * images as well as with real guests.
 *
 * One KVM exit may stand for several HAL exits (x86 string I/O: `rep outsb` is ONE KVM_EXIT_IO with `count` > 1).
 * The decoder then returns the first with an `ExitQueue` for the rest, which the vCPU presents one by one before it
 * re-enters the guest, as KVM expects.
 */
import { EAGAIN, EINTR } from "../../common/errno.ts";
import type { AccessWidth, AxVCpuExitReason, HalAccessHandler } from "../types.ts";
import {
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR,
  KVM_EXIT_MMIO,
  KVM_EXIT_NAMES,
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

const F = KVM_RUN_LAYOUT.fields;
const EXIT_REASON = F.exit_reason.offset;
const MMIO_PHYS_ADDR = F["mmio.phys_addr"].offset;
const MMIO_DATA = F["mmio.data"].offset;
const MMIO_LEN = F["mmio.len"].offset;
const MMIO_IS_WRITE = F["mmio.is_write"].offset;

/** What the vCPU must remember about the exit it returned. */
export type PendingCompletion =
  | { readonly kind: "none" }
  /** A read (MMIO, or an x86 IN element): `setReturnValue` writes `size` bytes at offset `at` of the mapping. */
  | { readonly kind: "read"; readonly at: number; readonly size: AccessWidth };

/** The exits of one KVM exit still to present (x86 string I/O), in order. */
export interface ExitQueue {
  /** The next exit, and what is left after it. */
  next(): Decoded;
  /** Where the queue stands, for messages ("element 2 of 8 of string I/O on port 0x3f8"). */
  describe(): string;
}

export interface Decoded {
  readonly exit: AxVCpuExitReason;
  readonly completion: PendingCompletion;
  /** Set when the KVM exit has more HAL exits to present after this one. */
  readonly more: ExitQueue | undefined;
}

/** A guest arch's decoder for the exit reasons `decodeExit` does not know. */
export interface ArchExitDecoder {
  /** Decode `reason` from `run`, or return undefined when this arch does not know it either. */
  decodeExit(run: DataView, reason: number): Decoded | undefined;
}

export const NO_COMPLETION: PendingCompletion = { kind: "none" };
const NOTHING: AxVCpuExitReason = { kind: "Nothing" };
const HALT: AxVCpuExitReason = { kind: "Halt" };
/** errno values KVM_RUN returns when interrupted (a kick) rather than failed. */

/** An exit that needs nothing remembered. */
export function plainExit(exit: AxVCpuExitReason): Decoded {
  return { exit, completion: NO_COMPLETION, more: undefined };
}

/** A raw exit nobody could decode. */
export function unsupportedExit(raw: string): Decoded {
  return plainExit({ kind: "Unsupported", backend: "kvm", raw });
}

export function isAccessWidth(value: number): value is AccessWidth {
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
export function decodeExit(run: DataView, result: number, arch: ArchExitDecoder): Decoded {
  if (result === -EINTR || result === -EAGAIN) return plainExit(NOTHING);
  const reason = run.getUint32(EXIT_REASON, true);
  switch (reason) {
    case KVM_EXIT_MMIO: {
      const address = Number(run.getBigUint64(MMIO_PHYS_ADDR, true));
      const len = run.getUint32(MMIO_LEN, true);
      if (!isAccessWidth(len)) return unsupportedExit(`KVM_EXIT_MMIO len=${len} at 0x${address.toString(16)}`);
      if (run.getUint8(MMIO_IS_WRITE) !== 0) {
        return plainExit({ kind: "MmioWrite", addr: address, width: len, data: readLe(run, MMIO_DATA, len) });
      }
      // KVM's instruction emulator completes the load itself from mmio.data (width, zero/sign extension and the
      // destination register are its business), so the register is not known here: -1.
      return {
        exit: { kind: "MmioRead", addr: address, width: len, reg: -1, regWidth: len, signedExt: false },
        completion: { kind: "read", at: MMIO_DATA, size: len },
        more: undefined,
      };
    }
    case KVM_EXIT_HLT:
      return plainExit(HALT);
    case KVM_EXIT_INTR:
      return plainExit(NOTHING);
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
      if (action === undefined) return unsupportedExit(`KVM_EXIT_SYSTEM_EVENT type=${type}`);
      return plainExit({ kind: "SystemDown", action, code: action === "poweroff" ? 0 : 1 });
    }
    case KVM_EXIT_FAIL_ENTRY: {
      const hardware = run.getBigUint64(F["fail_entry.hardware_entry_failure_reason"].offset, true);
      const cpu = run.getUint32(F["fail_entry.cpu"].offset, true);
      return plainExit({
        kind: "FailEntry",
        hardwareEntryFailureReason: hardware,
        detail: `KVM_EXIT_FAIL_ENTRY on host cpu ${cpu}`,
      });
    }
    case KVM_EXIT_INTERNAL_ERROR: {
      const suberror = run.getUint32(F["internal.suberror"].offset, true);
      const ndata = Math.min(run.getUint32(F["internal.ndata"].offset, true), 16);
      const data: string[] = [];
      for (let i = 0; i < ndata; i++)
        data.push(`0x${run.getBigUint64(F["internal.data"].offset + i * 8, true).toString(16)}`);
      return plainExit({
        kind: "FailEntry",
        hardwareEntryFailureReason: BigInt(suberror),
        detail: `KVM_EXIT_INTERNAL_ERROR ${INTERNAL_ERROR_NAMES.get(suberror) ?? `suberror ${suberror}`} data=[${data.join(", ")}]`,
      });
    }
    default:
      return (
        arch.decodeExit(run, reason) ?? unsupportedExit(`${KVM_EXIT_NAMES.get(reason) ?? "exit reason"} ${reason}`)
      );
  }
}

const INTERNAL_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [KVM_INTERNAL_ERROR_EMULATION, "emulation failure"],
  [KVM_INTERNAL_ERROR_SIMUL_EX, "simultaneous exceptions"],
  [KVM_INTERNAL_ERROR_DELIVERY_EV, "event delivery failure"],
  [KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, "unexpected exit reason"],
]);

/**
 * `HalVcpu.runAccesses` for MMIO: answer a KVM_EXIT_MMIO of 1, 2 or 4 bytes through `handler` (a read's value goes
 * to mmio.data, which KVM's emulator completes the load from); false for every other exit (decoded as usual).
 */
export function answerMmioAccess(run: DataView, reason: number, handler: HalAccessHandler): boolean {
  if (reason !== KVM_EXIT_MMIO) return false;
  const len = run.getUint32(MMIO_LEN, true);
  if (len !== 1 && len !== 2 && len !== 4) return false;
  // A u64 read as two halves: no BigInt on the hot path (addresses stay below 2^53 on every host we run). Below
  // 4 GiB (every device window of the boards) the address is the low half alone, which the JIT keeps an integer.
  const low = run.getUint32(MMIO_PHYS_ADDR, true);
  const high = run.getUint32(MMIO_PHYS_ADDR + 4, true);
  const address = high === 0 ? low : low + high * 2 ** 32;
  if (run.getUint8(MMIO_IS_WRITE) !== 0) {
    const value =
      len === 1 ? run.getUint8(MMIO_DATA) : len === 2 ? run.getUint16(MMIO_DATA, true) : run.getUint32(MMIO_DATA, true);
    handler.mmioWrite(address, len, value);
    return true;
  }
  const value = handler.mmioRead(address, len);
  if (len === 1) run.setUint8(MMIO_DATA, value);
  else if (len === 2) run.setUint16(MMIO_DATA, value, true);
  else run.setUint32(MMIO_DATA, value, true);
  return true;
}

/** Store the VMM's answer to the read exit described by `completion` into the mapping. */
export function completeRead(run: DataView, completion: PendingCompletion, value: bigint): boolean {
  if (completion.kind === "none") return false;
  writeLe(run, completion.at, completion.size, value);
  return true;
}

/**
 * SBI 2.0 for VS-mode guests: the VMM plays the supervisor execution environment (as KVM's vcpu_sbi and axvisor's
 * riscv_vcpu do), answering `ecall`s from VS-mode that the backend reports as `SbiCall` exits.
 *
 * `handleSbiCall` is a pure dispatcher. Simple effects (arm a timer, set VSSIP on targets, remote fences, console
 * bytes, guest-memory reads and writes for DBCN) go through the `SbiPlatform` the VMM implements; anything that
 * changes which harts run comes back as an action in the `SbiOutcome` for the VMM's run loop to carry out
 * (`CpuUp`, `CpuDown`, `Suspend`, `SystemDown`, `Hypercall`, `GuestTrap`). Plain calls come back as `Return`
 * (write a0 = error, a1 = value) or, for the v0.1 legacy extensions, `LegacyReturn` (write a0 only).
 *
 * Implemented: BASE, TIME, IPI, RFENCE, HSM, SRST, PMU (`sbi-pmu.ts`), DBCN, the legacy extensions 0x00-0x08 and
 * axvisor's hypercall extension (EID 0x485643, "HVC"). Everything else answers SBI_ERR_NOT_SUPPORTED, as the binary
 * encoding chapter requires for an unknown EID or FID. The firmware events the PMU counts (timer programming, IPIs,
 * remote fences; sent by the caller, received by each target) are reported to it here.
 *
 * Spec: RISC-V Supervisor Binary Interface Specification v2.0 (chapters 3 binary encoding, 4 base, 5 legacy,
 * 6 TIME, 7 IPI, 8 RFENCE, 9 HSM, 10 SRST, 11 PMU, 12 DBCN).
 *
 * Hart ids are the VM's vCPU ids, 0 .. hartCount-1.
 */

import {
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_FAILED,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_EXT_0_1_CLEAR_IPI,
  SBI_EXT_0_1_CONSOLE_GETCHAR,
  SBI_EXT_0_1_CONSOLE_PUTCHAR,
  SBI_EXT_0_1_REMOTE_FENCE_I,
  SBI_EXT_0_1_REMOTE_SFENCE_VMA,
  SBI_EXT_0_1_REMOTE_SFENCE_VMA_ASID,
  SBI_EXT_0_1_SEND_IPI,
  SBI_EXT_0_1_SET_TIMER,
  SBI_EXT_0_1_SHUTDOWN,
  SBI_EXT_BASE,
  SBI_EXT_BASE_GET_IMP_ID,
  SBI_EXT_BASE_GET_IMP_VERSION,
  SBI_EXT_BASE_GET_MARCHID,
  SBI_EXT_BASE_GET_MIMPID,
  SBI_EXT_BASE_GET_MVENDORID,
  SBI_EXT_BASE_GET_SPEC_VERSION,
  SBI_EXT_BASE_PROBE_EXT,
  SBI_EXT_DBCN,
  SBI_EXT_DBCN_CONSOLE_READ,
  SBI_EXT_DBCN_CONSOLE_WRITE,
  SBI_EXT_DBCN_CONSOLE_WRITE_BYTE,
  SBI_EXT_HSM,
  SBI_EXT_HSM_HART_GET_STATUS,
  SBI_EXT_HSM_HART_START,
  SBI_EXT_HSM_HART_STOP,
  SBI_EXT_HSM_HART_SUSPEND,
  SBI_EXT_IPI,
  SBI_EXT_IPI_SEND_IPI,
  SBI_EXT_PMU,
  SBI_EXT_RFENCE,
  SBI_EXT_RFENCE_REMOTE_FENCE_I,
  SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA,
  SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA_VMID,
  SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA,
  SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA_ASID,
  SBI_EXT_RFENCE_REMOTE_SFENCE_VMA,
  SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID,
  SBI_EXT_SRST,
  SBI_EXT_SRST_RESET,
  SBI_EXT_TIME,
  SBI_EXT_TIME_SET_TIMER,
  SBI_HSM_STATE_STOP_PENDING,
  SBI_HSM_STATE_STOPPED,
  SBI_HSM_SUSPEND_NON_RET_DEFAULT,
  SBI_HSM_SUSPEND_RET_DEFAULT,
  SBI_PMU_FW_FENCE_I_RECEIVED,
  SBI_PMU_FW_FENCE_I_SENT,
  SBI_PMU_FW_HFENCE_GVMA_RECEIVED,
  SBI_PMU_FW_HFENCE_GVMA_SENT,
  SBI_PMU_FW_HFENCE_GVMA_VMID_RECEIVED,
  SBI_PMU_FW_HFENCE_GVMA_VMID_SENT,
  SBI_PMU_FW_HFENCE_VVMA_ASID_RECEIVED,
  SBI_PMU_FW_HFENCE_VVMA_ASID_SENT,
  SBI_PMU_FW_HFENCE_VVMA_RECEIVED,
  SBI_PMU_FW_HFENCE_VVMA_SENT,
  SBI_PMU_FW_IPI_RECEIVED,
  SBI_PMU_FW_IPI_SENT,
  SBI_PMU_FW_SET_TIMER,
  SBI_PMU_FW_SFENCE_VMA_ASID_RECEIVED,
  SBI_PMU_FW_SFENCE_VMA_ASID_SENT,
  SBI_PMU_FW_SFENCE_VMA_RECEIVED,
  SBI_PMU_FW_SFENCE_VMA_SENT,
  SBI_SRST_RESET_REASON_NONE,
  SBI_SRST_RESET_REASON_SYSFAIL,
  SBI_SRST_RESET_TYPE_COLD_REBOOT,
  SBI_SRST_RESET_TYPE_SHUTDOWN,
  SBI_SRST_RESET_TYPE_WARM_REBOOT,
  SBI_SUCCESS,
  type SbiHsmState,
} from "../../../arch/riscv64/sbi.ts";
import { type FenceRange, fenceRange, resolveHartMask } from "../../../common/sbi-masks.ts";
import type { GuestMemoryAccess, GuestPhysAddr, SystemDownAction } from "../../../hal/types.ts";
import type { SbiPmu } from "./sbi-pmu.ts";

// ---------------------------------------------------------------------------------------------------------------
// axvisor's extension and our implementation's identity (the spec's ids and codes are in src/arch/riscv64/sbi.ts)
// ---------------------------------------------------------------------------------------------------------------

/** axvisor's hypercall extension ("HVC"): FID = hypercall number, a0..a5 = arguments. */
export const SBI_EXT_AXVISOR_HYPERCALL = 0x485643n;

/** We implement SBI v2.0: major in bits 30:24, minor in bits 23:0. */
export const SBI_SPEC_VERSION = (2n << 24n) | 0n;
/**
 * Our SBI implementation id. The spec's registry (0 BBL, 1 OpenSBI, 2 Xvisor, 3 KVM, 4 RustSBI, ... 11 bhyve)
 * has no entry for axvisor; we are not KVM and must not let a guest apply KVM quirks to us, so we use the ASCII
 * tag "AXTS" (0x41585453), far above the registry's small numbers so it cannot collide with a future entry.
 */
export const SBI_IMPL_ID_AXVISOR_TS = 0x4158_5453n;
/** Implementation version: axvisor-ts 0.1.0 encoded as major << 16 | minor << 8 | patch. */
export const SBI_IMPL_VERSION = (0n << 16n) | (1n << 8n) | 0n;

/** The most DBCN bytes moved in one call; the spec allows partial transfers and the guest loops on the count. */
export const SBI_DBCN_MAX_CHUNK = 64 * 1024;

/** Largest address the VMM's number-based memory API can name. */
const MAX_SAFE_ADDRESS = BigInt(Number.MAX_SAFE_INTEGER);

export { type FenceRange, fenceRange, resolveHartMask };

// ---------------------------------------------------------------------------------------------------------------
// The interface the VMM implements
// ---------------------------------------------------------------------------------------------------------------

/** The result of reading guest-virtual memory as VS-mode would (legacy calls pass pointers, not addresses). */
export type GuestVirtualRead =
  | { readonly ok: true; readonly value: bigint }
  | { readonly ok: false; readonly cause: bigint; readonly tval: bigint };

/** A fence the targets must perform before their next guest instruction (emulated: drop decoded code / TLBs). */
export type RemoteFence =
  | { readonly kind: "fence.i" }
  | { readonly kind: "sfence.vma"; readonly range: FenceRange; readonly asid: bigint | undefined }
  | { readonly kind: "hfence.gvma"; readonly range: FenceRange; readonly vmid: bigint | undefined }
  | { readonly kind: "hfence.vvma"; readonly range: FenceRange; readonly asid: bigint | undefined };

export interface SbiMachineIds {
  readonly mvendorid: bigint;
  readonly marchid: bigint;
  readonly mimpid: bigint;
}

/** What the VMM provides to the SBI layer for one VM. */
export interface SbiPlatform {
  /** Number of harts (vCPUs); hart ids are 0 .. hartCount-1. */
  readonly hartCount: number;
  /** The HSM state of hart `hart` (0 <= hart < hartCount). */
  hartState(hart: number): SbiHsmState;
  readonly memory: GuestMemoryAccess;
  /**
   * Whether the guest's harts implement the H extension (nested virtualization). When false, the RFENCE
   * HFENCE.* functions answer SBI_ERR_NOT_SUPPORTED, as the spec says for harts without it.
   */
  readonly guestHasHypervisorExtension: boolean;
  /** What BASE get_mvendorid/marchid/mimpid report (the values the guest's harts would show; 0 is always legal). */
  readonly machineIds: SbiMachineIds;
  /** The harts' PMU counters (SBI PMU extension). */
  readonly pmu: SbiPmu;
  /** Arm hart `hart`'s supervisor timer for `stimeValue` (time ticks) and clear its pending VSTIP. */
  setTimer(hart: number, stimeValue: bigint): void;
  /** Raise a supervisor software interrupt (VSSIP) on each target. */
  sendIpi(targets: readonly number[]): void;
  /** Clear the calling hart's pending VSSIP; return whether one was pending (legacy clear_ipi reports it). */
  clearIpi(hart: number): boolean;
  /** Make each target perform `fence` before it next runs guest code. */
  remoteFence(targets: readonly number[], fence: RemoteFence): void;
  /** Write bytes to the debug console; returns how many were accepted (0..bytes.length). */
  consoleWrite(bytes: Uint8Array): number;
  /** Up to `maxBytes` bytes of pending console input (empty when none); never blocks. */
  consoleRead(maxBytes: number): Uint8Array;
  /** Read one 64-bit word at guest-virtual `gva` as hart `hart` in VS-mode would (vsatp + G-stage). */
  readGuestVirtualU64(hart: number, gva: bigint): GuestVirtualRead;
}

// ---------------------------------------------------------------------------------------------------------------
// Calls and outcomes
// ---------------------------------------------------------------------------------------------------------------

export type SbiArgs = readonly [bigint, bigint, bigint, bigint, bigint, bigint];

export interface SbiCall {
  readonly extensionId: bigint;
  readonly functionId: bigint;
  /** a0..a5 as the guest left them. */
  readonly args: SbiArgs;
}

/** An SBI v0.2+ return: a0 = error, a1 = value. */
export interface SbiRet {
  readonly error: bigint;
  readonly value: bigint;
}

export type SbiResetType = "shutdown" | "cold-reboot" | "warm-reboot";

/**
 * What the VMM must do for one SBI call. The backend has already advanced the caller's pc past the `ecall`.
 * - `Return`: write a0 = error, a1 = value (see `sbiRetRegisters`).
 * - `LegacyReturn`: write a0 = value only; a1 is preserved (legacy calling convention).
 * - `CpuUp`: start `targetCpu` (now STOPPED) at `entryPoint` in VS-mode with a0 = targetCpu, a1 = `arg`, vsatp = 0,
 *   vsstatus.SIE = 0; mark it START_PENDING then STARTED; write `ret` to the caller. If the VMM cannot start it,
 *   write { error: SBI_ERR_FAILED, value: 0 } instead.
 * - `CpuDown`: the caller stops (mark it STOPPED; it can be started again by hart_start). Nothing is written,
 *   unless stopping fails: then write `failRet`.
 * - `Suspend`: the caller suspends (SUSPENDED) until an interrupt is pending for it (enabled in vsie, whatever
 *   vsstatus.SIE says, as for WFI). Retentive: on wake write `ret` and continue after the ecall. Non-retentive: on
 *   wake enter at `resumeAddr` with a0 = hart, a1 = `opaque`, vsatp = 0, vsstatus.SIE = 0.
 * - `SystemDown`: stop the VM (`action`, exit `code`); if the VMM refuses, write `failRet` to the caller.
 * - `Hypercall`: axvisor's hypercall `nr` with `args`; the VMM handles it and writes the result registers.
 * - `GuestTrap`: a legacy call's memory access faulted. The spec redirects the fault to the supervisor with sepc at
 *   the ecall: move the pc back by 4 and inject exception `cause` with stval = `tval`.
 */
export type SbiOutcome =
  | { readonly kind: "Return"; readonly error: bigint; readonly value: bigint }
  | { readonly kind: "LegacyReturn"; readonly value: bigint }
  | {
      readonly kind: "CpuUp";
      readonly targetCpu: number;
      readonly entryPoint: GuestPhysAddr;
      readonly arg: bigint;
      readonly ret: SbiRet;
    }
  | { readonly kind: "CpuDown"; readonly hart: number; readonly failRet: SbiRet }
  | {
      readonly kind: "Suspend";
      readonly hart: number;
      readonly suspendType: number;
      readonly retentive: boolean;
      readonly resumeAddr: GuestPhysAddr;
      readonly opaque: bigint;
      readonly ret: SbiRet;
    }
  | {
      readonly kind: "SystemDown";
      readonly action: SystemDownAction;
      readonly resetType: SbiResetType;
      /** Exit status: the SRST reset reason (0 no reason, 1 system failure); 0 for legacy shutdown. */
      readonly code: number;
      readonly failRet: SbiRet;
    }
  | { readonly kind: "Hypercall"; readonly nr: bigint; readonly args: SbiArgs }
  | { readonly kind: "GuestTrap"; readonly cause: bigint; readonly tval: bigint };

export type SbiDispatchErrorKind = "invalid-hart" | "invalid-platform";

/** A bug in the caller (the VMM), never a guest-triggered condition: those become SBI error codes. */
export class SbiDispatchError extends Error {
  override readonly name = "SbiDispatchError";
  readonly kind: SbiDispatchErrorKind;
  readonly hart: number;
  readonly hartCount: number;
  constructor(kind: SbiDispatchErrorKind, message: string, hart: number, hartCount: number) {
    super(message);
    this.kind = kind;
    this.hart = hart;
    this.hartCount = hartCount;
  }
}

/** The register values to write for a v0.2+ return: a0 = error, a1 = value, both as unsigned 64-bit. */
export function sbiRetRegisters(ret: SbiRet): { readonly a0: bigint; readonly a1: bigint } {
  return { a0: BigInt.asUintN(64, ret.error), a1: BigInt.asUintN(64, ret.value) };
}

/** Register value for a legacy return (a0 only), as unsigned 64-bit. */
export function sbiLegacyRegister(value: bigint): bigint {
  return BigInt.asUintN(64, value);
}

// ---------------------------------------------------------------------------------------------------------------
// The dispatcher
// ---------------------------------------------------------------------------------------------------------------

const ret = (error: bigint, value = 0n): SbiOutcome => ({ kind: "Return", error, value });
const ok = (value = 0n): SbiOutcome => ret(SBI_SUCCESS, value);
const notSupported = (): SbiOutcome => ret(SBI_ERR_NOT_SUPPORTED);
const legacy = (value: bigint): SbiOutcome => ({ kind: "LegacyReturn", value });

/** Extensions `probe_extension` reports as available (value 1). Legacy 0x09-0x0F are reserved, so absent. */
const PROBED_EXTENSIONS: ReadonlySet<bigint> = new Set([
  SBI_EXT_0_1_SET_TIMER,
  SBI_EXT_0_1_CONSOLE_PUTCHAR,
  SBI_EXT_0_1_CONSOLE_GETCHAR,
  SBI_EXT_0_1_CLEAR_IPI,
  SBI_EXT_0_1_SEND_IPI,
  SBI_EXT_0_1_REMOTE_FENCE_I,
  SBI_EXT_0_1_REMOTE_SFENCE_VMA,
  SBI_EXT_0_1_REMOTE_SFENCE_VMA_ASID,
  SBI_EXT_0_1_SHUTDOWN,
  SBI_EXT_BASE,
  SBI_EXT_TIME,
  SBI_EXT_IPI,
  SBI_EXT_RFENCE,
  SBI_EXT_HSM,
  SBI_EXT_SRST,
  SBI_EXT_PMU,
  SBI_EXT_DBCN,
  SBI_EXT_AXVISOR_HYPERCALL,
]);

/**
 * Answer one SBI call made by hart `hart` (the caller's vCPU id). Never throws for guest input; throws
 * `SbiDispatchError` only when the VMM passes a hart id outside the platform.
 */
export function handleSbiCall(call: SbiCall, hart: number, platform: SbiPlatform): SbiOutcome {
  if (!Number.isSafeInteger(platform.hartCount) || platform.hartCount < 1) {
    throw new SbiDispatchError(
      "invalid-platform",
      `Cannot dispatch an SBI call: platform hartCount is ${platform.hartCount}, expected a positive integer`,
      hart,
      platform.hartCount,
    );
  }
  if (!Number.isInteger(hart) || hart < 0 || hart >= platform.hartCount) {
    throw new SbiDispatchError(
      "invalid-hart",
      `Cannot dispatch an SBI call from hart ${hart}: the VM has harts 0..${platform.hartCount - 1}`,
      hart,
      platform.hartCount,
    );
  }
  // EIDs and FIDs are signed 32-bit values in XLEN registers; ours are all positive, so a register with any bit
  // above 31 set names no extension or function of ours and falls through to NOT_SUPPORTED.
  const eid = BigInt.asUintN(64, call.extensionId);
  const fid = BigInt.asUintN(64, call.functionId);
  const u = (v: bigint): bigint => BigInt.asUintN(64, v);
  const [a0, a1, a2, a3, a4, a5] = call.args;
  const a: SbiArgs = [u(a0), u(a1), u(a2), u(a3), u(a4), u(a5)];

  switch (eid) {
    case SBI_EXT_BASE:
      return base(fid, a, platform);
    case SBI_EXT_TIME:
      if (fid !== SBI_EXT_TIME_SET_TIMER) return notSupported();
      platform.setTimer(hart, a[0]);
      platform.pmu.record(hart, SBI_PMU_FW_SET_TIMER);
      return ok();
    case SBI_EXT_IPI:
      return ipi(fid, a, hart, platform);
    case SBI_EXT_RFENCE:
      return rfence(fid, a, hart, platform);
    case SBI_EXT_HSM:
      return hsm(fid, a, hart, platform);
    case SBI_EXT_SRST:
      return srst(fid, a);
    case SBI_EXT_PMU: {
      const r = platform.pmu.call(hart, fid, a);
      return ret(r.error, r.value);
    }
    case SBI_EXT_DBCN:
      return dbcn(fid, a, platform);
    case SBI_EXT_AXVISOR_HYPERCALL:
      return { kind: "Hypercall", nr: fid, args: a };
    case SBI_EXT_0_1_SET_TIMER:
      platform.setTimer(hart, a[0]);
      platform.pmu.record(hart, SBI_PMU_FW_SET_TIMER);
      return legacy(0n);
    case SBI_EXT_0_1_CONSOLE_PUTCHAR:
      // Blocking by spec; our console always accepts (or drops when absent, which the spec also allows).
      platform.consoleWrite(Uint8Array.of(Number(a[0] & 0xffn)));
      return legacy(0n);
    case SBI_EXT_0_1_CONSOLE_GETCHAR: {
      const input = platform.consoleRead(1);
      const byte = input[0];
      return legacy(byte === undefined ? -1n : BigInt(byte));
    }
    case SBI_EXT_0_1_CLEAR_IPI:
      return legacy(platform.clearIpi(hart) ? 1n : 0n);
    case SBI_EXT_0_1_SEND_IPI:
    case SBI_EXT_0_1_REMOTE_FENCE_I:
    case SBI_EXT_0_1_REMOTE_SFENCE_VMA:
    case SBI_EXT_0_1_REMOTE_SFENCE_VMA_ASID:
      return legacyHartMaskCall(eid, a, hart, platform);
    case SBI_EXT_0_1_SHUTDOWN:
      return {
        kind: "SystemDown",
        action: "poweroff",
        resetType: "shutdown",
        code: 0,
        failRet: { error: SBI_ERR_FAILED, value: 0n },
      };
    default:
      return notSupported();
  }
}

function base(fid: bigint, a: SbiArgs, platform: SbiPlatform): SbiOutcome {
  switch (fid) {
    case SBI_EXT_BASE_GET_SPEC_VERSION:
      return ok(SBI_SPEC_VERSION);
    case SBI_EXT_BASE_GET_IMP_ID:
      return ok(SBI_IMPL_ID_AXVISOR_TS);
    case SBI_EXT_BASE_GET_IMP_VERSION:
      return ok(SBI_IMPL_VERSION);
    case SBI_EXT_BASE_PROBE_EXT:
      // The argument is a `long` EID; a sign-extended negative value is no extension of ours.
      return ok(PROBED_EXTENSIONS.has(a[0]) ? 1n : 0n);
    case SBI_EXT_BASE_GET_MVENDORID:
      return ok(BigInt.asUintN(64, platform.machineIds.mvendorid));
    case SBI_EXT_BASE_GET_MARCHID:
      return ok(BigInt.asUintN(64, platform.machineIds.marchid));
    case SBI_EXT_BASE_GET_MIMPID:
      return ok(BigInt.asUintN(64, platform.machineIds.mimpid));
    default:
      return notSupported();
  }
}

function ipi(fid: bigint, a: SbiArgs, hart: number, platform: SbiPlatform): SbiOutcome {
  if (fid !== SBI_EXT_IPI_SEND_IPI) return notSupported();
  const targets = resolveHartMask(a[0], a[1], platform.hartCount);
  if (targets === undefined) return ret(SBI_ERR_INVALID_PARAM);
  sendIpi(targets, hart, platform);
  return ok();
}

/** Send IPIs and count them (sent by the caller, received by each target). */
function sendIpi(targets: readonly number[], hart: number, platform: SbiPlatform): void {
  platform.sendIpi(targets);
  for (const target of targets) {
    platform.pmu.record(hart, SBI_PMU_FW_IPI_SENT);
    platform.pmu.record(target, SBI_PMU_FW_IPI_RECEIVED);
  }
}

/** The PMU firmware events of a remote fence: [sent, received]. */
function fenceEvents(fence: RemoteFence): readonly [number, number] {
  switch (fence.kind) {
    case "fence.i":
      return [SBI_PMU_FW_FENCE_I_SENT, SBI_PMU_FW_FENCE_I_RECEIVED];
    case "sfence.vma":
      return fence.asid === undefined
        ? [SBI_PMU_FW_SFENCE_VMA_SENT, SBI_PMU_FW_SFENCE_VMA_RECEIVED]
        : [SBI_PMU_FW_SFENCE_VMA_ASID_SENT, SBI_PMU_FW_SFENCE_VMA_ASID_RECEIVED];
    case "hfence.gvma":
      return fence.vmid === undefined
        ? [SBI_PMU_FW_HFENCE_GVMA_SENT, SBI_PMU_FW_HFENCE_GVMA_RECEIVED]
        : [SBI_PMU_FW_HFENCE_GVMA_VMID_SENT, SBI_PMU_FW_HFENCE_GVMA_VMID_RECEIVED];
    case "hfence.vvma":
      return fence.asid === undefined
        ? [SBI_PMU_FW_HFENCE_VVMA_SENT, SBI_PMU_FW_HFENCE_VVMA_RECEIVED]
        : [SBI_PMU_FW_HFENCE_VVMA_ASID_SENT, SBI_PMU_FW_HFENCE_VVMA_ASID_RECEIVED];
  }
}

/** Make the targets perform `fence` and count it (sent by the caller, received by each target). */
function remoteFence(targets: readonly number[], fence: RemoteFence, hart: number, platform: SbiPlatform): void {
  platform.remoteFence(targets, fence);
  const [sent, received] = fenceEvents(fence);
  for (const target of targets) {
    platform.pmu.record(hart, sent);
    platform.pmu.record(target, received);
  }
}

function rfence(fid: bigint, a: SbiArgs, hart: number, platform: SbiPlatform): SbiOutcome {
  let fence: RemoteFence;
  const range = (): FenceRange | undefined => fenceRange(a[2], a[3]);
  switch (fid) {
    case SBI_EXT_RFENCE_REMOTE_FENCE_I:
      fence = { kind: "fence.i" };
      break;
    case SBI_EXT_RFENCE_REMOTE_SFENCE_VMA:
    case SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID: {
      const r = range();
      if (r === undefined) return hartMaskOr(a, platform, SBI_ERR_INVALID_ADDRESS);
      fence = { kind: "sfence.vma", range: r, asid: fid === SBI_EXT_RFENCE_REMOTE_SFENCE_VMA_ASID ? a[4] : undefined };
      break;
    }
    case SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA_VMID:
    case SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA:
    case SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA_ASID:
    case SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA: {
      // "Only valid for harts implementing hypervisor extension": ours do not unless nested virtualization is on.
      if (!platform.guestHasHypervisorExtension) return notSupported();
      const r = range();
      if (r === undefined) return hartMaskOr(a, platform, SBI_ERR_INVALID_ADDRESS);
      if (fid === SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA_VMID || fid === SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA) {
        fence = {
          kind: "hfence.gvma",
          range: r,
          vmid: fid === SBI_EXT_RFENCE_REMOTE_HFENCE_GVMA_VMID ? a[4] : undefined,
        };
      } else {
        fence = {
          kind: "hfence.vvma",
          range: r,
          asid: fid === SBI_EXT_RFENCE_REMOTE_HFENCE_VVMA_ASID ? a[4] : undefined,
        };
      }
      break;
    }
    default:
      return notSupported();
  }
  const targets = resolveHartMask(a[0], a[1], platform.hartCount);
  if (targets === undefined) return ret(SBI_ERR_INVALID_PARAM);
  remoteFence(targets, fence, hart, platform);
  return ok();
}

/** A bad hart mask is reported before a bad range (the mask is the first argument and the generic error). */
function hartMaskOr(a: SbiArgs, platform: SbiPlatform, error: bigint): SbiOutcome {
  const targets = resolveHartMask(a[0], a[1], platform.hartCount);
  return ret(targets === undefined ? SBI_ERR_INVALID_PARAM : error);
}

/** A hart id argument as a vCPU index, or undefined when it names no hart of this VM. */
function hartIdArg(value: bigint, hartCount: number): number | undefined {
  return value < BigInt(hartCount) ? Number(value) : undefined;
}

/**
 * Whether a hart may start executing at `addr` in supervisor mode: inside guest RAM and aligned to IALIGN = 16
 * (the C extension's minimum, which every guest hart we model has).
 */
function isValidEntry(addr: bigint, platform: SbiPlatform): addr is bigint {
  if (addr > MAX_SAFE_ADDRESS || (addr & 1n) !== 0n) return false;
  return platform.memory.contains(Number(addr), 2);
}

function hsm(fid: bigint, a: SbiArgs, hart: number, platform: SbiPlatform): SbiOutcome {
  switch (fid) {
    case SBI_EXT_HSM_HART_START: {
      const target = hartIdArg(a[0], platform.hartCount);
      if (target === undefined) return ret(SBI_ERR_INVALID_PARAM);
      if (!isValidEntry(a[1], platform)) return ret(SBI_ERR_INVALID_ADDRESS);
      const state = platform.hartState(target);
      if (state === SBI_HSM_STATE_STOPPED) {
        return {
          kind: "CpuUp",
          targetCpu: target,
          entryPoint: Number(a[1]),
          arg: a[2],
          ret: { error: SBI_SUCCESS, value: 0n },
        };
      }
      // A hart on its way down cannot be started until it is STOPPED; every other state means it is already up.
      return ret(state === SBI_HSM_STATE_STOP_PENDING ? SBI_ERR_FAILED : SBI_ERR_ALREADY_AVAILABLE);
    }
    case SBI_EXT_HSM_HART_STOP:
      return { kind: "CpuDown", hart, failRet: { error: SBI_ERR_FAILED, value: 0n } };
    case SBI_EXT_HSM_HART_GET_STATUS: {
      const target = hartIdArg(a[0], platform.hartCount);
      if (target === undefined) return ret(SBI_ERR_INVALID_PARAM);
      return ok(BigInt(platform.hartState(target)));
    }
    case SBI_EXT_HSM_HART_SUSPEND: {
      // suspend_type is a uint32_t: the binary encoding says only its 32 bits are used.
      const suspendType = Number(a[0] & 0xffff_ffffn);
      const retentive = suspendType === SBI_HSM_SUSPEND_RET_DEFAULT;
      // Reserved types and platform-specific ones (we implement none) are SBI_ERR_INVALID_PARAM.
      if (!retentive && suspendType !== SBI_HSM_SUSPEND_NON_RET_DEFAULT) return ret(SBI_ERR_INVALID_PARAM);
      if (!retentive && !isValidEntry(a[1], platform)) return ret(SBI_ERR_INVALID_ADDRESS);
      return {
        kind: "Suspend",
        hart,
        suspendType,
        retentive,
        // Unused for retentive suspend (the hart continues after the ecall); only checked when non-retentive.
        resumeAddr: retentive ? 0 : Number(a[1]),
        opaque: a[2],
        ret: { error: SBI_SUCCESS, value: 0n },
      };
    }
    default:
      return notSupported();
  }
}

function srst(fid: bigint, a: SbiArgs): SbiOutcome {
  if (fid !== SBI_EXT_SRST_RESET) return notSupported();
  const resetType = Number(a[0] & 0xffff_ffffn);
  const reason = Number(a[1] & 0xffff_ffffn);
  let type: SbiResetType;
  switch (resetType) {
    case SBI_SRST_RESET_TYPE_SHUTDOWN:
      type = "shutdown";
      break;
    case SBI_SRST_RESET_TYPE_COLD_REBOOT:
      type = "cold-reboot";
      break;
    case SBI_SRST_RESET_TYPE_WARM_REBOOT:
      type = "warm-reboot";
      break;
    default:
      // Reserved (0x3..0xEFFFFFFF) or vendor-specific (0xF0000000..), of which we implement none.
      return ret(SBI_ERR_INVALID_PARAM);
  }
  // Reasons beyond "none" and "system failure" are reserved, SBI-implementation- or vendor-specific: we define none.
  if (reason !== SBI_SRST_RESET_REASON_NONE && reason !== SBI_SRST_RESET_REASON_SYSFAIL)
    return ret(SBI_ERR_INVALID_PARAM);
  return {
    kind: "SystemDown",
    action: type === "shutdown" ? "poweroff" : "reboot",
    resetType: type,
    code: reason,
    failRet: { error: SBI_ERR_FAILED, value: 0n },
  };
}

/**
 * The DBCN buffer [lo, lo + numBytes) as a guest-physical address, or undefined when it is not accessible guest
 * RAM. On RV64 base_addr_hi holds address bits 127:64, so any non-zero value is beyond every address we have.
 */
function dbcnBuffer(numBytes: bigint, lo: bigint, hi: bigint, platform: SbiPlatform): GuestPhysAddr | undefined {
  if (hi !== 0n) return undefined;
  if (lo + numBytes > MAX_SAFE_ADDRESS) return undefined;
  return platform.memory.contains(Number(lo), Number(numBytes)) ? Number(lo) : undefined;
}

function dbcn(fid: bigint, a: SbiArgs, platform: SbiPlatform): SbiOutcome {
  switch (fid) {
    case SBI_EXT_DBCN_CONSOLE_WRITE:
    case SBI_EXT_DBCN_CONSOLE_READ: {
      const numBytes = a[0];
      if (numBytes === 0n) return ok(0n);
      // The whole described range must be accessible (shared-memory rules), even if we move less of it.
      const gpa = dbcnBuffer(numBytes, a[1], a[2], platform);
      if (gpa === undefined) return ret(SBI_ERR_INVALID_PARAM);
      const chunk = Math.min(Number(numBytes), SBI_DBCN_MAX_CHUNK);
      if (fid === SBI_EXT_DBCN_CONSOLE_WRITE) {
        const written = platform.consoleWrite(platform.memory.read(gpa, chunk));
        return ok(BigInt(Math.max(0, Math.min(written, chunk))));
      }
      const input = platform.consoleRead(chunk).subarray(0, chunk);
      if (input.length > 0) platform.memory.write(gpa, input);
      return ok(BigInt(input.length));
    }
    case SBI_EXT_DBCN_CONSOLE_WRITE_BYTE: {
      // uint8_t byte: only the low 8 bits are the argument.
      const written = platform.consoleWrite(Uint8Array.of(Number(a[0] & 0xffn)));
      return written === 1 ? ok(0n) : ret(SBI_ERR_FAILED);
    }
    default:
      return notSupported();
  }
}

/**
 * Legacy send_ipi / remote fences: a0 is a guest-virtual pointer to a hart bit-vector of ceil(harts / 64)
 * unsigned longs. A null pointer means every hart (as OpenSBI's legacy handler treats it). A fault while reading
 * the vector goes back to the guest; a bit naming no hart of ours returns SBI_ERR_INVALID_PARAM in a0.
 */
function legacyHartMaskCall(eid: bigint, a: SbiArgs, hart: number, platform: SbiPlatform): SbiOutcome {
  let targets: number[];
  if (a[0] === 0n) {
    targets = Array.from({ length: platform.hartCount }, (_, i) => i);
  } else {
    targets = [];
    const words = Math.ceil(platform.hartCount / 64);
    for (let w = 0; w < words; w++) {
      const gva = BigInt.asUintN(64, a[0] + BigInt(w * 8));
      const read = platform.readGuestVirtualU64(hart, gva);
      if (!read.ok) return { kind: "GuestTrap", cause: read.cause, tval: read.tval };
      const word = BigInt.asUintN(64, read.value);
      for (let bit = 0; bit < 64; bit++) {
        if (((word >> BigInt(bit)) & 1n) === 0n) continue;
        const target = w * 64 + bit;
        if (target >= platform.hartCount) return legacy(SBI_ERR_INVALID_PARAM);
        targets.push(target);
      }
    }
  }
  switch (eid) {
    case SBI_EXT_0_1_SEND_IPI:
      sendIpi(targets, hart, platform);
      return legacy(0n);
    case SBI_EXT_0_1_REMOTE_FENCE_I:
      remoteFence(targets, { kind: "fence.i" }, hart, platform);
      return legacy(0n);
    default: {
      const range = fenceRange(a[1], a[2]);
      if (range === undefined) return legacy(SBI_ERR_INVALID_ADDRESS);
      const asid = eid === SBI_EXT_0_1_REMOTE_SFENCE_VMA_ASID ? a[3] : undefined;
      remoteFence(targets, { kind: "sfence.vma", range, asid }, hart, platform);
      return legacy(0n);
    }
  }
}

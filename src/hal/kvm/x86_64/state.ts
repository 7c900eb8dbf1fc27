/**
 * x86 KVM state for snapshots, as the kernel's own structs (opaque bytes: a snapshot is restored on a host of the
 * same architecture, and the structs' layouts are the checked ABI of abi.ts):
 * - a vCPU (`saveVcpuState`/`loadVcpuState`): kvm_regs, kvm_sregs, the XSAVE area (FPU, SSE, AVX), XCR0, the
 *   MSRs below (those KVM has for this vCPU), the LAPIC (with the in-kernel irqchip), pending events and the MP state;
 * - a VM (`saveVmState`/`loadVmState`): kvmclock, and with the irqchip the two PICs, the IOAPIC and the PIT.
 * Load order follows Firecracker's and QEMU's: special registers before the LAPIC (its base is in sregs), MSRs
 * after XSAVE, events and the MP state last.
 *
 * Not exercised on hardware yet: this host has no /dev/kvm; the structs and ioctl numbers are checked against
 * <linux/kvm.h> by test/kvm/abi-layout.test.ts.
 */

import {
  MSR_CSTAR,
  MSR_IA32_CR_PAT,
  MSR_IA32_MISC_ENABLE,
  MSR_IA32_SYSENTER_CS,
  MSR_IA32_SYSENTER_EIP,
  MSR_IA32_SYSENTER_ESP,
  MSR_IA32_TSC,
  MSR_IA32_TSC_DEADLINE,
  MSR_KERNEL_GS_BASE,
  MSR_KVM_ASYNC_PF_EN,
  MSR_KVM_PV_EOI_EN,
  MSR_KVM_STEAL_TIME,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
  MSR_LSTAR,
  MSR_MTRR_DEF_TYPE,
  MSR_STAR,
  MSR_SYSCALL_MASK,
  MSR_TSC_AUX,
} from "../../../arch/x86_64/msr.ts";
import { HalError, type HalVcpuState } from "../../types.ts";
import { KVM_GET_MP_STATE, KVM_MP_STATE_LAYOUT, KVM_SET_MP_STATE } from "../abi.ts";
import * as sys from "../sys.ts";
import {
  KVM_CLOCK_DATA_LAYOUT,
  KVM_GET_CLOCK,
  KVM_GET_IRQCHIP,
  KVM_GET_LAPIC,
  KVM_GET_MSRS,
  KVM_GET_PIT2,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_VCPU_EVENTS,
  KVM_GET_XCRS,
  KVM_GET_XSAVE,
  KVM_IRQCHIP_LAYOUT,
  KVM_LAPIC_STATE_LAYOUT,
  KVM_MSR_ENTRY_LAYOUT,
  KVM_MSRS_LAYOUT,
  KVM_PIT_STATE2_LAYOUT,
  KVM_REGS_LAYOUT,
  KVM_SET_CLOCK,
  KVM_SET_IRQCHIP,
  KVM_SET_LAPIC,
  KVM_SET_MSRS,
  KVM_SET_PIT2,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SET_VCPU_EVENTS,
  KVM_SET_XCRS,
  KVM_SET_XSAVE,
  KVM_SREGS_LAYOUT,
  KVM_VCPU_EVENTS_LAYOUT,
  KVM_XCRS_LAYOUT,
  KVM_XSAVE_LAYOUT,
} from "./abi.ts";

export const X86_KVM_VCPU_STATE_FORMAT = "x86_64-kvm-vcpu/1";
export const X86_KVM_VM_STATE_FORMAT = "x86_64-kvm-vm/1";

/** The MSRs saved: the boot set plus what Linux guests program (PAT, TSC deadline, TSC_AUX, KVM's PV MSRs). */
const SAVED_MSRS: readonly number[] = [
  MSR_IA32_SYSENTER_CS,
  MSR_IA32_SYSENTER_ESP,
  MSR_IA32_SYSENTER_EIP,
  MSR_STAR,
  MSR_CSTAR,
  MSR_KERNEL_GS_BASE,
  MSR_SYSCALL_MASK,
  MSR_LSTAR,
  MSR_IA32_MISC_ENABLE,
  MSR_MTRR_DEF_TYPE,
  MSR_IA32_CR_PAT,
  MSR_TSC_AUX,
  MSR_KVM_WALL_CLOCK_NEW,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_ASYNC_PF_EN,
  MSR_KVM_STEAL_TIME,
  MSR_KVM_PV_EOI_EN,
  // The TSC before the deadline that is relative to it.
  MSR_IA32_TSC,
  MSR_IA32_TSC_DEADLINE,
];

/** The three in-kernel interrupt controllers, by kvm_irqchip.chip_id. */
const IRQCHIP_IDS = { picMaster: 0, picSlave: 1, ioapic: 2 } as const;

export interface X86KvmVcpuStateData {
  readonly regs: Uint8Array;
  readonly sregs: Uint8Array;
  readonly xsave: Uint8Array;
  readonly xcrs: Uint8Array;
  readonly lapic: Uint8Array | null;
  readonly msrs: ReadonlyArray<readonly [number, bigint]>;
  readonly events: Uint8Array;
  readonly mpState: number;
}

export interface X86KvmVmStateData {
  readonly clock: bigint;
  readonly irqchips: readonly Uint8Array[] | null;
  readonly pit: Uint8Array | null;
}

function get(fd: number, ioctl: Parameters<typeof sys.ioctlBuf>[1], size: number): Uint8Array {
  const buffer = new Uint8Array(size);
  sys.ioctlBuf(fd, ioctl, buffer);
  return buffer;
}

function put(
  fd: number,
  ioctl: Parameters<typeof sys.ioctlBuf>[1],
  size: number,
  bytes: Uint8Array,
  what: string,
): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== size) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      ioctl.name,
      `Cannot load ${what}: the saved struct is ${bytes instanceof Uint8Array ? bytes.length : "not a byte array"}, KVM's is ${size} bytes`,
    );
  }
  sys.ioctlBuf(fd, ioctl, bytes.slice());
}

/** KVM_GET_MSRS for `indices`, dropping those KVM does not have for this vCPU (it stops at the first). */
function readMsrs(fd: number, indices: readonly number[]): Array<[number, bigint]> {
  const E = KVM_MSR_ENTRY_LAYOUT;
  const result: Array<[number, bigint]> = [];
  let rest = [...indices];
  while (rest.length > 0) {
    const buffer = new Uint8Array(KVM_MSRS_LAYOUT.size + rest.length * E.size);
    const view = new DataView(buffer.buffer);
    view.setUint32(KVM_MSRS_LAYOUT.fields.nmsrs.offset, rest.length, true);
    rest.forEach((index, i) => {
      view.setUint32(KVM_MSRS_LAYOUT.fields.entries.offset + i * E.size + E.fields.index.offset, index, true);
    });
    const read = sys.ioctlBuf(fd, KVM_GET_MSRS, buffer, buffer.byteLength);
    for (let i = 0; i < read; i++) {
      const at = KVM_MSRS_LAYOUT.fields.entries.offset + i * E.size;
      result.push([rest[i] ?? 0, view.getBigUint64(at + E.fields.data.offset, true)]);
    }
    // Entry `read` is one KVM does not know here: skip it and go on with the others.
    rest = rest.slice(read + 1);
  }
  return result;
}

function writeMsrs(fd: number, msrs: ReadonlyArray<readonly [number, bigint]>): void {
  const E = KVM_MSR_ENTRY_LAYOUT;
  const buffer = new Uint8Array(KVM_MSRS_LAYOUT.size + msrs.length * E.size);
  const view = new DataView(buffer.buffer);
  view.setUint32(KVM_MSRS_LAYOUT.fields.nmsrs.offset, msrs.length, true);
  msrs.forEach(([index, value], i) => {
    const at = KVM_MSRS_LAYOUT.fields.entries.offset + i * E.size;
    view.setUint32(at + E.fields.index.offset, index, true);
    view.setBigUint64(at + E.fields.data.offset, BigInt(value), true);
  });
  const set = sys.ioctlBuf(fd, KVM_SET_MSRS, buffer, buffer.byteLength);
  if (set !== msrs.length) {
    throw new HalError(
      "kvm",
      "unsupported",
      "KVM_SET_MSRS",
      `Cannot restore MSR 0x${(msrs[set]?.[0] ?? 0).toString(16)}: KVM accepted ${set} of ${msrs.length} saved MSRs`,
    );
  }
}

/** Save a vCPU (outside KVM_RUN, its last I/O completed: the generic vCPU sees to both). */
export function saveVcpuState(fd: number, irqchip: boolean): HalVcpuState {
  const mp = get(fd, KVM_GET_MP_STATE, KVM_MP_STATE_LAYOUT.size);
  const data: X86KvmVcpuStateData = {
    regs: get(fd, KVM_GET_REGS, KVM_REGS_LAYOUT.size),
    sregs: get(fd, KVM_GET_SREGS, KVM_SREGS_LAYOUT.size),
    xsave: get(fd, KVM_GET_XSAVE, KVM_XSAVE_LAYOUT.size),
    xcrs: get(fd, KVM_GET_XCRS, KVM_XCRS_LAYOUT.size),
    lapic: irqchip ? get(fd, KVM_GET_LAPIC, KVM_LAPIC_STATE_LAYOUT.size) : null,
    msrs: readMsrs(fd, SAVED_MSRS),
    events: get(fd, KVM_GET_VCPU_EVENTS, KVM_VCPU_EVENTS_LAYOUT.size),
    mpState: new DataView(mp.buffer).getUint32(KVM_MP_STATE_LAYOUT.fields.mp_state.offset, true),
  };
  return { format: X86_KVM_VCPU_STATE_FORMAT, data };
}

export function loadVcpuState(fd: number, irqchip: boolean, state: HalVcpuState, vcpuId: number): void {
  if (state.format !== X86_KVM_VCPU_STATE_FORMAT) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      "loadState",
      `Cannot load the state of vCPU ${vcpuId}: its format is "${state.format}", this backend reads "${X86_KVM_VCPU_STATE_FORMAT}"`,
    );
  }
  const data = state.data as X86KvmVcpuStateData;
  put(fd, KVM_SET_SREGS, KVM_SREGS_LAYOUT.size, data.sregs, "the special registers");
  put(fd, KVM_SET_REGS, KVM_REGS_LAYOUT.size, data.regs, "the registers");
  put(fd, KVM_SET_XSAVE, KVM_XSAVE_LAYOUT.size, data.xsave, "the XSAVE area");
  put(fd, KVM_SET_XCRS, KVM_XCRS_LAYOUT.size, data.xcrs, "the XCRs");
  if (irqchip) {
    if (data.lapic === null)
      throw new HalError("kvm", "invalid-argument", "loadState", `vCPU ${vcpuId}: the snapshot has no LAPIC state`);
    put(fd, KVM_SET_LAPIC, KVM_LAPIC_STATE_LAYOUT.size, data.lapic, "the LAPIC");
  }
  writeMsrs(fd, data.msrs);
  put(fd, KVM_SET_VCPU_EVENTS, KVM_VCPU_EVENTS_LAYOUT.size, data.events, "the pending events");
  const mp = new Uint8Array(KVM_MP_STATE_LAYOUT.size);
  new DataView(mp.buffer).setUint32(KVM_MP_STATE_LAYOUT.fields.mp_state.offset, data.mpState, true);
  sys.ioctlBuf(fd, KVM_SET_MP_STATE, mp);
}

/** Save the VM; `pausedClock` is kvmclock as the pause stopped it (the guest's time), if the VM is paused. */
export function saveVmState(vmFd: number, irqchip: boolean, pausedClock: bigint | undefined): HalVcpuState {
  const clock = get(vmFd, KVM_GET_CLOCK, KVM_CLOCK_DATA_LAYOUT.size);
  const irqchips = irqchip
    ? Object.values(IRQCHIP_IDS).map((id) => {
        const chip = new Uint8Array(KVM_IRQCHIP_LAYOUT.size);
        new DataView(chip.buffer).setUint32(KVM_IRQCHIP_LAYOUT.fields.chip_id.offset, id, true);
        sys.ioctlBuf(vmFd, KVM_GET_IRQCHIP, chip);
        return chip;
      })
    : null;
  const data: X86KvmVmStateData = {
    clock: pausedClock ?? new DataView(clock.buffer).getBigUint64(KVM_CLOCK_DATA_LAYOUT.fields.clock.offset, true),
    irqchips,
    pit: irqchip ? get(vmFd, KVM_GET_PIT2, KVM_PIT_STATE2_LAYOUT.size) : null,
  };
  return { format: X86_KVM_VM_STATE_FORMAT, data };
}

export function loadVmState(vmFd: number, irqchip: boolean, state: HalVcpuState): void {
  if (state.format !== X86_KVM_VM_STATE_FORMAT) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      "loadState",
      `Cannot load the VM state: its format is "${state.format}", this backend reads "${X86_KVM_VM_STATE_FORMAT}"`,
    );
  }
  const data = state.data as X86KvmVmStateData;
  const clock = new Uint8Array(KVM_CLOCK_DATA_LAYOUT.size);
  new DataView(clock.buffer).setBigUint64(KVM_CLOCK_DATA_LAYOUT.fields.clock.offset, BigInt(data.clock), true);
  sys.ioctlBuf(vmFd, KVM_SET_CLOCK, clock);
  if (!irqchip) return;
  if (data.irqchips === null || data.pit === null)
    throw new HalError("kvm", "invalid-argument", "loadState", "Cannot load the VM state: the snapshot has no irqchip");
  for (const chip of data.irqchips) put(vmFd, KVM_SET_IRQCHIP, KVM_IRQCHIP_LAYOUT.size, chip, "an irqchip");
  put(vmFd, KVM_SET_PIT2, KVM_PIT_STATE2_LAYOUT.size, data.pit, "the PIT");
}

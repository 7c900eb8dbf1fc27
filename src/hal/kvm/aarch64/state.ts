/**
 * Snapshots of arm64 KVM guests: a vCPU's state and the in-kernel GICv3's, as plain data (hal/types.ts
 * `HalVcpuState` / `HalVmState`).
 *
 * vCPU: every register KVM_GET_REG_LIST names (core registers with FP/SIMD, system registers, the virtual timer,
 * KVM's firmware pseudo-registers), each as the bytes KVM_GET_ONE_REG gives, plus the MP state (running, or
 * powered off waiting for PSCI CPU_ON). A restore writes them back in the saved order into a vCPU KVM just
 * initialised; every vCPU of the VM is made before, and the vGIC restored first (vm.ts), as KVM requires.
 *
 * vGIC (Documentation/virt/kvm/devices/arm-vgic-v3.rst, the shape of Firecracker's gicv3/regs): the distributor's
 * registers for the SPIs, each vCPU's redistributor (control, SGI/PPI frame) and CPU interface system registers,
 * read and written with KVM_GET/SET_DEVICE_ATTR while no vCPU runs. A register the kernel does not offer
 * (KVM_HAS_DEVICE_ATTR) is not saved; the enable, pending and active bits are restored by clearing everything
 * (ICENABLER/ICPENDR/ICACTIVER) and setting the saved bits. Without an ITS there are no LPIs, so no pending tables.
 * Line levels are not saved: the devices drive their lines again when they are restored.
 */

import { HalError } from "../../types.ts";
import * as sys from "../sys.ts";
import {
  KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
  KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
  KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
  KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
  KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT,
  KVM_DEVICE_ATTR_LAYOUT,
  KVM_GET_DEVICE_ATTR,
  KVM_GET_ONE_REG,
  KVM_GET_REG_LIST,
  KVM_HAS_DEVICE_ATTR,
  KVM_ONE_REG_LAYOUT,
  KVM_REG_LIST_LAYOUT,
  KVM_REG_SIZE_SHIFT,
  KVM_SET_DEVICE_ATTR,
  KVM_SET_ONE_REG,
} from "./abi.ts";

export const AARCH64_VCPU_STATE_FORMAT = "kvm-aarch64-vcpu/1";
export const AARCH64_VGIC_STATE_FORMAT = "kvm-aarch64-vgic-v3/1";

export interface Aarch64VcpuStateData {
  /** [ONE_REG id as "0x…" hex, the register's bytes], in KVM_GET_REG_LIST order. */
  readonly registers: ReadonlyArray<readonly [string, Uint8Array]>;
  /** kvm_mp_state.mp_state. */
  readonly mpState: number;
}

/** What KVM_GET_REG_LIST may return: arm64 KVM lists a few hundred registers (more with SVE, which we do not enable). */
const MAX_REGISTERS = 4096;
/** The largest ONE_REG value (2048 bits: SVE's). */
const MAX_REGISTER_BYTES = 256;

/** The bytes of a ONE_REG register with id `id`. */
export function oneRegBytes(id: bigint): number {
  return 1 << Number((id >> BigInt(KVM_REG_SIZE_SHIFT)) & 0xfn);
}

/** ONE_REG access to one vCPU fd with a buffer of the largest size, reused. */
export class OneRegAccess {
  readonly #fd: number;
  readonly #request = new Uint8Array(KVM_ONE_REG_LAYOUT.size);
  readonly #requestView = new DataView(this.#request.buffer);
  /** Over its own ArrayBuffer, so its address (in the request) stays put. */
  readonly #value = new Uint8Array(new ArrayBuffer(MAX_REGISTER_BYTES));

  constructor(fd: number) {
    this.#fd = fd;
    this.#requestView.setBigUint64(KVM_ONE_REG_LAYOUT.fields.addr.offset, BigInt(sys.addressOf(this.#value)), true);
  }

  /** Every register id of the vCPU (KVM_GET_REG_LIST). */
  list(): bigint[] {
    const buffer = new Uint8Array(KVM_REG_LIST_LAYOUT.size + 8 * MAX_REGISTERS);
    const view = new DataView(buffer.buffer);
    view.setBigUint64(KVM_REG_LIST_LAYOUT.fields.n.offset, BigInt(MAX_REGISTERS), true);
    sys.ioctlBuf(this.#fd, KVM_GET_REG_LIST, buffer);
    const count = Number(view.getBigUint64(KVM_REG_LIST_LAYOUT.fields.n.offset, true));
    return Array.from({ length: count }, (_, i) => view.getBigUint64(KVM_REG_LIST_LAYOUT.size + 8 * i, true));
  }

  get(id: bigint): Uint8Array {
    const size = this.#checkedSize(id, "KVM_GET_ONE_REG");
    this.#requestView.setBigUint64(KVM_ONE_REG_LAYOUT.fields.id.offset, id, true);
    sys.ioctlBuf(this.#fd, KVM_GET_ONE_REG, this.#request);
    return this.#value.slice(0, size);
  }

  set(id: bigint, bytes: Uint8Array): void {
    const size = this.#checkedSize(id, "KVM_SET_ONE_REG");
    if (bytes.length !== size) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_SET_ONE_REG",
        `Cannot set register 0x${id.toString(16)}: it has ${size} bytes, the value ${bytes.length}`,
      );
    }
    this.#value.set(bytes);
    this.#requestView.setBigUint64(KVM_ONE_REG_LAYOUT.fields.id.offset, id, true);
    sys.ioctlBuf(this.#fd, KVM_SET_ONE_REG, this.#request);
  }

  getU64(id: bigint): bigint {
    return new DataView(this.get(id).buffer).getBigUint64(0, true);
  }

  setU64(id: bigint, value: bigint): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.set(id, bytes);
  }

  #checkedSize(id: bigint, operation: string): number {
    const size = oneRegBytes(id);
    if (size > MAX_REGISTER_BYTES) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        operation,
        `Cannot access register 0x${id.toString(16)}: its ${size} bytes exceed ${MAX_REGISTER_BYTES}`,
      );
    }
    return size;
  }
}

/** Parse saved register data, naming what is wrong. */
export function checkVcpuStateData(data: unknown, vcpuId: number): Aarch64VcpuStateData {
  const candidate = data as Partial<Aarch64VcpuStateData> | null;
  const bad = (why: string): never => {
    throw new HalError("kvm", "invalid-argument", "loadState", `Cannot load aarch64 vCPU ${vcpuId}: ${why}`);
  };
  if (typeof candidate !== "object" || candidate === null) return bad("the state is not an object");
  if (!Number.isInteger(candidate.mpState)) return bad("mpState is missing");
  if (!Array.isArray(candidate.registers)) return bad("registers is missing");
  for (const entry of candidate.registers) {
    const [id, bytes] = Array.isArray(entry) ? entry : [];
    if (typeof id !== "string" || !/^0x[0-9a-f]+$/.test(id) || !(bytes instanceof Uint8Array)) {
      return bad(`register entry ${JSON.stringify(entry)} is not ["0x<id>", bytes]`);
    }
    if (oneRegBytes(BigInt(id)) !== bytes.length) {
      return bad(`register ${id} holds ${oneRegBytes(BigInt(id))} bytes, the snapshot ${bytes.length}`);
    }
  }
  return candidate as Aarch64VcpuStateData;
}

// ---------------------------------------------------------------------------------------------------------------
// The vGIC
// ---------------------------------------------------------------------------------------------------------------

/** GICv3 distributor registers (Arm IHI 0069 §12.9) by offset, and the bits each gives one INTID. */
const GICD_CTLR = 0x0000;
const GICD_IGROUPR = 0x0080;
const GICD_ISENABLER = 0x0100;
const GICD_ICENABLER = 0x0180;
const GICD_ISPENDR = 0x0200;
const GICD_ICPENDR = 0x0280;
const GICD_ISACTIVER = 0x0300;
const GICD_ICACTIVER = 0x0380;
const GICD_IPRIORITYR = 0x0400;
const GICD_ICFGR = 0x0c00;
const GICD_IROUTER = 0x6000;
/** Redistributor: RD_base registers, and the SGI_base frame (64 KiB above) with the SGI/PPI registers. */
const GICR_CTLR = 0x0000;
const GICR_WAKER = 0x0014;
const GICR_SGI_BASE = 0x1_0000;

/** ICC_*_EL1 by op0, op1, CRn, CRm, op2 (Arm IHI 0069 §12.2), as the 16-bit encoding CPU_SYSREGS attrs use. */
const icc = (crn: number, crm: number, op2: number): number => (3 << 14) | (0 << 11) | (crn << 7) | (crm << 3) | op2;
/** Restored in this order: SRE and CTLR first (they decide how the others read), the group enables last. */
const ICC_REGISTERS: ReadonlyArray<readonly [string, number]> = [
  ["ICC_SRE_EL1", icc(12, 12, 5)],
  ["ICC_CTLR_EL1", icc(12, 12, 4)],
  ["ICC_PMR_EL1", icc(4, 6, 0)],
  ["ICC_BPR0_EL1", icc(12, 8, 3)],
  ["ICC_BPR1_EL1", icc(12, 12, 3)],
  ...[0, 1, 2, 3].map((n): readonly [string, number] => [`ICC_AP0R${n}_EL1`, icc(12, 8, 4 + n)]),
  ...[0, 1, 2, 3].map((n): readonly [string, number] => [`ICC_AP1R${n}_EL1`, icc(12, 9, n)]),
  ["ICC_IGRPEN0_EL1", icc(12, 12, 6)],
  ["ICC_IGRPEN1_EL1", icc(12, 12, 7)],
];

export interface Aarch64VgicStateData {
  /** Interrupts the distributor handles (KVM_DEV_ARM_VGIC_GRP_NR_IRQS). */
  readonly nrIrqs: number;
  /** [offset, value] of 32-bit distributor registers. */
  readonly distributor: ReadonlyArray<readonly [number, number]>;
  /** Per vCPU (by index): [offset, value] of 32-bit redistributor registers. */
  readonly redistributors: ReadonlyArray<ReadonlyArray<readonly [number, number]>>;
  /** Per vCPU: [encoding, value] of the CPU interface's system registers. */
  readonly cpuInterfaces: ReadonlyArray<ReadonlyArray<readonly [number, bigint]>>;
}

/** The KVM attr's vCPU part: MPIDR's Aff3..Aff0 as one 32-bit value above bit 32. */
function mpidrAttr(mpidr: bigint): bigint {
  const affinity = ((mpidr >> 32n) & 0xffn) << 24n;
  return (affinity | (mpidr & 0xff_ffffn)) << BigInt(KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT);
}

/** KVM_GET/SET/HAS_DEVICE_ATTR on the vGIC fd, one 8-byte value buffer reused. */
class DeviceAttrs {
  readonly #fd: number;
  readonly #request = new Uint8Array(KVM_DEVICE_ATTR_LAYOUT.size);
  readonly #view = new DataView(this.#request.buffer);
  readonly #value = new BigUint64Array(1);

  constructor(fd: number) {
    this.#fd = fd;
    this.#view.setBigUint64(
      KVM_DEVICE_ATTR_LAYOUT.fields.addr.offset,
      BigInt(sys.addressOf(new Uint8Array(this.#value.buffer))),
      true,
    );
  }

  #prepare(group: number, attr: bigint): void {
    this.#view.setUint32(KVM_DEVICE_ATTR_LAYOUT.fields.group.offset, group, true);
    this.#view.setBigUint64(KVM_DEVICE_ATTR_LAYOUT.fields.attr.offset, attr, true);
  }

  has(group: number, attr: bigint): boolean {
    this.#prepare(group, attr);
    try {
      sys.ioctlBuf(this.#fd, KVM_HAS_DEVICE_ATTR, this.#request);
      return true;
    } catch {
      return false;
    }
  }

  get(group: number, attr: bigint): bigint {
    this.#prepare(group, attr);
    this.#value[0] = 0n;
    sys.ioctlBuf(this.#fd, KVM_GET_DEVICE_ATTR, this.#request);
    return this.#value[0] ?? 0n;
  }

  set(group: number, attr: bigint, value: bigint): void {
    this.#prepare(group, attr);
    this.#value[0] = BigInt.asUintN(64, value);
    sys.ioctlBuf(this.#fd, KVM_SET_DEVICE_ATTR, this.#request);
  }
}

/** Offsets of the 32-bit words of a per-INTID distributor register covering the SPIs below `nrIrqs`. */
function spiWords(base: number, bitsPerIrq: number, nrIrqs: number): number[] {
  const first = base + (32 * bitsPerIrq) / 8;
  const end = base + (nrIrqs * bitsPerIrq) / 8;
  const words: number[] = [];
  for (let offset = first; offset < end; offset += 4) words.push(offset);
  return words;
}

/** The distributor registers saved, in restore order (the set-enable/pending/active ones after their clears). */
function distributorOffsets(nrIrqs: number): number[] {
  const irouter: number[] = [];
  for (let intid = 32; intid < nrIrqs; intid++) irouter.push(GICD_IROUTER + 8 * intid, GICD_IROUTER + 8 * intid + 4);
  return [
    GICD_CTLR,
    ...spiWords(GICD_IGROUPR, 1, nrIrqs),
    ...spiWords(GICD_ICFGR, 2, nrIrqs),
    ...spiWords(GICD_IPRIORITYR, 8, nrIrqs),
    ...irouter,
    ...spiWords(GICD_ISENABLER, 1, nrIrqs),
    ...spiWords(GICD_ISPENDR, 1, nrIrqs),
    ...spiWords(GICD_ISACTIVER, 1, nrIrqs),
  ];
}

/** The SGI/PPI frame's registers and RD_base's, in restore order. */
const REDISTRIBUTOR_OFFSETS: readonly number[] = [
  GICR_CTLR,
  GICR_WAKER,
  GICR_SGI_BASE + GICD_IGROUPR,
  GICR_SGI_BASE + GICD_ICFGR,
  GICR_SGI_BASE + GICD_ICFGR + 4,
  ...Array.from({ length: 8 }, (_, i) => GICR_SGI_BASE + GICD_IPRIORITYR + 4 * i),
  GICR_SGI_BASE + GICD_ISENABLER,
  GICR_SGI_BASE + GICD_ISPENDR,
  GICR_SGI_BASE + GICD_ISACTIVER,
];

/** For a set-register (ISENABLER...), its clear-register (ICENABLER...) at the same distance in the frame. */
const CLEAR_OF: ReadonlyMap<number, number> = new Map([
  [GICD_ISENABLER, GICD_ICENABLER],
  [GICD_ISPENDR, GICD_ICPENDR],
  [GICD_ISACTIVER, GICD_ICACTIVER],
]);

function clearOffset(offset: number, frameBase: number, bitsPerWordBase: (o: number) => number): number | undefined {
  const base = bitsPerWordBase(offset - frameBase);
  const clear = CLEAR_OF.get(base);
  return clear === undefined ? undefined : offset + (clear - base);
}

/** The 0x80-aligned register block an offset of a 1-bit-per-INTID register lies in (ISENABLER: 0x100..0x17f). */
const blockOf = (offset: number): number => (offset >= 0x100 && offset < 0x400 ? offset & ~0x7f : -1);

/** Save the vGIC of a paused VM whose vCPUs have the affinities `mpidrs`. */
export function saveVgic(gicFd: number, mpidrs: readonly bigint[]): Aarch64VgicStateData {
  const attrs = new DeviceAttrs(gicFd);
  const nrIrqs = Number(attrs.get(KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0n) & 0xffff_ffffn);
  const distributor = distributorOffsets(nrIrqs)
    .filter((offset) => attrs.has(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, BigInt(offset)))
    .map((offset): readonly [number, number] => [
      offset,
      Number(attrs.get(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, BigInt(offset)) & 0xffff_ffffn),
    ]);
  const redistributors = mpidrs.map((mpidr) => {
    const vcpu = mpidrAttr(mpidr);
    return REDISTRIBUTOR_OFFSETS.filter((offset) =>
      attrs.has(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, vcpu | BigInt(offset)),
    ).map((offset): readonly [number, number] => [
      offset,
      Number(attrs.get(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, vcpu | BigInt(offset)) & 0xffff_ffffn),
    ]);
  });
  const cpuInterfaces = mpidrs.map((mpidr) => {
    const vcpu = mpidrAttr(mpidr);
    const saved: Array<readonly [number, bigint]> = [];
    for (const [, encoding] of ICC_REGISTERS) {
      const attr = vcpu | BigInt(encoding);
      if (!attrs.has(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, attr)) continue;
      try {
        saved.push([encoding, attrs.get(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, attr)]);
      } catch {
        // ICC_AP0R1..3/AP1R1..3 exist only for 6 and 7 priority bits: KVM refuses the others.
      }
    }
    return saved;
  });
  return { nrIrqs, distributor, redistributors, cpuInterfaces };
}

/** Check saved vGIC data against this VM, naming what does not fit. */
export function checkVgicStateData(data: unknown, vcpuCount: number): Aarch64VgicStateData {
  const candidate = data as Partial<Aarch64VgicStateData> | null;
  const bad = (why: string): never => {
    throw new HalError("kvm", "invalid-argument", "loadState", `Cannot load the aarch64 vGIC: ${why}`);
  };
  if (typeof candidate !== "object" || candidate === null) return bad("the state is not an object");
  if (!Number.isInteger(candidate.nrIrqs)) return bad("nrIrqs is missing");
  if (!Array.isArray(candidate.distributor)) return bad("distributor is missing");
  if (!Array.isArray(candidate.redistributors) || candidate.redistributors.length !== vcpuCount)
    return bad(`it has ${candidate.redistributors?.length ?? 0} redistributors, the VM ${vcpuCount} vCPUs`);
  if (!Array.isArray(candidate.cpuInterfaces) || candidate.cpuInterfaces.length !== vcpuCount)
    return bad(`it has ${candidate.cpuInterfaces?.length ?? 0} CPU interfaces, the VM ${vcpuCount} vCPUs`);
  return candidate as Aarch64VgicStateData;
}

/**
 * Load saved vGIC state into a VM built the same way, its vGIC initialised and no vCPU running: distributor,
 * then each vCPU's redistributor and CPU interface.
 */
export function loadVgic(gicFd: number, mpidrs: readonly bigint[], state: Aarch64VgicStateData): void {
  const attrs = new DeviceAttrs(gicFd);
  const nrIrqs = Number(attrs.get(KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0n) & 0xffff_ffffn);
  if (nrIrqs !== state.nrIrqs) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      "loadState",
      `Cannot load the aarch64 vGIC: it was saved with ${state.nrIrqs} interrupts, this VM's has ${nrIrqs}`,
    );
  }
  const write = (group: number, vcpu: bigint, frameBase: number, offset: number, value: number): void => {
    const clear = clearOffset(offset, frameBase, blockOf);
    if (clear !== undefined) attrs.set(group, vcpu | BigInt(clear), 0xffff_ffffn);
    attrs.set(group, vcpu | BigInt(offset), BigInt(value >>> 0));
  };
  for (const [offset, value] of state.distributor) write(KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0n, 0, offset, value);
  mpidrs.forEach((mpidr, i) => {
    const vcpu = mpidrAttr(mpidr);
    for (const [offset, value] of state.redistributors[i] ?? []) {
      write(KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, vcpu, offset >= GICR_SGI_BASE ? GICR_SGI_BASE : 0, offset, value);
    }
    for (const [encoding, value] of state.cpuInterfaces[i] ?? []) {
      attrs.set(KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, vcpu | BigInt(encoding), value);
    }
  });
}

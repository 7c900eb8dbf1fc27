/**
 * The arm64 part of the KVM system and VM: the in-kernel GICv3 (KVM_CREATE_DEVICE with its distributor and
 * redistributor addresses right after KVM_CREATE_VM; KVM_DEV_ARM_VGIC_CTRL_INIT once every vCPU exists), the CPU
 * model vCPUs are initialised with (KVM_ARM_PREFERRED_TARGET), and KVM_IRQ_LINE's SPI encoding. The arch timer and
 * PSCI live in the kernel too: nothing to set up for them beyond the vCPU feature bits (vcpu.ts).
 *
 * Order, as KVM requires it (Documentation/virt/kvm/devices/arm-vgic-v3.rst) and Firecracker/cloud-hypervisor do
 * it: create the vGIC and set its addresses before the vCPUs run; create and KVM_ARM_VCPU_INIT every vCPU; then
 * CTRL_INIT, which sizes the redistributors for the vCPUs that exist (KVM refuses a vCPU created after it, and a
 * KVM_IRQ_LINE or KVM_RUN before it). The HAL has no "all vCPUs made" step, so CTRL_INIT runs on the first line
 * change or the first run of any vCPU: the builder creates every vCPU before either happens.
 */
import { GIC_MAX_SPI_INTID, GIC_SPI_BASE, GICD_SIZE, GICR_SIZE_PER_CPU } from "../../../arch/aarch64/gic.ts";
import { type Aarch64VmOptions, HalError, type HalVmState } from "../../types.ts";
import type { KvmArchSystem, KvmArchVm, KvmVcpuCore, KvmVmOptions } from "../per-arch.ts";
import * as sys from "../sys.ts";
import {
  KVM_ARM_PREFERRED_TARGET,
  KVM_CREATE_DEVICE,
  KVM_CREATE_DEVICE_LAYOUT,
  KVM_DEV_ARM_VGIC_CTRL_INIT,
  KVM_DEV_ARM_VGIC_GRP_ADDR,
  KVM_DEV_ARM_VGIC_GRP_CTRL,
  KVM_DEV_TYPE_ARM_VGIC_V3,
  KVM_DEVICE_ATTR_LAYOUT,
  KVM_SET_DEVICE_ATTR,
  KVM_VCPU_INIT_LAYOUT,
  KVM_VGIC_V3_ADDR_TYPE_DIST,
  KVM_VGIC_V3_ADDR_TYPE_REDIST,
  kvmArmSpiIrq,
} from "./abi.ts";
import { AARCH64_VGIC_STATE_FORMAT, checkVgicStateData, loadVgic, saveVgic } from "./state.ts";
import { Aarch64KvmVcpu } from "./vcpu.ts";

/** KVM_CREATE_VM's type on arm64: the IPA size in bits, 0 = KVM's default (40 bits, 1 TiB). */
const ARM64_VM_TYPE_DEFAULT_IPA = 0;
/** The default IPA space: guest-physical addresses below 2^40. */
const DEFAULT_IPA_LIMIT = 2 ** 40;
/** The 64 KiB alignment the GICv3 frames need. */
const GIC_FRAME_ALIGN = 0x1_0000;

/** Check `options.aarch64` of an aarch64 VM: frames aligned, inside the IPA space, room for every vCPU. */
export function checkGicPlacement(options: KvmVmOptions): Aarch64VmOptions {
  const gic = options.aarch64;
  const bad = (why: string): never => {
    throw new HalError("kvm", "invalid-argument", "KVM_CREATE_VM", `Cannot create an aarch64 VM: ${why}`);
  };
  if (gic === undefined)
    return bad("aarch64.gicDistributorBase/gicRedistributorBase are missing (the board's layout places the GIC)");
  const frame = (what: string, base: number, size: number): void => {
    if (!Number.isSafeInteger(base) || base < 0 || base % GIC_FRAME_ALIGN !== 0 || base + size > DEFAULT_IPA_LIMIT)
      bad(`the GIC ${what} at 0x${base.toString(16)} must be 64 KiB-aligned and below 2^40`);
  };
  frame("distributor", gic.gicDistributorBase, GICD_SIZE);
  frame("redistributor region", gic.gicRedistributorBase, gic.gicRedistributorSize);
  const needed = options.cpuCount * GICR_SIZE_PER_CPU;
  if (needed > gic.gicRedistributorSize) {
    bad(
      `${options.cpuCount} vCPUs need ${needed / 1024} KiB of GIC redistributors, and the board's region holds ${gic.gicRedistributorSize / 1024} KiB (${Math.floor(gic.gicRedistributorSize / GICR_SIZE_PER_CPU)} vCPUs)`,
    );
  }
  const d = gic.gicDistributorBase;
  const r = gic.gicRedistributorBase;
  if (d < r + needed && r < d + GICD_SIZE) bad("the GIC distributor overlaps the redistributor region");
  return gic;
}

export class Aarch64KvmSystem implements KvmArchSystem {
  vmType(options: KvmVmOptions): number {
    checkGicPlacement(options);
    if (options.irqchip === false) {
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_CREATE_VM",
        "Cannot create an aarch64 VM without the in-kernel GIC: the arch timer and PSCI of this backend need it",
      );
    }
    return ARM64_VM_TYPE_DEFAULT_IPA;
  }

  setupVm(vmFd: number, options: KvmVmOptions): Aarch64KvmVm {
    const gic = checkGicPlacement(options);
    const target = new Uint8Array(KVM_VCPU_INIT_LAYOUT.size);
    sys.ioctlBuf(vmFd, KVM_ARM_PREFERRED_TARGET, target);
    const device = new Uint8Array(KVM_CREATE_DEVICE_LAYOUT.size);
    const deviceView = new DataView(device.buffer);
    deviceView.setUint32(KVM_CREATE_DEVICE_LAYOUT.fields.type.offset, KVM_DEV_TYPE_ARM_VGIC_V3, true);
    sys.ioctlBuf(vmFd, KVM_CREATE_DEVICE, device);
    const gicFd = deviceView.getUint32(KVM_CREATE_DEVICE_LAYOUT.fields.fd.offset, true);
    try {
      setDeviceAttr(gicFd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, BigInt(gic.gicDistributorBase));
      setDeviceAttr(gicFd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, BigInt(gic.gicRedistributorBase));
    } catch (error) {
      sys.close(gicFd);
      throw error;
    }
    return new Aarch64KvmVm(gicFd, target);
  }
}

/** KVM_SET_DEVICE_ATTR with a 64-bit value (`value` undefined: the attribute takes none, addr = 0). */
function setDeviceAttr(deviceFd: number, group: number, attr: number, value: bigint | undefined): void {
  const A = KVM_DEVICE_ATTR_LAYOUT.fields;
  const request = new Uint8Array(KVM_DEVICE_ATTR_LAYOUT.size);
  const view = new DataView(request.buffer);
  view.setUint32(A.group.offset, group, true);
  view.setBigUint64(A.attr.offset, BigInt(attr), true);
  // The value stays referenced until the ioctl returns: KVM reads it through the pointer.
  const word = value === undefined ? undefined : new BigUint64Array([value]);
  view.setBigUint64(A.addr.offset, word === undefined ? 0n : BigInt(sys.addressOf(new Uint8Array(word.buffer))), true);
  sys.ioctlBuf(deviceFd, KVM_SET_DEVICE_ATTR, request);
}

export class Aarch64KvmVm implements KvmArchVm {
  readonly irqchip = true;
  readonly #gicFd: number;
  /** kvm_vcpu_init as KVM_ARM_PREFERRED_TARGET filled it: the target every vCPU is initialised with. */
  readonly #preferredTarget: Uint8Array;
  #gicInitialized = false;
  #closed = false;
  readonly #vcpus: Aarch64KvmVcpu[] = [];
  /**
   * The guest's virtual counter frozen at a pause (`pauseClock`), written back to every vCPU on `resumeClock`: the
   * guest sees no time pass while paused. (KVM_ARM_SET_COUNTER_OFFSET, Linux 6.4+, would set the VM's offset in one
   * call; writing the counter register works on every kernel, and on those it moves the same VM-wide offset.)
   */
  #pausedCounter: bigint | undefined;

  constructor(gicFd: number, preferredTarget: Uint8Array) {
    this.#gicFd = gicFd;
    this.#preferredTarget = preferredTarget;
  }

  /** An irqfd's `gsi` on arm64 is the SPI's index: its INTID minus 32 (Documentation/virt/kvm/api.rst, KVM_IRQFD). */
  irqfdGsi(line: number): number {
    this.irqLineField(line);
    return line - GIC_SPI_BASE;
  }

  /** Lines are SPIs of the in-kernel GICv3 by INTID; KVM_IRQ_LINE needs the GIC initialised first. */
  irqLineField(line: number): number {
    if (!Number.isInteger(line) || line < GIC_SPI_BASE || line > GIC_MAX_SPI_INTID) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_IRQ_LINE",
        `Cannot drive line ${line}: aarch64 lines are GIC SPI INTIDs ${GIC_SPI_BASE}..${GIC_MAX_SPI_INTID}`,
      );
    }
    this.finishGic();
    return kvmArmSpiIrq(line);
  }

  createVcpu(core: KvmVcpuCore): Aarch64KvmVcpu {
    if (this.#gicInitialized) {
      throw new HalError(
        "kvm",
        "state",
        "KVM_CREATE_VCPU",
        `Cannot add vCPU ${core.id}: the GIC was initialised for the vCPUs that existed when the VM first ran or raised an interrupt`,
      );
    }
    const vcpu = new Aarch64KvmVcpu(core, {
      preferredTarget: this.#preferredTarget,
      finishGic: () => this.finishGic(),
      pausedCounter: () => this.#pausedCounter,
      counterLoaded: (value) => {
        this.#pausedCounter = value;
      },
    });
    this.#vcpus.push(vcpu);
    return vcpu;
  }

  /** Freeze the guest's counter: remember where it is (every vCPU is idle: the VMM parked them). */
  pauseClock(): void {
    if (this.#pausedCounter !== undefined) return;
    this.#pausedCounter = this.#vcpus[0]?.readCounter();
  }

  /** Let the guest's counter go on from where it was frozen, on every vCPU (they are still idle). */
  resumeClock(): void {
    const counter = this.#pausedCounter;
    if (counter === undefined) return;
    for (const vcpu of this.#vcpus) vcpu.writeCounter(counter);
    this.#pausedCounter = undefined;
  }

  /** The vGIC's state (distributor, redistributors, CPU interfaces) of the paused VM. */
  saveState(): HalVmState {
    this.finishGic();
    return { format: AARCH64_VGIC_STATE_FORMAT, data: saveVgic(this.#gicFd, this.#mpidrs()) };
  }

  /** Load a saved vGIC into this VM, built the same way and not yet run (before its vCPUs' state). */
  loadState(state: HalVmState): void {
    if (state.format !== AARCH64_VGIC_STATE_FORMAT) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "loadState",
        `Cannot load the aarch64 VM: its state is "${state.format}", this backend reads "${AARCH64_VGIC_STATE_FORMAT}"`,
      );
    }
    const data = checkVgicStateData(state.data, this.#vcpus.length);
    this.finishGic();
    loadVgic(this.#gicFd, this.#mpidrs(), data);
  }

  #mpidrs(): bigint[] {
    return this.#vcpus.map((vcpu) => vcpu.getMpidr());
  }

  /** KVM_DEV_ARM_VGIC_CTRL_INIT, once: every vCPU exists by now (see the file comment). */
  finishGic(): void {
    if (this.#gicInitialized) return;
    if (this.#closed)
      throw new HalError("kvm", "state", "KVM_DEV_ARM_VGIC_CTRL_INIT", "Cannot use the GIC: the VM is closed");
    setDeviceAttr(this.#gicFd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, undefined);
    this.#gicInitialized = true;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    sys.close(this.#gicFd);
  }
}

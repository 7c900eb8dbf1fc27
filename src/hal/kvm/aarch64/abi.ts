/**
 * The arm64 part of the Linux KVM ABI (<linux/kvm.h> with <asm/kvm.h> for arm64): vCPU init, ONE_REG register ids,
 * the device-control API that creates the in-kernel GICv3, the KVM_IRQ_LINE encoding, and the capabilities the
 * arm64 VM set-up needs. Declared with the generic helpers of ../abi.ts and checked by the same layout test, which
 * compiles native/kvm-abi-dump.c with aarch64-linux-gnu-gcc on any host (every value is a compile-time constant).
 */

import { GICD_SIZE, GICR_SIZE_PER_CPU } from "../../../arch/aarch64/gic.ts";
import { bytes, type Ioctl, ior, iow, iowr, KVM_CAP_IRQCHIP, type KvmAbi, layout, u32, u64 } from "../abi.ts";

// ---------------------------------------------------------------------------------------------------------------
// Struct layouts
// ---------------------------------------------------------------------------------------------------------------

/** struct kvm_vcpu_init: the CPU model (target) and a bitmap of features (KVM_ARM_VCPU_*). */
export const KVM_VCPU_INIT_LAYOUT = layout("kvm_vcpu_init", 32, {
  target: u32(0),
  features: bytes(4, 28),
});

/** struct kvm_one_reg: a register id and the address of the value (KVM reads or writes `size` bytes there). */
export const KVM_ONE_REG_LAYOUT = layout("kvm_one_reg", 16, {
  id: u64(0),
  addr: u64(8),
});

/** struct kvm_create_device: the device type in, its fd out. */
export const KVM_CREATE_DEVICE_LAYOUT = layout("kvm_create_device", 12, {
  type: u32(0),
  fd: u32(4),
  flags: u32(8),
});

/** struct kvm_device_attr: an attribute of a device (group, attribute) and the address of its value. */
export const KVM_DEVICE_ATTR_LAYOUT = layout("kvm_device_attr", 24, {
  flags: u32(0),
  group: u32(4),
  attr: u64(8),
  addr: u64(16),
});

/** struct kvm_reg_list: `n` register ids follow the 8-byte header (KVM_GET_REG_LIST). */
export const KVM_REG_LIST_LAYOUT = layout("kvm_reg_list", 8, {
  n: u64(0),
});

/**
 * struct kvm_regs on arm64: the core registers. KVM exposes it only through ONE_REG (there is no KVM_GET_REGS on
 * arm64); a core register's id is its offset here in 32-bit words (KVM_REG_ARM_CORE_REG), which is why the layout
 * is declared.
 */
export const KVM_ARM64_REGS_LAYOUT = layout("kvm_regs", 864, {
  "regs.regs": bytes(0, 31 * 8),
  "regs.sp": u64(248),
  "regs.pc": u64(256),
  "regs.pstate": u64(264),
  sp_el1: u64(272),
  elr_el1: u64(280),
  spsr: bytes(288, 5 * 8),
  fp_regs: bytes(336, 528),
});

// ---------------------------------------------------------------------------------------------------------------
// ioctls
// ---------------------------------------------------------------------------------------------------------------

/** VM ioctl: the target (CPU model) KVM prefers for this host, with the features it would enable. */
export const KVM_ARM_PREFERRED_TARGET = ior("KVM_ARM_PREFERRED_TARGET", 0xaf, KVM_VCPU_INIT_LAYOUT.size);
/** vCPU ioctl: (re)initialise the vCPU to its reset state with a target and features. */
export const KVM_ARM_VCPU_INIT = iow("KVM_ARM_VCPU_INIT", 0xae, KVM_VCPU_INIT_LAYOUT.size);
/** vCPU ioctls: one register by id. Both are _IOW: the struct only carries the id and a pointer. */
export const KVM_GET_ONE_REG = iow("KVM_GET_ONE_REG", 0xab, KVM_ONE_REG_LAYOUT.size);
export const KVM_SET_ONE_REG = iow("KVM_SET_ONE_REG", 0xac, KVM_ONE_REG_LAYOUT.size);
/** VM ioctl: create an in-kernel device (the vGIC). */
export const KVM_CREATE_DEVICE = iowr("KVM_CREATE_DEVICE", 0xe0, KVM_CREATE_DEVICE_LAYOUT.size);
/** Device-fd ioctls: set / probe one attribute. */
export const KVM_SET_DEVICE_ATTR = iow("KVM_SET_DEVICE_ATTR", 0xe1, KVM_DEVICE_ATTR_LAYOUT.size);
export const KVM_HAS_DEVICE_ATTR = iow("KVM_HAS_DEVICE_ATTR", 0xe3, KVM_DEVICE_ATTR_LAYOUT.size);
export const KVM_GET_DEVICE_ATTR = iow("KVM_GET_DEVICE_ATTR", 0xe2, KVM_DEVICE_ATTR_LAYOUT.size);
/** vCPU ioctl: the ids of every register ONE_REG can reach on this vCPU (snapshots save them all). */
export const KVM_GET_REG_LIST = iowr("KVM_GET_REG_LIST", 0xb0, KVM_REG_LIST_LAYOUT.size);

// ---------------------------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------------------------

/** kvm_vcpu_init.features bits. */
export const KVM_ARM_VCPU_POWER_OFF = 0;
export const KVM_ARM_VCPU_EL1_32BIT = 1;
export const KVM_ARM_VCPU_PSCI_0_2 = 2;

export const KVM_CAP_ONE_REG = 70;
export const KVM_CAP_DEVICE_CTRL = 89;
export const KVM_CAP_ARM_PSCI_0_2 = 102;
export const KVM_CAP_ARM_VM_IPA_SIZE = 165;

/** The in-kernel GICv3 device and its attributes. */
export const KVM_DEV_TYPE_ARM_VGIC_V3 = 7;
export const KVM_DEV_ARM_VGIC_GRP_ADDR = 0;
export const KVM_DEV_ARM_VGIC_GRP_NR_IRQS = 3;
export const KVM_DEV_ARM_VGIC_GRP_CTRL = 4;
export const KVM_DEV_ARM_VGIC_CTRL_INIT = 0;
export const KVM_VGIC_V3_ADDR_TYPE_DIST = 2;
export const KVM_VGIC_V3_ADDR_TYPE_REDIST = 3;
/**
 * vGIC state for snapshots (Documentation/virt/kvm/devices/arm-vgic-v3.rst): distributor and redistributor
 * registers (32-bit, attr = the vCPU's MPIDR affinity above KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT | the register's
 * offset), the CPU interface's system registers (64-bit, attr = MPIDR | the register's encoding), and the level of
 * level-triggered lines (attr = LINE_LEVEL_INFO << LINE_LEVEL_INFO_SHIFT | the first INTID of 32).
 */
export const KVM_DEV_ARM_VGIC_GRP_DIST_REGS = 1;
export const KVM_DEV_ARM_VGIC_GRP_REDIST_REGS = 5;
export const KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS = 6;
export const KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO = 7;
export const KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT = 32;
export const KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT = 10;
export const VGIC_LEVEL_INFO_LINE_LEVEL = 0;
/** kvm_mp_state on arm64: RUNNABLE (generic abi.ts), STOPPED (powered off: waiting for PSCI CPU_ON), SUSPENDED. */
export const KVM_MP_STATE_STOPPED = 5;
export const KVM_MP_STATE_SUSPENDED = 10;
/** A ONE_REG id's size field: bytes = 1 << ((id >> KVM_REG_SIZE_SHIFT) & 0xf). */
export const KVM_REG_SIZE_SHIFT = 52;
/** asm/kvm.h's names for the GICv3 frame sizes (the layout test checks them against the header). */
export const KVM_VGIC_V3_DIST_SIZE = GICD_SIZE;
export const KVM_VGIC_V3_REDIST_SIZE = GICR_SIZE_PER_CPU;

/**
 * KVM_IRQ_LINE's `irq` field on arm64: type in bits 24-27, target vCPU in bits 16-23 (plus 28-31 with
 * KVM_CAP_ARM_IRQ_LINE_LAYOUT_2), number in bits 0-15. An SPI is type SPI with the GIC INTID (32 and up) as
 * number and no vCPU; a PPI names its vCPU.
 */
export const KVM_ARM_IRQ_TYPE_SHIFT = 24;
export const KVM_ARM_IRQ_TYPE_MASK = 0xf;
export const KVM_ARM_IRQ_VCPU_SHIFT = 16;
export const KVM_ARM_IRQ_VCPU_MASK = 0xff;
export const KVM_ARM_IRQ_NUM_SHIFT = 0;
export const KVM_ARM_IRQ_NUM_MASK = 0xffff;
export const KVM_ARM_IRQ_TYPE_CPU = 0;
export const KVM_ARM_IRQ_TYPE_SPI = 1;
export const KVM_ARM_IRQ_TYPE_PPI = 2;

/** KVM_IRQ_LINE's `irq` for SPI `intid` (32..1019) of the in-kernel GIC. */
export function kvmArmSpiIrq(intid: number): number {
  return (
    ((KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | ((intid & KVM_ARM_IRQ_NUM_MASK) << KVM_ARM_IRQ_NUM_SHIFT)) >>> 0
  );
}

// ---------------------------------------------------------------------------------------------------------------
// ONE_REG register ids (64-bit: bigint)
// ---------------------------------------------------------------------------------------------------------------

export const KVM_REG_ARM64 = 0x6000_0000_0000_0000n;
export const KVM_REG_SIZE_U64 = 0x0030_0000_0000_0000n;
export const KVM_REG_ARM_COPROC_SHIFT = 16n;
export const KVM_REG_ARM_CORE = 0x0010n << KVM_REG_ARM_COPROC_SHIFT;
export const KVM_REG_ARM64_SYSREG = 0x0013n << KVM_REG_ARM_COPROC_SHIFT;

/** KVM_REG_ARM_CORE_REG: a core register's id from its byte offset in struct kvm_regs (64-bit registers). */
export function coreRegId(offset: number): bigint {
  return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | BigInt(offset / 4);
}

/** ARM64_SYS_REG(op0, op1, CRn, CRm, op2): a system register's id from its encoding (64-bit). */
export function sysRegId(op0: number, op1: number, crn: number, crm: number, op2: number): bigint {
  const encoding = (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2;
  return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM64_SYSREG | BigInt(encoding);
}

const R = KVM_ARM64_REGS_LAYOUT.fields;

/**
 * Every register id the backend uses, by the name the dump prints: x0..x30 (regs.regs[n]), sp (SP_EL0), pc,
 * pstate, sp_el1, elr_el1 and the system registers read for diagnostics.
 */
export const ARM64_REGISTER_IDS: Readonly<Record<string, bigint>> = {
  ...Object.fromEntries(Array.from({ length: 31 }, (_, n) => [`x${n}`, coreRegId(R["regs.regs"].offset + 8 * n)])),
  sp: coreRegId(R["regs.sp"].offset),
  pc: coreRegId(R["regs.pc"].offset),
  pstate: coreRegId(R["regs.pstate"].offset),
  sp_el1: coreRegId(R.sp_el1.offset),
  elr_el1: coreRegId(R.elr_el1.offset),
  /** MPIDR_EL1 = S3_0_C0_C0_5: the vCPU's affinity as KVM assigned it. */
  MPIDR_EL1: sysRegId(3, 0, 0, 0, 5),
  /**
   * The virtual timer as KVM exposes it: the counter (CNTVCT_EL0: a write moves the VM's counter offset), compare
   * value and control. asm/kvm.h's CNT and CVAL encodings are swapped relative to the architecture, for ABI
   * compatibility; these are its values.
   */
  KVM_REG_ARM_TIMER_CTL: sysRegId(3, 3, 14, 3, 1),
  KVM_REG_ARM_TIMER_CNT: sysRegId(3, 3, 14, 3, 2),
  KVM_REG_ARM_TIMER_CVAL: sysRegId(3, 3, 14, 0, 2),
};

/** Capabilities the arm64 VM set-up relies on, by name. */
export const ARM64_REQUIRED_CAPS: Readonly<Record<string, number>> = {
  KVM_CAP_IRQCHIP,
  KVM_CAP_ONE_REG,
  KVM_CAP_DEVICE_CTRL,
  KVM_CAP_ARM_PSCI_0_2,
};

const IOCTLS: readonly Ioctl[] = [
  KVM_ARM_PREFERRED_TARGET,
  KVM_ARM_VCPU_INIT,
  KVM_GET_ONE_REG,
  KVM_SET_ONE_REG,
  KVM_CREATE_DEVICE,
  KVM_SET_DEVICE_ATTR,
  KVM_HAS_DEVICE_ATTR,
  KVM_GET_DEVICE_ATTR,
  KVM_GET_REG_LIST,
];

/** The arm64 ABI, for the layout test. */
export const KVM_ARM64_ABI: KvmAbi = {
  layouts: [
    KVM_VCPU_INIT_LAYOUT,
    KVM_ONE_REG_LAYOUT,
    KVM_CREATE_DEVICE_LAYOUT,
    KVM_DEVICE_ATTR_LAYOUT,
    KVM_ARM64_REGS_LAYOUT,
    KVM_REG_LIST_LAYOUT,
  ],
  ioctls: IOCTLS,
  constants: {
    KVM_ARM_VCPU_POWER_OFF,
    KVM_ARM_VCPU_EL1_32BIT,
    KVM_ARM_VCPU_PSCI_0_2,
    KVM_CAP_ONE_REG,
    KVM_CAP_DEVICE_CTRL,
    KVM_CAP_ARM_PSCI_0_2,
    KVM_CAP_ARM_VM_IPA_SIZE,
    KVM_DEV_TYPE_ARM_VGIC_V3,
    KVM_DEV_ARM_VGIC_GRP_ADDR,
    KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
    KVM_DEV_ARM_VGIC_GRP_CTRL,
    KVM_DEV_ARM_VGIC_CTRL_INIT,
    KVM_VGIC_V3_ADDR_TYPE_DIST,
    KVM_VGIC_V3_ADDR_TYPE_REDIST,
    KVM_VGIC_V3_DIST_SIZE,
    KVM_VGIC_V3_REDIST_SIZE,
    KVM_ARM_IRQ_TYPE_SHIFT,
    KVM_ARM_IRQ_TYPE_MASK,
    KVM_ARM_IRQ_VCPU_SHIFT,
    KVM_ARM_IRQ_VCPU_MASK,
    KVM_ARM_IRQ_NUM_SHIFT,
    KVM_ARM_IRQ_NUM_MASK,
    KVM_ARM_IRQ_TYPE_CPU,
    KVM_ARM_IRQ_TYPE_SPI,
    KVM_ARM_IRQ_TYPE_PPI,
    KVM_DEV_ARM_VGIC_GRP_DIST_REGS,
    KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
    KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
    KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
    KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT,
    KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT,
    VGIC_LEVEL_INFO_LINE_LEVEL,
    KVM_MP_STATE_STOPPED,
    KVM_MP_STATE_SUSPENDED,
    KVM_REG_SIZE_SHIFT,
  },
  registerIds: ARM64_REGISTER_IDS,
};

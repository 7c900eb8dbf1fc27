/**
 * The generic Linux KVM ABI, declared once as data: how structs and ioctl numbers are described, the ioctls every
 * architecture has (system, VM and vCPU level), exit reasons, capabilities, and the layout (field -> offset, type;
 * total size) of the structs those ioctls exchange. Each per-guest-arch folder (`x86_64/abi.ts`, ...) declares its
 * own structs and ioctls with the same helpers.
 *
 * Names are the ones in <linux/kvm.h>. `test/kvm/abi-layout.test.ts` compiles `native/kvm-abi-dump.c` against the
 * host's header and compares every size, offset and number here and in the host arch's ABI with it, so a typo fails
 * a test instead of corrupting guest state. Nothing in this file touches native code.
 */

/** How a field is stored. `bytes` is an inline array of `length` bytes (element arrays are described by `length`). */
export type FieldType = "u8" | "u16" | "u32" | "u64" | "bytes";

export interface FieldSpec {
  readonly offset: number;
  readonly type: FieldType;
  /** Byte length for `bytes` fields (for flexible array members: the size of one element). */
  readonly length?: number;
}

export interface StructLayout<F extends string = string> {
  /** The C struct name, e.g. "kvm_regs". */
  readonly name: string;
  /** sizeof(struct ...) in bytes. */
  readonly size: number;
  readonly fields: Readonly<Record<F, FieldSpec>>;
}

export function layout<const F extends string>(
  name: string,
  size: number,
  fields: Readonly<Record<F, FieldSpec>>,
): StructLayout<F> {
  return { name, size, fields };
}

export const u8 = (offset: number): FieldSpec => ({ offset, type: "u8" });
export const u16 = (offset: number): FieldSpec => ({ offset, type: "u16" });
export const u32 = (offset: number): FieldSpec => ({ offset, type: "u32" });
export const u64 = (offset: number): FieldSpec => ({ offset, type: "u64" });
export const bytes = (offset: number, length: number): FieldSpec => ({ offset, type: "bytes", length });

/** An ioctl request: its number and its <linux/kvm.h> name (which failed syscalls report as their operation). */
export interface Ioctl {
  readonly name: string;
  readonly request: number;
}

/** One architecture's (or the generic) part of the ABI: what the layout test compares with the C header. */
export interface KvmAbi {
  readonly layouts: readonly StructLayout[];
  readonly ioctls: readonly Ioctl[];
  /** Every other named number (exit reasons, capabilities, flags), keyed by its <linux/kvm.h> name. */
  readonly constants: Readonly<Record<string, number>>;
  /**
   * 64-bit ONE_REG register ids (arm64's KVM_GET_ONE_REG/KVM_SET_ONE_REG), keyed by the C expression's name the
   * dump prints; bigint because they do not fit in 53 bits.
   */
  readonly registerIds?: Readonly<Record<string, bigint>>;
}

// ---------------------------------------------------------------------------------------------------------------
// ioctl numbers (asm-generic/ioctl.h encoding, used by x86 and arm64 alike)
// ---------------------------------------------------------------------------------------------------------------

const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = 8;
const IOC_SIZESHIFT = 16;
const IOC_DIRSHIFT = 30;
const IOC_SIZEMASK = 0x3fff;
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

export const KVMIO = 0xae;

function ioc(name: string, dir: number, nr: number, size: number): Ioctl {
  // `>>> 0` keeps the number unsigned: read ioctls have bit 31 set.
  const request =
    ((dir << IOC_DIRSHIFT) | (KVMIO << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT) | (size << IOC_SIZESHIFT)) >>> 0;
  return { name, request };
}
/** _IO(KVMIO, nr) */
export const io = (name: string, nr: number): Ioctl => ioc(name, IOC_NONE, nr, 0);
/** _IOR(KVMIO, nr, size) */
export const ior = (name: string, nr: number, size: number): Ioctl => ioc(name, IOC_READ, nr, size);
/** _IOW(KVMIO, nr, size) */
export const iow = (name: string, nr: number, size: number): Ioctl => ioc(name, IOC_WRITE, nr, size);
/** _IOWR(KVMIO, nr, size) */
export const iowr = (name: string, nr: number, size: number): Ioctl => ioc(name, IOC_READ | IOC_WRITE, nr, size);

/** The argument size an ioctl request encodes (bits 16..29). */
export function ioctlArgSize(ioctl: Ioctl): number {
  return (ioctl.request >>> IOC_SIZESHIFT) & IOC_SIZEMASK;
}

// ---------------------------------------------------------------------------------------------------------------
// Generic struct layouts (the same on every architecture)
// ---------------------------------------------------------------------------------------------------------------

/**
 * struct kvm_run, the page(s) mapped from a vCPU fd. The exit-specific parts share one union at offset 32; they
 * are named "<member>.<field>" as in C (`io.port`, `mmio.data`). The bytes before the union that only x86 fills
 * (request_interrupt_window, if_flag, cr8, apic_base, ...) are part of the generic struct too.
 */
export const KVM_RUN_LAYOUT = layout("kvm_run", 2352, {
  request_interrupt_window: u8(0),
  immediate_exit: u8(1),
  exit_reason: u32(8),
  ready_for_interrupt_injection: u8(12),
  if_flag: u8(13),
  flags: u16(14),
  cr8: u64(16),
  apic_base: u64(24),
  "hw.hardware_exit_reason": u64(32),
  "fail_entry.hardware_entry_failure_reason": u64(32),
  "fail_entry.cpu": u32(40),
  "ex.exception": u32(32),
  "ex.error_code": u32(36),
  "io.direction": u8(32),
  "io.size": u8(33),
  "io.port": u16(34),
  "io.count": u32(36),
  "io.data_offset": u64(40),
  "mmio.phys_addr": u64(32),
  "mmio.data": bytes(40, 8),
  "mmio.len": u32(48),
  "mmio.is_write": u8(52),
  "internal.suberror": u32(32),
  "internal.ndata": u32(36),
  "internal.data": bytes(40, 16 * 8),
  "system_event.type": u32(32),
  "system_event.ndata": u32(36),
  "system_event.data": bytes(40, 16 * 8),
});

/** struct kvm_userspace_memory_region: one memory slot. */
export const KVM_USERSPACE_MEMORY_REGION_LAYOUT = layout("kvm_userspace_memory_region", 32, {
  slot: u32(0),
  flags: u32(4),
  guest_phys_addr: u64(8),
  memory_size: u64(16),
  userspace_addr: u64(24),
});

/** struct kvm_irq_level: an interrupt line and its level for KVM_IRQ_LINE (the line's encoding is per arch). */
export const KVM_IRQ_LEVEL_LAYOUT = layout("kvm_irq_level", 8, {
  irq: u32(0),
  level: u32(4),
});

/** struct kvm_mp_state. */
export const KVM_MP_STATE_LAYOUT = layout("kvm_mp_state", 4, {
  mp_state: u32(0),
});

/** struct kvm_signal_mask: `len` then `len` bytes of a kernel sigset. */
export const KVM_SIGNAL_MASK_LAYOUT = layout("kvm_signal_mask", 4, {
  len: u32(0),
  sigset: bytes(4, 8),
});

/**
 * struct kvm_ioeventfd (KVM_IOEVENTFD): a guest write of `len` bytes at `addr` (MMIO, or port I/O with the PIO
 * flag), equal to `datamatch` when DATAMATCH is set, signals eventfd `fd` inside the kernel instead of exiting.
 */
export const KVM_IOEVENTFD_LAYOUT = layout("kvm_ioeventfd", 64, {
  datamatch: u64(0),
  addr: u64(8),
  len: u32(16),
  fd: u32(20),
  flags: u32(24),
  pad: bytes(28, 36),
});

/**
 * struct kvm_irqfd (KVM_IRQFD): a write to eventfd `fd` raises interrupt line `gsi` of the in-kernel irqchip; with
 * RESAMPLE the line stays asserted until the guest's EOI, when KVM de-asserts it and signals `resamplefd`.
 */
export const KVM_IRQFD_LAYOUT = layout("kvm_irqfd", 32, {
  fd: u32(0),
  gsi: u32(4),
  flags: u32(8),
  resamplefd: u32(12),
  pad: bytes(16, 16),
});

// ---------------------------------------------------------------------------------------------------------------
// Generic ioctls
// ---------------------------------------------------------------------------------------------------------------

/** The only KVM API version there has ever been in mainline. */
export const KVM_API_VERSION = 12;

// system ioctls (on the /dev/kvm fd)
export const KVM_GET_API_VERSION = io("KVM_GET_API_VERSION", 0x00);
export const KVM_CREATE_VM = io("KVM_CREATE_VM", 0x01);
export const KVM_CHECK_EXTENSION = io("KVM_CHECK_EXTENSION", 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = io("KVM_GET_VCPU_MMAP_SIZE", 0x04);
// VM ioctls
export const KVM_CREATE_VCPU = io("KVM_CREATE_VCPU", 0x41);
export const KVM_SET_USER_MEMORY_REGION = iow(
  "KVM_SET_USER_MEMORY_REGION",
  0x46,
  KVM_USERSPACE_MEMORY_REGION_LAYOUT.size,
);
export const KVM_IRQ_LINE = iow("KVM_IRQ_LINE", 0x61, KVM_IRQ_LEVEL_LAYOUT.size);
export const KVM_IRQFD = iow("KVM_IRQFD", 0x76, KVM_IRQFD_LAYOUT.size);
export const KVM_IOEVENTFD = iow("KVM_IOEVENTFD", 0x79, KVM_IOEVENTFD_LAYOUT.size);
// vCPU ioctls
export const KVM_RUN = io("KVM_RUN", 0x80);
export const KVM_SET_SIGNAL_MASK = iow("KVM_SET_SIGNAL_MASK", 0x8b, KVM_SIGNAL_MASK_LAYOUT.size);
export const KVM_GET_MP_STATE = ior("KVM_GET_MP_STATE", 0x98, KVM_MP_STATE_LAYOUT.size);
export const KVM_SET_MP_STATE = iow("KVM_SET_MP_STATE", 0x99, KVM_MP_STATE_LAYOUT.size);

// ---------------------------------------------------------------------------------------------------------------
// Exit reasons and their sub-codes
// ---------------------------------------------------------------------------------------------------------------

export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;

/**
 * Where KVM puts a port I/O exit's data in the kvm_run mapping: x86's KVM_PIO_PAGE_OFFSET (1) pages in (only x86
 * has port I/O); io.data_offset says so on every exit.
 */
export const KVM_PIO_DATA_OFFSET = 4096;
/**
 * sys.ts `kvmRunAccessFunction`'s answer for one `in`/`out` of 1, 2 or 4 bytes with its data at
 * KVM_PIO_DATA_OFFSET: this bit, direction << 24 (KVM_EXIT_IO_IN/OUT), size << 16 and the port (kvm-native.c).
 */
export const KVM_RUN_PORT_IO = 0x4000_0000;

export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;

export const KVM_INTERNAL_ERROR_EMULATION = 1;
export const KVM_INTERNAL_ERROR_SIMUL_EX = 2;
export const KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
export const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;

/** Exit reason number -> name, for `Unsupported.raw` and messages. */
export const KVM_EXIT_NAMES: ReadonlyMap<number, string> = new Map([
  [KVM_EXIT_UNKNOWN, "KVM_EXIT_UNKNOWN"],
  [KVM_EXIT_EXCEPTION, "KVM_EXIT_EXCEPTION"],
  [KVM_EXIT_IO, "KVM_EXIT_IO"],
  [KVM_EXIT_HYPERCALL, "KVM_EXIT_HYPERCALL"],
  [KVM_EXIT_DEBUG, "KVM_EXIT_DEBUG"],
  [KVM_EXIT_HLT, "KVM_EXIT_HLT"],
  [KVM_EXIT_MMIO, "KVM_EXIT_MMIO"],
  [KVM_EXIT_IRQ_WINDOW_OPEN, "KVM_EXIT_IRQ_WINDOW_OPEN"],
  [KVM_EXIT_SHUTDOWN, "KVM_EXIT_SHUTDOWN"],
  [KVM_EXIT_FAIL_ENTRY, "KVM_EXIT_FAIL_ENTRY"],
  [KVM_EXIT_INTR, "KVM_EXIT_INTR"],
  [KVM_EXIT_NMI, "KVM_EXIT_NMI"],
  [KVM_EXIT_INTERNAL_ERROR, "KVM_EXIT_INTERNAL_ERROR"],
  [KVM_EXIT_SYSTEM_EVENT, "KVM_EXIT_SYSTEM_EVENT"],
]);

// ---------------------------------------------------------------------------------------------------------------
// Capabilities (KVM_CHECK_EXTENSION), flags and MP states
// ---------------------------------------------------------------------------------------------------------------

export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_HLT = 1;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_IOEVENTFD = 36;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_IRQFD_RESAMPLE = 82;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

/**
 * Capabilities the generic backend relies on for every VM, by name: user memory slots, MP state (secondary vCPU
 * start-up) and immediate_exit (kick). Each arch adds its own (`KvmArch.requiredCapabilities`).
 */
export const KVM_GENERIC_REQUIRED_CAPS: Readonly<Record<string, number>> = {
  KVM_CAP_USER_MEMORY,
  KVM_CAP_MP_STATE,
  KVM_CAP_IMMEDIATE_EXIT,
};

export const KVM_MEM_READONLY = 1 << 1;

export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
export const KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;
export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
export const KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;

export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;

/** The generic ABI, for the layout test. */
export const KVM_GENERIC_ABI: KvmAbi = {
  layouts: [
    KVM_RUN_LAYOUT,
    KVM_USERSPACE_MEMORY_REGION_LAYOUT,
    KVM_IRQ_LEVEL_LAYOUT,
    KVM_MP_STATE_LAYOUT,
    KVM_SIGNAL_MASK_LAYOUT,
    KVM_IOEVENTFD_LAYOUT,
    KVM_IRQFD_LAYOUT,
  ],
  ioctls: [
    KVM_GET_API_VERSION,
    KVM_CREATE_VM,
    KVM_CHECK_EXTENSION,
    KVM_GET_VCPU_MMAP_SIZE,
    KVM_CREATE_VCPU,
    KVM_SET_USER_MEMORY_REGION,
    KVM_IRQ_LINE,
    KVM_IRQFD,
    KVM_IOEVENTFD,
    KVM_RUN,
    KVM_SET_SIGNAL_MASK,
    KVM_GET_MP_STATE,
    KVM_SET_MP_STATE,
  ],
  constants: {
    KVMIO,
    KVM_API_VERSION,
    KVM_EXIT_UNKNOWN,
    KVM_EXIT_EXCEPTION,
    KVM_EXIT_IO,
    KVM_EXIT_HYPERCALL,
    KVM_EXIT_DEBUG,
    KVM_EXIT_HLT,
    KVM_EXIT_MMIO,
    KVM_EXIT_IRQ_WINDOW_OPEN,
    KVM_EXIT_SHUTDOWN,
    KVM_EXIT_FAIL_ENTRY,
    KVM_EXIT_INTR,
    KVM_EXIT_NMI,
    KVM_EXIT_INTERNAL_ERROR,
    KVM_EXIT_SYSTEM_EVENT,
    KVM_SYSTEM_EVENT_SHUTDOWN,
    KVM_SYSTEM_EVENT_RESET,
    KVM_SYSTEM_EVENT_CRASH,
    KVM_INTERNAL_ERROR_EMULATION,
    KVM_INTERNAL_ERROR_SIMUL_EX,
    KVM_INTERNAL_ERROR_DELIVERY_EV,
    KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
    KVM_CAP_IRQCHIP,
    KVM_CAP_HLT,
    KVM_CAP_USER_MEMORY,
    KVM_CAP_NR_VCPUS,
    KVM_CAP_NR_MEMSLOTS,
    KVM_CAP_MP_STATE,
    KVM_CAP_IRQFD,
    KVM_CAP_IOEVENTFD,
    KVM_CAP_MAX_VCPUS,
    KVM_CAP_IRQFD_RESAMPLE,
    KVM_CAP_IMMEDIATE_EXIT,
    KVM_MEM_READONLY,
    KVM_IOEVENTFD_FLAG_DATAMATCH,
    KVM_IOEVENTFD_FLAG_PIO,
    KVM_IOEVENTFD_FLAG_DEASSIGN,
    KVM_IRQFD_FLAG_DEASSIGN,
    KVM_IRQFD_FLAG_RESAMPLE,
    KVM_MP_STATE_RUNNABLE,
    KVM_MP_STATE_UNINITIALIZED,
    KVM_MP_STATE_INIT_RECEIVED,
    KVM_MP_STATE_HALTED,
    KVM_MP_STATE_SIPI_RECEIVED,
  },
};

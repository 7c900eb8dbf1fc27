/**
 * The Linux KVM ABI for x86_64 hosts, declared once as data: ioctl numbers, exit reasons, capability numbers and
 * the layout (field -> offset, type; total size) of every struct the backend exchanges with the kernel.
 *
 * Names are the ones in <linux/kvm.h>. `test/kvm/abi-layout.test.ts` compiles `native/kvm-abi-dump.c` against the
 * host's header and compares every size, offset and number below with it, so a typo here fails a test instead of
 * corrupting guest state. Nothing in this file touches native code.
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

function layout<const F extends string>(
  name: string,
  size: number,
  fields: Readonly<Record<F, FieldSpec>>,
): StructLayout<F> {
  return { name, size, fields };
}

const u8 = (offset: number): FieldSpec => ({ offset, type: "u8" });
const u16 = (offset: number): FieldSpec => ({ offset, type: "u16" });
const u32 = (offset: number): FieldSpec => ({ offset, type: "u32" });
const u64 = (offset: number): FieldSpec => ({ offset, type: "u64" });
const bytes = (offset: number, length: number): FieldSpec => ({ offset, type: "bytes", length });

// ---------------------------------------------------------------------------------------------------------------
// Struct layouts (x86_64)
// ---------------------------------------------------------------------------------------------------------------

/**
 * struct kvm_run, the page(s) mapped from a vCPU fd. The exit-specific parts share one union at offset 32; they
 * are named "<member>.<field>" as in C (`io.port`, `mmio.data`).
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

/** struct kvm_regs: the general-purpose registers, rip and rflags, all u64. */
export const KVM_REGS_LAYOUT = layout("kvm_regs", 144, {
  rax: u64(0),
  rbx: u64(8),
  rcx: u64(16),
  rdx: u64(24),
  rsi: u64(32),
  rdi: u64(40),
  rsp: u64(48),
  rbp: u64(56),
  r8: u64(64),
  r9: u64(72),
  r10: u64(80),
  r11: u64(88),
  r12: u64(96),
  r13: u64(104),
  r14: u64(112),
  r15: u64(120),
  rip: u64(128),
  rflags: u64(136),
});
export type KvmRegName = keyof typeof KVM_REGS_LAYOUT.fields;

/** struct kvm_segment: a segment register's hidden part, one byte per attribute bit. */
export const KVM_SEGMENT_LAYOUT = layout("kvm_segment", 24, {
  base: u64(0),
  limit: u32(8),
  selector: u16(12),
  type: u8(14),
  present: u8(15),
  dpl: u8(16),
  db: u8(17),
  s: u8(18),
  l: u8(19),
  g: u8(20),
  avl: u8(21),
  unusable: u8(22),
});

/** struct kvm_dtable: GDTR / IDTR. */
export const KVM_DTABLE_LAYOUT = layout("kvm_dtable", 16, {
  base: u64(0),
  limit: u16(8),
});

/** struct kvm_sregs: segment, descriptor-table and control registers. */
export const KVM_SREGS_LAYOUT = layout("kvm_sregs", 312, {
  cs: bytes(0, 24),
  ds: bytes(24, 24),
  es: bytes(48, 24),
  fs: bytes(72, 24),
  gs: bytes(96, 24),
  ss: bytes(120, 24),
  tr: bytes(144, 24),
  ldt: bytes(168, 24),
  gdt: bytes(192, 16),
  idt: bytes(208, 16),
  cr0: u64(224),
  cr2: u64(232),
  cr3: u64(240),
  cr4: u64(248),
  cr8: u64(256),
  efer: u64(264),
  apic_base: u64(272),
  interrupt_bitmap: bytes(280, 32),
});
export type KvmSegmentName = "cs" | "ds" | "es" | "fs" | "gs" | "ss" | "tr" | "ldt";

/** struct kvm_userspace_memory_region: one memory slot. */
export const KVM_USERSPACE_MEMORY_REGION_LAYOUT = layout("kvm_userspace_memory_region", 32, {
  slot: u32(0),
  flags: u32(4),
  guest_phys_addr: u64(8),
  memory_size: u64(16),
  userspace_addr: u64(24),
});

/** struct kvm_cpuid2: a header followed by `nent` kvm_cpuid_entry2. */
export const KVM_CPUID2_LAYOUT = layout("kvm_cpuid2", 8, {
  nent: u32(0),
  entries: bytes(8, 40),
});

/** struct kvm_cpuid_entry2. */
export const KVM_CPUID_ENTRY2_LAYOUT = layout("kvm_cpuid_entry2", 40, {
  function: u32(0),
  index: u32(4),
  flags: u32(8),
  eax: u32(12),
  ebx: u32(16),
  ecx: u32(20),
  edx: u32(24),
});

/** struct kvm_msrs: a header followed by `nmsrs` kvm_msr_entry. */
export const KVM_MSRS_LAYOUT = layout("kvm_msrs", 8, {
  nmsrs: u32(0),
  entries: bytes(8, 16),
});

/** struct kvm_msr_entry. */
export const KVM_MSR_ENTRY_LAYOUT = layout("kvm_msr_entry", 16, {
  index: u32(0),
  data: u64(8),
});

/** struct kvm_fpu: legacy FPU + SSE state. */
export const KVM_FPU_LAYOUT = layout("kvm_fpu", 416, {
  fpr: bytes(0, 128),
  fcw: u16(128),
  fsw: u16(130),
  ftwx: u8(132),
  last_opcode: u16(134),
  last_ip: u64(136),
  last_dp: u64(144),
  xmm: bytes(152, 256),
  mxcsr: u32(408),
});

/** struct kvm_lapic_state: the 1 KiB local APIC register page (each register at its MMIO offset). */
export const KVM_LAPIC_STATE_LAYOUT = layout("kvm_lapic_state", 1024, {
  regs: bytes(0, 1024),
});

/** struct kvm_irq_level: a GSI and its level for KVM_IRQ_LINE. */
export const KVM_IRQ_LEVEL_LAYOUT = layout("kvm_irq_level", 8, {
  irq: u32(0),
  level: u32(4),
});

/** struct kvm_pit_config for KVM_CREATE_PIT2. */
export const KVM_PIT_CONFIG_LAYOUT = layout("kvm_pit_config", 64, {
  flags: u32(0),
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

/** struct kvm_interrupt for KVM_INTERRUPT (userspace irqchip only). */
export const KVM_INTERRUPT_LAYOUT = layout("kvm_interrupt", 4, {
  irq: u32(0),
});

/** Every layout, for the layout test and for messages. */
export const KVM_LAYOUTS: readonly StructLayout[] = [
  KVM_RUN_LAYOUT,
  KVM_REGS_LAYOUT,
  KVM_SEGMENT_LAYOUT,
  KVM_DTABLE_LAYOUT,
  KVM_SREGS_LAYOUT,
  KVM_USERSPACE_MEMORY_REGION_LAYOUT,
  KVM_CPUID2_LAYOUT,
  KVM_CPUID_ENTRY2_LAYOUT,
  KVM_MSRS_LAYOUT,
  KVM_MSR_ENTRY_LAYOUT,
  KVM_FPU_LAYOUT,
  KVM_LAPIC_STATE_LAYOUT,
  KVM_IRQ_LEVEL_LAYOUT,
  KVM_PIT_CONFIG_LAYOUT,
  KVM_MP_STATE_LAYOUT,
  KVM_SIGNAL_MASK_LAYOUT,
  KVM_INTERRUPT_LAYOUT,
];

// ---------------------------------------------------------------------------------------------------------------
// ioctl numbers (asm-generic/ioctl.h encoding, as used on x86)
// ---------------------------------------------------------------------------------------------------------------

const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = 8;
const IOC_SIZESHIFT = 16;
const IOC_DIRSHIFT = 30;
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

function ioc(dir: number, type: number, nr: number, size: number): number {
  // `>>> 0` keeps the number unsigned: read ioctls have bit 31 set.
  return ((dir << IOC_DIRSHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT) | (size << IOC_SIZESHIFT)) >>> 0;
}
const io = (nr: number): number => ioc(IOC_NONE, KVMIO, nr, 0);
const ior = (nr: number, size: number): number => ioc(IOC_READ, KVMIO, nr, size);
const iow = (nr: number, size: number): number => ioc(IOC_WRITE, KVMIO, nr, size);
const iowr = (nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, KVMIO, nr, size);

export const KVMIO = 0xae;
/** The only KVM API version there has ever been in mainline. */
export const KVM_API_VERSION = 12;

// system ioctls (on the /dev/kvm fd)
export const KVM_GET_API_VERSION = io(0x00);
export const KVM_CREATE_VM = io(0x01);
export const KVM_CHECK_EXTENSION = io(0x03);
export const KVM_GET_VCPU_MMAP_SIZE = io(0x04);
export const KVM_GET_SUPPORTED_CPUID = iowr(0x05, KVM_CPUID2_LAYOUT.size);
// VM ioctls
export const KVM_CREATE_VCPU = io(0x41);
export const KVM_SET_USER_MEMORY_REGION = iow(0x46, KVM_USERSPACE_MEMORY_REGION_LAYOUT.size);
export const KVM_SET_TSS_ADDR = io(0x47);
export const KVM_SET_IDENTITY_MAP_ADDR = iow(0x48, 8);
export const KVM_CREATE_IRQCHIP = io(0x60);
export const KVM_IRQ_LINE = iow(0x61, KVM_IRQ_LEVEL_LAYOUT.size);
export const KVM_CREATE_PIT2 = iow(0x77, KVM_PIT_CONFIG_LAYOUT.size);
// vCPU ioctls
export const KVM_RUN = io(0x80);
export const KVM_GET_REGS = ior(0x81, KVM_REGS_LAYOUT.size);
export const KVM_SET_REGS = iow(0x82, KVM_REGS_LAYOUT.size);
export const KVM_GET_SREGS = ior(0x83, KVM_SREGS_LAYOUT.size);
export const KVM_SET_SREGS = iow(0x84, KVM_SREGS_LAYOUT.size);
export const KVM_INTERRUPT = iow(0x86, KVM_INTERRUPT_LAYOUT.size);
export const KVM_GET_MSRS = iowr(0x88, KVM_MSRS_LAYOUT.size);
export const KVM_SET_MSRS = iow(0x89, KVM_MSRS_LAYOUT.size);
export const KVM_SET_SIGNAL_MASK = iow(0x8b, KVM_SIGNAL_MASK_LAYOUT.size);
export const KVM_GET_FPU = ior(0x8c, KVM_FPU_LAYOUT.size);
export const KVM_SET_FPU = iow(0x8d, KVM_FPU_LAYOUT.size);
export const KVM_GET_LAPIC = ior(0x8e, KVM_LAPIC_STATE_LAYOUT.size);
export const KVM_SET_LAPIC = iow(0x8f, KVM_LAPIC_STATE_LAYOUT.size);
export const KVM_SET_CPUID2 = iow(0x90, KVM_CPUID2_LAYOUT.size);
export const KVM_GET_MP_STATE = ior(0x98, KVM_MP_STATE_LAYOUT.size);
export const KVM_SET_MP_STATE = iow(0x99, KVM_MP_STATE_LAYOUT.size);

/** ioctl number -> name, for error messages (HalError.operation). */
export const KVM_IOCTL_NAMES: ReadonlyMap<number, string> = new Map([
  [KVM_GET_API_VERSION, "KVM_GET_API_VERSION"],
  [KVM_CREATE_VM, "KVM_CREATE_VM"],
  [KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION"],
  [KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE"],
  [KVM_GET_SUPPORTED_CPUID, "KVM_GET_SUPPORTED_CPUID"],
  [KVM_CREATE_VCPU, "KVM_CREATE_VCPU"],
  [KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION"],
  [KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR"],
  [KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR"],
  [KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP"],
  [KVM_IRQ_LINE, "KVM_IRQ_LINE"],
  [KVM_CREATE_PIT2, "KVM_CREATE_PIT2"],
  [KVM_RUN, "KVM_RUN"],
  [KVM_GET_REGS, "KVM_GET_REGS"],
  [KVM_SET_REGS, "KVM_SET_REGS"],
  [KVM_GET_SREGS, "KVM_GET_SREGS"],
  [KVM_SET_SREGS, "KVM_SET_SREGS"],
  [KVM_INTERRUPT, "KVM_INTERRUPT"],
  [KVM_GET_MSRS, "KVM_GET_MSRS"],
  [KVM_SET_MSRS, "KVM_SET_MSRS"],
  [KVM_SET_SIGNAL_MASK, "KVM_SET_SIGNAL_MASK"],
  [KVM_GET_FPU, "KVM_GET_FPU"],
  [KVM_SET_FPU, "KVM_SET_FPU"],
  [KVM_GET_LAPIC, "KVM_GET_LAPIC"],
  [KVM_SET_LAPIC, "KVM_SET_LAPIC"],
  [KVM_SET_CPUID2, "KVM_SET_CPUID2"],
  [KVM_GET_MP_STATE, "KVM_GET_MP_STATE"],
  [KVM_SET_MP_STATE, "KVM_SET_MP_STATE"],
]);

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

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

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
// Capabilities (KVM_CHECK_EXTENSION) and flags
// ---------------------------------------------------------------------------------------------------------------

export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_HLT = 1;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

export const KVM_CAP_NAMES: ReadonlyMap<number, string> = new Map([
  [KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"],
  [KVM_CAP_HLT, "KVM_CAP_HLT"],
  [KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"],
  [KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"],
  [KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"],
  [KVM_CAP_NR_VCPUS, "KVM_CAP_NR_VCPUS"],
  [KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS"],
  [KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"],
  [KVM_CAP_PIT2, "KVM_CAP_PIT2"],
  [KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"],
  [KVM_CAP_MAX_VCPUS, "KVM_CAP_MAX_VCPUS"],
  [KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"],
]);

/**
 * Capabilities the backend relies on for every VM: user memory slots, the in-kernel irqchip and PIT, TSS set-up
 * (required on Intel before the first KVM_RUN), CPUID2, MP state (AP start-up) and immediate_exit (kick).
 */
export const KVM_REQUIRED_CAPS: readonly number[] = [
  KVM_CAP_USER_MEMORY,
  KVM_CAP_IRQCHIP,
  KVM_CAP_SET_TSS_ADDR,
  KVM_CAP_EXT_CPUID,
  KVM_CAP_MP_STATE,
  KVM_CAP_PIT2,
  KVM_CAP_IMMEDIATE_EXIT,
];

export const KVM_PIT_SPEAKER_DUMMY = 1;
export const KVM_MEM_READONLY = 1 << 1;

export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;

/**
 * Every named number in this file, keyed by its <linux/kvm.h> name: what the layout test compares with the C
 * dump. (The maps above are derived views for messages.)
 */
export const KVM_CONSTANTS: Readonly<Record<string, number>> = {
  KVMIO,
  KVM_API_VERSION,
  KVM_GET_API_VERSION,
  KVM_CREATE_VM,
  KVM_CHECK_EXTENSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_GET_SUPPORTED_CPUID,
  KVM_CREATE_VCPU,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_TSS_ADDR,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_CREATE_IRQCHIP,
  KVM_IRQ_LINE,
  KVM_CREATE_PIT2,
  KVM_RUN,
  KVM_GET_REGS,
  KVM_SET_REGS,
  KVM_GET_SREGS,
  KVM_SET_SREGS,
  KVM_SET_CPUID2,
  KVM_GET_MSRS,
  KVM_SET_MSRS,
  KVM_GET_FPU,
  KVM_SET_FPU,
  KVM_GET_LAPIC,
  KVM_SET_LAPIC,
  KVM_GET_MP_STATE,
  KVM_SET_MP_STATE,
  KVM_SET_SIGNAL_MASK,
  KVM_INTERRUPT,
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
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
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
  KVM_CAP_SET_TSS_ADDR,
  KVM_CAP_EXT_CPUID,
  KVM_CAP_NR_VCPUS,
  KVM_CAP_NR_MEMSLOTS,
  KVM_CAP_MP_STATE,
  KVM_CAP_PIT2,
  KVM_CAP_SET_IDENTITY_MAP_ADDR,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_IMMEDIATE_EXIT,
  KVM_PIT_SPEAKER_DUMMY,
  KVM_MP_STATE_RUNNABLE,
  KVM_MP_STATE_UNINITIALIZED,
  KVM_MP_STATE_INIT_RECEIVED,
  KVM_MP_STATE_HALTED,
  KVM_MP_STATE_SIPI_RECEIVED,
  KVM_MEM_READONLY,
};

// ---------------------------------------------------------------------------------------------------------------
// Field access over a DataView (little-endian; x86 hosts only)
// ---------------------------------------------------------------------------------------------------------------

/** Read an integer field; u64 fields come back as bigint. `base` is the struct's offset inside `view`. */
export function readField(view: DataView, field: FieldSpec, base = 0): number | bigint {
  const at = base + field.offset;
  switch (field.type) {
    case "u8":
      return view.getUint8(at);
    case "u16":
      return view.getUint16(at, true);
    case "u32":
      return view.getUint32(at, true);
    case "u64":
      return view.getBigUint64(at, true);
    case "bytes":
      throw new TypeError(`Cannot read bytes field at offset ${field.offset} as an integer`);
  }
}

/** Write an integer field (numbers or bigints; values are truncated to the field width). */
export function writeField(view: DataView, field: FieldSpec, value: number | bigint, base = 0): void {
  const at = base + field.offset;
  switch (field.type) {
    case "u8":
      view.setUint8(at, Number(value) & 0xff);
      return;
    case "u16":
      view.setUint16(at, Number(value) & 0xffff, true);
      return;
    case "u32":
      view.setUint32(at, Number(BigInt(value) & 0xffff_ffffn), true);
      return;
    case "u64":
      view.setBigUint64(at, BigInt.asUintN(64, BigInt(value)), true);
      return;
    case "bytes":
      throw new TypeError(`Cannot write bytes field at offset ${field.offset} as an integer`);
  }
}

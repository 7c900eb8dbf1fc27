/**
 * The x86 part of the Linux KVM ABI (<linux/kvm.h> with <asm/kvm.h> for x86): the register, segment, CPUID, MSR,
 * FPU, LAPIC and PIT structs, their ioctls, the capabilities the x86 VM set-up needs, and the x86-only exit details
 * (KVM_EXIT_IO directions). Declared with the generic helpers of ../abi.ts and checked by the same layout test.
 */

import {
  bytes,
  type Ioctl,
  io,
  ior,
  iow,
  iowr,
  KVM_CAP_IRQCHIP,
  KVM_RUN_LAYOUT,
  type KvmAbi,
  layout,
  u8,
  u16,
  u32,
  u64,
} from "../abi.ts";

// ---------------------------------------------------------------------------------------------------------------
// Struct layouts
// ---------------------------------------------------------------------------------------------------------------

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

/** struct kvm_pit_config for KVM_CREATE_PIT2. */
export const KVM_PIT_CONFIG_LAYOUT = layout("kvm_pit_config", 64, {
  flags: u32(0),
});

/**
 * struct kvm_clock_data for KVM_GET_CLOCK/KVM_SET_CLOCK: the VM's kvmclock (ns), which the guest's kvm-clock
 * clocksource reads; set back on resume so the guest does not see the paused interval.
 */
export const KVM_CLOCK_DATA_LAYOUT = layout("kvm_clock_data", 48, {
  clock: u64(0),
  flags: u32(8),
  realtime: u64(16),
  host_tsc: u64(24),
});

/** struct kvm_xsave: the XSAVE area (legacy FPU/SSE, AVX, ...) as the CPU lays it out, 4 KiB. */
export const KVM_XSAVE_LAYOUT = layout("kvm_xsave", 4096, {
  region: bytes(0, 4096),
});

/** struct kvm_xcrs: the extended control registers (XCR0). */
export const KVM_XCRS_LAYOUT = layout("kvm_xcrs", 392, {
  nr_xcrs: u32(0),
  flags: u32(4),
  xcrs: bytes(8, 256),
});

/** struct kvm_vcpu_events: pending exceptions, interrupts, NMIs, SIPIs and the interrupt shadow. */
export const KVM_VCPU_EVENTS_LAYOUT = layout("kvm_vcpu_events", 64, {
  flags: u32(20),
});

/** struct kvm_irqchip: one in-kernel interrupt controller (PIC master, PIC slave or IOAPIC) by chip_id. */
export const KVM_IRQCHIP_LAYOUT = layout("kvm_irqchip", 520, {
  chip_id: u32(0),
  chip: bytes(8, 512),
});

/** struct kvm_pit_state2: the in-kernel PIT's three channels and flags. */
export const KVM_PIT_STATE2_LAYOUT = layout("kvm_pit_state2", 112, {
  channels: bytes(0, 72),
  flags: u32(72),
});

/** struct kvm_interrupt for KVM_INTERRUPT (userspace irqchip only). */
export const KVM_INTERRUPT_LAYOUT = layout("kvm_interrupt", 4, {
  irq: u32(0),
});

/** struct kvm_guest_debug for KVM_SET_GUEST_DEBUG: control flags and, on x86, the values of DR0-DR7. */
export const KVM_GUEST_DEBUG_LAYOUT = layout("kvm_guest_debug", 72, {
  control: u32(0),
  "arch.debugreg": bytes(8, 64),
});

/**
 * kvm_run's `debug.arch` (struct kvm_debug_exit_arch) for KVM_EXIT_DEBUG: the exception (1 = #DB, 3 = #BP), the
 * guest's rip, DR6 (what fired) and DR7. Declared as part of kvm_run, at the union's offset.
 */
export const KVM_RUN_DEBUG_LAYOUT = layout("kvm_run", KVM_RUN_LAYOUT.size, {
  "debug.arch.exception": u32(32),
  "debug.arch.pc": u64(40),
  "debug.arch.dr6": u64(48),
  "debug.arch.dr7": u64(56),
});

// ---------------------------------------------------------------------------------------------------------------
// ioctls
// ---------------------------------------------------------------------------------------------------------------

// system ioctls (on the /dev/kvm fd)
export const KVM_GET_SUPPORTED_CPUID = iowr("KVM_GET_SUPPORTED_CPUID", 0x05, KVM_CPUID2_LAYOUT.size);
// VM ioctls
export const KVM_SET_TSS_ADDR = io("KVM_SET_TSS_ADDR", 0x47);
export const KVM_SET_IDENTITY_MAP_ADDR = iow("KVM_SET_IDENTITY_MAP_ADDR", 0x48, 8);
export const KVM_CREATE_IRQCHIP = io("KVM_CREATE_IRQCHIP", 0x60);
export const KVM_CREATE_PIT2 = iow("KVM_CREATE_PIT2", 0x77, KVM_PIT_CONFIG_LAYOUT.size);
export const KVM_SET_CLOCK = iow("KVM_SET_CLOCK", 0x7b, KVM_CLOCK_DATA_LAYOUT.size);
export const KVM_GET_CLOCK = ior("KVM_GET_CLOCK", 0x7c, KVM_CLOCK_DATA_LAYOUT.size);
// vCPU ioctls
export const KVM_GET_REGS = ior("KVM_GET_REGS", 0x81, KVM_REGS_LAYOUT.size);
export const KVM_SET_REGS = iow("KVM_SET_REGS", 0x82, KVM_REGS_LAYOUT.size);
export const KVM_GET_SREGS = ior("KVM_GET_SREGS", 0x83, KVM_SREGS_LAYOUT.size);
export const KVM_SET_SREGS = iow("KVM_SET_SREGS", 0x84, KVM_SREGS_LAYOUT.size);
export const KVM_INTERRUPT = iow("KVM_INTERRUPT", 0x86, KVM_INTERRUPT_LAYOUT.size);
export const KVM_GET_MSRS = iowr("KVM_GET_MSRS", 0x88, KVM_MSRS_LAYOUT.size);
export const KVM_SET_MSRS = iow("KVM_SET_MSRS", 0x89, KVM_MSRS_LAYOUT.size);
export const KVM_GET_FPU = ior("KVM_GET_FPU", 0x8c, KVM_FPU_LAYOUT.size);
export const KVM_SET_FPU = iow("KVM_SET_FPU", 0x8d, KVM_FPU_LAYOUT.size);
export const KVM_GET_LAPIC = ior("KVM_GET_LAPIC", 0x8e, KVM_LAPIC_STATE_LAYOUT.size);
export const KVM_SET_LAPIC = iow("KVM_SET_LAPIC", 0x8f, KVM_LAPIC_STATE_LAYOUT.size);
export const KVM_SET_CPUID2 = iow("KVM_SET_CPUID2", 0x90, KVM_CPUID2_LAYOUT.size);
export const KVM_SET_GUEST_DEBUG = iow("KVM_SET_GUEST_DEBUG", 0x9b, KVM_GUEST_DEBUG_LAYOUT.size);
// snapshot state (VM: irqchip, PIT; vCPU: events, XSAVE, XCRs)
export const KVM_GET_IRQCHIP = iowr("KVM_GET_IRQCHIP", 0x62, KVM_IRQCHIP_LAYOUT.size);
export const KVM_SET_IRQCHIP = ior("KVM_SET_IRQCHIP", 0x63, KVM_IRQCHIP_LAYOUT.size);
export const KVM_GET_PIT2 = ior("KVM_GET_PIT2", 0x9f, KVM_PIT_STATE2_LAYOUT.size);
export const KVM_SET_PIT2 = iow("KVM_SET_PIT2", 0xa0, KVM_PIT_STATE2_LAYOUT.size);
export const KVM_GET_VCPU_EVENTS = ior("KVM_GET_VCPU_EVENTS", 0x9f, KVM_VCPU_EVENTS_LAYOUT.size);
export const KVM_SET_VCPU_EVENTS = iow("KVM_SET_VCPU_EVENTS", 0xa0, KVM_VCPU_EVENTS_LAYOUT.size);
export const KVM_GET_XSAVE = ior("KVM_GET_XSAVE", 0xa4, KVM_XSAVE_LAYOUT.size);
export const KVM_SET_XSAVE = iow("KVM_SET_XSAVE", 0xa5, KVM_XSAVE_LAYOUT.size);
export const KVM_GET_XCRS = ior("KVM_GET_XCRS", 0xa6, KVM_XCRS_LAYOUT.size);
export const KVM_SET_XCRS = iow("KVM_SET_XCRS", 0xa7, KVM_XCRS_LAYOUT.size);

// ---------------------------------------------------------------------------------------------------------------
// Capabilities, flags, exit details
// ---------------------------------------------------------------------------------------------------------------

export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
/** The in-kernel LAPIC emulates the TSC-deadline timer mode (then the VMM may advertise it in CPUID). */
export const KVM_CAP_TSC_DEADLINE_TIMER = 72;

/**
 * What the x86 VM set-up relies on besides the generic capabilities: the in-kernel irqchip and PIT, TSS set-up
 * (required on Intel before the first KVM_RUN) and CPUID2.
 */
export const X86_REQUIRED_CAPS: Readonly<Record<string, number>> = {
  KVM_CAP_IRQCHIP,
  KVM_CAP_SET_TSS_ADDR,
  KVM_CAP_EXT_CPUID,
  KVM_CAP_PIT2,
};

export const KVM_PIT_SPEAKER_DUMMY = 1;

/** KVM_SET_GUEST_DEBUG works (the GDB stub needs it). */
export const KVM_CAP_SET_GUEST_DEBUG = 23;
/** kvm_guest_debug.control: debugging on, single step (TF), int3 exits, debug registers from `arch.debugreg`. */
export const KVM_GUESTDBG_ENABLE = 0x1;
export const KVM_GUESTDBG_SINGLESTEP = 0x2;
export const KVM_GUESTDBG_USE_SW_BP = 0x1_0000;
export const KVM_GUESTDBG_USE_HW_BP = 0x2_0000;

/** kvm_run.io.direction. */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

const X86_IOCTLS: readonly Ioctl[] = [
  KVM_GET_SUPPORTED_CPUID,
  KVM_SET_TSS_ADDR,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_CREATE_IRQCHIP,
  KVM_CREATE_PIT2,
  KVM_SET_CLOCK,
  KVM_GET_CLOCK,
  KVM_GET_REGS,
  KVM_SET_REGS,
  KVM_GET_SREGS,
  KVM_SET_SREGS,
  KVM_INTERRUPT,
  KVM_GET_MSRS,
  KVM_SET_MSRS,
  KVM_GET_FPU,
  KVM_SET_FPU,
  KVM_GET_LAPIC,
  KVM_SET_LAPIC,
  KVM_SET_CPUID2,
  KVM_SET_GUEST_DEBUG,
  KVM_GET_IRQCHIP,
  KVM_SET_IRQCHIP,
  KVM_GET_PIT2,
  KVM_SET_PIT2,
  KVM_GET_VCPU_EVENTS,
  KVM_SET_VCPU_EVENTS,
  KVM_GET_XSAVE,
  KVM_SET_XSAVE,
  KVM_GET_XCRS,
  KVM_SET_XCRS,
];

/** The x86 ABI, for the layout test. */
export const KVM_X86_ABI: KvmAbi = {
  layouts: [
    KVM_REGS_LAYOUT,
    KVM_SEGMENT_LAYOUT,
    KVM_DTABLE_LAYOUT,
    KVM_SREGS_LAYOUT,
    KVM_CPUID2_LAYOUT,
    KVM_CPUID_ENTRY2_LAYOUT,
    KVM_MSRS_LAYOUT,
    KVM_MSR_ENTRY_LAYOUT,
    KVM_FPU_LAYOUT,
    KVM_LAPIC_STATE_LAYOUT,
    KVM_PIT_CONFIG_LAYOUT,
    KVM_CLOCK_DATA_LAYOUT,
    KVM_XSAVE_LAYOUT,
    KVM_XCRS_LAYOUT,
    KVM_VCPU_EVENTS_LAYOUT,
    KVM_IRQCHIP_LAYOUT,
    KVM_PIT_STATE2_LAYOUT,
    KVM_INTERRUPT_LAYOUT,
    KVM_GUEST_DEBUG_LAYOUT,
    KVM_RUN_DEBUG_LAYOUT,
  ],
  ioctls: X86_IOCTLS,
  constants: {
    KVM_CAP_SET_TSS_ADDR,
    KVM_CAP_EXT_CPUID,
    KVM_CAP_PIT2,
    KVM_CAP_SET_IDENTITY_MAP_ADDR,
    KVM_CAP_TSC_DEADLINE_TIMER,
    KVM_PIT_SPEAKER_DUMMY,
    KVM_EXIT_IO_IN,
    KVM_EXIT_IO_OUT,
    KVM_CAP_SET_GUEST_DEBUG,
    KVM_GUESTDBG_ENABLE,
    KVM_GUESTDBG_SINGLESTEP,
    KVM_GUESTDBG_USE_SW_BP,
    KVM_GUESTDBG_USE_HW_BP,
  },
};

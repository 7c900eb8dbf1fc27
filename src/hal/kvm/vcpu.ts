/**
 * A KVM vCPU: its fd, its kvm_run mapping, the x86 set-up (CPUID, MSRs, FPU, LAPIC, registers), `run()` on the
 * calling thread and `runAsync()` through a Worker that pumps KVM_RUN (run-worker.ts).
 *
 * Exits are decoded by exits.ts on the owner thread only: device state is touched by one thread whatever the
 * number of vCPUs. Registers are cached between runs (KVM_GET_REGS once, KVM_SET_REGS once before the next run).
 *
 * KVM finishes an I/O or MMIO instruction only on the next KVM_RUN (the IN result goes to RAX, RIP moves on), so
 * guest state is consistent only after that re-entry. When the VMM reads or writes registers after such an exit,
 * we first re-enter with immediate_exit = 1, which completes the instruction without running any further guest
 * code (Documentation/virt/kvm/api.rst, "KVM_RUN").
 */
import type { AxVCpuExitReason, HalVcpu, HalVcpuSetup } from "../types.ts";
import { HalError } from "../types.ts";
import {
  KVM_DTABLE_LAYOUT,
  KVM_FPU_LAYOUT,
  KVM_GET_LAPIC,
  KVM_GET_MP_STATE,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_INTERRUPT,
  KVM_INTERRUPT_LAYOUT,
  KVM_LAPIC_STATE_LAYOUT,
  KVM_MP_STATE_LAYOUT,
  KVM_MSR_ENTRY_LAYOUT,
  KVM_MSRS_LAYOUT,
  KVM_REGS_LAYOUT,
  KVM_RUN,
  KVM_RUN_LAYOUT,
  KVM_SEGMENT_LAYOUT,
  KVM_SET_CPUID2,
  KVM_SET_FPU,
  KVM_SET_LAPIC,
  KVM_SET_MSRS,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SREGS_LAYOUT,
  type KvmRegName,
  type KvmSegmentName,
} from "./abi.ts";
import { type CpuidEntry, encodeCpuid2, fixupCpuid } from "./cpuid.ts";
import {
  completeRead,
  type Decoded,
  decodeExit,
  type HypercallRegs,
  nextPioElement,
  type PendingCompletion,
  type PioCursor,
} from "./exits.ts";
import {
  CTL_DONE_SEQ,
  CTL_IN_RUN,
  CTL_KICK,
  CTL_REQUEST_SEQ,
  CTL_RESULT,
  CTL_SETUP_ERRNO,
  CTL_SLOTS,
  CTL_STATE,
  CTL_STOP,
  CTL_TID,
  type RunWorkerInit,
  STATE_EXITED,
  STATE_FAILED,
  STATE_READY,
  STATE_STARTING,
} from "./run-protocol.ts";
import * as sys from "./sys.ts";
import {
  realModeState,
  X86_GPR_NAMES,
  X86_REG_RFLAGS,
  X86_REG_RIP,
  X86_RFLAGS_RESERVED,
  type X86DescriptorTable,
  type X86Segment,
  type X86VcpuState,
} from "./x86-state.ts";

// MSR numbers (Intel SDM vol. 4) set at boot, as Firecracker does.
export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_DEF_TYPE = 0x2ff;
export const MSR_STAR = 0xc000_0081;
export const MSR_LSTAR = 0xc000_0082;
export const MSR_CSTAR = 0xc000_0083;
export const MSR_SYSCALL_MASK = 0xc000_0084;
export const MSR_KERNEL_GS_BASE = 0xc000_0102;
/** IA32_MISC_ENABLE bit 0: fast string operations. */
const MISC_ENABLE_FAST_STRING = 1n;
/** MTRRdefType: E (bit 11) enables MTRRs, default memory type 6 = write-back. */
const MTRR_DEF_TYPE_ENABLE_WB = (1n << 11n) | 6n;

/** The MSR values every vCPU starts with (all else as KVM resets it). */
export const BOOT_MSRS: ReadonlyArray<readonly [number, bigint]> = [
  [MSR_IA32_SYSENTER_CS, 0n],
  [MSR_IA32_SYSENTER_ESP, 0n],
  [MSR_IA32_SYSENTER_EIP, 0n],
  [MSR_STAR, 0n],
  [MSR_CSTAR, 0n],
  [MSR_KERNEL_GS_BASE, 0n],
  [MSR_SYSCALL_MASK, 0n],
  [MSR_LSTAR, 0n],
  [MSR_IA32_TSC, 0n],
  [MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING],
  [MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_ENABLE_WB],
];

/** x87 control word after FNINIT, and the MXCSR reset value (all exceptions masked). */
export const FPU_FCW_DEFAULT = 0x37f;
export const FPU_MXCSR_DEFAULT = 0x1f80;

// Local APIC registers (offsets in the APIC page) and LVT delivery modes (Intel SDM vol. 3, 11.5.1).
export const APIC_LVT0 = 0x350;
export const APIC_LVT1 = 0x360;
const APIC_LVT_DELIVERY_MODE_SHIFT = 8;
const APIC_LVT_DELIVERY_MODE_MASK = 0x7 << APIC_LVT_DELIVERY_MODE_SHIFT;
/** LVT mask bit (bit 16). */
const APIC_LVT_MASKED = 1 << 16;
export const APIC_MODE_EXTINT = 0x7;
export const APIC_MODE_NMI = 0x4;

/** Setup the KVM backend accepts: the HAL's (with its `x86` boot state). */
export type KvmVcpuSetup = HalVcpuSetup;

/** What a vCPU needs from its VM. */
export interface KvmVcpuContext {
  readonly vmFd: number;
  readonly vcpuFd: number;
  readonly mmapSize: number;
  readonly cpuCount: number;
  readonly irqchip: boolean;
  readonly supportedCpuid: readonly CpuidEntry[];
  /** Called when the vCPU is closed (the VM forgets it). */
  readonly onClose: () => void;
}

export interface KvmRunStats {
  /** KVM_RUN calls made (including completion re-entries). */
  runs: number;
  /** Exits returned to the caller, string I/O elements counted one by one. */
  exits: number;
  /** Re-entries with immediate_exit to complete an I/O or MMIO instruction before a register access. */
  completions: number;
}

const RUN = KVM_RUN_LAYOUT.fields;
const REGS = KVM_REGS_LAYOUT.fields;

export class KvmVcpu implements HalVcpu {
  readonly id: number;
  readonly stats: KvmRunStats = { runs: 0, exits: 0, completions: 0 };
  readonly #context: KvmVcpuContext;
  readonly #run: sys.Mapping;
  readonly #runView: DataView;
  readonly #regs = new Uint8Array(KVM_REGS_LAYOUT.size);
  readonly #regsView = new DataView(this.#regs.buffer);
  #regsLoaded = false;
  #regsDirty = false;
  /** The last exit was I/O or MMIO: KVM completes the instruction on the next KVM_RUN. */
  #needsCompletion = false;
  #cursor: PioCursor | undefined;
  #completion: PendingCompletion = { kind: "none" };
  /** Vector waiting for an interrupt window (userspace irqchip only). */
  #pendingVector: number | undefined;
  readonly #control = new Int32Array(new SharedArrayBuffer(CTL_SLOTS * 4));
  #worker: Worker | undefined;
  #running = false;
  #closed = false;
  #initialState: X86VcpuState | undefined;
  readonly #decodeContext = { readHypercallRegs: (): HypercallRegs => this.#readHypercallRegs() };

  constructor(id: number, context: KvmVcpuContext) {
    this.id = id;
    this.#context = context;
    this.#run = sys.mmapShared(context.vcpuFd, context.mmapSize);
    this.#runView = new DataView(this.#run.buffer);
    try {
      this.#setCpuid();
    } catch (error) {
      sys.munmap(this.#run);
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Set-up
  // -------------------------------------------------------------------------------------------------------------

  #setCpuid(): void {
    const entries = fixupCpuid(this.#context.supportedCpuid, { apicId: this.id, cpuCount: this.#context.cpuCount });
    const encoded = encodeCpuid2(entries);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_SET_CPUID2, encoded, encoded.byteLength);
  }

  /**
   * HAL set-up. Without `x86`, the vCPU starts in real mode at `entry` (below 1 MiB) with `gprs` (x86 numbering,
   * see X86_GPR_NAMES). With `x86`, that state is loaded as given.
   */
  setup(setup: KvmVcpuSetup): void {
    this.#checkOpen("setup");
    if (setup.x86 !== undefined) {
      this.setupX86(setup.x86);
      return;
    }
    const gprs: Partial<Record<(typeof X86_GPR_NAMES)[number], bigint>> = {};
    for (const [reg, value] of setup.gprs ?? []) {
      const name = X86_GPR_NAMES[reg];
      if (name === undefined)
        throw new HalError("kvm", "invalid-argument", "setup", `Cannot set register ${reg}: x86 has GPRs 0..15`);
      gprs[name] = value;
    }
    this.setupX86(realModeState(setup.entry, gprs));
  }

  /** Load a complete x86 boot state: MSRs, FPU, LAPIC LINT0/LINT1, special and general registers. */
  setupX86(state: X86VcpuState): void {
    this.#checkOpen("setupX86");
    this.#checkIdle("setupX86");
    this.#initialState = state;
    this.#setMsrs(BOOT_MSRS);
    this.#setFpu();
    if (this.#context.irqchip) this.#setLapicLints(state.lint0 ?? "extint");
    this.#setSregs(state);
    this.#regs.fill(0);
    for (const [name, value] of Object.entries(state.gprs ?? {})) {
      const field = REGS[name as KvmRegName];
      if (value !== undefined) this.#regsView.setBigUint64(field.offset, BigInt.asUintN(64, value), true);
    }
    this.#regsView.setBigUint64(REGS.rip.offset, BigInt(state.rip), true);
    this.#regsView.setBigUint64(REGS.rflags.offset, state.rflags ?? X86_RFLAGS_RESERVED, true);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_SET_REGS, this.#regs);
    this.#regsLoaded = true;
    this.#regsDirty = false;
    this.#needsCompletion = false;
    this.#cursor = undefined;
    this.#completion = { kind: "none" };
  }

  #setMsrs(msrs: ReadonlyArray<readonly [number, bigint]>): void {
    const E = KVM_MSR_ENTRY_LAYOUT;
    const buffer = new Uint8Array(KVM_MSRS_LAYOUT.size + msrs.length * E.size);
    const view = new DataView(buffer.buffer);
    view.setUint32(KVM_MSRS_LAYOUT.fields.nmsrs.offset, msrs.length, true);
    msrs.forEach(([index, value], i) => {
      const at = KVM_MSRS_LAYOUT.fields.entries.offset + i * E.size;
      view.setUint32(at + E.fields.index.offset, index, true);
      view.setBigUint64(at + E.fields.data.offset, value, true);
    });
    // KVM_SET_MSRS returns how many entries it set; it stops at the first one it refuses.
    const set = sys.ioctlBuf(this.#context.vcpuFd, KVM_SET_MSRS, buffer, buffer.byteLength);
    if (set !== msrs.length) {
      const refused = msrs[set];
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_SET_MSRS",
        `Cannot set MSR 0x${(refused?.[0] ?? 0).toString(16)}: KVM accepted ${set} of ${msrs.length} boot MSRs`,
      );
    }
  }

  #setFpu(): void {
    const fpu = new Uint8Array(KVM_FPU_LAYOUT.size);
    const view = new DataView(fpu.buffer);
    view.setUint16(KVM_FPU_LAYOUT.fields.fcw.offset, FPU_FCW_DEFAULT, true);
    view.setUint32(KVM_FPU_LAYOUT.fields.mxcsr.offset, FPU_MXCSR_DEFAULT, true);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_SET_FPU, fpu);
  }

  /**
   * LINT0 = ExtINT (the 8259 PIC's output, "virtual wire" mode) unless the machine has no 8259 for the guest
   * (`lint0: "masked"`), LINT1 = NMI: what a PC's BIOS programs and Linux expects.
   */
  #setLapicLints(lint0: "extint" | "masked"): void {
    const lapic = new Uint8Array(KVM_LAPIC_STATE_LAYOUT.size);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_GET_LAPIC, lapic);
    const view = new DataView(lapic.buffer);
    const setLvt = (register: number, mode: number, masked: boolean): void => {
      const value = view.getUint32(register, true) & ~(APIC_LVT_DELIVERY_MODE_MASK | APIC_LVT_MASKED);
      view.setUint32(
        register,
        (value | (mode << APIC_LVT_DELIVERY_MODE_SHIFT) | (masked ? APIC_LVT_MASKED : 0)) >>> 0,
        true,
      );
    };
    setLvt(APIC_LVT0, APIC_MODE_EXTINT, lint0 === "masked");
    setLvt(APIC_LVT1, APIC_MODE_NMI, false);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_SET_LAPIC, lapic);
  }

  #setSregs(state: X86VcpuState): void {
    const sregs = new Uint8Array(KVM_SREGS_LAYOUT.size);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_GET_SREGS, sregs);
    const view = new DataView(sregs.buffer);
    const S = KVM_SREGS_LAYOUT.fields;
    for (const [name, segment] of Object.entries(state.segments ?? {})) {
      if (segment !== undefined) writeSegment(view, S[name as KvmSegmentName].offset, segment);
    }
    if (state.gdt !== undefined) writeDtable(view, S.gdt.offset, state.gdt);
    if (state.idt !== undefined) writeDtable(view, S.idt.offset, state.idt);
    if (state.cr0 !== undefined) view.setBigUint64(S.cr0.offset, state.cr0, true);
    if (state.cr3 !== undefined) view.setBigUint64(S.cr3.offset, state.cr3, true);
    if (state.cr4 !== undefined) view.setBigUint64(S.cr4.offset, state.cr4, true);
    if (state.efer !== undefined) view.setBigUint64(S.efer.offset, state.efer, true);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_SET_SREGS, sregs);
  }

  /** The special registers as KVM reports them (for tests and diagnostics). */
  getSregs(): {
    readonly cr0: bigint;
    readonly cr3: bigint;
    readonly cr4: bigint;
    readonly efer: bigint;
    readonly cs: X86Segment;
  } {
    this.#checkOpen("getSregs");
    const sregs = new Uint8Array(KVM_SREGS_LAYOUT.size);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_GET_SREGS, sregs);
    const view = new DataView(sregs.buffer);
    const S = KVM_SREGS_LAYOUT.fields;
    return {
      cr0: view.getBigUint64(S.cr0.offset, true),
      cr3: view.getBigUint64(S.cr3.offset, true),
      cr4: view.getBigUint64(S.cr4.offset, true),
      efer: view.getBigUint64(S.efer.offset, true),
      cs: readSegment(view, S.cs.offset),
    };
  }

  /** A 32-bit local APIC register (offset in the APIC page) as KVM_GET_LAPIC reports it. */
  getLapicRegister(offset: number): number {
    this.#checkOpen("getLapicRegister");
    if (!Number.isInteger(offset) || offset < 0 || offset > KVM_LAPIC_STATE_LAYOUT.size - 4 || offset % 16 !== 0) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_GET_LAPIC",
        `Cannot read APIC register 0x${offset.toString(16)}: registers are 16-byte aligned below 0x400`,
      );
    }
    const lapic = new Uint8Array(KVM_LAPIC_STATE_LAYOUT.size);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_GET_LAPIC, lapic);
    return new DataView(lapic.buffer).getUint32(offset, true);
  }

  /** KVM_GET_MP_STATE (an AP waiting for INIT/SIPI is KVM_MP_STATE_UNINITIALIZED / INIT_RECEIVED). */
  getMpState(): number {
    this.#checkOpen("getMpState");
    const state = new Uint8Array(KVM_MP_STATE_LAYOUT.size);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_GET_MP_STATE, state);
    return new DataView(state.buffer).getUint32(KVM_MP_STATE_LAYOUT.fields.mp_state.offset, true);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Registers
  // -------------------------------------------------------------------------------------------------------------

  /**
   * Restart at `entry` in this vCPU's initial state: the x86 state it was last set up with (its mode, segments,
   * page tables, registers) with RIP = entry; real mode at `entry` if it was never set up.
   */
  setEntry(entry: number): void {
    this.#checkOpen("setEntry");
    this.setupX86(this.#initialState === undefined ? realModeState(entry) : { ...this.#initialState, rip: entry });
  }

  /** x86 numbering: 0..15 = rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15; 16 = rip; 17 = rflags. */
  getGpr(reg: number): bigint {
    this.#checkOpen("getGpr");
    this.#loadRegs("getGpr");
    return this.#regsView.getBigUint64(regOffset(reg), true);
  }

  setGpr(reg: number, value: bigint): void {
    this.#checkOpen("setGpr");
    this.#loadRegs("setGpr");
    this.#regsView.setBigUint64(regOffset(reg), BigInt.asUintN(64, value), true);
    this.#regsDirty = true;
  }

  #loadRegs(operation: string): void {
    this.#checkIdle(operation);
    if (this.#needsCompletion) this.#completePendingInstruction(operation);
    if (!this.#regsLoaded) {
      sys.ioctlBuf(this.#context.vcpuFd, KVM_GET_REGS, this.#regs);
      this.#regsLoaded = true;
    }
  }

  #readHypercallRegs(): HypercallRegs {
    // The `out` is not completed yet, but it changes no general-purpose register, so these are the guest's values.
    const regs = new Uint8Array(KVM_REGS_LAYOUT.size);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_GET_REGS, regs);
    const view = new DataView(regs.buffer);
    const get = (name: KvmRegName): bigint => view.getBigUint64(REGS[name].offset, true);
    return {
      rax: get("rax"),
      rdi: get("rdi"),
      rsi: get("rsi"),
      rcx: get("rcx"),
      rbx: get("rbx"),
      r8: get("r8"),
      r9: get("r9"),
    };
  }

  /** Re-enter with immediate_exit so KVM finishes the I/O or MMIO instruction, running no further guest code. */
  #completePendingInstruction(operation: string): void {
    if (this.#cursor !== undefined) {
      throw new HalError(
        "kvm",
        "state",
        operation,
        `Cannot touch registers of vCPU ${this.id} in the middle of string I/O (element ${this.#cursor.next} of ${this.#cursor.count} is next)`,
      );
    }
    this.#needsCompletion = false;
    this.#runView.setUint8(RUN.immediate_exit.offset, 1);
    const result = sys.ioctlIntRaw(this.#context.vcpuFd, KVM_RUN);
    this.stats.runs++;
    this.stats.completions++;
    this.#runView.setUint8(RUN.immediate_exit.offset, Atomics.load(this.#control, CTL_KICK) !== 0 ? 1 : 0);
    if (result < 0 && result !== -sys.EINTR) {
      throw new HalError(
        "kvm",
        "syscall",
        "KVM_RUN",
        `Cannot complete the pending instruction of vCPU ${this.id}: ${sys.errnoName(-result)}`,
        {
          errno: -result,
        },
      );
    }
    this.#regsLoaded = false;
  }

  setReturnValue(value: bigint): void {
    this.#checkOpen("setReturnValue");
    if (!completeRead(this.#runView, this.#completion, value)) {
      throw new HalError(
        "kvm",
        "state",
        "setReturnValue",
        `Cannot return a value on vCPU ${this.id}: the last exit was not a read`,
      );
    }
    this.#completion = { kind: "none" };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Running
  // -------------------------------------------------------------------------------------------------------------

  run(): AxVCpuExitReason {
    this.#checkOpen("run");
    this.#checkIdle("run");
    const element = this.#nextElement();
    if (element !== undefined) return element;
    this.#beforeRun();
    const result = sys.ioctlIntRaw(this.#context.vcpuFd, KVM_RUN);
    return this.#afterRun(result);
  }

  async runAsync(): Promise<AxVCpuExitReason> {
    this.#checkOpen("runAsync");
    this.#checkIdle("runAsync");
    const element = this.#nextElement();
    if (element !== undefined) return element;
    this.#running = true;
    try {
      const control = await this.#ensureWorker();
      this.#checkOpen("runAsync");
      this.#beforeRun();
      const done = Atomics.load(control, CTL_DONE_SEQ);
      Atomics.add(control, CTL_REQUEST_SEQ, 1);
      Atomics.notify(control, CTL_REQUEST_SEQ);
      // waitAsync can wake without the value having changed (seen on Bun 1.4): wait until it really did.
      while (Atomics.load(control, CTL_DONE_SEQ) === done) {
        if (Atomics.load(control, CTL_STATE) !== STATE_READY) {
          throw new HalError("kvm", "state", "runAsync", `Cannot run vCPU ${this.id}: its run worker stopped`);
        }
        const wait = Atomics.waitAsync(control, CTL_DONE_SEQ, done);
        if (wait.async) await wait.value;
      }
      this.#running = false;
      this.#checkOpen("runAsync");
      return this.#afterRun(Atomics.load(control, CTL_RESULT));
    } finally {
      this.#running = false;
    }
  }

  #nextElement(): AxVCpuExitReason | undefined {
    if (this.#cursor === undefined) return undefined;
    const decoded = nextPioElement(this.#runView, this.#cursor);
    this.#cursor = decoded.cursor;
    this.#completion = decoded.completion;
    this.stats.exits++;
    return decoded.exit;
  }

  #beforeRun(): void {
    if (this.#regsDirty) {
      sys.ioctlBuf(this.#context.vcpuFd, KVM_SET_REGS, this.#regs);
      this.#regsDirty = false;
    }
    this.#regsLoaded = false;
    this.#completion = { kind: "none" };
    if (this.#pendingVector !== undefined) this.#tryInject();
    this.stats.runs++;
  }

  #afterRun(result: number): AxVCpuExitReason {
    if (result < 0 && result !== -sys.EINTR && result !== -sys.EAGAIN) {
      throw new HalError("kvm", "syscall", "KVM_RUN", `Cannot run vCPU ${this.id}: ${sys.errnoName(-result)}`, {
        errno: -result,
      });
    }
    if (result === -sys.EINTR || Atomics.load(this.#control, CTL_KICK) !== 0) {
      // The kick (if any) has done its job: this run is over. Clear it so the next run is not cut short.
      Atomics.store(this.#control, CTL_KICK, 0);
      this.#runView.setUint8(RUN.immediate_exit.offset, 0);
    }
    const decoded: Decoded = decodeExit(this.#runView, result, this.#decodeContext);
    const kind = decoded.exit.kind;
    this.#needsCompletion =
      result >= 0 &&
      (kind === "IoRead" || kind === "IoWrite" || kind === "MmioRead" || kind === "MmioWrite" || kind === "Hypercall");
    this.#cursor = decoded.cursor;
    this.#completion = decoded.completion;
    this.stats.exits++;
    return decoded.exit;
  }

  async #ensureWorker(): Promise<Int32Array> {
    const control = this.#control;
    if (this.#worker === undefined) {
      const worker = new Worker(new URL("./run-worker.ts", import.meta.url).href);
      worker.unref();
      this.#worker = worker;
      const init: RunWorkerInit = { vcpuFd: this.#context.vcpuFd, control: control.buffer as SharedArrayBuffer };
      worker.postMessage(init);
    }
    while (Atomics.load(control, CTL_STATE) === STATE_STARTING) {
      const wait = Atomics.waitAsync(control, CTL_STATE, STATE_STARTING);
      if (wait.async) await wait.value;
    }
    const state = Atomics.load(control, CTL_STATE);
    if (state !== STATE_READY) {
      const errno = Atomics.load(control, CTL_SETUP_ERRNO);
      throw new HalError(
        "kvm",
        "syscall",
        "KVM_SET_SIGNAL_MASK",
        `Cannot start the run thread of vCPU ${this.id}: ${state === STATE_FAILED ? sys.errnoName(errno) : "it exited"}`,
        { errno },
      );
    }
    return control;
  }

  /**
   * Make a vCPU inside `run`/`runAsync` return soon (a `Nothing` exit if nothing else happened), or the next run
   * return at once if none is in progress. Safe to call from the owner thread at any time.
   */
  kick(): void {
    if (this.#closed) return;
    Atomics.store(this.#control, CTL_KICK, 1);
    // immediate_exit covers a run thread that has not entered KVM_RUN yet; the signal one that is inside it.
    this.#runView.setUint8(RUN.immediate_exit.offset, 1);
    const tid = Atomics.load(this.#control, CTL_TID);
    if (tid > 0 && Atomics.load(this.#control, CTL_IN_RUN) !== 0) sys.tgkill(sys.getpid(), tid, sys.SIGURG);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Interrupts
  // -------------------------------------------------------------------------------------------------------------

  /**
   * x86: with the in-kernel irqchip interrupts go through `HalVm.setIrqLine` (GSIs), so this throws "unsupported";
   * without it, `vector` is injected with KVM_INTERRUPT as soon as the guest can take it.
   */
  setInterruptLevel(vector: number, asserted: boolean): void {
    this.#checkOpen("setInterruptLevel");
    if (this.#context.irqchip) {
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_INTERRUPT",
        `Cannot inject vector ${vector} directly: the VM uses the in-kernel irqchip (use setIrqLine)`,
      );
    }
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_INTERRUPT",
        `Cannot inject vector ${vector}: x86 vectors are 0..255`,
      );
    }
    this.#pendingVector = asserted ? vector : undefined;
    this.#runView.setUint8(RUN.request_interrupt_window.offset, asserted ? 1 : 0);
  }

  #tryInject(): void {
    const vector = this.#pendingVector;
    if (vector === undefined) return;
    if (
      this.#runView.getUint8(RUN.ready_for_interrupt_injection.offset) === 0 ||
      this.#runView.getUint8(RUN.if_flag.offset) === 0
    )
      return;
    const irq = new Uint8Array(KVM_INTERRUPT_LAYOUT.size);
    new DataView(irq.buffer).setUint32(KVM_INTERRUPT_LAYOUT.fields.irq.offset, vector, true);
    sys.ioctlBuf(this.#context.vcpuFd, KVM_INTERRUPT, irq);
    this.#pendingVector = undefined;
    this.#runView.setUint8(RUN.request_interrupt_window.offset, 0);
  }

  hasPendingInterrupt(): boolean {
    return this.#pendingVector !== undefined;
  }

  /** The local APIC timer lives in the kernel; there is no deadline for the VMM to watch. */
  hardwareTimerDeadline(): number | undefined {
    return undefined;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lifetime
  // -------------------------------------------------------------------------------------------------------------

  #checkOpen(operation: string): void {
    if (this.#closed) throw new HalError("kvm", "state", operation, `Cannot use vCPU ${this.id}: it is closed`);
  }

  #checkIdle(operation: string): void {
    if (this.#running)
      throw new HalError("kvm", "state", operation, `Cannot ${operation} on vCPU ${this.id}: it is running`);
  }

  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#stopWorker();
    this.#closed = true;
    sys.munmap(this.#run);
    sys.close(this.#context.vcpuFd);
    this.#context.onClose();
  }

  /** Stop the run thread (kicking it out of KVM_RUN if needed) and wait for it before the fd goes away. */
  #stopWorker(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    const control = this.#control;
    Atomics.store(control, CTL_STOP, 1);
    Atomics.add(control, CTL_REQUEST_SEQ, 1);
    Atomics.notify(control, CTL_REQUEST_SEQ);
    const deadline = performance.now() + STOP_TIMEOUT_MS;
    // A worker still starting has not got the fd yet: wait for it to be ready (or fail) so it cannot use a closed fd.
    while (Atomics.load(control, CTL_STATE) === STATE_STARTING && performance.now() < deadline) {
      Atomics.wait(control, CTL_STATE, STATE_STARTING, 10);
    }
    while (Atomics.load(control, CTL_STATE) === STATE_READY && performance.now() < deadline) {
      Atomics.notify(control, CTL_REQUEST_SEQ);
      this.kick();
      Atomics.wait(control, CTL_STATE, STATE_READY, 10);
    }
    worker.terminate();
    this.#worker = undefined;
    // Release a runAsync still waiting for a run that will never finish (it then reports the vCPU closed).
    Atomics.add(control, CTL_DONE_SEQ, 1);
    Atomics.store(control, CTL_RESULT, -sys.EINTR);
    Atomics.notify(control, CTL_DONE_SEQ);
    if (Atomics.load(control, CTL_STATE) !== STATE_EXITED && Atomics.load(control, CTL_STATE) !== STATE_FAILED) {
      throw new HalError(
        "kvm",
        "state",
        "close",
        `Cannot stop the run thread of vCPU ${this.id}: it did not leave KVM_RUN within ${STOP_TIMEOUT_MS} ms`,
      );
    }
  }
}

const STOP_TIMEOUT_MS = 2000;

function regOffset(reg: number): number {
  if (reg === X86_REG_RIP) return REGS.rip.offset;
  if (reg === X86_REG_RFLAGS) return REGS.rflags.offset;
  const name = X86_GPR_NAMES[reg];
  if (name === undefined) {
    throw new HalError(
      "kvm",
      "invalid-argument",
      "getGpr",
      `Cannot access register ${reg}: x86 has 0..15 (GPRs), 16 (rip), 17 (rflags)`,
    );
  }
  return REGS[name].offset;
}

const SEG = KVM_SEGMENT_LAYOUT.fields;

function writeSegment(view: DataView, at: number, segment: X86Segment): void {
  view.setBigUint64(at + SEG.base.offset, BigInt(segment.base), true);
  view.setUint32(at + SEG.limit.offset, segment.limit >>> 0, true);
  view.setUint16(at + SEG.selector.offset, segment.selector, true);
  view.setUint8(at + SEG.type.offset, segment.type);
  view.setUint8(at + SEG.present.offset, segment.present ? 1 : 0);
  view.setUint8(at + SEG.dpl.offset, segment.dpl);
  view.setUint8(at + SEG.db.offset, segment.db ? 1 : 0);
  view.setUint8(at + SEG.s.offset, segment.s ? 1 : 0);
  view.setUint8(at + SEG.l.offset, segment.l ? 1 : 0);
  view.setUint8(at + SEG.g.offset, segment.g ? 1 : 0);
  view.setUint8(at + SEG.avl.offset, segment.avl ? 1 : 0);
  view.setUint8(at + SEG.unusable.offset, segment.unusable === true ? 1 : 0);
}

function readSegment(view: DataView, at: number): X86Segment {
  return {
    base: Number(view.getBigUint64(at + SEG.base.offset, true)),
    limit: view.getUint32(at + SEG.limit.offset, true),
    selector: view.getUint16(at + SEG.selector.offset, true),
    type: view.getUint8(at + SEG.type.offset),
    present: view.getUint8(at + SEG.present.offset) !== 0,
    dpl: view.getUint8(at + SEG.dpl.offset),
    db: view.getUint8(at + SEG.db.offset) !== 0,
    s: view.getUint8(at + SEG.s.offset) !== 0,
    l: view.getUint8(at + SEG.l.offset) !== 0,
    g: view.getUint8(at + SEG.g.offset) !== 0,
    avl: view.getUint8(at + SEG.avl.offset) !== 0,
    unusable: view.getUint8(at + SEG.unusable.offset) !== 0,
  };
}

function writeDtable(view: DataView, at: number, table: X86DescriptorTable): void {
  view.setBigUint64(at + KVM_DTABLE_LAYOUT.fields.base.offset, BigInt(table.base), true);
  view.setUint16(at + KVM_DTABLE_LAYOUT.fields.limit.offset, table.limit, true);
}

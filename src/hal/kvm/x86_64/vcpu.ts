/**
 * The x86 part of a KVM vCPU: CPUID at creation, the boot state (MSRs, FPU, LAPIC LINT0/LINT1, special and general
 * registers), the register cache, interrupt injection without an in-kernel irqchip, and the x86-only exits.
 */
import { X86_GPR_NAMES, type X86GprName } from "../../../arch/x86_64/registers.ts";
import { realModeState, type X86VcpuState } from "../../../arch/x86_64/vcpu-state.ts";
import type { HalVcpuDebug, HalVcpuSetup, HalVcpuState } from "../../types.ts";
import { HalError } from "../../types.ts";
import { KVM_RUN_LAYOUT } from "../abi.ts";
import type { Decoded } from "../exits.ts";
import type { KvmArchVcpu, KvmVcpuCore } from "../per-arch.ts";
import * as sys from "../sys.ts";
import { KVM_INTERRUPT, KVM_INTERRUPT_LAYOUT, KVM_SET_GUEST_DEBUG } from "./abi.ts";
import { type CpuidEntry, setVcpuCpuid } from "./cpuid.ts";
import { answerX86Access, decodeX86Exit, type X86ExitContext } from "./exits.ts";
import { setBootFpu } from "./fpu.ts";
import { type DebugRegisterPlan, type DebugSlot, guestDebugBytes, planDebugRegisters } from "./guest-debug.ts";
import { getLapicRegister, setLapicLints } from "./lapic.ts";
import { BOOT_MSRS, setMsrs } from "./msrs.ts";
import { X86RegisterCache } from "./regs.ts";
import { getSregs, setSregs, type X86SpecialRegisters } from "./sregs.ts";
import { loadVcpuState, saveVcpuState } from "./state.ts";

const RUN = KVM_RUN_LAYOUT.fields;
/** x86 interrupt vectors. */
const X86_VECTOR_COUNT = 256;

export class X86KvmVcpu implements KvmArchVcpu {
  readonly #core: KvmVcpuCore;
  readonly #irqchip: boolean;
  readonly #regs: X86RegisterCache;
  readonly #exitContext: X86ExitContext;
  /** Vector waiting for an interrupt window (userspace irqchip only). */
  #pendingVector: number | undefined;
  #initialState: X86VcpuState | undefined;
  /** The debug-register slots KVM_SET_GUEST_DEBUG last set (guest-debug.ts). */
  #debugSlots: readonly DebugSlot[] = [];

  constructor(
    core: KvmVcpuCore,
    vm: { readonly irqchip: boolean; readonly supportedCpuid: readonly CpuidEntry[]; readonly tscDeadline: boolean },
  ) {
    this.#core = core;
    this.#irqchip = vm.irqchip;
    this.#regs = new X86RegisterCache(core.fd);
    this.#exitContext = {
      readHypercallRegs: () => this.#regs.readHypercall(),
      debugSlots: () => this.#debugSlots,
    };
    setVcpuCpuid(core.fd, vm.supportedCpuid, {
      apicId: core.id,
      cpuCount: core.cpuCount,
      tscDeadline: vm.tscDeadline,
    });
  }

  /**
   * Without `x86`, the vCPU starts in real mode at `entry` (below 1 MiB) with `gprs` (x86 numbering, see
   * X86_GPR_NAMES). With `x86`, that state is loaded as given (and `entry` is not used).
   */
  setup(setup: HalVcpuSetup): void {
    if (setup.x86 !== undefined) {
      this.#load(setup.x86);
      return;
    }
    const gprs: Partial<Record<X86GprName, bigint>> = {};
    for (const [reg, value] of setup.gprs ?? []) {
      const name = X86_GPR_NAMES[reg];
      if (name === undefined)
        throw new HalError("kvm", "invalid-argument", "setup", `Cannot set register ${reg}: x86 has GPRs 0..15`);
      gprs[name] = value;
    }
    this.#load(realModeState(setup.entry, gprs));
  }

  /**
   * Restart at `entry` in this vCPU's initial state: the x86 state it was last set up with (its mode, segments,
   * page tables, registers) with RIP = entry; real mode at `entry` if it was never set up.
   */
  setEntry(entry: number): void {
    this.#load(this.#initialState === undefined ? realModeState(entry) : { ...this.#initialState, rip: entry });
  }

  /** Load a complete boot state: MSRs, FPU, LAPIC LINT0/LINT1, special and general registers. */
  #load(state: X86VcpuState): void {
    this.#initialState = state;
    const fd = this.#core.fd;
    setMsrs(fd, BOOT_MSRS);
    setBootFpu(fd);
    if (this.#irqchip) setLapicLints(fd, state.lint0 ?? "extint");
    setSregs(fd, state);
    this.#regs.loadState(state);
  }

  /** x86 numbering: 0..15 = rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8..r15; 16 = rip; 17 = rflags. */
  getGpr(reg: number): bigint {
    this.#core.prepareRegisterAccess("getGpr");
    return this.#regs.get(reg);
  }

  setGpr(reg: number, value: bigint): void {
    this.#core.prepareRegisterAccess("setGpr");
    this.#regs.set(reg, value);
  }

  /**
   * Guest debugging (the GDB stub): KVM_SET_GUEST_DEBUG with the debug registers for the breakpoints and
   * watchpoints, and the segment selectors and control registers for the debugger's register view and page walk.
   */
  readonly debug: HalVcpuDebug = {
    setGuestDebug: (control) => {
      this.#core.prepareRegisterAccess("KVM_SET_GUEST_DEBUG");
      let plan: DebugRegisterPlan | undefined;
      if (control !== undefined) {
        const planned = planDebugRegisters(control);
        if (typeof planned === "string") throw new HalError("kvm", "invalid-argument", "KVM_SET_GUEST_DEBUG", planned);
        plan = planned;
      }
      sys.ioctlBuf(
        this.#core.fd,
        KVM_SET_GUEST_DEBUG,
        guestDebugBytes(plan, control?.singleStep ?? false, control?.breakpointExits ?? false),
      );
      this.#debugSlots = plan?.slots ?? [];
    },
    checkGuestDebug: (control) => {
      const planned = planDebugRegisters(control);
      return typeof planned === "string" ? planned : undefined;
    },
    x86: {
      specialRegisters: () => {
        const s = this.getSregs();
        return {
          selectors: {
            cs: s.cs.selector,
            ss: s.ss.selector,
            ds: s.ds.selector,
            es: s.es.selector,
            fs: s.fs.selector,
            gs: s.gs.selector,
          },
          cr0: s.cr0,
          cr3: s.cr3,
          cr4: s.cr4,
          efer: s.efer,
        };
      },
    },
  };

  /** The special registers as KVM reports them (for tests and diagnostics). */
  getSregs(): X86SpecialRegisters {
    this.#core.prepareRegisterAccess("getSregs");
    return getSregs(this.#core.fd);
  }

  /** A 32-bit local APIC register (offset in the APIC page) as KVM_GET_LAPIC reports it. */
  getLapicRegister(offset: number): number {
    this.#core.checkOpen("getLapicRegister");
    return getLapicRegister(this.#core.fd, offset);
  }

  beforeRun(): void {
    this.#regs.flush();
    this.#regs.invalidate();
    if (this.#pendingVector !== undefined) this.#tryInject();
  }

  afterRun(): void {
    this.#regs.invalidate();
  }

  /** The whole vCPU (state.ts), with any register the VMM changed written back first. */
  saveState(): HalVcpuState {
    this.#core.prepareRegisterAccess("saveState");
    this.#regs.flush();
    return saveVcpuState(this.#core.fd, this.#irqchip);
  }

  loadState(state: HalVcpuState): void {
    this.#core.prepareRegisterAccess("loadState");
    this.#regs.invalidate();
    loadVcpuState(this.#core.fd, this.#irqchip, state, this.#core.id);
    this.#regs.invalidate();
  }

  decodeExit(run: DataView, reason: number): Decoded | undefined {
    return decodeX86Exit(run, reason, this.#exitContext);
  }

  readonly answerAccess = answerX86Access;

  /**
   * With the in-kernel irqchip interrupts go through `HalVm.setIrqLine` (GSIs), so this throws "unsupported";
   * without it, `vector` is injected with KVM_INTERRUPT as soon as the guest can take it.
   */
  setInterruptLevel(vector: number, asserted: boolean): void {
    if (this.#irqchip) {
      throw new HalError(
        "kvm",
        "unsupported",
        "KVM_INTERRUPT",
        `Cannot inject vector ${vector} directly: the VM uses the in-kernel irqchip (use setIrqLine)`,
      );
    }
    if (!Number.isInteger(vector) || vector < 0 || vector >= X86_VECTOR_COUNT) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "KVM_INTERRUPT",
        `Cannot inject vector ${vector}: x86 vectors are 0..${X86_VECTOR_COUNT - 1}`,
      );
    }
    this.#pendingVector = asserted ? vector : undefined;
    this.#core.run.setUint8(RUN.request_interrupt_window.offset, asserted ? 1 : 0);
  }

  hasPendingInterrupt(): boolean {
    return this.#pendingVector !== undefined;
  }

  #tryInject(): void {
    const vector = this.#pendingVector;
    const run = this.#core.run;
    if (vector === undefined) return;
    if (run.getUint8(RUN.ready_for_interrupt_injection.offset) === 0 || run.getUint8(RUN.if_flag.offset) === 0) return;
    const irq = new Uint8Array(KVM_INTERRUPT_LAYOUT.size);
    new DataView(irq.buffer).setUint32(KVM_INTERRUPT_LAYOUT.fields.irq.offset, vector, true);
    sys.ioctlBuf(this.#core.fd, KVM_INTERRUPT, irq);
    this.#pendingVector = undefined;
    run.setUint8(RUN.request_interrupt_window.offset, 0);
  }
}

/**
 * The emulated backend's vCPU: one `Hart` plus the hypervisor-facing glue.
 *
 * "hypervisor" VMs: the guest runs with V = 1 in VS-mode behind the VMM's G-stage table. The VMM plays HS-mode:
 * the hart's trap delegation is set up the way a KVM host configures real hardware (hedeleg/hideleg below), and
 * a trap that still reaches HS stops the hart; `ExitDecoder` (exits.ts) turns it into an `AxVCpuExitReason` or
 * handles it there (reflecting it into the guest as KVM does) and resumes.
 *
 * "bare-machine" VMs: the hart starts in M-mode with paging off; physical data accesses outside RAM exit as
 * MMIO; every trap goes to the guest's own handlers. WFI halts (exits with `Halt`) only when no interrupt is
 * pending and enabled in mie, otherwise it is a no-op, as the spec allows.
 */

import {
  COUNTEREN_CY,
  COUNTEREN_IR,
  COUNTEREN_TM,
  COUNTINHIBIT_CY,
  COUNTINHIBIT_IR,
  CSR_MCOUNTINHIBIT,
  CSR_MEDELEG,
  CSR_MIDELEG,
  CSR_PMPADDR0,
  CSR_PMPCFG0,
  CSR_VSTIMECMP,
  ENVCFG_HI_STCE,
  FS_INITIAL,
  HSTATUS_SPV,
  HSTATUS_SPVP,
  HSTATUS_VTW,
  MEDELEG_MASK,
  MIDELEG_READ_ONLY_ONE,
  MSTATUS_FS_SHIFT,
  MSTATUS_SPP,
  PMP_A_NAPOT,
  PMP_A_SHIFT,
  PMP_R,
  PMP_W,
  PMP_X,
} from "../../arch/riscv64/csr.ts";
import {
  ATP_HI_ID_SHIFT,
  ATP_HI_MODE_SHIFT,
  ATP_HI_PPN_MASK,
  GSTAGE_ROOT_SIZE,
  HGATP_MODE_SV39X4,
  HGATP_MODE_SV48X4,
  PAGE_SIZE,
  VMID_BITS,
} from "../../arch/riscv64/paging.ts";
import { GPR_COUNT, REG_A0 } from "../../arch/riscv64/registers.ts";
import {
  CAUSE_BREAKPOINT,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_MISALIGNED_FETCH,
  CAUSE_STORE_PAGE_FAULT,
  CAUSE_USER_ECALL,
  IRQ_M_EXT,
  IRQ_M_SOFT,
  IRQ_M_TIMER,
  IRQ_S_EXT,
  IRQ_S_SOFT,
  IRQ_S_TIMER,
  MIP_SSIP,
  MIP_VSEIP,
  MIP_VSSIP,
  MIP_VSTIP,
  S_INTERRUPTS,
  VS_INTERRUPTS,
} from "../../arch/riscv64/traps.ts";
import {
  type AxVCpuExitReason,
  type GuestPhysAddr,
  type HalAccessHandler,
  HalError,
  type HalVcpu,
  type HalVcpuDebug,
  type HalVcpuSetup,
  type HalVcpuState,
  type RiscvVcpuOps,
} from "../types.ts";
import { lowerCompilerThreads } from "./background-threads.ts";
import { csrImplemented, substitute } from "./csr-access.ts";
import { csrRead, csrWrite } from "./csr-file.ts";
import { HartDebug, runDebug } from "./debug.ts";
import { type EngineOptions, engineFromEnvironment, runFast, runReference } from "./engine.ts";
import { ExitDecoder } from "./exits.ts";
import { Hart, STOP_NONE, STOP_SPIN } from "./hart.ts";
import { setExternalLine, setHvip, wakeupPending } from "./interrupts.ts";
import { ACCESS_READ, ACCESS_WRITE, translateGuestVirtual } from "./mmu.ts";
import { TWO_POW_32 } from "./split64.ts";
import { presetCycle, presetInstret, timeNow, updateTimers, wakeDeadline } from "./timers.ts";
import { injectGuestException, resumeGuest } from "./trap.ts";
import { loadHartState, saveHartState } from "./vcpu-state.ts";
import type { EmulatedVm } from "./vm.ts";

/** Default instructions per `run()` call before it returns `Nothing`. */
export const DEFAULT_INSTRUCTION_BUDGET = 1_000_000;
/** Instructions per `run()` call while a debugger is attached (debug.ts runs the reference loop). */
export const DEBUG_INSTRUCTION_BUDGET = 50_000;

/**
 * Exceptions a KVM host delegates to VS-mode (Linux arch/riscv/kvm: instruction misaligned, breakpoint, ecall
 * from VU, and the three page faults). Everything else reaches the host, which handles or reflects it.
 */
export const KVM_HEDELEG =
  (1 << CAUSE_MISALIGNED_FETCH) |
  (1 << CAUSE_BREAKPOINT) |
  (1 << CAUSE_USER_ECALL) |
  (1 << CAUSE_FETCH_PAGE_FAULT) |
  (1 << CAUSE_LOAD_PAGE_FAULT) |
  (1 << CAUSE_STORE_PAGE_FAULT);

/** The interrupt lines a bare-machine hart takes from outside (CLINT, PLIC, the SSWI model of SSIP). */
const BARE_MACHINE_LINES: readonly number[] = [IRQ_S_SOFT, IRQ_M_SOFT, IRQ_S_TIMER, IRQ_M_TIMER, IRQ_S_EXT, IRQ_M_EXT];

const NOTHING: AxVCpuExitReason = { kind: "Nothing" };

export class EmulatedVcpu implements HalVcpu {
  readonly id: number;
  readonly #vm: EmulatedVm;
  readonly #hart: Hart;
  #setUp = false;
  #closed = false;
  readonly #exits: ExitDecoder;
  /** Instructions per `run()` (configurable per vCPU). */
  instructionBudget = DEFAULT_INSTRUCTION_BUDGET;
  /** Execution engine: the fast path (block cache + compiled blocks) or the reference interpreter. */
  engine: "fast" | "reference";
  engineOptions: EngineOptions;
  #gstageMode: number = HGATP_MODE_SV39X4;
  #eptRoot = 0;
  /** The debugger's conditions while guest debugging is on (debug.ts); undefined: the engine runs as usual. */
  #debug: HartDebug | undefined;

  constructor(vm: EmulatedVm, id: number) {
    this.#vm = vm;
    this.id = id;
    const { engine, options } = engineFromEnvironment();
    this.engine = engine;
    this.engineOptions = options;
    this.#hart = new Hart({
      hartId: id,
      memory: vm.memory,
      now: () => vm.currentTime(),
      mmioExits: vm.mode === "bare-machine",
      hostTraps: vm.mode === "hypervisor",
    });
    this.#exits = new ExitDecoder(this.#hart, vm.mode === "hypervisor");
    if (vm.hartsShareThread) {
      // A spinning hart gives the thread to the others (NOTHING_SPINNING): the one it waits for may be among them.
      const h = this.#hart;
      h.onSpin = () => {
        h.stop = STOP_SPIN;
        return true;
      };
    }
  }

  /** The hart itself, for tests and benchmarks of this backend. */
  get hart(): Hart {
    return this.#hart;
  }

  #check(operation: string): void {
    if (this.#closed)
      throw new HalError("emulated", "state", operation, `Cannot ${operation} vCPU ${this.id}: it is closed`);
  }

  setup(setup: HalVcpuSetup): void {
    this.#check("setup");
    if (this.#vm.mode === "hypervisor") {
      const stage2 = setup.stage2;
      if (stage2 === undefined) {
        throw new HalError(
          "emulated",
          "invalid-argument",
          "setup",
          `Cannot set up vCPU ${this.id}: a hypervisor-mode VM needs its G-stage table (stage2)`,
        );
      }
      this.#gstageMode = stage2.mode === "sv48x4" ? HGATP_MODE_SV48X4 : HGATP_MODE_SV39X4;
      if (!Number.isSafeInteger(stage2.root) || stage2.root <= 0 || stage2.root % GSTAGE_ROOT_SIZE !== 0) {
        throw new HalError(
          "emulated",
          "invalid-argument",
          "setup",
          `Cannot set up vCPU ${this.id}: G-stage root 0x${stage2.root.toString(16)} is not a 16 KiB-aligned host-physical address`,
        );
      }
      this.#eptRoot = stage2.root;
    }
    this.#setUp = true;
    this.setEntry(setup.entry);
    if (this.#vm.mode === "bare-machine") this.#hart.setReg(REG_A0, BigInt(this.id));
    for (const [reg, value] of setup.gprs ?? []) this.setGpr(reg, value);
  }

  setEntry(entry: GuestPhysAddr): void {
    this.#check("setEntry");
    if (!this.#setUp)
      throw new HalError("emulated", "state", "setEntry", `Cannot set the entry of vCPU ${this.id}: call setup first`);
    const h = this.#hart;
    // Pending guest interrupts survive a restart (SBI HSM hart_start semantics); everything else resets.
    const hvip = h.hvip;
    const ext = h.mipExt;
    h.reset(entry);
    h.mipExt = ext;
    this.#exits.pendingRead = undefined;
    if (this.#vm.mode === "bare-machine") return;
    // The state a KVM host keeps its guests under (the VMM is the HS-mode software). PMP as M-mode firmware
    // (OpenSBI) leaves it for S-mode: one entry opening all of physical memory, without which every S/U access,
    // the guest's included, would fail.
    csrWrite(h, CSR_PMPADDR0, -1, -1);
    csrWrite(h, CSR_PMPCFG0, (PMP_A_NAPOT << PMP_A_SHIFT) | PMP_R | PMP_W | PMP_X, 0);
    csrWrite(h, CSR_MEDELEG, MEDELEG_MASK, 0);
    csrWrite(h, CSR_MIDELEG, S_INTERRUPTS | MIDELEG_READ_ONLY_ONE, 0);
    h.hedeleg = KVM_HEDELEG;
    h.hideleg = VS_INTERRUPTS;
    h.hvip = hvip;
    h.mcounteren = -1;
    h.hcounteren = -1;
    // The guest's own scounteren starts with cycle, time and instret open to its user mode, as KVM resets it:
    // Linux before 6.x (and any kernel without the SBI PMU driver) expects the firmware to have done so, and its
    // vDSO reads `time` from user mode (rdtime) for clock_gettime.
    h.scounteren = COUNTEREN_CY | COUNTEREN_TM | COUNTEREN_IR;
    h.menvcfgHi = ENVCFG_HI_STCE;
    h.henvcfgHi = ENVCFG_HI_STCE;
    h.hstatus = HSTATUS_VTW | HSTATUS_SPV | HSTATUS_SPVP;
    // HS keeps the FPU on so the guest's own vsstatus.FS decides; SPP = S so returns go to VS-mode.
    h.mstatus = (FS_INITIAL << MSTATUS_FS_SHIFT) | MSTATUS_SPP;
    const vmid = this.#vm.vmId & ((1 << VMID_BITS) - 1);
    const rootPpn = this.#eptRoot / PAGE_SIZE;
    h.hgatpLo = rootPpn | 0;
    h.hgatpHi =
      (this.#gstageMode << ATP_HI_MODE_SHIFT) |
      (vmid << ATP_HI_ID_SHIFT) |
      (Math.floor(rootPpn / TWO_POW_32) & ATP_HI_PPN_MASK);
    h.vsatpLo = 0;
    h.vsatpHi = 0;
    h.vsstatus = 0;
    h.flushAllTlbs();
    resumeGuest(h, entry);
    updateTimers(h, timeNow(h));
  }

  getGpr(reg: number): bigint {
    this.#check("getGpr");
    this.#checkReg(reg, "getGpr");
    return this.#hart.getReg(reg);
  }

  setGpr(reg: number, value: bigint): void {
    this.#check("setGpr");
    this.#checkReg(reg, "setGpr");
    this.#hart.setReg(reg, value);
  }

  #checkReg(reg: number, operation: string): void {
    checkGprIndex(reg, operation);
  }

  setReturnValue(value: bigint): void {
    this.#check("setReturnValue");
    const pending = this.#exits.pendingRead;
    if (pending === undefined) {
      throw new HalError(
        "emulated",
        "state",
        "setReturnValue",
        `Cannot complete a read on vCPU ${this.id}: the last exit was not an MmioRead`,
      );
    }
    this.#exits.pendingRead = undefined;
    const bits = BigInt(pending.width * 8);
    const v = pending.signedExt ? BigInt.asIntN(Number(bits), value) : BigInt.asUintN(Number(bits), value);
    this.#hart.setReg(pending.reg, v);
  }

  run(): AxVCpuExitReason {
    return this.#run("run", undefined, 0);
  }

  /**
   * `run()` with the MMIO accesses of 1, 2 and 4 bytes done through `handler` in place (HalVcpu.runAccesses), at
   * most `maxAccesses` of them (then Nothing): no exit object, no bigint, no trip through the VMM's exit loop (a
   * guest writing the UART byte by byte gets 27% more out).
   */
  runAccesses(handler: HalAccessHandler, maxAccesses: number): AxVCpuExitReason {
    return this.#run("runAccesses", handler, maxAccesses);
  }

  #run(operation: string, handler: HalAccessHandler | undefined, maxAccesses: number): AxVCpuExitReason {
    this.#check(operation);
    if (!this.#setUp)
      throw new HalError("emulated", "state", operation, `Cannot run vCPU ${this.id}: call setup first`);
    const h = this.#hart;
    const vm = this.#vm;
    if (vm.lastRun !== this) {
      // Another hart ran since this one last did: its stores may have hit our reservation set.
      if (vm.lastRun !== undefined) h.reservationValid = false;
      vm.lastRun = this;
    }
    this.#exits.pendingRead = undefined;
    lowerCompilerThreads();
    // The comparators are checked every TIMER_CHECK_INTERVAL or more instructions; a hart that runs a few
    // instructions per turn (a spin loop that gives the thread away at each PAUSE, a device driver exiting at every
    // access) would otherwise see its timer interrupt only after many turns. Checked at every entry too.
    h.nextTimerCheck = h.icount;
    // Under a debugger the hart runs the reference loop, some 10x slower: a smaller slice keeps the VM's vCPUs,
    // timers and the debugger's socket taking turns as often as they do at full speed.
    let remaining =
      this.#debug === undefined ? this.instructionBudget : Math.min(this.instructionBudget, DEBUG_INSTRUCTION_BUDGET);
    for (;;) {
      h.stop = STOP_NONE;
      const debug = this.#debug;
      if (debug !== undefined) {
        const { steps, hit } = runDebug(h, remaining, debug);
        if (hit !== undefined) {
          const pc = BigInt.asUintN(64, BigInt(h.pc));
          return { kind: "Debug", reason: hit.reason, pc, ...(hit.watch === undefined ? {} : { watch: hit.watch }) };
        }
        remaining -= Math.max(1, steps);
        const exit = this.#exits.decode();
        if (exit !== undefined) return exit;
        if (remaining <= 0) return NOTHING;
        continue;
      }
      const used = this.engine === "fast" ? runFast(h, remaining, this.engineOptions) : runReference(h, remaining);
      remaining -= used;
      if (handler !== undefined && this.#exits.answerAccess(handler)) {
        if (--maxAccesses <= 0 || remaining <= 0) return NOTHING;
        continue;
      }
      const exit = this.#exits.decode();
      if (exit !== undefined) return exit;
      if (remaining <= 0) return NOTHING;
    }
  }

  kick(): void {
    this.#hart.kickRequested = true;
  }

  /** The hart's architectural state (vcpu-state.ts); call between runs. */
  saveState(): HalVcpuState {
    this.#check("saveState");
    return saveHartState(this.#hart);
  }

  /** Load a state from `saveState`; decoded code and translations of the old state are dropped. */
  loadState(state: HalVcpuState): void {
    this.#check("loadState");
    loadHartState(this.#hart, state, this.id);
    this.#exits.pendingRead = undefined;
    this.#hart.flushGstage();
  }

  setInterruptLevel(vector: number, asserted: boolean): void {
    this.#check("setInterruptLevel");
    const h = this.#hart;
    if (this.#vm.mode === "hypervisor") {
      const bit =
        vector === IRQ_S_SOFT ? MIP_VSSIP : vector === IRQ_S_TIMER ? MIP_VSTIP : vector === IRQ_S_EXT ? MIP_VSEIP : 0;
      if (bit === 0) {
        throw new HalError(
          "emulated",
          "invalid-argument",
          "setInterruptLevel",
          `Cannot set interrupt ${vector} on vCPU ${this.id}: a VS-mode guest takes causes 1, 5 and 9`,
        );
      }
      setHvip(h, bit, asserted);
      return;
    }
    if (!BARE_MACHINE_LINES.includes(vector)) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        "setInterruptLevel",
        `Cannot set interrupt ${vector} on vCPU ${this.id}: bare-machine harts take causes 1, 3, 5, 7, 9 and 11`,
      );
    }
    if (vector === IRQ_S_SOFT) {
      // SSIP has no external source on real hardware; model it as the software-writable bit (ACLINT SSWI).
      h.mipSoft = asserted ? h.mipSoft | MIP_SSIP : h.mipSoft & ~MIP_SSIP;
      h.irqDirty = true;
      return;
    }
    setExternalLine(h, vector, asserted);
  }

  hasPendingInterrupt(): boolean {
    const h = this.#hart;
    updateTimers(h, timeNow(h));
    return wakeupPending(h);
  }

  hardwareTimerDeadline(): number | undefined {
    const h = this.#hart;
    return wakeDeadline(h, timeNow(h));
  }

  /**
   * What the VMM's SBI layer needs beyond registers. Between runs of a hypervisor VM the hart is already back in
   * the guest (V = 1, the guest's privilege, pc past the ecall), so these act on the guest's current state.
   */
  readonly riscv: RiscvVcpuOps = {
    getPc: () => BigInt.asUintN(64, BigInt(this.#hart.pc)),
    setPc: (pc) => {
      this.#check("setPc");
      this.#hart.pc = Number(BigInt.asIntN(64, pc));
    },
    translateGuestVirtual: (gva, access) => {
      this.#check("translateGuestVirtual");
      const h = this.#hart;
      const va = Number(BigInt.asIntN(64, gva));
      // The same walk a guest load/store makes (VS-stage with vsstatus.SUM/MXR, then G-stage), without the trap.
      const t = translateGuestVirtual(h, va, access === "read" ? ACCESS_READ : ACCESS_WRITE, h.priv);
      return t.ok ? { ok: true, gpa: t.pa } : { ok: false, cause: t.cause, tval: gva };
    },
    injectException: (cause, tval) => {
      this.#check("injectException");
      const h = this.#hart;
      injectGuestException(h, h.pc, h.priv, cause, Number(BigInt.asIntN(64, tval)));
    },
    fence: (kind) => {
      this.#check("fence");
      const h = this.#hart;
      switch (kind) {
        case "fence.i":
          // Decoded code is dropped whenever its page is written, so instruction fetch is always coherent here,
          // except for a hart on its own thread (threads/threaded-vcpu.ts).
          if (h.sharedMemory) h.dropAllCode();
          return;
        case "sfence.vma":
        case "hfence.vvma":
          // Remote fences drop what the guest's own fence without an address drops (exec.ts says why). A
          // bare-machine VM's guest is the hart's own S/U contexts (V=0), so those are dropped too.
          h.flushGstageCache();
          h.flushGuestTlbs();
          if (this.#vm.mode === "bare-machine") h.flushHostTlbs();
          return;
        case "hfence.gvma":
          h.flushGstage();
          return;
      }
    },
    setTimer: (deadline) => {
      this.#check("setTimer");
      const v = BigInt.asUintN(64, deadline);
      csrWrite(this.#hart, CSR_VSTIMECMP, Number(v & 0xffff_ffffn) | 0, Number(v >> 32n) | 0);
    },
    setHardwareCounter: (counter, change) => {
      this.#check("setHardwareCounter");
      const h = this.#hart;
      const cycle = counter === "cycle";
      if (change.value !== undefined) {
        const value = Number(BigInt.asIntN(64, change.value));
        if (cycle) presetCycle(h, value);
        else presetInstret(h, value);
      }
      if (change.running !== undefined) {
        const bit = cycle ? COUNTINHIBIT_CY : COUNTINHIBIT_IR;
        const inhibit = change.running ? h.mcountinhibit & ~bit : h.mcountinhibit | bit;
        csrWrite(h, CSR_MCOUNTINHIBIT, inhibit, 0);
      }
    },
    answerConsoleOnHart: (write) => {
      this.#check("answerConsoleOnHart");
      this.#hart.sbiConsole = write;
    },
  };

  /** Guest debugging (debug.ts): the GDB stub's access to this hart between runs. */
  readonly debug: HalVcpuDebug = {
    setGuestDebug: (control) => {
      this.#check("setGuestDebug");
      this.#debug = control === undefined ? undefined : new HartDebug(control);
    },
    riscv: {
      getFpr: (reg) => {
        this.#checkFpr(reg, "getFpr");
        const bits = this.#hart.fp.bits;
        return (BigInt((bits[2 * reg + 1] ?? 0) >>> 0) << 32n) | BigInt((bits[2 * reg] ?? 0) >>> 0);
      },
      setFpr: (reg, value) => {
        this.#checkFpr(reg, "setFpr");
        const v = BigInt.asUintN(64, value);
        const bits = this.#hart.fp.bits;
        bits[2 * reg] = Number(v & 0xffff_ffffn) | 0;
        bits[2 * reg + 1] = Number(v >> 32n) | 0;
      },
      readCsr: (csr) => {
        this.#check("readCsr");
        const h = this.#hart;
        if (!csrImplemented(csr)) return undefined;
        csrRead(h, substitute(h, csr));
        return (BigInt(h.csrHi >>> 0) << 32n) | BigInt(h.csrLo >>> 0);
      },
      writeCsr: (csr, value) => {
        this.#check("writeCsr");
        const h = this.#hart;
        if (!csrImplemented(csr)) return false;
        const v = BigInt.asUintN(64, value);
        csrWrite(h, substitute(h, csr), Number(v & 0xffff_ffffn) | 0, Number(v >> 32n) | 0);
        return true;
      },
      privilege: () => ({ priv: this.#hart.priv, virtualized: this.#hart.virt }),
    },
  };

  #checkFpr(reg: number, operation: string): void {
    this.#check(operation);
    if (!Number.isInteger(reg) || reg < 0 || reg >= GPR_COUNT) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        operation,
        `Cannot access register f${reg}: RISC-V has f0..f31`,
      );
    }
  }

  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#vm.memory.removeClient(this.#hart);
    this.#vm.removeVcpu(this);
  }
}

/** A general-purpose register number from the HAL's caller, checked (HalError naming the operation and value). */
export function checkGprIndex(reg: number, operation: string): void {
  if (!Number.isInteger(reg) || reg < 0 || reg >= GPR_COUNT) {
    throw new HalError("emulated", "invalid-argument", operation, `Cannot access register x${reg}: RISC-V has x0..x31`);
  }
}

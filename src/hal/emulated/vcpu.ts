/**
 * The emulated backend's vCPU: one `Hart` plus the hypervisor-facing glue.
 *
 * "hypervisor" VMs: the guest runs with V = 1 in VS-mode behind the VMM's G-stage table. The VMM plays HS-mode:
 * the hart's trap delegation is set up the way a KVM host configures real hardware (hedeleg/hideleg below), and
 * a trap that still reaches HS stops the hart; `decodeExit` turns it into an `AxVCpuExitReason` or handles it
 * here (reflecting it into the guest as KVM does) and resumes.
 *
 * "bare-machine" VMs: the hart starts in M-mode with paging off; physical data accesses outside RAM exit as
 * MMIO; every trap goes to the guest's own handlers. WFI halts (exits with `Halt`) only when no interrupt is
 * pending and enabled in mie, otherwise it is a no-op, as the spec allows.
 */

import {
  CSR_MEDELEG,
  CSR_MIDELEG,
  ENVCFG_HI_STCE,
  FS_INITIAL,
  HSTATUS_SPV,
  HSTATUS_SPVP,
  HSTATUS_VTW,
  MEDELEG_MASK,
  MIDELEG_READ_ONLY_ONE,
  MSTATUS_FS_SHIFT,
  MSTATUS_SPP,
} from "../../arch/riscv64/csr.ts";
import {
  INSN_WFI,
  OPC_AMO,
  OPC_LOAD,
  OPC_STORE,
  OPCODE_MASK,
  TINST_32_BIT,
  TINST_PTE_READ_64,
  TINST_PTE_WRITE_64,
} from "../../arch/riscv64/isa.ts";
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
import {
  GPR_COUNT,
  REG_A0,
  REG_A1,
  REG_A2,
  REG_A3,
  REG_A4,
  REG_A5,
  REG_A6,
  REG_A7,
} from "../../arch/riscv64/registers.ts";
import {
  CAUSE_BREAKPOINT,
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_FETCH_PAGE_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_LOAD_GUEST_PAGE_FAULT,
  CAUSE_LOAD_PAGE_FAULT,
  CAUSE_MISALIGNED_FETCH,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS_FAULT,
  CAUSE_STORE_GUEST_PAGE_FAULT,
  CAUSE_STORE_PAGE_FAULT,
  CAUSE_USER_ECALL,
  CAUSE_VIRTUAL_INSTRUCTION,
  CAUSE_VIRTUAL_SUPERVISOR_ECALL,
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
  PRV_M,
  PRV_S,
  PRV_U,
  S_INTERRUPTS,
  VS_INTERRUPTS,
} from "../../arch/riscv64/traps.ts";
import { hex } from "../../common/format.ts";
import {
  type AccessWidth,
  type AxVCpuExitReason,
  type GuestPhysAddr,
  HalError,
  type HalVcpu,
  type HalVcpuSetup,
  type RiscvVcpuOps,
} from "../types.ts";
import { csrWrite } from "./csr-file.ts";
import { DEFAULT_ENGINE_OPTIONS, type EngineOptions, runFast, runReference } from "./engine.ts";
import { Hart, STOP_HALT, STOP_HOST_TRAP, STOP_KICK, STOP_MMIO, STOP_NONE } from "./hart.ts";
import { setExternalLine, setHvip, wakeupPending } from "./interrupts.ts";
import { ACCESS_READ, ACCESS_WRITE, translateGuestVirtual } from "./mmu.ts";
import { TWO_POW_32 } from "./split64.ts";
import { timeNow, timerDeadline, updateTimers } from "./timers.ts";
import { injectGuestException, resumeGuest } from "./trap.ts";
import type { EmulatedVm } from "./vm.ts";

/** Default instructions per `run()` call before it returns `Nothing`. */
export const DEFAULT_INSTRUCTION_BUDGET = 1_000_000;

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
const HALT: AxVCpuExitReason = { kind: "Halt" };

interface PendingRead {
  readonly reg: number;
  readonly width: AccessWidth;
  readonly signedExt: boolean;
}

export class EmulatedVcpu implements HalVcpu {
  readonly id: number;
  readonly #vm: EmulatedVm;
  readonly #hart: Hart;
  #setUp = false;
  #closed = false;
  #pendingRead: PendingRead | undefined;
  /** Instructions per `run()` (configurable per vCPU). */
  instructionBudget = DEFAULT_INSTRUCTION_BUDGET;
  /** Execution engine: the fast path (block cache + compiled blocks) or the reference interpreter. */
  engine: "fast" | "reference" = "fast";
  engineOptions: EngineOptions = DEFAULT_ENGINE_OPTIONS;
  #gstageMode: number = HGATP_MODE_SV39X4;
  #eptRoot = 0;

  constructor(vm: EmulatedVm, id: number) {
    this.#vm = vm;
    this.id = id;
    this.#hart = new Hart({
      hartId: id,
      memory: vm.memory,
      now: () => vm.currentTime(),
      mmioExits: vm.mode === "bare-machine",
      hostTraps: vm.mode === "hypervisor",
    });
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
    this.#pendingRead = undefined;
    if (this.#vm.mode === "bare-machine") return;
    // The state a KVM host keeps its guests under (the VMM is the HS-mode software).
    csrWrite(h, CSR_MEDELEG, MEDELEG_MASK, 0);
    csrWrite(h, CSR_MIDELEG, S_INTERRUPTS | MIDELEG_READ_ONLY_ONE, 0);
    h.hedeleg = KVM_HEDELEG;
    h.hideleg = VS_INTERRUPTS;
    h.hvip = hvip;
    h.mcounteren = -1;
    h.hcounteren = -1;
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
    if (!Number.isInteger(reg) || reg < 0 || reg >= GPR_COUNT) {
      throw new HalError(
        "emulated",
        "invalid-argument",
        operation,
        `Cannot access register x${reg}: RISC-V has x0..x31`,
      );
    }
  }

  setReturnValue(value: bigint): void {
    this.#check("setReturnValue");
    const pending = this.#pendingRead;
    if (pending === undefined) {
      throw new HalError(
        "emulated",
        "state",
        "setReturnValue",
        `Cannot complete a read on vCPU ${this.id}: the last exit was not an MmioRead`,
      );
    }
    this.#pendingRead = undefined;
    const bits = BigInt(pending.width * 8);
    const v = pending.signedExt ? BigInt.asIntN(Number(bits), value) : BigInt.asUintN(Number(bits), value);
    this.#hart.setReg(pending.reg, v);
  }

  run(): AxVCpuExitReason {
    this.#check("run");
    if (!this.#setUp) throw new HalError("emulated", "state", "run", `Cannot run vCPU ${this.id}: call setup first`);
    const h = this.#hart;
    const vm = this.#vm;
    if (vm.lastRun !== this) {
      // Another hart ran since this one last did: its stores may have hit our reservation set.
      if (vm.lastRun !== undefined) h.reservationValid = false;
      vm.lastRun = this;
    }
    this.#pendingRead = undefined;
    let remaining = this.instructionBudget;
    for (;;) {
      h.stop = STOP_NONE;
      const used = this.engine === "fast" ? runFast(h, remaining, this.engineOptions) : runReference(h, remaining);
      remaining -= used;
      const exit = this.#decodeExit();
      if (exit !== undefined) return exit;
      if (remaining <= 0) return NOTHING;
    }
  }

  /**
   * Turn why the hart stopped into an exit reason — the one place raw exits are decoded. Returns undefined when
   * the stop was handled here and the guest should keep running.
   */
  #decodeExit(): AxVCpuExitReason | undefined {
    const h = this.#hart;
    switch (h.stop) {
      case STOP_NONE:
        return NOTHING;
      case STOP_KICK:
        h.stop = STOP_NONE;
        return NOTHING;
      case STOP_HALT:
        h.stop = STOP_NONE;
        return HALT;
      case STOP_MMIO: {
        h.stop = STOP_NONE;
        const exit = this.#mmioExit(h.mmioAddr, h.mmioTinst, h.mmioDataLo, h.mmioDataHi);
        if (exit.kind === "MmioRead" || exit.kind === "MmioWrite") h.pc += h.mmioLen;
        return exit;
      }
      case STOP_HOST_TRAP:
        return this.#decodeHostTrap();
      default:
        return this.#unsupported(`hart stopped with unknown reason ${h.stop}`);
    }
  }

  #decodeHostTrap(): AxVCpuExitReason | undefined {
    const h = this.#hart;
    h.stop = STOP_NONE;
    const interrupt = h.scauseHi < 0;
    const cause = h.scauseLo;
    const sepc = h.sepc;
    const stval = h.stval;
    const guestPriv = (h.mstatus & MSTATUS_SPP) !== 0 ? PRV_S : PRV_U;
    const fromGuest = (h.hstatus & HSTATUS_SPV) !== 0;
    const describe = (): string =>
      `${interrupt ? "interrupt" : "exception"} cause=${cause} sepc=${hex(sepc)} stval=${hex(stval)} htval=${hex(h.htval)} htinst=${hex(h.htinst)} V=${fromGuest ? 1 : 0} priv=${guestPriv}`;
    if (interrupt || !fromGuest || h.priv === PRV_M) {
      // No HS-level interrupt source exists in a hypervisor VM, and the guest never runs with V = 0.
      resumeGuest(h, sepc);
      return this.#unsupported(describe());
    }
    switch (cause) {
      case CAUSE_VIRTUAL_SUPERVISOR_ECALL: {
        const r = (i: number): bigint => h.getReg(i);
        resumeGuest(h, sepc + 4);
        return {
          kind: "SbiCall",
          extensionId: r(REG_A7),
          functionId: r(REG_A6),
          args: [r(REG_A0), r(REG_A1), r(REG_A2), r(REG_A3), r(REG_A4), r(REG_A5)],
        };
      }
      case CAUSE_LOAD_GUEST_PAGE_FAULT:
      case CAUSE_STORE_GUEST_PAGE_FAULT: {
        const tinst = h.htinst;
        if (tinst === TINST_PTE_READ_64 || tinst === TINST_PTE_WRITE_64 || tinst === 0) {
          // The guest's page table lives outside RAM: nothing a device can answer.
          resumeGuest(h, sepc);
          return this.#unsupported(describe());
        }
        if ((tinst & OPCODE_MASK) === OPC_AMO) {
          // Atomics to a device are not emulated (KVM neither): the guest gets an access fault.
          injectGuestException(
            h,
            sepc,
            guestPriv,
            cause === CAUSE_LOAD_GUEST_PAGE_FAULT ? CAUSE_LOAD_ACCESS_FAULT : CAUSE_STORE_ACCESS_FAULT,
            stval,
          );
          return undefined;
        }
        const gpa = h.htval * 4 + (stval - Math.floor(stval / 4) * 4);
        const exit = this.#mmioExit(gpa, tinst, 0, 0);
        if (exit.kind === "Unsupported") {
          resumeGuest(h, sepc);
          return exit;
        }
        resumeGuest(h, sepc + ((tinst & TINST_32_BIT) !== 0 ? 4 : 2));
        return exit;
      }
      case CAUSE_VIRTUAL_INSTRUCTION: {
        const insn = stval;
        if (insn === INSN_WFI && guestPriv === PRV_S) {
          resumeGuest(h, sepc + 4);
          return HALT;
        }
        // CSRs and instructions the guest may not use: it sees an illegal instruction, as under KVM.
        injectGuestException(h, sepc, guestPriv, CAUSE_ILLEGAL_INSTRUCTION, insn);
        return undefined;
      }
      case CAUSE_ILLEGAL_INSTRUCTION:
      case CAUSE_MISALIGNED_LOAD:
      case CAUSE_MISALIGNED_STORE:
      case CAUSE_FETCH_ACCESS_FAULT:
      case CAUSE_LOAD_ACCESS_FAULT:
      case CAUSE_STORE_ACCESS_FAULT:
        // Reflected to the guest's own handler (KVM's trap redirect).
        injectGuestException(h, sepc, guestPriv, cause, stval);
        return undefined;
      default:
        // Instruction fetches from non-RAM guest-physical pages (CAUSE_FETCH_GUEST_PAGE_FAULT) land here too:
        // there is no device to execute from.
        resumeGuest(h, sepc);
        return this.#unsupported(describe());
    }
  }

  /** Decode an MMIO access from its transformed instruction; remember a load's destination for setReturnValue. */
  #mmioExit(addr: number, tinst: number, dataLo: number, dataHi: number): AxVCpuExitReason {
    const h = this.#hart;
    const opcode = (tinst & OPCODE_MASK) | TINST_32_BIT; // compressed forms have bit 1 cleared
    const funct3 = (tinst >>> 12) & 7;
    if (opcode === OPC_LOAD) {
      if (funct3 === 7) return this.#unsupported(`MMIO load with reserved funct3 at ${hex(addr)}`);
      const width = (1 << (funct3 & 3)) as AccessWidth;
      const reg = (tinst >>> 7) & 31;
      const signedExt = funct3 < 4 && width !== 8;
      this.#pendingRead = { reg, width, signedExt };
      return { kind: "MmioRead", addr, width, reg, regWidth: 8, signedExt };
    }
    if (opcode === OPC_STORE) {
      const width = (1 << (funct3 & 3)) as AccessWidth;
      const rs2 = (tinst >>> 20) & 31;
      // Bare-machine stops carry the data; hypervisor traps leave it in the source register.
      const fromReg = this.#vm.mode === "hypervisor";
      const lo = fromReg ? (h.xlo[rs2] ?? 0) : dataLo;
      const hi = fromReg ? (h.xhi[rs2] ?? 0) : dataHi;
      const full = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      return { kind: "MmioWrite", addr, width, data: BigInt.asUintN(width * 8, full) };
    }
    return this.#unsupported(`MMIO access by instruction ${hex(tinst)} (not an integer load/store) at ${hex(addr)}`);
  }

  #unsupported(raw: string): AxVCpuExitReason {
    return { kind: "Unsupported", backend: "emulated", raw };
  }

  kick(): void {
    this.#hart.kickRequested = true;
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
    return timerDeadline(this.#hart);
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
          // Decoded code is dropped whenever its page is written, so instruction fetch is always coherent here.
          return;
        case "sfence.vma":
        case "hfence.vvma":
          // A guest's sfence.vma acts on its VS-stage translations, which is what hfence.vvma drops too.
          h.flushGuestTlbs();
          return;
        case "hfence.gvma":
          h.flushGstage();
          return;
      }
    },
  };

  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#vm.memory.removeClient(this.#hart);
    this.#vm.removeVcpu(this);
  }
}

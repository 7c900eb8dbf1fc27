/**
 * The arm64 part of a KVM vCPU: KVM_ARM_VCPU_INIT with the VM's preferred target, PSCI 0.2 (in-kernel: CPU_ON,
 * CPU_OFF, AFFINITY_INFO, SYSTEM_OFF/RESET) and, for every vCPU but 0, the POWER_OFF feature, so secondaries wait
 * inside KVM_RUN until the guest starts them with PSCI CPU_ON (KVM then sets their pc and x0 itself); core registers
 * through KVM_GET/SET_ONE_REG, by the ids declared once in abi.ts.
 *
 * Nothing is cached: the VMM touches arm64 registers only at boot and for rare diagnostics (MMIO results go through
 * kvm_run, which KVM completes, sign extension included, on the next KVM_RUN). Interrupts come from the in-kernel
 * GIC (`HalVm.setIrqLine`), and WFI is handled by KVM, so there is no userspace interrupt state here.
 */
import {
  AARCH64_GPR_COUNT,
  AARCH64_REG_COUNT,
  AARCH64_REG_ELR_EL1,
  AARCH64_REG_PC,
  AARCH64_REG_PSTATE,
  AARCH64_REG_SP_EL0,
  AARCH64_REG_SP_EL1,
  PSTATE_EL1H_DAIF_MASKED,
} from "../../../arch/aarch64/registers.ts";
import type { HalVcpuSetup, HalVcpuState } from "../../types.ts";
import { HalError } from "../../types.ts";
import { KVM_GET_MP_STATE, KVM_MP_STATE_LAYOUT, KVM_SET_MP_STATE } from "../abi.ts";
import type { Decoded } from "../exits.ts";
import type { KvmArchVcpu, KvmVcpuCore } from "../per-arch.ts";
import * as sys from "../sys.ts";
import {
  ARM64_REGISTER_IDS,
  KVM_ARM_VCPU_INIT,
  KVM_ARM_VCPU_POWER_OFF,
  KVM_ARM_VCPU_PSCI_0_2,
  KVM_GET_ONE_REG,
  KVM_ONE_REG_LAYOUT,
  KVM_SET_ONE_REG,
  KVM_VCPU_INIT_LAYOUT,
} from "./abi.ts";
import { AARCH64_VCPU_STATE_FORMAT, type Aarch64VcpuStateData, checkVcpuStateData, OneRegAccess } from "./state.ts";

/** The ONE_REG id of each HAL register number (src/arch/aarch64/registers.ts numbering). */
function registerIdTable(): bigint[] {
  const name = (reg: number): string => {
    if (reg < AARCH64_GPR_COUNT) return `x${reg}`;
    const special: Readonly<Record<number, string>> = {
      [AARCH64_REG_SP_EL0]: "sp",
      [AARCH64_REG_PC]: "pc",
      [AARCH64_REG_PSTATE]: "pstate",
      [AARCH64_REG_SP_EL1]: "sp_el1",
      [AARCH64_REG_ELR_EL1]: "elr_el1",
    };
    const found = special[reg];
    if (found === undefined) throw new Error(`bug: no ONE_REG name for aarch64 register ${reg}`);
    return found;
  };
  return Array.from({ length: AARCH64_REG_COUNT }, (_, reg) => {
    const id = ARM64_REGISTER_IDS[name(reg)];
    if (id === undefined) throw new Error(`bug: no ONE_REG id for ${name(reg)}`);
    return id;
  });
}
const REGISTER_IDS = registerIdTable();
function declaredId(name: string): bigint {
  const id = ARM64_REGISTER_IDS[name];
  if (id === undefined) throw new Error(`bug: no ONE_REG id for ${name}`);
  return id;
}
const MPIDR_EL1 = declaredId("MPIDR_EL1");
/** The virtual counter (CNTVCT_EL0 as KVM exposes it): writing it moves the VM's counter offset. */
const TIMER_CNT = declaredId("KVM_REG_ARM_TIMER_CNT");

export interface Aarch64VcpuContext {
  /** kvm_vcpu_init from KVM_ARM_PREFERRED_TARGET. */
  readonly preferredTarget: Uint8Array;
  /** Initialise the GIC if it is not yet (before the first KVM_RUN). */
  readonly finishGic: () => void;
  /** The guest's counter frozen at the VM's pause (vm.ts), or undefined while its clock runs. */
  readonly pausedCounter: () => bigint | undefined;
  /** A restore set the guest's counter to `value` (the VM keeps it frozen there until it resumes). */
  readonly counterLoaded: (value: bigint) => void;
}

export class Aarch64KvmVcpu implements KvmArchVcpu {
  readonly #core: KvmVcpuCore;
  readonly #context: Aarch64VcpuContext;
  /** The VM's GIC is initialised (`beforeRun` made sure of it once). */
  #gicReady = false;
  /** kvm_one_reg and the 8-byte value it points at, reused for every access. */
  readonly #oneReg = new Uint8Array(KVM_ONE_REG_LAYOUT.size);
  readonly #oneRegView = new DataView(this.#oneReg.buffer);
  readonly #value = new BigUint64Array(1);
  readonly #registers: OneRegAccess;

  constructor(core: KvmVcpuCore, context: Aarch64VcpuContext) {
    this.#core = core;
    this.#context = context;
    this.#registers = new OneRegAccess(core.fd);
    this.#oneRegView.setBigUint64(
      KVM_ONE_REG_LAYOUT.fields.addr.offset,
      BigInt(sys.addressOf(new Uint8Array(this.#value.buffer))),
      true,
    );
    // The boot CPU runs; the others are off until PSCI CPU_ON (Linux's and our test guests' way to start them).
    this.#init(core.id !== 0);
  }

  /** KVM_ARM_VCPU_INIT: the architectural reset state, with PSCI 0.2 and (if `poweredOff`) waiting for CPU_ON. */
  #init(poweredOff: boolean): void {
    const init = Uint8Array.from(this.#context.preferredTarget);
    const view = new DataView(init.buffer);
    const featuresOffset = KVM_VCPU_INIT_LAYOUT.fields.features.offset;
    // features[0] holds bits 0..31; the preferred target's own suggestions are replaced by what we ask for.
    for (let i = featuresOffset; i < KVM_VCPU_INIT_LAYOUT.size; i++) init[i] = 0;
    const features = (1 << KVM_ARM_VCPU_PSCI_0_2) | (poweredOff ? 1 << KVM_ARM_VCPU_POWER_OFF : 0);
    view.setUint32(featuresOffset, features, true);
    sys.ioctlBuf(this.#core.fd, KVM_ARM_VCPU_INIT, init);
  }

  /**
   * Enter at `entry` in EL1h with DAIF masked and the MMU off (KVM's reset state), with `gprs` (x0..x30 and the
   * other HAL numbers of registers.ts) set: the Linux boot protocol's x0 = DTB, x1..x3 = 0 comes as gprs.
   */
  setup(setup: HalVcpuSetup): void {
    if (setup.x86 !== undefined) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "setup",
        `Cannot load an x86 state into aarch64 vCPU ${this.#core.id}`,
      );
    }
    this.#setRegister(AARCH64_REG_PSTATE, BigInt(PSTATE_EL1H_DAIF_MASKED));
    this.#setRegister(AARCH64_REG_PC, BigInt(setup.entry));
    for (const [reg, value] of setup.gprs ?? []) this.#setRegister(reg, value);
  }

  /** Restart at `entry` from the reset state, running (a VMM-driven CPU_ON: KVM's in-kernel PSCI needs none). */
  setEntry(entry: number): void {
    this.#init(false);
    this.#setRegister(AARCH64_REG_PSTATE, BigInt(PSTATE_EL1H_DAIF_MASKED));
    this.#setRegister(AARCH64_REG_PC, BigInt(entry));
  }

  getGpr(reg: number): bigint {
    this.#core.prepareRegisterAccess("getGpr");
    return this.#getRegister(reg);
  }

  setGpr(reg: number, value: bigint): void {
    this.#core.prepareRegisterAccess("setGpr");
    this.#setRegister(reg, value);
  }

  /** MPIDR_EL1 as KVM set it (the affinity the device tree's cpu nodes and PSCI CPU_ON name). */
  getMpidr(): bigint {
    this.#core.checkOpen("getMpidr");
    return this.#oneRegGet(MPIDR_EL1);
  }

  /** The guest's virtual counter now (the vCPU is idle). */
  readCounter(): bigint {
    this.#core.checkOpen("readCounter");
    return this.#registers.getU64(TIMER_CNT);
  }

  /** Make the guest's virtual counter read `value` now (KVM moves the VM's counter offset). */
  writeCounter(value: bigint): void {
    this.#core.checkOpen("writeCounter");
    this.#registers.setU64(TIMER_CNT, value);
  }

  /**
   * Every register KVM lists, and the MP state (the vCPU is idle, its VM paused). The counter is the one frozen at
   * the pause, so a restore continues from the paused instant.
   */
  saveState(): HalVcpuState {
    this.#core.prepareRegisterAccess("saveState");
    const paused = this.#context.pausedCounter();
    const registers = this.#registers.list().map((id): readonly [string, Uint8Array] => {
      const bytes = this.#registers.get(id);
      if (id === TIMER_CNT && paused !== undefined) new DataView(bytes.buffer).setBigUint64(0, paused, true);
      return [`0x${id.toString(16)}`, bytes];
    });
    const mp = new Uint8Array(KVM_MP_STATE_LAYOUT.size);
    sys.ioctlBuf(this.#core.fd, KVM_GET_MP_STATE, mp);
    const data: Aarch64VcpuStateData = {
      registers,
      mpState: new DataView(mp.buffer).getUint32(KVM_MP_STATE_LAYOUT.fields.mp_state.offset, true),
    };
    return { format: AARCH64_VCPU_STATE_FORMAT, data };
  }

  /** Write a saved state into this freshly initialised vCPU (its VM's vGIC already restored). */
  loadState(state: HalVcpuState): void {
    this.#core.prepareRegisterAccess("loadState");
    if (state.format !== AARCH64_VCPU_STATE_FORMAT) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        "loadState",
        `Cannot load vCPU ${this.#core.id}: its state is "${state.format}", this backend reads "${AARCH64_VCPU_STATE_FORMAT}"`,
      );
    }
    const data = checkVcpuStateData(state.data, this.#core.id);
    let counter: bigint | undefined;
    for (const [idText, bytes] of data.registers) {
      const id = BigInt(idText);
      try {
        this.#registers.set(id, bytes);
      } catch (error) {
        throw new HalError(
          "kvm",
          "invalid-argument",
          "loadState",
          `Cannot load vCPU ${this.#core.id}: KVM refused register ${idText}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      if (id === TIMER_CNT) counter = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
    }
    const mp = new Uint8Array(KVM_MP_STATE_LAYOUT.size);
    new DataView(mp.buffer).setUint32(KVM_MP_STATE_LAYOUT.fields.mp_state.offset, data.mpState, true);
    sys.ioctlBuf(this.#core.fd, KVM_SET_MP_STATE, mp);
    if (counter !== undefined) this.#context.counterLoaded(counter);
  }

  beforeRun(): void {
    // Once the GIC is initialised it stays so: later runs skip the VM's check (this runs before every KVM_RUN).
    if (this.#gicReady) return;
    this.#context.finishGic();
    this.#gicReady = true;
  }

  afterRun(): void {}

  /** arm64 has no exits of its own beyond the generic ones (MMIO, system events) with the in-kernel GIC and PSCI. */
  decodeExit(_run: DataView, _reason: number): Decoded | undefined {
    return undefined;
  }

  setInterruptLevel(vector: number, _asserted: boolean): void {
    throw new HalError(
      "kvm",
      "unsupported",
      "setInterruptLevel",
      `Cannot raise interrupt ${vector} on vCPU ${this.#core.id} directly: aarch64 interrupts go through the in-kernel GIC (HalVm.setIrqLine with an SPI INTID)`,
    );
  }

  /** KVM handles WFI in the kernel (the vGIC tells it when to wake): the VMM never waits for a halted vCPU. */
  hasPendingInterrupt(): boolean {
    return false;
  }

  #registerId(reg: number, operation: string): bigint {
    const id = REGISTER_IDS[reg];
    if (!Number.isInteger(reg) || id === undefined) {
      throw new HalError(
        "kvm",
        "invalid-argument",
        operation,
        `Cannot access register ${reg}: aarch64 has 0..30 (x0..x30), 31 sp_el0, 32 pc, 33 pstate, 34 sp_el1, 35 elr_el1`,
      );
    }
    return id;
  }

  #getRegister(reg: number): bigint {
    return this.#oneRegGet(this.#registerId(reg, "KVM_GET_ONE_REG"));
  }

  #setRegister(reg: number, value: bigint): void {
    const id = this.#registerId(reg, "KVM_SET_ONE_REG");
    this.#oneRegView.setBigUint64(KVM_ONE_REG_LAYOUT.fields.id.offset, id, true);
    this.#value[0] = BigInt.asUintN(64, value);
    sys.ioctlBuf(this.#core.fd, KVM_SET_ONE_REG, this.#oneReg);
  }

  #oneRegGet(id: bigint): bigint {
    this.#oneRegView.setBigUint64(KVM_ONE_REG_LAYOUT.fields.id.offset, id, true);
    sys.ioctlBuf(this.#core.fd, KVM_GET_ONE_REG, this.#oneReg);
    return this.#value[0] ?? 0n;
  }
}

/**
 * The general-purpose registers of an x86 vCPU (struct kvm_regs), cached between runs: KVM_GET_REGS once after an
 * exit when the VMM first reads one, KVM_SET_REGS once before the next run if it wrote any.
 */
import { AXVISOR_HYPERCALL_ARG_REGS, AXVISOR_HYPERCALL_NR_REG } from "../../../arch/x86_64/hypercall.ts";
import { X86_GPR_NAMES, X86_REG_RFLAGS, X86_REG_RIP } from "../../../arch/x86_64/registers.ts";
import { X86_RFLAGS_RESERVED } from "../../../arch/x86_64/system-registers.ts";
import type { X86VcpuState } from "../../../arch/x86_64/vcpu-state.ts";
import { HalError } from "../../types.ts";
import * as sys from "../sys.ts";
import { KVM_GET_REGS, KVM_REGS_LAYOUT, KVM_SET_REGS, type KvmRegName } from "./abi.ts";
import type { HypercallRegs } from "./exits.ts";

const REGS = KVM_REGS_LAYOUT.fields;

/** The kvm_regs offset of HAL register number `reg` (0..15 GPRs in encoding order, 16 rip, 17 rflags). */
export function regOffset(reg: number): number {
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

export class X86RegisterCache {
  readonly #fd: number;
  readonly #regs = new Uint8Array(KVM_REGS_LAYOUT.size);
  readonly #view = new DataView(this.#regs.buffer);
  #loaded = false;
  #dirty = false;

  constructor(vcpuFd: number) {
    this.#fd = vcpuFd;
  }

  get(reg: number): bigint {
    this.#load();
    return this.#view.getBigUint64(regOffset(reg), true);
  }

  set(reg: number, value: bigint): void {
    this.#load();
    this.#view.setBigUint64(regOffset(reg), BigInt.asUintN(64, value), true);
    this.#dirty = true;
  }

  /** Load a boot state's GPRs, RIP and RFLAGS (KVM_SET_REGS now). */
  loadState(state: X86VcpuState): void {
    this.#regs.fill(0);
    for (const [name, value] of Object.entries(state.gprs ?? {})) {
      const field = REGS[name as KvmRegName];
      if (value !== undefined) this.#view.setBigUint64(field.offset, BigInt.asUintN(64, value), true);
    }
    this.#view.setBigUint64(REGS.rip.offset, BigInt(state.rip), true);
    this.#view.setBigUint64(REGS.rflags.offset, state.rflags ?? X86_RFLAGS_RESERVED, true);
    sys.ioctlBuf(this.#fd, KVM_SET_REGS, this.#regs);
    this.#loaded = true;
    this.#dirty = false;
  }

  /** Before KVM_RUN: write back what the VMM changed. */
  flush(): void {
    if (this.#dirty) {
      sys.ioctlBuf(this.#fd, KVM_SET_REGS, this.#regs);
      this.#dirty = false;
    }
  }

  /** After KVM_RUN: the guest has moved on. */
  invalidate(): void {
    this.#loaded = false;
  }

  /**
   * The hypercall registers of an `out` to the hypercall port, straight from KVM (not through the cache): the `out`
   * is not completed yet, but it changes no general-purpose register, so these are the guest's values.
   */
  readHypercall(): HypercallRegs {
    const regs = new Uint8Array(KVM_REGS_LAYOUT.size);
    sys.ioctlBuf(this.#fd, KVM_GET_REGS, regs);
    const view = new DataView(regs.buffer);
    const get = (name: KvmRegName): bigint => view.getBigUint64(REGS[name].offset, true);
    const [a0, a1, a2, a3, a4, a5] = AXVISOR_HYPERCALL_ARG_REGS;
    return { nr: get(AXVISOR_HYPERCALL_NR_REG), args: [get(a0), get(a1), get(a2), get(a3), get(a4), get(a5)] };
  }

  #load(): void {
    if (!this.#loaded) {
      sys.ioctlBuf(this.#fd, KVM_GET_REGS, this.#regs);
      this.#loaded = true;
    }
  }
}

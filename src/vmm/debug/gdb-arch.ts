/**
 * What the GDB stub needs to know about one guest architecture: its target description (the XML GDB reads with
 * qXfer:features:read), the registers in the `g` packet, how each register number reads and writes on a vCPU,
 * and how a guest-virtual address becomes guest-physical for memory packets (the guest's own page tables, walked
 * without side effects: no accessed/dirty bits set, no TLB filled, no trap).
 */

import type { GuestMemoryAccess, GuestPhysAddr, HalVcpu } from "../../hal/types.ts";

export type GdbTranslation =
  | {
      readonly ok: true;
      readonly gpa: GuestPhysAddr /** bytes from `gpa` to the end of its page */;
      readonly span: number;
    }
  | { readonly ok: false; readonly reason: string };

export interface GdbArchitecture {
  /** GDB's name of the architecture (`<architecture>` in the target description). */
  readonly name: string;
  /** The target description for `vcpu` (some registers exist only in some modes). */
  targetXml(vcpu: HalVcpu): string;
  /** Register numbers of the `g` packet, in order; the others are read with `p` only. */
  readonly gRegisters: readonly number[];
  /** Size in bytes of register `regnum`, undefined when the description has no such register. */
  registerSize(vcpu: HalVcpu, regnum: number): number | undefined;
  /** Read a register: undefined when its value is unavailable now. */
  readRegister(vcpu: HalVcpu, regnum: number): bigint | undefined;
  /** Write a register; false when it cannot be written. */
  writeRegister(vcpu: HalVcpu, regnum: number, value: bigint): boolean;
  /** The register number of the pc. */
  readonly pcRegnum: number;
  /** The vCPU's pc. */
  pc(vcpu: HalVcpu): bigint;
  /** Translate `va` as the vCPU's current mode would (ignoring permissions, as a debugger may read anything). */
  translate(vcpu: HalVcpu, memory: GuestMemoryAccess, va: bigint): GdbTranslation;
  /**
   * Software breakpoints (Z0) are planted in guest memory as this instruction while the guest runs, and the vCPU
   * is asked to exit on it (x86: int3). Absent: the vCPU checks them itself (the emulated hart), like hardware ones.
   */
  readonly breakpointInstruction?: Uint8Array;
}

/**
 * The one place the emulated backend turns why its hart stopped into an `AxVCpuExitReason`. Hypervisor VMs: a
 * trap that reached HS-mode is what a KVM host would see, and is answered as KVM does — a VS-mode ecall becomes an
 * `SbiCall`, a guest-page fault on a device an `MmioRead`/`MmioWrite` decoded from htinst, a WFI a `Halt`, and the
 * traps KVM reflects go back into the guest. Bare-machine VMs: MMIO stops and WFI halts. `answerAccess` does the
 * MMIO accesses of 1, 2 and 4 bytes itself, through the VMM's handler (`HalVcpu.runAccesses`), with no exit.
 */

import { HSTATUS_SPV, MSTATUS_SPP } from "../../arch/riscv64/csr.ts";
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
import { REG_A0, REG_A1, REG_A2, REG_A3, REG_A4, REG_A5, REG_A6, REG_A7 } from "../../arch/riscv64/registers.ts";
import {
  CAUSE_FETCH_ACCESS_FAULT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_LOAD_ACCESS_FAULT,
  CAUSE_LOAD_GUEST_PAGE_FAULT,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_STORE_ACCESS_FAULT,
  CAUSE_STORE_GUEST_PAGE_FAULT,
  CAUSE_VIRTUAL_INSTRUCTION,
  CAUSE_VIRTUAL_SUPERVISOR_ECALL,
  PRV_M,
  PRV_S,
  PRV_U,
} from "../../arch/riscv64/traps.ts";
import { hex } from "../../common/format.ts";
import { type AccessWidth, type AxVCpuExitReason, type HalAccessHandler, NOTHING_SPINNING } from "../types.ts";
import { type Hart, STOP_HALT, STOP_HOST_TRAP, STOP_KICK, STOP_MMIO, STOP_NONE, STOP_SPIN } from "./hart.ts";
import { injectGuestException, resumeGuest } from "./trap.ts";

const NOTHING: AxVCpuExitReason = { kind: "Nothing" };
const HALT: AxVCpuExitReason = { kind: "Halt" };

/** Where the value of an MmioRead goes when the VMM answers it. */
export interface PendingRead {
  readonly reg: number;
  readonly width: AccessWidth;
  readonly signedExt: boolean;
}

export class ExitDecoder {
  readonly #hart: Hart;
  readonly #hypervisor: boolean;
  /** The destination of the last MmioRead exit, until the VMM answers it (`setReturnValue`). */
  pendingRead: PendingRead | undefined;

  constructor(hart: Hart, hypervisor: boolean) {
    this.#hart = hart;
    this.#hypervisor = hypervisor;
  }

  /**
   * Turn why the hart stopped into an exit reason — the one place raw exits are decoded. Returns undefined when
   * the stop was handled here and the guest should keep running.
   */
  decode(): AxVCpuExitReason | undefined {
    const h = this.#hart;
    switch (h.stop) {
      case STOP_NONE:
        return NOTHING;
      case STOP_KICK:
        h.stop = STOP_NONE;
        return NOTHING;
      case STOP_SPIN:
        h.stop = STOP_NONE;
        return NOTHING_SPINNING;
      case STOP_HALT:
        h.stop = STOP_NONE;
        return HALT;
      case STOP_MMIO: {
        h.stop = STOP_NONE;
        const exit = this.#mmio(h.mmioAddr, h.mmioTinst, h.mmioDataLo, h.mmioDataHi);
        if (exit.kind === "MmioRead" || exit.kind === "MmioWrite") h.pc += h.mmioLen;
        return exit;
      }
      case STOP_HOST_TRAP:
        return this.#hostTrap();
      default:
        return unsupported(`hart stopped with unknown reason ${h.stop}`);
    }
  }

  /**
   * `HalVcpu.runAccesses`: when the hart stopped for an MMIO access of 1, 2 or 4 bytes (what `decode` would make an
   * MmioRead or MmioWrite of), do it through `handler` and complete the instruction — no exit object, no bigint.
   * Returns whether it did; else `decode` makes the exit as usual. As with the exit, the hart is back in the guest
   * past the instruction when `handler` runs, and a load's register is written after.
   */
  answerAccess(handler: HalAccessHandler): boolean {
    const h = this.#hart;
    if (h.stop === STOP_MMIO) {
      const access = mmioOperation(h.mmioTinst);
      if (typeof access === "string" || access.width === 8) return false;
      h.stop = STOP_NONE;
      h.pc += h.mmioLen;
      this.#access(handler, h.mmioAddr, access, h.mmioDataLo);
      return true;
    }
    if (h.stop !== STOP_HOST_TRAP || !this.#hypervisor) return false;
    // The guest page faults #hostTrap turns into MMIO exits, and only those.
    if (h.scauseHi < 0 || (h.hstatus & HSTATUS_SPV) === 0 || h.priv === PRV_M) return false;
    const cause = h.scauseLo;
    if (cause !== CAUSE_LOAD_GUEST_PAGE_FAULT && cause !== CAUSE_STORE_GUEST_PAGE_FAULT) return false;
    const tinst = h.htinst;
    if (tinst === TINST_PTE_READ_64 || tinst === TINST_PTE_WRITE_64 || tinst === 0) return false;
    if ((tinst & OPCODE_MASK) === OPC_AMO) return false;
    const access = mmioOperation(tinst);
    if (typeof access === "string" || access.width === 8) return false;
    const stval = h.stval;
    const gpa = h.htval * 4 + (stval - Math.floor(stval / 4) * 4);
    // A store's data is in its source register (hypervisor traps carry none), read before the guest goes on.
    const data = access.load ? 0 : (h.xlo[2 * access.reg] ?? 0);
    resumeGuest(h, h.sepc + ((tinst & TINST_32_BIT) !== 0 ? 4 : 2));
    this.#access(handler, gpa, access, data);
    return true;
  }

  /** Do `access` (1, 2 or 4 bytes) at `addr` through `handler`: a load's value into its register, a store's `data`. */
  #access(handler: HalAccessHandler, addr: number, access: MmioOperation, data: number): void {
    const width = access.width as 1 | 2 | 4;
    if (!access.load) {
      handler.mmioWrite(addr, width, width === 4 ? data >>> 0 : data & (width === 1 ? 0xff : 0xffff));
      return;
    }
    const value = handler.mmioRead(addr, width);
    if (access.reg === 0) return;
    const shift = 32 - 8 * width;
    const lo = access.signedExt ? (value << shift) >> shift : width === 4 ? value | 0 : value;
    const h = this.#hart;
    h.xlo[2 * access.reg] = lo;
    h.xhi[2 * access.reg] = access.signedExt && lo < 0 ? -1 : 0;
  }

  #hostTrap(): AxVCpuExitReason | undefined {
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
      return unsupported(describe());
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
          return unsupported(describe());
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
        const exit = this.#mmio(gpa, tinst, 0, 0);
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
        return unsupported(describe());
    }
  }

  /** Decode an MMIO access from its transformed instruction; remember a load's destination for setReturnValue. */
  #mmio(addr: number, tinst: number, dataLo: number, dataHi: number): AxVCpuExitReason {
    const h = this.#hart;
    const access = mmioOperation(tinst);
    if (typeof access === "string") return unsupported(`${access} at ${hex(addr)}`);
    const { width, reg } = access;
    if (access.load) {
      this.pendingRead = { reg, width, signedExt: access.signedExt };
      return { kind: "MmioRead", addr, width, reg, regWidth: 8, signedExt: access.signedExt };
    }
    // Bare-machine stops carry the data; hypervisor traps leave it in the source register.
    const fromReg = this.#hypervisor;
    const lo = fromReg ? (h.xlo[2 * reg] ?? 0) : dataLo;
    const hi = fromReg ? (h.xhi[2 * reg] ?? 0) : dataHi;
    const full = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return { kind: "MmioWrite", addr, width, data: BigInt.asUintN(width * 8, full) };
  }
}

/** An MMIO access as its transformed instruction says: a load into `reg` or a store from `reg`, of `width` bytes. */
interface MmioOperation {
  readonly load: boolean;
  readonly width: AccessWidth;
  readonly reg: number;
  /** A load that sign-extends (LB, LH, LW). */
  readonly signedExt: boolean;
}

/** Decode the transformed instruction of an MMIO access; a string says why it is none we do. */
function mmioOperation(tinst: number): MmioOperation | string {
  const opcode = (tinst & OPCODE_MASK) | TINST_32_BIT; // compressed forms have bit 1 cleared
  const funct3 = (tinst >>> 12) & 7;
  const width = (1 << (funct3 & 3)) as AccessWidth;
  if (opcode === OPC_LOAD) {
    if (funct3 === 7) return "MMIO load with reserved funct3";
    return { load: true, width, reg: (tinst >>> 7) & 31, signedExt: funct3 < 4 && width !== 8 };
  }
  if (opcode === OPC_STORE) return { load: false, width, reg: (tinst >>> 20) & 31, signedExt: false };
  return `MMIO access by instruction ${hex(tinst)} (not an integer load/store)`;
}

function unsupported(raw: string): AxVCpuExitReason {
  return { kind: "Unsupported", backend: "emulated", raw };
}

import { describe, expect, test } from "bun:test";
import { CSR_MSTATUS, CSR_SATP, CSR_SSTATUS } from "../../arch/riscv64/csr.ts";
import { PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X, SATP_MODE_SV39 } from "../../arch/riscv64/paging.ts";
import type { GuestMemoryAccess, HalVcpu, RiscvDebugRegisters } from "../../hal/types.ts";
import { RISCV_FIRST_CSR_REGNUM, RISCV_PRIV_REGNUM, RISCV64_GDB, translateRiscv } from "./riscv64.ts";

const RAM = 0x8000_0000;
const RAM_SIZE = 0x40_0000;

/** Guest RAM as a byte array, with the interface's bounds checks. */
class FakeMemory implements GuestMemoryAccess {
  readonly bytes = new Uint8Array(RAM_SIZE);
  readonly view = new DataView(this.bytes.buffer);
  contains(gpa: number, length: number): boolean {
    return gpa >= RAM && gpa + length <= RAM + RAM_SIZE;
  }
  #at(gpa: number, length: number): number {
    if (!this.contains(gpa, length)) throw new Error(`outside RAM: 0x${gpa.toString(16)}`);
    return gpa - RAM;
  }
  read(gpa: number, length: number): Uint8Array {
    const at = this.#at(gpa, length);
    return this.bytes.slice(at, at + length);
  }
  readInto(gpa: number, target: Uint8Array): void {
    target.set(this.read(gpa, target.length));
  }
  write(gpa: number, data: Uint8Array): void {
    this.bytes.set(data, this.#at(gpa, data.length));
  }
  readU16(gpa: number): number {
    return this.view.getUint16(this.#at(gpa, 2), true);
  }
  readU32(gpa: number): number {
    return this.view.getUint32(this.#at(gpa, 4), true);
  }
  readU64(gpa: number): bigint {
    return this.view.getBigUint64(this.#at(gpa, 8), true);
  }
  writeU16(gpa: number, value: number): void {
    this.view.setUint16(this.#at(gpa, 2), value, true);
  }
  writeU32(gpa: number, value: number): void {
    this.view.setUint32(this.#at(gpa, 4), value, true);
  }
  writeU64(gpa: number, value: bigint): void {
    this.view.setBigUint64(this.#at(gpa, 8), value, true);
  }
}

function fakeVcpu(csrs: Map<number, bigint>, priv: number, virtualized: boolean): HalVcpu {
  const regs: RiscvDebugRegisters = {
    getFpr: () => 0n,
    setFpr: () => undefined,
    readCsr: (csr) => csrs.get(csr),
    writeCsr: (csr, value) => {
      if (!csrs.has(csr)) return false;
      csrs.set(csr, value);
      return true;
    },
    privilege: () => ({ priv, virtualized }),
  };
  const gprs = new Array<bigint>(32).fill(0n);
  let pc = 0x8020_0000n;
  const unused = (): never => {
    throw new Error("not used by these tests");
  };
  return {
    id: 0,
    setup: unused,
    setEntry: unused,
    getGpr: (r) => gprs[r] ?? 0n,
    setGpr: (r, v) => {
      gprs[r] = v;
    },
    setReturnValue: unused,
    run: unused,
    kick: unused,
    setInterruptLevel: unused,
    hasPendingInterrupt: () => false,
    hardwareTimerDeadline: () => undefined,
    riscv: {
      getPc: () => pc,
      setPc: (v) => {
        pc = v;
      },
      translateGuestVirtual: unused,
      injectException: unused,
      fence: unused,
      setTimer: unused,
      setHardwareCounter: unused,
    },
    debug: { setGuestDebug: () => undefined, riscv: regs },
    [Symbol.dispose]: () => undefined,
  };
}

const pte = (pa: number, flags: number): bigint => (BigInt(pa / 0x1000) << 10n) | BigInt(flags);
const LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;

describe("RISC-V GDB view", () => {
  test("Sv39 walks: a 4 KiB page through three levels, a 1 GiB page, unmapped and non-canonical addresses", () => {
    const memory = new FakeMemory();
    const root = RAM + 0x1_0000;
    const mid = RAM + 0x1_1000;
    const leafTable = RAM + 0x1_2000;
    memory.writeU64(root + 0 * 8, pte(mid, PTE_V));
    memory.writeU64(mid + 0 * 8, pte(leafTable, PTE_V));
    memory.writeU64(leafTable + 1 * 8, pte(RAM + 0x5000, LEAF)); // VA 0x1000 → RAM + 0x5000
    memory.writeU64(root + 256 * 8, pte(RAM, LEAF)); // VA 0xffff_ffc0_0000_0000 (1 GiB, VPN[2] = 256) → RAM
    const satp = (BigInt(SATP_MODE_SV39) << 60n) | BigInt(root / 0x1000);
    const vcpu = fakeVcpu(new Map([[CSR_SATP, satp]]), 1, true);
    expect(translateRiscv(vcpu, memory, 0x1234n)).toEqual({ ok: true, gpa: RAM + 0x5234, span: 0x1000 - 0x234 });
    expect(translateRiscv(vcpu, memory, 0xffff_ffc0_0012_3456n)).toEqual({
      ok: true,
      gpa: RAM + 0x12_3456,
      span: 0x1000 - 0x456,
    });
    const unmapped = translateRiscv(vcpu, memory, 0x2000n);
    expect(unmapped).toEqual({ ok: false, reason: "0x2000 is not mapped" });
    expect(translateRiscv(vcpu, memory, 0x0000_8000_0000_0000n)).toMatchObject({ ok: false });
    // The walk sets no accessed/dirty bits and leaves the tables as they were.
    expect(memory.readU64(leafTable + 8)).toBe(pte(RAM + 0x5000, LEAF));
  });

  test("M-mode and satp bare are physical; a page table outside memory is an error, not a throw", () => {
    const memory = new FakeMemory();
    expect(translateRiscv(fakeVcpu(new Map([[CSR_SATP, 0n]]), 3, false), memory, 0x8000_1000n)).toMatchObject({
      ok: true,
      gpa: 0x8000_1000,
    });
    expect(translateRiscv(fakeVcpu(new Map([[CSR_SATP, 0n]]), 1, true), memory, 0x8000_1000n)).toMatchObject({
      ok: true,
      gpa: 0x8000_1000,
    });
    const wild = (BigInt(SATP_MODE_SV39) << 60n) | 0x10n; // root at 0x10000: no RAM there
    const result = translateRiscv(fakeVcpu(new Map([[CSR_SATP, wild]]), 1, true), memory, 0x1000n);
    expect(result).toMatchObject({ ok: false });
    expect(result.ok ? "" : result.reason).toContain("outside guest memory");
  });

  test("the target description lists x0..x31 and pc, the FPU, the implemented CSRs with GDB's numbers, priv", () => {
    const guest = fakeVcpu(
      new Map([
        [CSR_SSTATUS, 0n],
        [CSR_SATP, 0n],
      ]),
      1,
      true,
    );
    const xml = RISCV64_GDB.targetXml(guest);
    expect(xml).toContain("<architecture>riscv:rv64</architecture>");
    expect(xml).toContain('<reg name="zero" bitsize="64" regnum="0"');
    expect(xml).toContain('<reg name="pc" bitsize="64" regnum="32"');
    expect(xml).toContain('<reg name="ft0" bitsize="64" regnum="33"');
    expect(xml).toContain(`<reg name="sstatus" bitsize="64" regnum="${RISCV_FIRST_CSR_REGNUM + CSR_SSTATUS}"`);
    expect(xml).not.toContain('"mstatus"'); // a V=1 guest sees no machine CSRs
    expect(xml).not.toContain('"stvec"'); // not implemented by this fake hart
    expect(xml).toContain(`<reg name="priv" bitsize="64" regnum="${RISCV_PRIV_REGNUM}"`);
    const machine = fakeVcpu(new Map([[CSR_MSTATUS, 0n]]), 3, false);
    expect(RISCV64_GDB.targetXml(machine)).toContain('"mstatus"');
  });

  test("registers by GDB number: GPRs, pc, CSRs (writable), priv (read-only), unknown numbers", () => {
    const csrs = new Map([[CSR_SSTATUS, 0x22n]]);
    const vcpu = fakeVcpu(csrs, 1, true);
    expect(RISCV64_GDB.writeRegister(vcpu, 10, 0x1234n)).toBe(true);
    expect(RISCV64_GDB.readRegister(vcpu, 10)).toBe(0x1234n);
    expect(RISCV64_GDB.readRegister(vcpu, 32)).toBe(0x8020_0000n);
    expect(RISCV64_GDB.writeRegister(vcpu, 32, 0x8020_0010n)).toBe(true);
    expect(RISCV64_GDB.pc(vcpu)).toBe(0x8020_0010n);
    expect(RISCV64_GDB.readRegister(vcpu, RISCV_FIRST_CSR_REGNUM + CSR_SSTATUS)).toBe(0x22n);
    expect(RISCV64_GDB.writeRegister(vcpu, RISCV_FIRST_CSR_REGNUM + CSR_SSTATUS, 2n)).toBe(true);
    expect(csrs.get(CSR_SSTATUS)).toBe(2n);
    expect(RISCV64_GDB.readRegister(vcpu, RISCV_PRIV_REGNUM)).toBe(1n);
    expect(RISCV64_GDB.writeRegister(vcpu, RISCV_PRIV_REGNUM, 3n)).toBe(false);
    expect(RISCV64_GDB.registerSize(vcpu, RISCV_FIRST_CSR_REGNUM + CSR_MSTATUS)).toBeUndefined();
    expect(RISCV64_GDB.registerSize(vcpu, 5000)).toBeUndefined();
  });
});

import { describe, expect, test } from "bun:test";
import type { GuestMemoryAccess, HalVcpu, X86DebugSpecialRegisters } from "../../hal/types.ts";
import { translateX86, X86_64_GDB } from "./x86_64.ts";

const RAM_SIZE = 0x40_0000;

/** Guest RAM from 0 as a byte array, with the interface's bounds checks. */
class FakeMemory implements GuestMemoryAccess {
  readonly bytes = new Uint8Array(RAM_SIZE);
  readonly view = new DataView(this.bytes.buffer);
  contains(gpa: number, length: number): boolean {
    return gpa >= 0 && gpa + length <= RAM_SIZE;
  }
  read(gpa: number, length: number): Uint8Array {
    return this.bytes.slice(gpa, gpa + length);
  }
  readInto(gpa: number, target: Uint8Array): void {
    target.set(this.read(gpa, target.length));
  }
  write(gpa: number, data: Uint8Array): void {
    this.bytes.set(data, gpa);
  }
  readU16(gpa: number): number {
    return this.view.getUint16(gpa, true);
  }
  readU32(gpa: number): number {
    return this.view.getUint32(gpa, true);
  }
  readU64(gpa: number): bigint {
    return this.view.getBigUint64(gpa, true);
  }
  writeU16(gpa: number, value: number): void {
    this.view.setUint16(gpa, value, true);
  }
  writeU32(gpa: number, value: number): void {
    this.view.setUint32(gpa, value, true);
  }
  writeU64(gpa: number, value: bigint): void {
    this.view.setBigUint64(gpa, value, true);
  }
}

function fakeVcpu(special: Partial<X86DebugSpecialRegisters>): HalVcpu & { regs: bigint[] } {
  const regs = new Array<bigint>(18).fill(0n);
  const sregs: X86DebugSpecialRegisters = {
    selectors: { cs: 0x10, ss: 0x18, ds: 0x18, es: 0x18, fs: 0, gs: 0 },
    cr0: 0n,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
    ...special,
  };
  const unused = (): never => {
    throw new Error("not used by these tests");
  };
  return {
    regs,
    id: 0,
    setup: unused,
    setEntry: unused,
    getGpr: (r) => regs[r] ?? 0n,
    setGpr: (r, v) => {
      regs[r] = v;
    },
    setReturnValue: unused,
    run: unused,
    kick: unused,
    setInterruptLevel: unused,
    hasPendingInterrupt: () => false,
    hardwareTimerDeadline: () => undefined,
    debug: { setGuestDebug: () => undefined, x86: { specialRegisters: () => sregs } },
    [Symbol.dispose]: () => undefined,
  };
}

const PG = 1n << 31n;
const LMA = 1n << 10n;
const P = 1n;
const PS = 1n << 7n;

describe("x86-64 GDB view", () => {
  test("long-mode 4-level walk: a 4 KiB page, a 2 MiB page, an unmapped and a non-canonical address", () => {
    const memory = new FakeMemory();
    // PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000, PT at 0x4000.
    memory.writeU64(0x1000 + 511 * 8, 0x2000n | P | 2n); // VA 0xffff_ff80_0000_0000 ...
    memory.writeU64(0x2000 + 510 * 8, 0x3000n | P); // ... + 510 GiB = 0xffff_ffff_8000_0000
    memory.writeU64(0x3000 + 0 * 8, 0x20_0000n | P | PS); // 2 MiB page → 0x20_0000
    memory.writeU64(0x3000 + 1 * 8, 0x4000n | P);
    memory.writeU64(0x4000 + 3 * 8, 0x9000n | P); // VA 0xffff_ffff_8020_3000 → 0x9000
    const vcpu = fakeVcpu({ cr0: PG, cr3: 0x1000n, efer: LMA });
    expect(translateX86(vcpu, memory, 0xffff_ffff_8001_2345n)).toEqual({ ok: true, gpa: 0x21_2345, span: 0xcbb });
    expect(translateX86(vcpu, memory, 0xffff_ffff_8020_3010n)).toEqual({ ok: true, gpa: 0x9010, span: 0xff0 });
    expect(translateX86(vcpu, memory, 0xffff_ffff_8020_4000n)).toMatchObject({ ok: false });
    expect(translateX86(vcpu, memory, 0x0000_8000_0000_0000n)).toMatchObject({ ok: false });
  });

  test("paging off is physical; 32-bit paging is refused with the reason", () => {
    const memory = new FakeMemory();
    expect(translateX86(fakeVcpu({}), memory, 0x7c00n)).toEqual({ ok: true, gpa: 0x7c00, span: 0x400 });
    const legacy = translateX86(fakeVcpu({ cr0: PG }), memory, 0x7c00n);
    expect(legacy.ok ? "" : legacy.reason).toContain("long mode only");
  });

  test("the amd64 core feature: 40 registers in GDB's order; registers map to the HAL's numbering", () => {
    const vcpu = fakeVcpu({});
    const xml = X86_64_GDB.targetXml(vcpu);
    expect(xml).toContain("<architecture>i386:x86-64</architecture>");
    expect(xml.match(/<reg /g)?.length).toBe(40);
    expect(xml).toContain('<reg name="rbx" bitsize="64" regnum="1"');
    expect(xml).toContain('<reg name="eflags" bitsize="32" regnum="17"');
    expect(xml).toContain('<reg name="st0" bitsize="80" regnum="24" type="i387_ext"/>');
    vcpu.regs[3] = 0xbbn; // HAL x86 numbering: rbx is 3
    vcpu.regs[16] = 0xffff_ffff_8100_0000n;
    expect(X86_64_GDB.readRegister(vcpu, 1)).toBe(0xbbn);
    expect(X86_64_GDB.pc(vcpu)).toBe(0xffff_ffff_8100_0000n);
    expect(X86_64_GDB.readRegister(vcpu, 18)).toBe(0x10n); // cs
    expect(X86_64_GDB.readRegister(vcpu, 24)).toBeUndefined(); // st0: not available
    expect(X86_64_GDB.registerSize(vcpu, 24)).toBe(10);
    expect(X86_64_GDB.writeRegister(vcpu, 7, 0x7000n)).toBe(true);
    expect(vcpu.regs[4]).toBe(0x7000n); // rsp is HAL register 4
    expect(X86_64_GDB.writeRegister(vcpu, 18, 0n)).toBe(false);
    vcpu.regs[17] = 0x1_0000_0202n;
    expect(X86_64_GDB.writeRegister(vcpu, 17, 0x246n)).toBe(true);
    expect(vcpu.regs[17]).toBe(0x1_0000_0246n);
  });
});

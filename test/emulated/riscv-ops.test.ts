/**
 * The RISC-V vCPU operations the VMM's SBI layer uses (HalVcpu.riscv): the guest pc, guest-virtual translation as
 * the guest would do it, exception injection into VS-mode, and remote fences — on a VS guest with a real VS-stage
 * Sv39 table over a G-stage table built by the VMM's addrspace code.
 */

import { describe, expect, test } from "bun:test";
import { AddrSpace } from "../../src/addrspace/addr-space.ts";
import { PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X } from "../../src/arch/riscv64/paging.ts";
import { REG_A0, REG_A1 } from "../../src/arch/riscv64/registers.ts";
import { emulatedBackend } from "../../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../../src/hal/emulated/vcpu.ts";
import type { AxVCpuExitReason } from "../../src/hal/types.ts";
import * as A from "./asm.ts";

const RAM = 0x8000_0000;
const VS_ROOT = RAM + 0x10_0000;
const VS_L1 = RAM + 0x10_1000;
const VS_L0 = RAM + 0x10_2000;
const PAGE_A = RAM + 0x11_0000;
const PAGE_B = RAM + 0x11_1000;
const DATA_VA = 0x4000_0000;
const V = PTE_V,
  R = PTE_R,
  W = PTE_W,
  X = PTE_X,
  AD = PTE_A | PTE_D;

function setup() {
  const hv = emulatedBackend.open();
  const vm = hv.createVm({ arch: "riscv64", vmId: 7, cpuCount: 1 });
  const space = AddrSpace.create(vm, [{ name: "ram", gpa: RAM, size: 0x20_0000, flags: 7, mapType: "alloc" }]);
  const memory = space.guestMemory;
  const pte = (pa: number, flags: number): bigint => ((BigInt(pa) >> 12n) << 10n) | BigInt(flags);
  // VS-stage Sv39: VA 0x8000_0000 (1 GiB, identity) for the code; VA 0x4000_0000 → PAGE_A through three levels.
  memory.writeU64(VS_ROOT + 2 * 8, pte(RAM, V | R | W | X | AD));
  memory.writeU64(VS_ROOT + 1 * 8, pte(VS_L1, V));
  memory.writeU64(VS_L1, pte(VS_L0, V));
  memory.writeU64(VS_L0, pte(PAGE_A, V | R | W | AD));
  memory.writeU64(PAGE_A, 0x1111n);
  memory.writeU64(PAGE_B, 0x2222n);
  // ld a0, 0(a1); ecall; (three times)
  const loadAndCall = [A.ld(A.a0, A.a1, 0), A.ecall()];
  memory.write(RAM, Uint8Array.from(wordsToBytes([...loadAndCall, ...loadAndCall, ...loadAndCall])));
  const vcpu = vm.createVcpu(0) as EmulatedVcpu;
  const stage2 = space.stage2();
  vcpu.setup({ entry: RAM, ...(stage2 === undefined ? {} : { stage2 }), gprs: [[REG_A1, BigInt(DATA_VA)]] });
  const h = vcpu.hart;
  h.vsatpHi = 8 << 28; // Sv39
  h.vsatpLo = VS_ROOT / 4096;
  h.flushGuestTlbs();
  return { hv, vm, vcpu, memory, riscv: vcpu.riscv };
}

function wordsToBytes(words: readonly number[]): number[] {
  return words.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, (w >>> 24) & 0xff]);
}

function runToExit(vcpu: EmulatedVcpu): AxVCpuExitReason {
  for (let i = 0; i < 10; i++) {
    const exit = vcpu.run();
    if (exit.kind !== "Nothing") return exit;
  }
  throw new Error("no exit");
}

describe("emulated backend: RISC-V operations for the SBI layer", () => {
  test("getPc is past the ecall after an SbiCall exit; setPc moves it", () => {
    const { hv, vcpu, riscv } = setup();
    expect(runToExit(vcpu).kind).toBe("SbiCall");
    expect(riscv.getPc()).toBe(BigInt(RAM + 8));
    riscv.setPc(BigInt(RAM));
    expect(runToExit(vcpu).kind).toBe("SbiCall");
    expect(riscv.getPc()).toBe(BigInt(RAM + 8));
    hv[Symbol.dispose]();
  });

  test("translateGuestVirtual walks VS-stage then G-stage, and reports the fault the guest would take", () => {
    const { hv, riscv } = setup();
    expect(riscv.translateGuestVirtual(BigInt(DATA_VA + 0x18), "read")).toEqual({ ok: true, gpa: PAGE_A + 0x18 });
    expect(riscv.translateGuestVirtual(BigInt(RAM + 0x1234), "write")).toEqual({ ok: true, gpa: RAM + 0x1234 });
    // Not mapped by the guest: a load (13) or store (15) page fault.
    expect(riscv.translateGuestVirtual(0x1000n, "read")).toMatchObject({ ok: false, cause: 13, tval: 0x1000n });
    expect(riscv.translateGuestVirtual(0x1000n, "write")).toMatchObject({ ok: false, cause: 15 });
    hv[Symbol.dispose]();
  });

  test("a GPA the G-stage does not map gives a guest-page fault", () => {
    const { hv, memory, riscv } = setup();
    memory.writeU64(VS_L0 + 8, ((BigInt(0x5000_0000) >> 12n) << 10n) | BigInt(V | R | W | AD));
    expect(riscv.translateGuestVirtual(BigInt(DATA_VA + 0x1000), "read")).toMatchObject({ ok: false, cause: 21 });
    expect(riscv.translateGuestVirtual(BigInt(DATA_VA + 0x1000), "write")).toMatchObject({ ok: false, cause: 23 });
    hv[Symbol.dispose]();
  });

  test("injectException enters the guest's trap handler with vsepc, vscause and vstval", () => {
    const { hv, vcpu, riscv } = setup();
    runToExit(vcpu);
    const h = vcpu.hart;
    h.vstvec = RAM + 0x100;
    riscv.setPc(riscv.getPc() - 4n);
    riscv.injectException(5, 0xdead_beefn);
    expect(h.pc).toBe(RAM + 0x100);
    expect(h.vsepc).toBe(RAM + 4);
    expect(h.vscauseLo).toBe(5);
    expect(h.vstval).toBe(0xdead_beef);
    hv[Symbol.dispose]();
  });

  test("a remote sfence.vma drops the guest's cached translations; without it the old one may stay", () => {
    const { hv, vcpu, memory, riscv } = setup();
    runToExit(vcpu);
    expect(vcpu.getGpr(REG_A0)).toBe(0x1111n);
    // Another hart re-points the PTE. Our TLB keeps the old translation until a fence, as hardware may.
    const view = memory.getSlice(VS_L0, 8);
    if (view === undefined) throw new Error("PTE not in RAM");
    new DataView(view.buffer, view.byteOffset).setBigUint64(
      0,
      ((BigInt(PAGE_B) >> 12n) << 10n) | BigInt(V | R | W | AD),
      true,
    );
    runToExit(vcpu);
    expect(vcpu.getGpr(REG_A0)).toBe(0x1111n);
    riscv.fence("sfence.vma");
    runToExit(vcpu);
    expect(vcpu.getGpr(REG_A0)).toBe(0x2222n);
    riscv.fence("hfence.gvma");
    riscv.fence("fence.i");
    hv[Symbol.dispose]();
  });
});

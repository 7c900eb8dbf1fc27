/**
 * The emulated HAL backend as a VMM drives it: a hand-built Sv39x4 G-stage table in memory from
 * `allocateMemory`, a VS-mode guest doing MMIO loads of every width (signed and unsigned, including compressed
 * forms) and stores, an SBI ecall, a WFI, an atomic to MMIO (reflected as an access fault), and interrupts.
 */

import { describe, expect, test } from "bun:test";
import {
  CSR_HSTATUS,
  CSR_SCAUSE,
  CSR_SEPC,
  CSR_SIE,
  CSR_SSTATUS,
  CSR_STIMECMP,
  CSR_STVAL,
  CSR_STVEC,
  CSR_TIME,
} from "../../src/arch/riscv64/csr.ts";
import { GSTAGE_ROOT_SIZE, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X } from "../../src/arch/riscv64/paging.ts";
import { REG_A0, REG_A1, REG_A2, REG_A3, REG_A4, REG_A5 } from "../../src/arch/riscv64/registers.ts";
import {
  SBI_ERR_FAILED,
  SBI_EXT_0_1_CONSOLE_GETCHAR,
  SBI_EXT_0_1_CONSOLE_PUTCHAR,
  SBI_EXT_DBCN,
  SBI_EXT_DBCN_CONSOLE_WRITE,
  SBI_EXT_DBCN_CONSOLE_WRITE_BYTE,
} from "../../src/arch/riscv64/sbi.ts";
import { IRQ_M_TIMER, IRQ_S_TIMER } from "../../src/arch/riscv64/traps.ts";
import { COMPILE_AT_FIRST_LANDING, DEFAULT_ENGINE_OPTIONS } from "../../src/hal/emulated/engine.ts";
import { PAUSE_SPIN_COUNT } from "../../src/hal/emulated/hart.ts";
import { EMULATED_MAX_REGION_SIZE, type EmulatedVm, emulatedBackend } from "../../src/hal/emulated/index.ts";
import { MEM_BLOCK_MAX_SIZE } from "../../src/hal/emulated/phys-memory.ts";
import type { EmulatedVcpu } from "../../src/hal/emulated/vcpu.ts";
import type { AxVCpuExitReason, HalVm, HostMemory } from "../../src/hal/types.ts";
import { HalError, NOTHING_SPINNING } from "../../src/hal/types.ts";
import {
  handleSbiCall,
  type SbiPlatform,
  sbiLegacyRegister,
  sbiRetRegisters,
} from "../../src/vmm/boards/riscv-virt/sbi.ts";
import * as A from "./asm.ts";

const GUEST_RAM = 0x8000_0000;
const MMIO = 0x1000_0000;

function writePte(mem: HostMemory, offset: number, pa: number, flags: number): void {
  const view = new DataView(mem.bytes.buffer, mem.bytes.byteOffset);
  const pte = ((BigInt(pa) >> 12n) << 10n) | BigInt(flags);
  view.setBigUint64(offset, pte, true);
}

/** Build an Sv39x4 table mapping GPA [GUEST_RAM, +2 MiB) to `ram` with one 2 MiB leaf. */
function buildGstage(vm: HalVm, ram: HostMemory): number {
  const root = vm.allocateMemory(GSTAGE_ROOT_SIZE, { alignment: GSTAGE_ROOT_SIZE });
  const l1 = vm.allocateMemory(4096);
  // Sv39x4 root index = GPA[40:30] (11 bits), then GPA[29:21].
  writePte(root, Math.floor(GUEST_RAM / 2 ** 30) * 8, l1.hostPhysAddr, PTE_V);
  writePte(l1, ((GUEST_RAM >>> 21) & 511) * 8, ram.hostPhysAddr, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D);
  return root.hostPhysAddr;
}

function setupGuest(
  code: Uint8Array,
  cpuCount = 1,
): { vm: HalVm; vcpu: EmulatedVcpu; ram: HostMemory; close: () => void } {
  const hv = emulatedBackend.open();
  const vm = hv.createVm({ arch: "riscv64", vmId: 3, cpuCount });
  const ram = vm.allocateMemory(2 << 20, { alignment: 2 << 20 });
  ram.bytes.set(code, 0);
  ram.notifyWritten(0, code.length);
  const root = buildGstage(vm, ram);
  const vcpu = vm.createVcpu(0) as EmulatedVcpu;
  vcpu.setup({
    entry: GUEST_RAM,
    stage2: { root, mode: "sv39x4" },
    gprs: [
      [REG_A0, 0n],
      [REG_A1, 0x8765n],
    ],
  });
  return { vm, vcpu, ram, close: () => hv[Symbol.dispose]() };
}

/** A program at GUEST_RAM whose loads of MMIO (t0 = s0 = MMIO) are `expectLoadedRegisters`'s: lb..lwu into a0..a5. */
function mmioLoads(): A.Program {
  const p = new A.Program(GUEST_RAM);
  p.emit(A.li(A.t0, MMIO), A.add(A.s0, A.t0, A.zero));
  p.emit(A.lb(A.a0, A.t0, 1), A.lbu(A.a1, A.t0, 2), A.lh(A.a2, A.t0, 4), A.lhu(A.a3, A.t0, 6));
  p.emit(A.lw(A.a4, A.t0, 8), A.lwu(A.a5, A.t0, 12));
  return p;
}

/**
 * The registers the MMIO tests' loads leave (lb, lbu, lh, lhu, lw, lwu into a0..a5), from the device values 0xff,
 * 0x80, 0x8001, 0xfffe, 0x8000_0000, 0xffff_ffff.
 */
function expectLoadedRegisters(vcpu: EmulatedVcpu): void {
  expect(vcpu.getGpr(REG_A0)).toBe(0xffff_ffff_ffff_ffffn);
  expect(vcpu.getGpr(REG_A1)).toBe(0x80n);
  expect(vcpu.getGpr(REG_A2)).toBe(0xffff_ffff_ffff_8001n);
  expect(vcpu.getGpr(REG_A3)).toBe(0xfffen);
  expect(vcpu.getGpr(REG_A4)).toBe(0xffff_ffff_8000_0000n);
  expect(vcpu.getGpr(REG_A5)).toBe(0xffff_ffffn);
}

/** Longest a guest may run without an exit: by time, not by runs (a compiled spin loop ends a run in ~1 ms). */
const EXIT_WAIT_MS = 10_000;

function runUntilExit(vcpu: EmulatedVcpu): AxVCpuExitReason {
  const started = performance.now();
  let runs = 0;
  while (performance.now() - started < EXIT_WAIT_MS) {
    const exit = vcpu.run();
    runs++;
    if (exit.kind !== "Nothing") return exit;
  }
  throw new Error(`guest made no exit in ${EXIT_WAIT_MS} ms (${runs} runs)`);
}

describe("emulated backend (HAL)", () => {
  test("probe says available for riscv64", () => {
    const support = emulatedBackend.hasHardwareSupport();
    expect(support.available).toBe(true);
    expect(support.archs).toEqual(["riscv64"]);
  });

  test("allocateMemory honours alignment, fixed placement, and rejects overlaps", () => {
    using hv = emulatedBackend.open();
    using vm = hv.createVm({ arch: "riscv64", vmId: 1, cpuCount: 1 });
    expect(vm.stage2).toBe("nested-page-table");
    const a = vm.allocateMemory(4096);
    const b = vm.allocateMemory(16384, { alignment: 1 << 20 });
    expect(b.hostPhysAddr % (1 << 20)).toBe(0);
    expect(a.hostPhysAddr).not.toBe(b.hostPhysAddr);
    const fixed = vm.allocateMemory(8192, { hostPhysAddr: 0x8000_0000 });
    expect(fixed.hostPhysAddr).toBe(0x8000_0000);
    expect(fixed.bytes.every((x) => x === 0)).toBe(true);
    expect(() => vm.allocateMemory(4096, { hostPhysAddr: 0x8000_1000 })).toThrow(HalError);
    expect(() => vm.allocateMemory(100)).toThrow(/multiple of 4 KiB/);
    expect(() => hv.createVm({ arch: "x86_64", vmId: 2, cpuCount: 1 })).toThrow(/riscv64 guests only/);
  });

  test("memory regions up to 4 GiB, mapped inside as 1 GiB blocks; larger ones are refused with the limit", () => {
    expect(emulatedBackend.hasHardwareSupport().maxMemoryRegionSize).toBe(EMULATED_MAX_REGION_SIZE);
    expect(EMULATED_MAX_REGION_SIZE).toBe(2 ** 32);
    using hv = emulatedBackend.open();
    using vm = hv.createVm({ arch: "riscv64", vmId: 1, cpuCount: 1 }) as EmulatedVm;
    // Allocated lazily by the host: untouched pages of these buffers cost nothing.
    const big = vm.allocateMemory(EMULATED_MAX_REGION_SIZE);
    const blocks = vm.memory.regions.filter((r) => r.base >= big.hostPhysAddr);
    expect(blocks.map((r) => [r.base - big.hostPhysAddr, r.end - r.base])).toEqual(
      [0, 1, 2, 3].map((i) => [i * MEM_BLOCK_MAX_SIZE, MEM_BLOCK_MAX_SIZE]),
    );
    // The top byte of the region is reachable through its block.
    big.bytes[big.bytes.length - 1] = 0x5a;
    const top = vm.memory.find(big.hostPhysAddr + EMULATED_MAX_REGION_SIZE - 1);
    expect(top?.block.bytes[MEM_BLOCK_MAX_SIZE - 1]).toBe(0x5a);
    expect(() => vm.allocateMemory(EMULATED_MAX_REGION_SIZE + 4096)).toThrow(
      /one emulated memory region holds at most 4294967296 bytes/,
    );
  });

  test("currentTime is monotonic in timebase ticks", () => {
    using hv = emulatedBackend.open();
    using vm = hv.createVm({ arch: "riscv64", vmId: 1, cpuCount: 1, timebaseHz: 1_000_000 });
    const t0 = vm.currentTime();
    Bun.sleepSync(5);
    const t1 = vm.currentTime();
    expect(vm.timebaseHz).toBe(1_000_000);
    expect(t1 - t0).toBeGreaterThanOrEqual(4000);
  });

  test("MMIO loads of every width, stores, compressed forms, SBI ecall and WFI become exits", () => {
    const p = mmioLoads();
    p.emit(A.ld(A.s2, A.t0, 16));
    p.c(A.cLw(A.s1, A.s0, 4)); // compressed load into x9
    p.emit(A.sb(A.a1, A.t0, 0x20), A.sh(A.a2, A.t0, 0x22), A.sw(A.a4, A.t0, 0x24), A.sd(A.s2, A.t0, 0x28));
    p.c(A.cSw(A.a1, A.s0, 8));
    p.emit(A.li(A.a7, 0x10), A.li(A.a6, 3), A.li(A.a0, 5), A.ecall());
    p.emit(A.add(A.s3, A.a0, A.a1)); // s3 = SBI return a0 + a1
    p.emit(A.wfi(), A.li(A.a7, 0x99), A.ecall());
    const env = setupGuest(p.assemble());
    try {
      const { vcpu } = env;
      const reads: [number, 1 | 2 | 4 | 8, number, boolean, bigint][] = [
        [MMIO + 1, 1, 10, true, 0xffn],
        [MMIO + 2, 1, 11, false, 0x80n],
        [MMIO + 4, 2, 12, true, 0x8001n],
        [MMIO + 6, 2, 13, false, 0xfffen],
        [MMIO + 8, 4, 14, true, 0x8000_0000n],
        [MMIO + 12, 4, 15, false, 0xffff_ffffn],
        [MMIO + 16, 8, 18, false, 0x1122_3344_5566_7788n],
        [MMIO + 4, 4, 9, true, 0x7fff_fffen],
      ];
      for (const [addr, width, reg, signedExt, value] of reads) {
        const exit = runUntilExit(vcpu);
        expect(exit).toEqual({ kind: "MmioRead", addr, width, reg, regWidth: 8, signedExt });
        vcpu.setReturnValue(width === 8 ? value : value | 0xabcd_0000_0000_0000n); // upper junk must be truncated away
      }
      expectLoadedRegisters(vcpu);
      expect(vcpu.getGpr(18)).toBe(0x1122_3344_5566_7788n);
      expect(vcpu.getGpr(9)).toBe(0x7fff_fffen);
      const writes: AxVCpuExitReason[] = [
        { kind: "MmioWrite", addr: MMIO + 0x20, width: 1, data: 0x80n },
        { kind: "MmioWrite", addr: MMIO + 0x22, width: 2, data: 0x8001n },
        { kind: "MmioWrite", addr: MMIO + 0x24, width: 4, data: 0x8000_0000n },
        { kind: "MmioWrite", addr: MMIO + 0x28, width: 8, data: 0x1122_3344_5566_7788n },
        { kind: "MmioWrite", addr: MMIO + 8, width: 4, data: 0x80n },
      ];
      for (const w of writes) expect(runUntilExit(vcpu)).toEqual(w);
      expect(runUntilExit(vcpu)).toEqual({
        kind: "SbiCall",
        extensionId: 0x10n,
        functionId: 3n,
        args: [5n, 0x80n, 0xffff_ffff_ffff_8001n, 0xfffen, 0xffff_ffff_8000_0000n, 0xffff_ffffn],
      });
      vcpu.setGpr(REG_A0, 0n);
      vcpu.setGpr(REG_A1, 42n);
      expect(runUntilExit(vcpu)).toEqual({ kind: "Halt" });
      expect(runUntilExit(vcpu)).toMatchObject({ kind: "SbiCall", extensionId: 0x99n });
      expect(vcpu.getGpr(19)).toBe(42n);
    } finally {
      env.close();
    }
  });

  test("runAccesses does MMIO of 1, 2 and 4 bytes through the handler in place, hypervisor and bare-machine alike; 8 bytes still exit", () => {
    const p = mmioLoads();
    p.emit(A.lw(A.zero, A.t0, 8));
    p.c(A.cLw(A.s1, A.s0, 4)); // compressed load into x9
    p.emit(A.sb(A.a1, A.t0, 0x20), A.sh(A.a2, A.t0, 0x22), A.sw(A.a4, A.t0, 0x24));
    p.c(A.cSw(A.a1, A.s0, 8));
    p.emit(A.ld(A.s2, A.t0, 16), A.lw(A.a4, A.t0, 12), A.sd(A.s2, A.t0, 0x30));
    p.label("end");
    p.ref("end", (off) => A.jal(0, off));
    const code = p.assemble();
    // Unsigned values of the access's width, by address and width.
    const values = new Map<string, number>([
      [`${MMIO + 1}/1`, 0xff],
      [`${MMIO + 2}/1`, 0x80],
      [`${MMIO + 4}/2`, 0x8001],
      [`${MMIO + 6}/2`, 0xfffe],
      [`${MMIO + 8}/4`, 0x8000_0000],
      [`${MMIO + 12}/4`, 0xffff_ffff],
      [`${MMIO + 4}/4`, 0x7fff_fffe],
    ]);
    const check = (vcpu: EmulatedVcpu): void => {
      const log: string[] = [];
      const handler = {
        mmioRead: (addr: number, width: 1 | 2 | 4): number => {
          log.push(`r ${addr - MMIO} ${width}`);
          return values.get(`${addr}/${width}`) ?? 0;
        },
        mmioWrite: (addr: number, width: 1 | 2 | 4, value: number): void => {
          log.push(`w ${addr - MMIO} ${width} ${value.toString(16)}`);
        },
        portRead: (): number => 0,
        portWrite: (): void => undefined,
      };
      const until = (maxAccesses: number): AxVCpuExitReason => {
        for (let runs = 0; runs < 1000; runs++) {
          const exit = vcpu.runAccesses(handler, maxAccesses);
          if (exit.kind !== "Nothing") return exit;
        }
        throw new Error("no exit in 1000 runs");
      };
      const exit = until(100);
      expect(exit).toEqual({ kind: "MmioRead", addr: MMIO + 16, width: 8, reg: 18, regWidth: 8, signedExt: false });
      expect(log).toEqual([
        "r 1 1",
        "r 2 1",
        "r 4 2",
        "r 6 2",
        "r 8 4",
        "r 12 4",
        "r 8 4",
        "r 4 4",
        "w 32 1 80",
        "w 34 2 8001",
        "w 36 4 80000000",
        "w 8 4 80",
      ]);
      expectLoadedRegisters(vcpu);
      expect(vcpu.getGpr(9)).toBe(0x7fff_fffen);
      expect(vcpu.getGpr(0)).toBe(0n);
      vcpu.setReturnValue(0x1122_3344_5566_7788n);
      expect(vcpu.getGpr(18)).toBe(0x1122_3344_5566_7788n);
      // At most maxAccesses, then Nothing; the 8-byte store after the next load exits.
      expect(vcpu.runAccesses(handler, 1)).toEqual({ kind: "Nothing" });
      expect(log.at(-1)).toBe("r 12 4");
      expect(vcpu.getGpr(REG_A4)).toBe(0xffff_ffff_ffff_ffffn); // lw sign-extends
      expect(until(1)).toEqual({ kind: "MmioWrite", addr: MMIO + 0x30, width: 8, data: 0x1122_3344_5566_7788n });
    };
    const env = setupGuest(code);
    try {
      check(env.vcpu);
    } finally {
      env.close();
    }
    using hv = emulatedBackend.open();
    using vm = hv.createVm({ arch: "riscv64", vmId: 4, cpuCount: 1, mode: "bare-machine" });
    const ram = vm.allocateMemory(2 << 20);
    vm.mapGuestMemory(GUEST_RAM, ram, 0x7);
    ram.bytes.set(code, 0);
    ram.notifyWritten(0, code.length);
    const vcpu = vm.createVcpu(0) as EmulatedVcpu;
    vcpu.setup({ entry: GUEST_RAM });
    check(vcpu);
  });

  test("an AMO to MMIO is reflected to the guest as an access fault; CSRs it may not touch as illegal", () => {
    const p = new A.Program(GUEST_RAM);
    p.emit(A.li(A.t0, GUEST_RAM + 0x100), A.csrw(CSR_STVEC /* stvec → vstvec */, A.t0));
    p.emit(A.li(A.t0, MMIO), A.li(A.t1, 1), A.amoaddW(A.a0, A.t1, A.t0));
    p.emit(A.csrr(A.a0, CSR_HSTATUS /* hstatus: hypervisor CSR from VS */));
    p.emit(A.li(A.a7, 0x77), A.ecall());
    while (p.pc < GUEST_RAM + 0x100) p.emit(A.addi(0, 0, 0));
    // Trap handler: report scause/stval through an SBI call, then skip the faulting instruction.
    p.emit(A.csrr(A.a0, CSR_SCAUSE), A.csrr(A.a1, CSR_STVAL), A.li(A.a7, 0x55), A.ecall());
    p.emit(A.csrr(A.t2, CSR_SEPC), A.addi(A.t2, A.t2, 4), A.csrw(CSR_SEPC, A.t2), A.sret());
    const env = setupGuest(p.assemble());
    try {
      const { vcpu } = env;
      const first = runUntilExit(vcpu);
      expect(first).toMatchObject({ kind: "SbiCall", extensionId: 0x55n });
      if (first.kind !== "SbiCall") throw new Error("unreachable");
      expect(first.args.slice(0, 2)).toEqual([7n, BigInt(MMIO)]); // store/AMO access fault, stval = address
      const second = runUntilExit(vcpu);
      expect(second).toMatchObject({ kind: "SbiCall", extensionId: 0x55n });
      if (second.kind !== "SbiCall") throw new Error("unreachable");
      expect(second.args[0]).toBe(2n); // illegal instruction
      expect(second.args[1]).toBe(BigInt(A.csrr(A.a0, CSR_HSTATUS) >>> 0)); // stval = instruction bits
      expect(runUntilExit(vcpu)).toMatchObject({ kind: "SbiCall", extensionId: 0x77n });
    } finally {
      env.close();
    }
  });

  test("interrupts: hvip-driven VS timer interrupt wakes and is taken; Sstc vstimecmp gives a deadline", () => {
    const p = new A.Program(GUEST_RAM);
    p.emit(A.li(A.t0, GUEST_RAM + 0x100), A.csrw(CSR_STVEC, A.t0));
    p.emit(A.li(A.t0, 1 << 5), A.csrw(CSR_SIE /* sie → vsie */, A.t0)); // STIE
    p.emit(A.csrsi(CSR_SSTATUS, 2)); // sstatus.SIE
    p.emit(A.wfi());
    p.emit(A.li(A.a7, 0x11), A.ecall());
    while (p.pc < GUEST_RAM + 0x100) p.emit(A.addi(0, 0, 0));
    p.emit(A.csrr(A.a0, CSR_SCAUSE), A.li(A.a7, 0x22), A.ecall());
    // Arm vstimecmp far in the future, then report.
    p.emit(A.li(A.t0, 1n << 40n), A.csrw(CSR_STIMECMP, A.t0), A.li(A.a7, 0x33), A.ecall());
    const env = setupGuest(p.assemble());
    try {
      const { vcpu } = env;
      expect(runUntilExit(vcpu)).toEqual({ kind: "Halt" });
      expect(vcpu.hasPendingInterrupt()).toBe(false);
      vcpu.setInterruptLevel(IRQ_S_TIMER, true);
      expect(vcpu.hasPendingInterrupt()).toBe(true);
      const exit = runUntilExit(vcpu);
      expect(exit).toMatchObject({ kind: "SbiCall", extensionId: 0x22n });
      if (exit.kind !== "SbiCall") throw new Error("unreachable");
      expect(exit.args[0]).toBe((1n << 63n) | 5n);
      vcpu.setInterruptLevel(IRQ_S_TIMER, false);
      expect(runUntilExit(vcpu)).toMatchObject({ kind: "SbiCall", extensionId: 0x33n });
      expect(vcpu.hardwareTimerDeadline()).toBe(2 ** 40);
      expect(() => vcpu.setInterruptLevel(IRQ_M_TIMER, true)).toThrow(/causes 1, 5 and 9/);
    } finally {
      env.close();
    }
  });

  test("SBI set_timer (riscv.setTimer) arms the hart's VS comparator: past is pending at once, future fires mid-run", () => {
    const p = new A.Program(GUEST_RAM);
    p.emit(A.li(A.t0, GUEST_RAM + 0x100), A.csrw(CSR_STVEC, A.t0));
    p.emit(A.li(A.t0, 1 << 5), A.csrw(CSR_SIE, A.t0)); // STIE
    p.emit(A.li(A.a7, 0x11), A.ecall()); // let the host program the timer
    p.emit(A.csrsi(CSR_SSTATUS, 2)); // sstatus.SIE
    const spin = p.pc;
    p.emit(A.jal(0, spin - p.pc)); // spin: only the hart's own comparator can end this
    while (p.pc < GUEST_RAM + 0x100) p.emit(A.addi(0, 0, 0));
    p.emit(A.csrr(A.a0, CSR_SCAUSE), A.li(A.a7, 0x22), A.ecall());
    const env = setupGuest(p.assemble());
    try {
      const { vcpu, vm } = env;
      const riscv = vcpu.riscv;
      expect(runUntilExit(vcpu)).toMatchObject({ kind: "SbiCall", extensionId: 0x11n });
      riscv.setTimer(0n);
      expect(vcpu.hasPendingInterrupt()).toBe(true);
      riscv.setTimer((1n << 64n) - 1n);
      expect(vcpu.hasPendingInterrupt()).toBe(false);
      expect(vcpu.hardwareTimerDeadline()).toBeUndefined();
      // 50 ms at 10 MHz: far enough ahead that it has not passed by the next line on a loaded machine (100 µs had).
      const deadline = vm.currentTime() + 500_000;
      riscv.setTimer(BigInt(deadline));
      expect(vcpu.hardwareTimerDeadline()).toBe(deadline);
      const exit = runUntilExit(vcpu);
      expect(exit).toMatchObject({ kind: "SbiCall", extensionId: 0x22n });
      if (exit.kind !== "SbiCall") throw new Error("unreachable");
      expect(exit.args[0]).toBe((1n << 63n) | 5n);
      expect(vm.currentTime()).toBeGreaterThanOrEqual(deadline);
    } finally {
      env.close();
    }
  });

  test("SBI console output answered on the hart (answerConsoleOnHart) matches the VMM's dispatcher; other calls still exit", () => {
    const MARKER = 0x99;
    const FAILED = BigInt.asUintN(64, SBI_ERR_FAILED);
    // [a7, a6, a0, a1] before the ecall.
    const answered: [bigint, bigint, bigint, bigint][] = [
      [SBI_EXT_0_1_CONSOLE_PUTCHAR, 7n, 0x1234_5678_9abc_de41n, 0x55n], // high junk in a0: the low byte is written
      [SBI_EXT_0_1_CONSOLE_PUTCHAR, 0n, 0xffn, 0n],
      [SBI_EXT_DBCN, SBI_EXT_DBCN_CONSOLE_WRITE_BYTE, 0x4243n, 0x77n],
    ];
    const exiting: [bigint, bigint, bigint, bigint][] = [
      [SBI_EXT_0_1_CONSOLE_PUTCHAR | (1n << 32n), 0n, 0x41n, 0n], // not extension 1 as a 64-bit value
      [SBI_EXT_DBCN, SBI_EXT_DBCN_CONSOLE_WRITE_BYTE | (1n << 40n), 0x41n, 0n],
      [SBI_EXT_DBCN, SBI_EXT_DBCN_CONSOLE_WRITE, 4n, BigInt(GUEST_RAM)], // a guest-physical buffer: the VMM's
      [SBI_EXT_0_1_CONSOLE_GETCHAR, 0n, 0n, 0n],
    ];
    const run = (
      [a7, a6, a0, a1]: [bigint, bigint, bigint, bigint],
      accepts: number,
    ): { exit: AxVCpuExitReason; written: number[] } => {
      const p = new A.Program(GUEST_RAM);
      p.emit(A.li(A.a7, a7), A.li(A.a6, a6), A.li(A.a0, a0), A.li(A.a1, a1), A.ecall());
      p.emit(A.li(A.a7, MARKER), A.ecall());
      const env = setupGuest(p.assemble());
      try {
        const written: number[] = [];
        env.vcpu.riscv.answerConsoleOnHart?.((bytes) => {
          written.push(...bytes);
          return Math.min(bytes.length, accepts);
        });
        return { exit: runUntilExit(env.vcpu), written };
      } finally {
        env.close();
      }
    };
    for (const regs of answered) {
      for (const accepts of [1, 0]) {
        const { exit, written } = run(regs, accepts);
        // The dispatcher's answer to the same call, on a console taking `accepts` bytes.
        const [a7, a6, a0, a1] = regs;
        const dispatched: number[] = [];
        const platform = {
          hartCount: 1,
          consoleWrite: (bytes: Uint8Array): number => {
            dispatched.push(...bytes);
            return Math.min(bytes.length, accepts);
          },
        } as unknown as SbiPlatform;
        const outcome = handleSbiCall({ extensionId: a7, functionId: a6, args: [a0, a1, 0n, 0n, 0n, 0n] }, 0, platform);
        const expected =
          outcome.kind === "LegacyReturn"
            ? [sbiLegacyRegister(outcome.value), a1]
            : outcome.kind === "Return"
              ? [sbiRetRegisters(outcome).a0, sbiRetRegisters(outcome).a1]
              : undefined;
        expect(expected).toBeDefined();
        expect(written).toEqual(dispatched);
        // No exit for the call: the next one is the marker's, with a0 and a1 as the call returned them.
        expect(exit).toMatchObject({ kind: "SbiCall", extensionId: BigInt(MARKER) });
        if (exit.kind !== "SbiCall") throw new Error("unreachable");
        expect(exit.args.slice(0, 2)).toEqual(expected ?? []);
      }
    }
    // (The comparison above covers it; said plainly: write_byte on a console that took nothing fails.)
    const refused = run(answered[2] ?? [0n, 0n, 0n, 0n], 0).exit;
    expect(refused.kind === "SbiCall" ? refused.args.slice(0, 2) : []).toEqual([FAILED, 0n]);
    for (const regs of exiting) {
      const { exit, written } = run(regs, 1);
      expect(written).toEqual([]);
      expect(exit).toMatchObject({ kind: "SbiCall", extensionId: regs[0], functionId: regs[1] });
    }
  });

  test("the instruction budget ends run() with Nothing; kick ends it early", () => {
    const p = new A.Program(GUEST_RAM);
    p.label("loop")
      .emit(A.addi(A.a0, A.a0, 1))
      .ref("loop", (off) => A.jal(0, off));
    const env = setupGuest(p.assemble());
    try {
      const { vcpu } = env;
      vcpu.instructionBudget = 1000;
      expect(vcpu.run()).toEqual({ kind: "Nothing" });
      const after = vcpu.getGpr(REG_A0);
      expect(after).toBeGreaterThanOrEqual(400n);
      expect(after).toBeLessThanOrEqual(600n);
      vcpu.kick();
      expect(vcpu.run()).toEqual({ kind: "Nothing" });
      expect(vcpu.getGpr(REG_A0) - after).toBeLessThan(100n);
    } finally {
      env.close();
    }
  });

  for (const [tier, options] of [
    ["interpreter", { ...DEFAULT_ENGINE_OPTIONS, jit: false }],
    ["WebAssembly", COMPILE_AT_FIRST_LANDING],
  ] as const) {
    test(`a spin on PAUSE hints gives the thread to the other harts (NOTHING_SPINNING); alone, PAUSE does nothing (${tier})`, () => {
      const p = new A.Program(GUEST_RAM);
      p.label("loop")
        .emit(A.pause(), A.addi(A.a0, A.a0, 1))
        .ref("loop", (off) => A.jal(0, off));
      for (const cpuCount of [2, 1]) {
        const env = setupGuest(p.assemble(), cpuCount);
        try {
          const { vcpu } = env;
          vcpu.engineOptions = options;
          vcpu.instructionBudget = 100_000;
          const exit = vcpu.run();
          if (cpuCount === 2) {
            expect(exit).toBe(NOTHING_SPINNING);
            // The PAUSE_SPIN_COUNT-th pause ends the run, before the add that follows it.
            expect(vcpu.getGpr(REG_A0)).toBe(BigInt(PAUSE_SPIN_COUNT - 1));
          } else {
            expect(exit).toEqual({ kind: "Nothing" });
            expect(exit).not.toBe(NOTHING_SPINNING);
            expect(vcpu.getGpr(REG_A0)).toBeGreaterThan(20_000n);
          }
        } finally {
          env.close();
        }
      }
    });
  }

  test("a hart entered for a few instructions at a time takes its timer interrupt at the first entry after the deadline", () => {
    const p = new A.Program(GUEST_RAM);
    p.emit(A.li(A.t0, GUEST_RAM + 0x100), A.csrw(CSR_STVEC, A.t0));
    p.emit(A.li(A.t0, 1 << 5), A.csrw(CSR_SIE, A.t0)); // STIE
    // vstimecmp = time + 2000 ticks (200 us), then spin with interrupts on.
    p.emit(A.csrr(A.t0, CSR_TIME), A.addi(A.t0, A.t0, 2000), A.csrw(CSR_STIMECMP, A.t0));
    p.emit(A.csrsi(CSR_SSTATUS, 2));
    p.label("spin").ref("spin", (off) => A.jal(0, off));
    while (p.pc < GUEST_RAM + 0x100) p.emit(A.addi(0, 0, 0));
    p.emit(A.csrr(A.a0, CSR_SCAUSE), A.li(A.a7, 0x22), A.ecall());
    const env = setupGuest(p.assemble());
    try {
      const { vcpu, vm } = env;
      vcpu.instructionBudget = 8; // far fewer than TIMER_CHECK_INTERVAL per run
      let deadline: number | undefined;
      let runsAfterDeadline = 0;
      for (;;) {
        const now = vm.currentTime();
        deadline ??= vcpu.hardwareTimerDeadline();
        if (deadline !== undefined && now >= deadline) runsAfterDeadline++;
        const exit = vcpu.run();
        if (exit.kind === "Nothing") continue;
        expect(exit).toMatchObject({ kind: "SbiCall", extensionId: 0x22n });
        if (exit.kind !== "SbiCall") throw new Error("unreachable");
        expect(exit.args[0]).toBe((1n << 63n) | 5n);
        break;
      }
      expect(deadline).toBeDefined();
      expect(runsAfterDeadline).toBeLessThanOrEqual(2);
    } finally {
      env.close();
    }
  });

  test("setReturnValue without a pending read is a state error", () => {
    const p = new A.Program(GUEST_RAM);
    p.emit(A.wfi());
    const env = setupGuest(p.assemble());
    try {
      expect(() => env.vcpu.setReturnValue(1n)).toThrow(/not an MmioRead/);
    } finally {
      env.close();
    }
  });
});

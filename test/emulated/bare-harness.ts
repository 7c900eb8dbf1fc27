/**
 * A minimal bare-machine board for running the ISA conformance programs (test/guests/isa) on the emulated hart
 * through the HAL directly: RAM at 0x8000_0000, a SiFive CLINT at 0x0200_0000 driven by the VM's timer, a byte
 * sink for a UART at 0x1000_0000, and HTIF `tohost` polling (pass = 1, failure = (n << 1) | 1, character output
 * = 0x0101_0000_0000_0000 | ch). It stands in for the VMM's bare-machine board, which lives elsewhere.
 */

import { IRQ_M_SOFT, IRQ_M_TIMER } from "../../src/arch/riscv64/traps.ts";
import { LSR_TEMT, LSR_THRE, UART_LSR } from "../../src/devices/uart16550.ts";
import type { EngineOptions } from "../../src/hal/emulated/engine.ts";
import { emulatedBackend } from "../../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../../src/hal/emulated/vcpu.ts";
import type { HalVm, HostMemory } from "../../src/hal/types.ts";
import { RISCV_VIRT } from "../../src/vmm/boards/riscv-virt/layout.ts";
import { parseElf } from "../../src/vmm/loader/elf.ts";

export const RAM_BASE = RISCV_VIRT.RAM_BASE;
export const CLINT_BASE = RISCV_VIRT.CLINT_BASE;
export const UART_BASE = RISCV_VIRT.UART0_BASE;

export interface BareRunResult {
  readonly status: "pass" | "fail" | "timeout" | "unsupported";
  /** Failing test number (fail), or undefined. */
  readonly testNumber: number | undefined;
  readonly console: string;
  readonly instructions: number;
  readonly detail: string;
}

export interface BareRunOptions {
  readonly ramSize?: number;
  readonly maxInstructions?: number;
  readonly engine?: "fast" | "reference";
  readonly jit?: boolean;
  /** Engine options for the fast engine (e.g. compile everything to WebAssembly at once). */
  readonly engineOptions?: EngineOptions;
  readonly harts?: number;
}

export class BareBoard implements Disposable {
  readonly vm: HalVm;
  readonly ram: HostMemory;
  readonly vcpus: EmulatedVcpu[] = [];
  readonly #hypervisor = emulatedBackend.open();
  msip: number[];
  mtimecmp: bigint[];
  console = "";

  constructor(ramSize: number, harts = 1) {
    this.vm = this.#hypervisor.createVm({ arch: "riscv64", vmId: 1, cpuCount: harts, mode: "bare-machine" });
    this.ram = this.vm.allocateMemory(ramSize);
    this.vm.mapGuestMemory(RAM_BASE, this.ram, 7);
    this.msip = new Array<number>(harts).fill(0);
    this.mtimecmp = new Array<bigint>(harts).fill(0xffff_ffff_ffff_ffffn);
    for (let i = 0; i < harts; i++) this.vcpus.push(this.vm.createVcpu(i) as EmulatedVcpu);
  }

  load(elf: Uint8Array): { entry: number; tohost: number | undefined } {
    const image = parseElf(elf);
    for (const seg of image.segments) {
      const off = seg.paddr - RAM_BASE;
      this.ram.bytes.set(seg.data, off);
      this.ram.bytes.fill(0, off + seg.data.length, off + seg.memSize);
      this.ram.notifyWritten(off, seg.memSize);
    }
    return { entry: image.entry, tohost: image.symbols.get("tohost")?.value };
  }

  #updateTimers(): void {
    const now = BigInt(this.vm.currentTime());
    this.vcpus.forEach((v, i) => {
      v.setInterruptLevel(IRQ_M_TIMER, now >= (this.mtimecmp[i] ?? 0n));
      v.setInterruptLevel(IRQ_M_SOFT, (this.msip[i] ?? 0) !== 0);
    });
  }

  mmioRead(addr: number, width: number): bigint {
    if (addr >= CLINT_BASE && addr < CLINT_BASE + RISCV_VIRT.CLINT_SIZE) {
      const off = addr - CLINT_BASE;
      if (off >= 0xbff8) {
        const t = BigInt(this.vm.currentTime());
        return off === 0xbff8 ? (width === 4 ? t & 0xffffffffn : t) : t >> 32n;
      }
      if (off >= 0x4000) {
        const hart = Math.floor((off - 0x4000) / 8);
        const v = this.mtimecmp[hart] ?? 0n;
        return (off - 0x4000) % 8 === 4 ? v >> 32n : width === 4 ? v & 0xffffffffn : v;
      }
      return BigInt(this.msip[off >> 2] ?? 0);
    }
    if (addr >= UART_BASE && addr < UART_BASE + 8)
      return addr === UART_BASE + UART_LSR ? BigInt(LSR_THRE | LSR_TEMT) : 0n;
    return 0n;
  }

  mmioWrite(addr: number, width: number, data: bigint): void {
    if (addr >= CLINT_BASE && addr < CLINT_BASE + RISCV_VIRT.CLINT_SIZE) {
      const off = addr - CLINT_BASE;
      if (off >= 0x4000 && off < 0xbff8) {
        const hart = Math.floor((off - 0x4000) / 8);
        const old = this.mtimecmp[hart] ?? 0n;
        let v: bigint;
        if (width === 8) v = data;
        else if ((off - 0x4000) % 8 === 4) v = (old & 0xffffffffn) | (data << 32n);
        else v = (old & 0xffffffff00000000n) | data;
        this.mtimecmp[hart] = v;
      } else if (off < 0x4000) {
        this.msip[off >> 2] = Number(data & 1n);
      }
    } else if (addr === UART_BASE) {
      this.console += String.fromCharCode(Number(data & 0xffn));
    }
    this.#updateTimers();
  }

  run(elf: Uint8Array, options: BareRunOptions = {}): BareRunResult {
    const { entry, tohost } = this.load(elf);
    const max = options.maxInstructions ?? 50_000_000;
    for (const v of this.vcpus) {
      v.setup({ entry });
      v.engine = options.engine ?? "fast";
      if (options.engineOptions !== undefined) v.engineOptions = options.engineOptions;
      if (options.jit === false) v.engineOptions = { ...v.engineOptions, jit: false };
      v.instructionBudget = 20_000;
    }
    const view = new DataView(this.ram.bytes.buffer, this.ram.bytes.byteOffset);
    const halted = this.vcpus.map(() => false);
    let steps = 0;
    const result = (
      status: BareRunResult["status"],
      testNumber: number | undefined,
      detail: string,
    ): BareRunResult => ({
      status,
      testNumber,
      console: this.console,
      instructions: this.vcpus.reduce((sum, v) => sum + v.hart.icount, 0),
      detail,
    });
    while (steps < max) {
      let progressed = false;
      this.#updateTimers();
      for (let i = 0; i < this.vcpus.length; i++) {
        const v = this.vcpus[i];
        if (v === undefined) continue;
        if (halted[i] && !v.hasPendingInterrupt()) continue;
        halted[i] = false;
        progressed = true;
        const before = v.hart.icount;
        const exit = v.run();
        steps += Math.max(1, v.hart.icount - before);
        switch (exit.kind) {
          case "MmioRead":
            v.setReturnValue(this.mmioRead(exit.addr, exit.width));
            break;
          case "MmioWrite":
            this.mmioWrite(exit.addr, exit.width, exit.data);
            break;
          case "Halt":
            halted[i] = true;
            break;
          case "Nothing":
            break;
          default:
            return result(
              "unsupported",
              undefined,
              JSON.stringify(exit, (_k, x: unknown) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x)),
            );
        }
        if (tohost !== undefined) {
          const off = tohost - RAM_BASE;
          const value = view.getBigUint64(off, true);
          if (value !== 0n) {
            if (value >> 48n === 0x0101n) {
              this.console += String.fromCharCode(Number(value & 0xffn));
              view.setBigUint64(off, 0n, true);
              this.ram.notifyWritten(off, 8);
            } else if (value === 1n) {
              return result("pass", undefined, "");
            } else {
              return result("fail", Number(value >> 1n), `tohost = 0x${value.toString(16)}`);
            }
          }
        }
      }
      if (!progressed) {
        // Every hart waits: sleep until the next CLINT deadline by advancing nothing but re-checking the timer.
        const next = this.mtimecmp.reduce((a, b) => (b < a ? b : a), 0xffff_ffff_ffff_ffffn);
        if (next === 0xffff_ffff_ffff_ffffn && this.msip.every((m) => m === 0)) {
          const deadlines = this.vcpus.map((v) => v.hardwareTimerDeadline()).filter((d) => d !== undefined);
          if (deadlines.length === 0) return result("timeout", undefined, "all harts halted with no wake-up source");
        }
        Bun.sleepSync(0.1);
      }
    }
    return result("timeout", undefined, `no verdict after ${max} instructions`);
  }

  [Symbol.dispose](): void {
    this.vm[Symbol.dispose]();
    this.#hypervisor[Symbol.dispose]();
  }
}

/**
 * Guests that write console output as fast as they can, for the console backpressure, closed-stdout and fairness
 * tests. Assembled here (test/emulated/asm.ts) so no toolchain is needed.
 *
 * - `uartFloodBinary`: a bare-machine flat binary (`--machine virt --bios none`) writing "x\n" to the virt
 *   board's UART forever (one MMIO exit per byte: about 100 KB/s).
 * - `dbcnFloodConfig`: a VS-mode guest on the hypervisor board that asks SBI DBCN to write 64 KiB of its RAM
 *   (its own code, then zeros) to the console, forever: tens of MB/s, what an unread pipe used to buffer.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { a0, a1, a2, a6, a7, addi, ecall, jal, li, lui, Program, sb, t0, t1, t2, zero } from "../emulated/asm.ts";

const UART_BASE = 0x1000_0000;
const RAM_BASE = 0x8000_0000;
const KERNEL_BASE = 0x8020_0000;
const SBI_EXT_DBCN = 0x4442_434e;
const DBCN_WRITE = 0;
const DBCN_CHUNK = 0x1_0000;

export function uartFloodBinary(): Uint8Array {
  const p = new Program(RAM_BASE);
  p.emit(lui(t0, UART_BASE), addi(t1, zero, 0x78), addi(t2, zero, 0x0a));
  p.label("loop").emit(sb(t1, t0, 0), sb(t2, t0, 0));
  p.ref("loop", (off) => jal(zero, off));
  return p.assemble();
}

export function dbcnFloodBinary(): Uint8Array {
  const p = new Program(KERNEL_BASE);
  p.emit(li(a7, SBI_EXT_DBCN), li(a6, DBCN_WRITE), li(a2, 0));
  // a0 and a1 come back as the SBI error and byte count: set them again before every call.
  p.label("loop").emit(li(a0, DBCN_CHUNK), li(a1, KERNEL_BASE), ecall());
  p.ref("loop", (off) => jal(zero, off));
  return p.assemble();
}

/** Write the DBCN flood guest and a config that runs it (console on stdout) into `dir`; returns the config path. */
export function dbcnFloodConfig(dir: string, options: { readonly id?: number; readonly name?: string } = {}): string {
  const name = options.name ?? "flood";
  const image = join(dir, `${name}.bin`);
  writeFileSync(image, dbcnFloodBinary());
  const config = join(dir, `${name}.toml`);
  writeFileSync(
    config,
    [
      "[base]",
      `id = ${options.id ?? 0}`,
      `name = ${JSON.stringify(name)}`,
      'cpu_num = 1\narch = "riscv64"\nbackend = "emulated"',
      "[kernel]",
      `kernel_path = ${JSON.stringify(image)}`,
      `entry_point = ${KERNEL_BASE}\nkernel_load_addr = ${KERNEL_BASE}`,
      `memory_regions = [[${RAM_BASE}, 0x100_0000, 0x7, 0]]`,
      "[devices]",
      'console = "stdout"',
      "",
    ].join("\n"),
  );
  return config;
}

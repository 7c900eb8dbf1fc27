/**
 * Guests that write console output as fast as they can, for the console backpressure, closed-stdout and fairness
 * tests. Assembled here (test/emulated/asm.ts) so no toolchain is needed.
 *
 * - `uartFloodBinary`: a bare-machine flat binary (`--machine virt --bios none`) writing "x\n" to the virt
 *   board's UART forever (one MMIO exit per byte: about 100 KB/s).
 * - `dbcnFloodConfig`: a VS-mode guest on the hypervisor board that asks SBI DBCN to write 64 KiB of its RAM
 *   (its own code, then zeros) to the console, forever: tens of MB/s, what an unread pipe used to buffer.
 * - `virtioFloodConfig`: a VS-mode guest with a virtio-console that sends, forever, one transmit chain of
 *   127 descriptors of 32 MiB each (4 GiB, all legal), waiting in WFI for each to complete, as a driver does: the
 *   notification that used to hold the thread 8–11 s.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  a0,
  a1,
  a2,
  a6,
  a7,
  add,
  addi,
  andi,
  blt,
  bne,
  csrs,
  ecall,
  jal,
  lhu,
  li,
  lui,
  lw,
  ori,
  Program,
  s0,
  s1,
  s2,
  s3,
  s4,
  s5,
  sb,
  sd,
  sh,
  slli,
  sw,
  t0,
  t1,
  t2,
  wfi,
  zero,
} from "../emulated/asm.ts";

/** Saved registers test/emulated/asm.ts does not name. */
const s6 = 22;
const s7 = 23;
const s8 = 24;
const s9 = 25;
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

/**
 * Write `image` and a config that runs it as a one-hart VS-mode guest of the emulated backend (kernel at
 * KERNEL_BASE, RAM from RAM_BASE) into `dir` as `name`.bin and `name`.toml; returns the config path.
 */
export function writeVsGuestConfig(
  dir: string,
  name: string,
  image: Uint8Array,
  options: {
    readonly id?: number;
    readonly ramSize?: number;
    /** `emu_devices` entries, as TOML. */
    readonly devices?: readonly string[];
    readonly console?: string;
  } = {},
): string {
  const imagePath = join(dir, `${name}.bin`);
  writeFileSync(imagePath, image);
  const config = join(dir, `${name}.toml`);
  writeFileSync(
    config,
    [
      "[base]",
      `id = ${options.id ?? 0}`,
      `name = ${JSON.stringify(name)}`,
      'cpu_num = 1\narch = "riscv64"\nbackend = "emulated"',
      "[kernel]",
      `kernel_path = ${JSON.stringify(imagePath)}`,
      `entry_point = ${KERNEL_BASE}\nkernel_load_addr = ${KERNEL_BASE}`,
      `memory_regions = [[${RAM_BASE}, ${options.ramSize ?? 0x100_0000}, 0x7, 0]]`,
      "[devices]",
      ...(options.devices === undefined ? [] : [`emu_devices = [${options.devices.join(", ")}]`]),
      `console = ${JSON.stringify(options.console ?? "stdout")}`,
      "",
    ].join("\n"),
  );
  return config;
}

/** Write the DBCN flood guest and a config that runs it (console on stdout) into `dir`; returns the config path. */
export function dbcnFloodConfig(dir: string, options: { readonly id?: number; readonly name?: string } = {}): string {
  return writeVsGuestConfig(dir, options.name ?? "flood", dbcnFloodBinary(), { id: options.id ?? 0 });
}

// virtio-mmio registers (virtio 1.2 §4.2.2) and the virt board's PLIC (riscv-virt/layout.ts), as a driver sees them.
const VIRTIO_BASE = 0x1000_1000;
const VIRTIO_IRQ = 1;
const MMIO_DRIVER_FEATURES = 0x20;
const MMIO_DRIVER_FEATURES_SEL = 0x24;
const MMIO_QUEUE_SEL = 0x30;
const MMIO_QUEUE_NUM = 0x38;
const MMIO_QUEUE_READY = 0x44;
const MMIO_QUEUE_NOTIFY = 0x50;
const MMIO_INTERRUPT_STATUS = 0x60;
const MMIO_INTERRUPT_ACK = 0x64;
const MMIO_STATUS = 0x70;
const MMIO_QUEUE_DESC_LOW = 0x80;
const MMIO_QUEUE_DRIVER_LOW = 0x90;
const MMIO_QUEUE_DEVICE_LOW = 0xa0;
const STATUS_ACKNOWLEDGE = 1;
const STATUS_DRIVER = 2;
const STATUS_DRIVER_OK = 4;
const STATUS_FEATURES_OK = 8;
const CONSOLE_TRANSMITQ = 1;
const QUEUE_SIZE = 128;
const PLIC_BASE = 0x0c00_0000;
const PLIC_S_CONTEXT_HART0 = 1;
const PLIC_ENABLE = PLIC_BASE + 0x2000 + 0x80 * PLIC_S_CONTEXT_HART0;
const PLIC_THRESHOLD = PLIC_BASE + 0x20_0000 + 0x1000 * PLIC_S_CONTEXT_HART0;
const PLIC_CLAIM = PLIC_THRESHOLD + 4;
const CSR_SIE = 0x104;
const SIE_SEIE = 1 << 9;
// Where the flooding guest keeps its rings and its one 32 MiB buffer (RAM is 64 MiB from 0x8000_0000).
const DESC = 0x8030_0000;
const AVAIL = 0x8030_1000;
const USED = 0x8030_2000;
const BUFFER = 0x8100_0000;
const BUFFER_LENGTH = 32 << 20;
const CHAIN_LENGTH = 127;
export const VIRTIO_FLOOD_RAM = 64 << 20;
/** Bytes one chain of the flooding guest describes (127 × 32 MiB). */
export const VIRTIO_FLOOD_CHAIN_BYTES = CHAIN_LENGTH * BUFFER_LENGTH;

export function virtioFloodBinary(): Uint8Array {
  const p = new Program(KERNEL_BASE);
  const reg = (offset: number, value: number): number[] => [...li(t0, value), sw(t0, s0, offset)];
  // Device initialisation (§3.1.1): reset, ACKNOWLEDGE, DRIVER, VERSION_1 only, FEATURES_OK.
  p.emit(li(s0, VIRTIO_BASE), sw(zero, s0, MMIO_STATUS));
  p.emit(reg(MMIO_STATUS, STATUS_ACKNOWLEDGE), reg(MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER));
  p.emit(reg(MMIO_DRIVER_FEATURES_SEL, 1), reg(MMIO_DRIVER_FEATURES, 1)); // bit 32: VIRTIO_F_VERSION_1
  p.emit(sw(zero, s0, MMIO_DRIVER_FEATURES_SEL), sw(zero, s0, MMIO_DRIVER_FEATURES));
  p.emit(reg(MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK));
  // The transmit queue.
  p.emit(reg(MMIO_QUEUE_SEL, CONSOLE_TRANSMITQ), reg(MMIO_QUEUE_NUM, QUEUE_SIZE));
  p.emit(reg(MMIO_QUEUE_DESC_LOW, DESC), reg(MMIO_QUEUE_DRIVER_LOW, AVAIL), reg(MMIO_QUEUE_DEVICE_LOW, USED));
  p.emit(reg(MMIO_QUEUE_READY, 1));
  p.emit(reg(MMIO_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK));
  // Descriptors 0..125: { BUFFER, 32 MiB, NEXT, i + 1 }; 126: { BUFFER, 32 MiB, 0, 0 }.
  p.emit(li(s1, DESC), li(s2, BUFFER), li(s3, BUFFER_LENGTH), li(s4, 0), li(s5, CHAIN_LENGTH - 1));
  p.label("fill");
  p.emit(sd(s2, s1, 0), sw(s3, s1, 8), addi(t0, s4, 1), slli(t0, t0, 16), ori(t0, t0, 1), sw(t0, s1, 12));
  p.emit(addi(s1, s1, 16), addi(s4, s4, 1));
  p.ref("fill", (off) => blt(s4, s5, off));
  p.emit(sd(s2, s1, 0), sw(s3, s1, 8), sw(zero, s1, 12));
  // PLIC: the device's source at priority 1, enabled for hart 0's S context, threshold 0; sie.SEIE so that an
  // interrupt ends WFI (sstatus.SIE stays 0: no trap, the loop looks at the used ring itself).
  p.emit(li(t1, PLIC_BASE + 4 * VIRTIO_IRQ), li(t0, 1), sw(t0, t1, 0));
  p.emit(li(t1, PLIC_ENABLE), li(t0, 1 << VIRTIO_IRQ), sw(t0, t1, 0));
  p.emit(li(t1, PLIC_THRESHOLD), sw(zero, t1, 0));
  p.emit(li(t0, SIE_SEIE), csrs(CSR_SIE, t0));
  p.emit(li(s6, AVAIL), li(s7, USED), li(s8, 0), li(s9, PLIC_CLAIM));
  // Forever: publish the chain, notify, sleep until the device has used it, acknowledge.
  p.label("loop");
  p.emit(andi(t0, s8, QUEUE_SIZE - 1), slli(t0, t0, 1), add(t0, t0, s6), sh(zero, t0, 4));
  p.emit(addi(s8, s8, 1), sh(s8, s6, 2), reg(MMIO_QUEUE_NOTIFY, CONSOLE_TRANSMITQ));
  p.label("wait");
  p.emit(wfi(), lhu(t0, s7, 2), lhu(t1, s6, 2));
  p.ref("wait", (off) => bne(t0, t1, off));
  p.emit(lw(t0, s0, MMIO_INTERRUPT_STATUS), sw(t0, s0, MMIO_INTERRUPT_ACK), lw(t0, s9, 0), sw(t0, s9, 0));
  p.ref("loop", (off) => jal(zero, off));
  return p.assemble();
}

/**
 * Write the virtio flooding guest and its config (emulated backend, a virtio-console in virtio window 0, console
 * output to `console`) into `dir`; returns the config path.
 */
export function virtioFloodConfig(
  dir: string,
  options: { readonly id?: number; readonly console?: string } = {},
): string {
  return writeVsGuestConfig(dir, "virtio-flood", virtioFloodBinary(), {
    id: options.id ?? 0,
    ramSize: VIRTIO_FLOOD_RAM,
    devices: [`["console", ${VIRTIO_BASE}, 0x1000, ${VIRTIO_IRQ}, "virtio-console", []]`],
    console: options.console ?? "stdout",
  });
}

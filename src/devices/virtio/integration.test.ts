/**
 * The virtio devices wired as the VMM wires them: transports in 4 KiB windows on an MMIO bus, interrupt lines
 * into PLIC sources, drivers reaching the registers through `Bus.read`/`Bus.write` at guest-physical addresses
 * (so the bus's bigint data and 8-byte splitting are on the path), and the interrupt handled the way Linux does
 * on a RISC-V virt board: claim at the PLIC, read and acknowledge InterruptStatus, complete at the PLIC.
 */
import { expect, test } from "bun:test";
import { ManualTurns } from "../../../test/support/manual-turns.ts";
import { RecordingIrqLine } from "../../../test/support/recording-irq-line.ts";
import { TestGuestRam, VirtioMmioDriver } from "../../../test/support/virtio-driver.ts";
import { Bus } from "../bus.ts";
import { Plic } from "../plic.ts";
import type { BusDevice } from "../types.ts";
import { VIRTIO_BLK_T_IN, VirtioBlock } from "./block.ts";
import { MemoryBlockBackend } from "./block-backend.ts";
import { VIRTIO_CONSOLE_TRANSMITQ, VirtioConsole } from "./console.ts";
import type { VirtioDevice } from "./device.ts";
import { VIRTIO_MMIO_CONFIG, VIRTIO_MMIO_INT_VRING, VirtioMmioTransport } from "./mmio-transport.ts";
import { VirtioRng } from "./rng.ts";

const VIRTIO_BASE = 0x1000_1000;
const VIRTIO_WINDOW = 0x1000;
const PLIC_BASE = 0x0c00_0000;
const PLIC_ENABLE_CONTEXT0 = 0x2000;
const PLIC_CLAIM_CONTEXT0 = 0x20_0004;

/** A driver's view of one window: register offsets become bus addresses. */
function window(bus: Bus, base: number): BusDevice {
  return {
    name: `window@${base.toString(16)}`,
    read: (offset, width) => {
      const r = bus.read(base + offset, width);
      if (r.kind !== "ok") throw new Error(`bus read at 0x${(base + offset).toString(16)}: ${r.kind}`);
      return Number(r.value);
    },
    write: (offset, width, value) => {
      const r = bus.write(base + offset, width, BigInt(value));
      if (r.kind !== "ok") throw new Error(`bus write at 0x${(base + offset).toString(16)}: ${r.kind}`);
    },
  };
}

test("blk, console and rng on one bus with PLIC interrupts, driven through guest-physical addresses", () => {
  const ram = new TestGuestRam(1 << 20);
  const hart = new RecordingIrqLine();
  const plic = new Plic({ sources: 8, contexts: [hart] });
  const turns = new ManualTurns();
  const bus = new Bus("mmio");
  bus.insert(PLIC_BASE, plic.windowSize, plic);

  const disk = new MemoryBlockBackend(Uint8Array.from({ length: 8 * 512 }, (_, i) => (i >> 9) + 0x40));
  const output: number[] = [];
  const devices: VirtioDevice[] = [
    new VirtioBlock({ backend: disk }),
    new VirtioConsole({ sink: (b) => output.push(...b) }),
    new VirtioRng(),
  ];
  const drivers = devices.map((device, i) => {
    const base = VIRTIO_BASE + i * VIRTIO_WINDOW;
    const transport = new VirtioMmioTransport({
      device,
      memory: ram.memory,
      irq: plic.sourceLine(1 + i),
      deferWork: turns.defer,
    });
    expect(transport.windowSize).toBeLessThanOrEqual(VIRTIO_WINDOW);
    bus.insert(base, VIRTIO_WINDOW, transport);
    // Source priority 1, enabled for context 0.
    bus.write(PLIC_BASE + 4 * (1 + i), 4, 1n);
    return new VirtioMmioDriver(window(bus, base), ram);
  });
  bus.write(PLIC_BASE + PLIC_ENABLE_CONTEXT0, 4, 0b1110n);
  for (const d of drivers) d.init();
  const [blk, con, rng] = drivers;
  if (blk === undefined || con === undefined || rng === undefined) throw new Error("missing drivers");

  // A 64-bit config read through the bus is split into two 32-bit device reads: capacity = 8 sectors.
  const capacity = bus.read(VIRTIO_BASE + VIRTIO_MMIO_CONFIG, 8);
  expect(capacity.kind === "ok" ? capacity.value : undefined).toBe(8n);

  /** Linux's path for one interrupt: claim, vm_interrupt (read status, ack), complete. Returns the source. */
  const handleInterrupt = (): number => {
    const claim = bus.read(PLIC_BASE + PLIC_CLAIM_CONTEXT0, 4);
    const source = claim.kind === "ok" ? Number(claim.value) : 0;
    const driver = drivers[source - 1];
    if (driver === undefined) throw new Error(`spurious claim ${source}`);
    expect(driver.handleInterrupt()).toBe(VIRTIO_MMIO_INT_VRING);
    bus.write(PLIC_BASE + PLIC_CLAIM_CONTEXT0, 4, BigInt(source));
    return source;
  };

  const header = new Uint8Array(16);
  new DataView(header.buffer).setUint32(0, VIRTIO_BLK_T_IN, true);
  new DataView(header.buffer).setUint32(8, 3, true);
  const read = blk.submit(0, [
    { writable: false, data: header },
    { writable: true, length: 512 },
    { writable: true, length: 1 },
  ]);
  expect(hart.level).toBe(true);
  expect(handleInterrupt()).toBe(1);
  expect(hart.level).toBe(false);
  const [, data, status] = read.buffers;
  if (data === undefined || status === undefined) throw new Error("missing buffers");
  expect(blk.queue(0).readBuffer(status)[0]).toBe(0);
  expect(
    blk
      .queue(0)
      .readBuffer(data)
      .every((b) => b === 0x43),
  ).toBe(true);

  con.submit(VIRTIO_CONSOLE_TRANSMITQ, [{ writable: false, data: new TextEncoder().encode("console ok\n") }]);
  expect(handleInterrupt()).toBe(2);
  expect(new TextDecoder().decode(Uint8Array.from(output))).toBe("console ok\n");

  rng.submit(0, [{ writable: true, length: 32 }]);
  expect(handleInterrupt()).toBe(3);
  expect(
    rng
      .queue(0)
      .takeUsed()
      .map((u) => u.len),
  ).toEqual([32]);
  expect(hart.level).toBe(false);
});

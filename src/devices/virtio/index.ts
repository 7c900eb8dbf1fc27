/**
 * virtio for the VMM: the virtio-mmio transport and the device models behind it (blk, console, rng, net).
 *
 * Wiring one device (the device manager's job):
 *
 *   const device = new VirtioBlock({ backend: FileBlockBackend.open(path, { readOnly }) });
 *   const transport = new VirtioMmioTransport({ device, memory: guestMemory, irq: plic.sourceLine(irq), deferWork });
 *   mmioBus.insert(base, size, transport); // size ≥ transport.windowSize (0x200); the virt board uses 0x1000
 *
 * Queue notifications are handled inside the MMIO write to QueueNotify, up to a turn's budget of work
 * (`QueueWorker`); the rest runs in later turns through `deferWork` (the VM's deferred work). Host-side events
 * (`VirtioConsole.enqueueInput`) run the device at once too. `transport.reset()` on a VM reset.
 */

export * from "./block.ts";
export * from "./block-backend.ts";
export * from "./console.ts";
export * from "./constants.ts";
export type { VirtioDevice, VirtioDeviceContext, VirtioFailure } from "./device.ts";
export * from "./mmio-transport.ts";
export * from "./net.ts";
export * from "./queue.ts";
export * from "./queue-worker.ts";
export * from "./rng.ts";

/**
 * The backend's fast paths for a virtio-mmio device, when it has them (`HalVm.eventChannels`: KVM's ioeventfd and
 * irqfd): the device's interrupt goes through an irqfd instead of a KVM_IRQ_LINE ioctl per change, and the guest's
 * QueueNotify writes (one value per queue: the queue's index) no longer exit, the backend hands them to the
 * transport on the VMM's thread. Boards with an in-kernel interrupt controller (x86 PC, arm64 virt) use these;
 * without eventChannels both fall back to the exit path.
 */

import { LevelIrqLine } from "../devices/irq.ts";
import type { IrqLine } from "../devices/types.ts";
import { VIRTIO_MMIO_QUEUE_NOTIFY, type VirtioMmioTransport } from "../devices/virtio/mmio-transport.ts";
import type { HalVm } from "../hal/types.ts";

/** A level line to VM interrupt line `line`: through the backend's irqfd when it has one, else KVM_IRQ_LINE. */
export function virtioIrqLine(halVm: HalVm, line: number): IrqLine {
  const fast = halVm.eventChannels?.levelIrqLine(line);
  return new LevelIrqLine(fast ?? ((level) => halVm.setIrqLine(line, level)));
}

/** Let the guest's QueueNotify writes to the transport at `base` skip the vCPU exit, when the backend can. */
export function watchVirtioNotifications(halVm: HalVm, base: number, transport: VirtioMmioTransport<unknown>): void {
  const channels = halVm.eventChannels;
  if (channels === undefined) return;
  for (let queue = 0; queue < transport.queues.length; queue++) {
    // The same path as the guest's own write would take: the transport checks the state and guards the device.
    channels.watchMmioWrite(base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, queue, () =>
      transport.write(VIRTIO_MMIO_QUEUE_NOTIFY, 4, queue),
    );
  }
}

/** How a virtio-mmio device's notifications and interrupt travel on this VM (for the boards' debug log). */
export function virtioPathDescription(halVm: HalVm): string {
  return halVm.eventChannels === undefined
    ? "notifications and interrupt through vCPU exits"
    : "notifications on ioeventfd, interrupt on irqfd";
}

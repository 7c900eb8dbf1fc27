/**
 * An unpopulated virtio-mmio window. QEMU's `virt` board lists eight virtio-mmio windows in its device tree
 * whether or not a device sits behind them; a window without a device answers with the magic value, version 2 and
 * DeviceID 0, which drivers (Linux's virtio_mmio) take as "nothing here" and skip quietly.
 */

import type { BusDevice, DeviceStats } from "../types.ts";
import {
  VIRTIO_MMIO_DEVICE_ID,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_MAGIC_VALUE,
  VIRTIO_MMIO_VENDOR_ID,
  VIRTIO_MMIO_VENDOR_ID_AXVISOR,
  VIRTIO_MMIO_VERSION,
  VIRTIO_MMIO_VERSION_2,
} from "./mmio-transport.ts";

export class EmptyVirtioMmioSlot implements BusDevice {
  readonly name = "virtio-mmio (empty)";
  readonly stats: DeviceStats = { badAccesses: 0 };

  read(offset: number, width: 1 | 2 | 4): number {
    if (width !== 4) {
      this.stats.badAccesses++;
      return 0;
    }
    switch (offset) {
      case VIRTIO_MMIO_MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
      case VIRTIO_MMIO_VERSION:
        return VIRTIO_MMIO_VERSION_2;
      case VIRTIO_MMIO_DEVICE_ID:
        return 0;
      case VIRTIO_MMIO_VENDOR_ID:
        return VIRTIO_MMIO_VENDOR_ID_AXVISOR;
      default:
        return 0;
    }
  }

  write(): void {
    // Nothing to configure in an empty slot; the driver should not be writing here at all.
    this.stats.badAccesses++;
  }
}

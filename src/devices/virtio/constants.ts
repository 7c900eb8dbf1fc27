/**
 * Names and numbers shared by every virtio device and transport (OASIS virtio 1.2: §2.1 "Device Status Field",
 * §5 "Device Types", §6 "Reserved Feature Bits"). Device-specific feature bits and request codes live in each
 * device's file; the MMIO register map lives in `mmio-transport.ts`, the ring layout in `queue.ts`.
 */

// Device status (§2.1). The driver sets bits in this order; writing 0 resets the device.
/** The guest OS has found the device and recognised it as a valid virtio device. */
export const VIRTIO_STATUS_ACKNOWLEDGE = 1;
/** The guest OS knows how to drive the device. */
export const VIRTIO_STATUS_DRIVER = 2;
/** The driver is set up and ready to drive the device. */
export const VIRTIO_STATUS_DRIVER_OK = 4;
/** The driver has acknowledged the features it understands; feature negotiation is complete. */
export const VIRTIO_STATUS_FEATURES_OK = 8;
/** The device has hit an error it cannot recover from without a reset. Set by the device only. */
export const VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64;
/** Something went wrong in the guest and it has given up on the device. */
export const VIRTIO_STATUS_FAILED = 128;

// Device IDs (§5).
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_ENTROPY = 4;

// Reserved (transport and ring) feature bits (§6), as bit numbers.
export const VIRTIO_F_INDIRECT_DESC = 28;
export const VIRTIO_F_EVENT_IDX = 29;
export const VIRTIO_F_VERSION_1 = 32;
export const VIRTIO_F_ACCESS_PLATFORM = 33;
export const VIRTIO_F_RING_PACKED = 34;
export const VIRTIO_F_IN_ORDER = 35;
export const VIRTIO_F_ORDER_PLATFORM = 36;
export const VIRTIO_F_SR_IOV = 37;
export const VIRTIO_F_NOTIFICATION_DATA = 38;
export const VIRTIO_F_NOTIF_CONFIG_DATA = 39;
export const VIRTIO_F_RING_RESET = 40;

/** Device-specific feature bits are 0..23; 24..40 (and above) belong to the transport and rings. */
export const VIRTIO_DEVICE_FEATURE_BITS = 24;

/** The feature set with bit `bit` set. */
export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

/** Whether `features` has bit `bit`. */
export function hasFeature(features: bigint, bit: number): boolean {
  return (features & featureBit(bit)) !== 0n;
}

/** `0x…` of a feature set, for messages. */
export function featuresText(features: bigint): string {
  return `0x${features.toString(16)}`;
}

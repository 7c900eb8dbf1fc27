/**
 * The one error class of the device layer (the bus has its own, `BusError`). Device models throw only for
 * mistakes of the code that builds or drives them (a bad configuration, a snapshot of another shape, a source
 * number out of range from the VMM); a guest-triggered access never throws.
 */

export type DeviceErrorKind =
  /** A constructor option is out of range (`sources` above 1023, `regShift` other than 0 or 2, ...). */
  | "invalid-config"
  /** A VMM-side call got an argument the device cannot take (an interrupt source that does not exist, ...). */
  | "invalid-argument"
  /** `restore()` got a state that does not fit this device (other sizes, values out of range). */
  | "invalid-state";

export class DeviceError extends Error {
  override readonly name = "DeviceError";
  readonly kind: DeviceErrorKind;
  /** The device's short name ("plic", "uart16550", ...). */
  readonly device: string;

  constructor(device: string, kind: DeviceErrorKind, message: string, options: { cause?: unknown } = {}) {
    super(`${device}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.device = device;
    this.kind = kind;
  }
}

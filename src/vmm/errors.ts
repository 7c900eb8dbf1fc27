/** Errors of the VMM layer: one class, a `kind` discriminant, the VM it concerns, the cause kept. */

export type VmErrorKind =
  | "config" // the configuration cannot be turned into a VM
  | "backend" // no backend can run it, or the backend failed
  | "image" // a kernel/dtb/ramdisk image is missing or malformed, or does not fit
  | "guest" // the guest did something that stops it (triple fault, unhandled exit, fault policy)
  | "state" // an operation in the wrong VM state
  | "snapshot"; // a snapshot cannot be written, read, or does not fit this VMM or VM

export class VmError extends Error {
  override readonly name = "VmError";
  readonly kind: VmErrorKind;
  /** "vm 1 (linux)" style label of the VM concerned. */
  readonly vm: string;
  constructor(kind: VmErrorKind, vm: string, message: string, options?: { cause: unknown }) {
    super(`${vm}: ${message}`, options);
    this.kind = kind;
    this.vm = vm;
  }
}

/** The message of an unknown thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The kind of VmError an error from a lower layer becomes (a backend's, an image loader's, or the guest's). */
export function errorKindOf(error: unknown): VmErrorKind {
  if (error instanceof VmError) return error.kind;
  const name = error instanceof Error ? error.name : "";
  if (name === "HalError") return "backend";
  // HostError: a disk image that is locked, missing or read-only.
  if (
    name === "ElfError" ||
    name === "ImageError" ||
    name === "GuestMemoryError" ||
    name === "AddrSpaceError" ||
    name === "HostError"
  )
    return "image";
  return "guest";
}

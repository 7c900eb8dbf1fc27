/** Errors of the host-OS services (src/hal/host/): one class, a `kind`, the file and the errno kept. */

export type HostErrorKind =
  /** Another open of the file holds a lock that conflicts with ours. */
  | "locked"
  /** Read-write was asked of a file nobody may write (its mode has no write bit), or that cannot be opened so. */
  | "read-only"
  /** Not a regular file or block device where a disk image is expected (a FIFO, a directory, ...). */
  | "not-regular"
  /** The file does not exist. */
  | "missing"
  /** This host cannot do it (no OFD locks, no libc binding, no TAP interfaces). */
  | "unsupported"
  /** The user may not do it (create a TAP without CAP_NET_ADMIN, attach another user's TAP). */
  | "permission"
  /** Another process holds it (a TAP someone else is attached to). */
  | "busy"
  /** The operating system refused for another reason. */
  | "io";

export class HostError extends Error {
  override readonly name = "HostError";
  readonly kind: HostErrorKind;
  /** The file concerned. */
  readonly path: string;
  /** The failed operation ("open", "fcntl(F_OFD_SETLK)", ...). */
  readonly operation: string;
  /** The errno, when a system call failed. */
  readonly errno: number | undefined;

  constructor(
    kind: HostErrorKind,
    path: string,
    operation: string,
    message: string,
    options: { errno?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.path = path;
    this.operation = operation;
    this.errno = options.errno;
  }
}

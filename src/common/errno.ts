/**
 * Linux errno numbers (asm-generic, the same on x86_64 and arm64), shared by the host-OS code that reads them
 * back from system calls (src/hal/<backend>/sys.ts) and the VMM code that hands them to guests (-ENOSYS for a call
 * nobody serves). macOS shares the low ones; where it differs, the code that cares says so.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const ENXIO = 6;
export const E2BIG = 7;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EEXIST = 17;
export const ENODEV = 19;
export const EINVAL = 22;
export const ENOTTY = 25;
export const EROFS = 30;
export const ENOLCK = 37;
export const ENOSYS = 38;
export const EOPNOTSUPP = 95;

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map([
  [EPERM, "EPERM"],
  [ENOENT, "ENOENT"],
  [ESRCH, "ESRCH"],
  [EINTR, "EINTR"],
  [ENXIO, "ENXIO"],
  [E2BIG, "E2BIG"],
  [EBADF, "EBADF"],
  [EAGAIN, "EAGAIN"],
  [ENOMEM, "ENOMEM"],
  [EACCES, "EACCES"],
  [EFAULT, "EFAULT"],
  [EEXIST, "EEXIST"],
  [ENODEV, "ENODEV"],
  [EINVAL, "EINVAL"],
  [ENOTTY, "ENOTTY"],
  [EROFS, "EROFS"],
  [ENOLCK, "ENOLCK"],
  [ENOSYS, "ENOSYS"],
  [EOPNOTSUPP, "EOPNOTSUPP"],
]);

/** "EINTR", or "errno 123" for a number without a name here. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

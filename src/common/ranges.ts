/**
 * Alignment and range arithmetic on address-sized numbers (below 2^53, so no bitwise tricks), shared by every
 * layer (it imports nothing).
 */

export function isAligned(value: number, alignment: number): boolean {
  return value % alignment === 0;
}

export function alignDown(value: number, alignment: number): number {
  return value - (value % alignment);
}

export function alignUp(value: number, alignment: number): number {
  const rest = value % alignment;
  return rest === 0 ? value : value + (alignment - rest);
}

/** True when [aStart, aStart+aSize) and [bStart, bStart+bSize) share a byte. */
export function rangesOverlap(aStart: number, aSize: number, bStart: number, bSize: number): boolean {
  return aStart < bStart + bSize && bStart < aStart + aSize;
}

/** True when `start + size` stays a safe integer. */
export function rangeFits(start: number, size: number): boolean {
  return (
    Number.isSafeInteger(start) &&
    Number.isSafeInteger(size) &&
    start >= 0 &&
    size >= 0 &&
    Number.isSafeInteger(start + size)
  );
}

/** Address helpers shared by the address-space code. Addresses are numbers below 2^53 (see hal/types.ts). */

export type { GuestPhysAddr, GuestVirtAddr, HostPhysAddr } from "../hal/types.ts";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE_4K = 0x1000;
export const PAGE_SIZE_2M = 0x20_0000;
export const PAGE_SIZE_1G = 0x4000_0000;

/** `0x8000_0000`-style hex for messages. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

/** Inclusive-end range for messages: `0x80000000..0x80000fff`. */
export function hexRange(start: number, size: number): string {
  return size === 0 ? `${hex(start)}..(empty)` : `${hex(start)}..${hex(start + size - 1)}`;
}

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

export function isPowerOfTwo(value: number): boolean {
  // Bitwise tricks only work below 2^31; log2 is exact for powers of two.
  return Number.isSafeInteger(value) && value > 0 && 2 ** Math.round(Math.log2(value)) === value;
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

/**
 * Number formatting for messages, shared by every layer (it imports nothing). Addresses are non-negative numbers
 * below 2^53; negative numbers and bigints show up only when reporting bad input, and still read correctly.
 */

/** `0x80000000`-style hex; negative values as `-0x10`. */
export function hex(value: number | bigint): string {
  if (typeof value === "bigint") return value < 0n ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
  return value < 0 ? `-0x${(-value).toString(16)}` : `0x${value.toString(16)}`;
}

/** An inclusive range for messages: `0x80000000..0x80000fff`; an empty one as `0x80000000 (empty)`. */
export function hexRange(start: number, size: number): string {
  return size > 0 ? `${hex(start)}..${hex(start + size - 1)}` : `${hex(start)} (empty)`;
}

/** Human size: 16777216 → "16 MiB", 4096 → "4 KiB", 1000 → "1000 bytes". */
export function formatSize(bytes: number): string {
  const units = ["GiB", "MiB", "KiB"] as const;
  const scales = [2 ** 30, 2 ** 20, 2 ** 10] as const;
  for (let i = 0; i < units.length; i++) {
    const scale = scales[i] ?? 1;
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale} ${units[i] ?? ""}`;
  }
  return bytes === 1 ? "1 byte" : `${bytes} bytes`;
}

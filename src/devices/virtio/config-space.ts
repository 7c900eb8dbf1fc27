/**
 * Device configuration spaces kept as little-endian byte images (§2.5: "fields are little-endian"), so reads of
 * any width and alignment inside the space see the same bytes, whatever the field boundaries.
 */

/** The `width`-byte little-endian value at `offset` of `bytes` (bytes past the end read as 0). */
export function readConfigBytes(bytes: Uint8Array, offset: number, width: 1 | 2 | 4): number {
  let value = 0;
  for (let i = width - 1; i >= 0; i--) value = value * 256 + (bytes[offset + i] ?? 0);
  return value;
}

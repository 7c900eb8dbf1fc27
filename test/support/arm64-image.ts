/** A fake arm64 Linux `Image` for tests: the 64-byte header with the given fields, padded to `length` bytes. */
import { ARM64_IMAGE_MAGIC } from "../../src/arch/aarch64/linux-image.ts";

export function fakeArm64Image(
  fields: { textOffset?: bigint; imageSize?: bigint; flags?: bigint; magic?: number },
  length = 0x1000,
): Uint8Array {
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(8, fields.textOffset ?? 0n, true);
  view.setBigUint64(16, fields.imageSize ?? BigInt(length), true);
  // Little-endian, 4 KiB pages, placed anywhere: what Debian's kernel says.
  view.setBigUint64(24, fields.flags ?? 0b1010n, true);
  view.setUint32(56, fields.magic ?? ARM64_IMAGE_MAGIC, true);
  return bytes;
}

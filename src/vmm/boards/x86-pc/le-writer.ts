/** Little-endian field writers for building guest structures in a Uint8Array. */
export class LeWriter {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(offset: number, value: number): this {
    this.view.setUint8(offset, value);
    return this;
  }
  u16(offset: number, value: number): this {
    this.view.setUint16(offset, value, true);
    return this;
  }
  u32(offset: number, value: number): this {
    this.view.setUint32(offset, value >>> 0, true);
    return this;
  }
  u64(offset: number, value: bigint | number): this {
    this.view.setBigUint64(offset, BigInt.asUintN(64, BigInt(value)), true);
    return this;
  }
  ascii(offset: number, text: string): this {
    for (let i = 0; i < text.length; i++) this.view.setUint8(offset + i, text.charCodeAt(i) & 0x7f);
    return this;
  }
}

/** The byte that makes a table's bytes sum to 0 mod 256 (MP table and ACPI checksums). */
export function checksum8(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) & 0xff;
  return (0x100 - sum) & 0xff;
}

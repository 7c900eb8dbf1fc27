/**
 * A small AML encoder: just the terms the PC board's DSDT needs (ACPI 6.4 chapter 20, "ACPI Machine Language
 * Specification", and section 6.4, "Resource Data Types for ACPI"). Each function returns the encoded bytes of one
 * term; callers nest them. Nothing here evaluates AML.
 *
 * Terms: integers (ZeroOp, OneOp, Byte/Word/DWord/QWordConst), strings, NameString paths, DefName, DefPackage,
 * DefBuffer, DefScope, DefDevice; resource templates with Memory32Fixed and Extended Interrupt descriptors.
 */

// Opcodes and prefixes (ACPI 6.4 section 20.3, "AML Byte Stream Byte Values").
export const AML_ZERO_OP = 0x00;
export const AML_ONE_OP = 0x01;
export const AML_NAME_OP = 0x08;
export const AML_BYTE_PREFIX = 0x0a;
export const AML_WORD_PREFIX = 0x0b;
export const AML_DWORD_PREFIX = 0x0c;
export const AML_STRING_PREFIX = 0x0d;
export const AML_QWORD_PREFIX = 0x0e;
export const AML_SCOPE_OP = 0x10;
export const AML_BUFFER_OP = 0x11;
export const AML_PACKAGE_OP = 0x12;
export const AML_DUAL_NAME_PREFIX = 0x2e;
export const AML_MULTI_NAME_PREFIX = 0x2f;
export const AML_EXT_OP_PREFIX = 0x5b;
/** DeviceOp is ExtOpPrefix 0x82. */
export const AML_DEVICE_OP = 0x82;
export const AML_ROOT_CHAR = 0x5c;

// Resource data types (section 6.4): large item tags, and the small End Tag.
export const RES_MEMORY32_FIXED = 0x86;
export const RES_EXTENDED_INTERRUPT = 0x89;
/** Small item, type 0xF (End Tag), length 1: tag byte 0x79, then a checksum byte (0: "treat as checksummed"). */
export const RES_END_TAG = 0x79;
/** Memory32Fixed information byte: bit 0 = writeable. */
export const RES_MEMORY_WRITEABLE = 1 << 0;
// Extended Interrupt flags (table 6.38).
export const RES_IRQ_CONSUMER = 1 << 0;
export const RES_IRQ_EDGE = 1 << 1;
export const RES_IRQ_ACTIVE_LOW = 1 << 2;
export const RES_IRQ_SHARED = 1 << 3;

/** PkgLength can describe up to 2^28 - 1 bytes (four bytes of encoding). */
const PKG_LENGTH_MAX = 0x0fff_ffff;
const NAME_SEG_LENGTH = 4;

export class AmlError extends Error {
  override readonly name = "AmlError";
  readonly kind: "bad-name" | "bad-value" | "too-long";
  constructor(kind: AmlError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * PkgLength (section 20.2.4) of a package whose contents after the PkgLength are `length` bytes: the encoded value
 * counts the PkgLength bytes too. One byte holds up to 63; otherwise bits 7:6 of the lead byte give the number of
 * following bytes, its bits 3:0 the low nibble, and each following byte 8 more bits.
 */
export function amlPkgLength(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) {
    throw new AmlError("bad-value", `Cannot encode a PkgLength for ${length} bytes`);
  }
  if (length + 1 < 0x40) return Uint8Array.of(length + 1);
  for (let extra = 1; extra <= 3; extra++) {
    const total = length + 1 + extra;
    if (total < 2 ** (4 + 8 * extra)) {
      const out = new Uint8Array(1 + extra);
      out[0] = (extra << 6) | (total & 0x0f);
      for (let i = 1; i <= extra; i++) out[i] = (total >>> (4 + 8 * (i - 1))) & 0xff;
      return out;
    }
  }
  throw new AmlError("too-long", `Cannot encode a PkgLength for ${length} bytes: more than ${PKG_LENGTH_MAX}`);
}

/** One NameSeg: a lead character A-Z or _, then A-Z, 0-9 or _, padded to 4 with _. */
function nameSeg(segment: string): Uint8Array {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(segment)) {
    throw new AmlError(
      "bad-name",
      `Cannot encode the AML name segment "${segment}": 1..4 characters A-Z, 0-9, _, not starting with a digit`,
    );
  }
  return new TextEncoder().encode(segment.padEnd(NAME_SEG_LENGTH, "_"));
}

/**
 * A NameString (section 20.2.2): an optional root prefix `\`, then segments separated by dots, e.g. `\_SB.VR00`,
 * `_S5`, `_HID`. Short segments are padded with `_` (`_S5` is `_S5_`).
 */
export function amlNameString(path: string): Uint8Array {
  const root = path.startsWith("\\");
  const body = root ? path.slice(1) : path;
  const segments = body.split(".").map(nameSeg);
  const prefix = root ? [Uint8Array.of(AML_ROOT_CHAR)] : [];
  if (segments.length === 1) return concat([...prefix, ...segments]);
  if (segments.length === 2) return concat([...prefix, Uint8Array.of(AML_DUAL_NAME_PREFIX), ...segments]);
  if (segments.length > 255) throw new AmlError("too-long", `Cannot encode the AML name "${path}": too many segments`);
  return concat([...prefix, Uint8Array.of(AML_MULTI_NAME_PREFIX, segments.length), ...segments]);
}

/** An Integer term in its shortest encoding: ZeroOp, OneOp, or a Byte/Word/DWord/QWord constant. */
export function amlInteger(value: number | bigint): Uint8Array {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) {
    throw new AmlError("bad-value", `Cannot encode ${value} as an AML integer: 0..2^64-1`);
  }
  if (v === 0n) return Uint8Array.of(AML_ZERO_OP);
  if (v === 1n) return Uint8Array.of(AML_ONE_OP);
  const [prefix, bytes] =
    v <= 0xffn
      ? [AML_BYTE_PREFIX, 1]
      : v <= 0xffffn
        ? [AML_WORD_PREFIX, 2]
        : v <= 0xffff_ffffn
          ? [AML_DWORD_PREFIX, 4]
          : [AML_QWORD_PREFIX, 8];
  const out = new Uint8Array(1 + bytes);
  out[0] = prefix;
  for (let i = 0; i < bytes; i++) out[1 + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** A String term: ASCII characters 0x01..0x7F, NUL-terminated. */
export function amlString(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  if (bytes.some((b) => b === 0 || b > 0x7f)) {
    throw new AmlError("bad-value", `Cannot encode the AML string ${JSON.stringify(text)}: ASCII 0x01..0x7f only`);
  }
  return concat([Uint8Array.of(AML_STRING_PREFIX), bytes, Uint8Array.of(0)]);
}

/** DefName: `Name (path, data)`. */
export function amlName(path: string, data: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(AML_NAME_OP), amlNameString(path), data]);
}

/** DefPackage: `Package (n) { elements }` (at most 255 elements: NumElements is a byte). */
export function amlPackage(elements: readonly Uint8Array[]): Uint8Array {
  if (elements.length > 0xff) throw new AmlError("too-long", `Cannot encode a package of ${elements.length} elements`);
  const body = concat([Uint8Array.of(elements.length), ...elements]);
  return concat([Uint8Array.of(AML_PACKAGE_OP), amlPkgLength(body.length), body]);
}

/** DefBuffer: `Buffer (size) { bytes }`. */
export function amlBuffer(bytes: Uint8Array): Uint8Array {
  const body = concat([amlInteger(bytes.length), bytes]);
  return concat([Uint8Array.of(AML_BUFFER_OP), amlPkgLength(body.length), body]);
}

/** DefScope: `Scope (path) { terms }`. */
export function amlScope(path: string, terms: readonly Uint8Array[]): Uint8Array {
  const body = concat([amlNameString(path), ...terms]);
  return concat([Uint8Array.of(AML_SCOPE_OP), amlPkgLength(body.length), body]);
}

/** DefDevice: `Device (name) { terms }`. */
export function amlDevice(name: string, terms: readonly Uint8Array[]): Uint8Array {
  const body = concat([amlNameString(name), ...terms]);
  return concat([Uint8Array.of(AML_EXT_OP_PREFIX, AML_DEVICE_OP), amlPkgLength(body.length), body]);
}

/** A large resource item: tag, 16-bit length of the data, data. */
function largeItem(tag: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + data.length);
  out[0] = tag;
  new DataView(out.buffer).setUint16(1, data.length, true);
  out.set(data, 3);
  return out;
}

/** `Memory32Fixed (ReadWrite | ReadOnly, base, length)` (section 6.4.3.4). */
export function resMemory32Fixed(base: number, length: number, writeable: boolean): Uint8Array {
  for (const [what, value] of [
    ["base", base],
    ["length", length],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new AmlError("bad-value", `Cannot describe Memory32Fixed ${what} ${value}: 32-bit values only`);
    }
  }
  const data = new Uint8Array(9);
  const view = new DataView(data.buffer);
  view.setUint8(0, writeable ? RES_MEMORY_WRITEABLE : 0);
  view.setUint32(1, base, true);
  view.setUint32(5, length, true);
  return largeItem(RES_MEMORY32_FIXED, data);
}

export interface InterruptResource {
  /** Level-triggered (true) or edge-triggered. */
  readonly level: boolean;
  readonly activeHigh: boolean;
  readonly shared: boolean;
}

/** `Interrupt (ResourceConsumer, Level|Edge, ActiveHigh|ActiveLow, Exclusive|Shared) { gsi }` (section 6.4.3.6). */
export function resExtendedInterrupt(gsi: number, mode: InterruptResource): Uint8Array {
  if (!Number.isInteger(gsi) || gsi < 0 || gsi > 0xffff_ffff) {
    throw new AmlError("bad-value", `Cannot describe interrupt ${gsi}: 32-bit values only`);
  }
  const data = new Uint8Array(6);
  const view = new DataView(data.buffer);
  view.setUint8(
    0,
    RES_IRQ_CONSUMER |
      (mode.level ? 0 : RES_IRQ_EDGE) |
      (mode.activeHigh ? 0 : RES_IRQ_ACTIVE_LOW) |
      (mode.shared ? RES_IRQ_SHARED : 0),
  );
  view.setUint8(1, 1); // one interrupt in the table
  view.setUint32(2, gsi, true);
  return largeItem(RES_EXTENDED_INTERRUPT, data);
}

/** `ResourceTemplate () { descriptors }`: a buffer of the descriptors and the End Tag. */
export function amlResourceTemplate(descriptors: readonly Uint8Array[]): Uint8Array {
  return amlBuffer(concat([...descriptors, Uint8Array.of(RES_END_TAG, 0)]));
}

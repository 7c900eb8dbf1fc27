/**
 * The GDB remote serial protocol's framing (GDB manual, "Remote Protocol" → "Overview"): packets `$data#cs` with
 * a two-hex-digit checksum (sum of the data bytes modulo 256), acknowledged with `+` (or `-`: send again) until
 * QStartNoAckMode, and the out-of-band Ctrl-C byte (0x03) that asks the target to stop.
 *
 * In binary data (the X packet, qXfer replies) `$`, `#`, `}` and `*` are escaped as `}` followed by the byte
 * XOR 0x20. GDB never sends run-length encoded data to a stub, and we send none.
 */

const DOLLAR = 0x24;
const HASH = 0x23;
const ESCAPE = 0x7d;
const STAR = 0x2a;
const PLUS = 0x2b;
const MINUS = 0x2d;
const CTRL_C = 0x03;
const ESCAPE_XOR = 0x20;

/**
 * The longest packet we accept (GDB is told PacketSize in qSupported; it never sends more). A client that sends
 * a longer one is dropped rather than buffered without bound.
 */
export const MAX_PACKET_SIZE = 0x4000;

export type GdbInput =
  | { readonly kind: "packet"; readonly data: Uint8Array }
  /** A packet whose checksum did not match: answer `-` so GDB sends it again. */
  | { readonly kind: "bad-checksum" }
  | { readonly kind: "ack" }
  | { readonly kind: "nack" }
  | { readonly kind: "interrupt" };

export class GdbPacketError extends Error {
  override readonly name = "GdbPacketError";
  readonly kind = "too-long";
}

/** Splits the byte stream from GDB into packets, acks and interrupts; keeps partial packets between chunks. */
export class GdbPacketDecoder {
  #state: "idle" | "data" | "checksum" = "idle";
  #data: number[] = [];
  #checksumDigits = "";

  /** Feed bytes; returns what they completed. Throws `GdbPacketError` for a packet longer than MAX_PACKET_SIZE. */
  push(chunk: Uint8Array): GdbInput[] {
    const out: GdbInput[] = [];
    for (const byte of chunk) {
      switch (this.#state) {
        case "idle":
          if (byte === DOLLAR) {
            this.#state = "data";
            this.#data = [];
          } else if (byte === PLUS) out.push({ kind: "ack" });
          else if (byte === MINUS) out.push({ kind: "nack" });
          else if (byte === CTRL_C) out.push({ kind: "interrupt" });
          // Anything else between packets is line noise; the protocol says to ignore it.
          break;
        case "data":
          if (byte === HASH) {
            this.#state = "checksum";
            this.#checksumDigits = "";
          } else if (this.#data.length >= MAX_PACKET_SIZE) {
            this.#state = "idle";
            this.#data = [];
            throw new GdbPacketError(`Cannot accept a GDB packet longer than ${MAX_PACKET_SIZE} bytes`);
          } else {
            this.#data.push(byte);
          }
          break;
        case "checksum": {
          this.#checksumDigits += String.fromCharCode(byte);
          if (this.#checksumDigits.length < 2) break;
          this.#state = "idle";
          const data = Uint8Array.from(this.#data);
          const expected = Number.parseInt(this.#checksumDigits, 16);
          out.push(expected === checksum(data) ? { kind: "packet", data } : { kind: "bad-checksum" });
          break;
        }
      }
    }
    return out;
  }
}

/** The protocol's checksum: the sum of the bytes modulo 256. */
export function checksum(data: Uint8Array): number {
  let sum = 0;
  for (const byte of data) sum = (sum + byte) & 0xff;
  return sum;
}

/** Frame `payload` (text, or bytes already escaped with `escapeBinary`) as `$payload#cs`. */
export function encodePacket(payload: string | Uint8Array): Uint8Array {
  const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(data.length + 4);
  out[0] = DOLLAR;
  out.set(data, 1);
  out[data.length + 1] = HASH;
  const cs = checksum(data).toString(16).padStart(2, "0");
  out[data.length + 2] = cs.charCodeAt(0);
  out[data.length + 3] = cs.charCodeAt(1);
  return out;
}

/** Escape binary data for a packet body. */
export function escapeBinary(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (const byte of data) {
    if (byte === DOLLAR || byte === HASH || byte === ESCAPE || byte === STAR) out.push(ESCAPE, byte ^ ESCAPE_XOR);
    else out.push(byte);
  }
  return Uint8Array.from(out);
}

/** Undo `escapeBinary` (the X packet's data). */
export function unescapeBinary(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < data.length; i++) {
    const byte = data[i] ?? 0;
    if (byte === ESCAPE && i + 1 < data.length) {
      i++;
      out.push((data[i] ?? 0) ^ ESCAPE_XOR);
    } else out.push(byte);
  }
  return Uint8Array.from(out);
}

/** Bytes as lowercase hex pairs. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const byte of bytes) s += byte.toString(16).padStart(2, "0");
  return s;
}

/** Hex pairs as bytes; undefined when the text is not an even number of hex digits. */
export function fromHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A little-endian `size`-byte encoding of `value` (registers in `g`/`p` packets are target byte order). */
export function leBytes(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The value of little-endian bytes. */
export function fromLeBytes(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
  return v;
}

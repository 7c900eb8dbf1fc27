import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  checksum,
  encodePacket,
  escapeBinary,
  fromHex,
  fromLeBytes,
  GdbPacketDecoder,
  GdbPacketError,
  leBytes,
  MAX_PACKET_SIZE,
  toHex,
  unescapeBinary,
} from "./gdb-packet.ts";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

describe("GDB packet framing", () => {
  test("encodes $data#checksum with the sum of the bytes modulo 256", () => {
    expect(str(encodePacket("OK"))).toBe("$OK#9a");
    expect(str(encodePacket(""))).toBe("$#00");
    expect(checksum(text("qSupported"))).toBe(0x37);
  });

  test("decodes packets, acks, nacks and Ctrl-C from one stream, across chunk boundaries", () => {
    const decoder = new GdbPacketDecoder();
    const stream = text("+$qSupported#37-\x03$g#67");
    const inputs = [...stream].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
    expect(inputs.map((i) => (i.kind === "packet" ? `packet ${str(i.data)}` : i.kind))).toEqual([
      "ack",
      "packet qSupported",
      "nack",
      "interrupt",
      "packet g",
    ]);
  });

  test("a wrong checksum is reported, not delivered", () => {
    expect(new GdbPacketDecoder().push(text("$g#00"))).toEqual([{ kind: "bad-checksum" }]);
  });

  test("a packet longer than MAX_PACKET_SIZE is refused, and the decoder starts afresh", () => {
    const decoder = new GdbPacketDecoder();
    expect(() => decoder.push(text(`$${"a".repeat(MAX_PACKET_SIZE + 1)}`))).toThrow(GdbPacketError);
    expect(decoder.push(text("$g#67"))).toHaveLength(1);
  });

  test("binary escaping round-trips and escapes exactly $ # } *", () => {
    expect([...escapeBinary(Uint8Array.of(0x24, 0x23, 0x7d, 0x2a, 0x41))]).toEqual([
      0x7d, 0x04, 0x7d, 0x03, 0x7d, 0x5d, 0x7d, 0x0a, 0x41,
    ]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        expect([...unescapeBinary(escapeBinary(data))]).toEqual([...data]);
      }),
    );
  });

  test("any framed payload decodes back to itself", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 100 }).filter((s) => !/[$#}*]/.test(s) && /^[\x20-\x7e]*$/.test(s)),
        (s) => {
          const out = new GdbPacketDecoder().push(encodePacket(s));
          expect(out).toEqual([{ kind: "packet", data: text(s) }]);
        },
      ),
    );
  });

  test("hex and little-endian helpers", () => {
    expect(toHex(Uint8Array.of(0, 0xab, 0x10))).toBe("00ab10");
    expect(fromHex("00aB10")).toEqual(Uint8Array.of(0, 0xab, 0x10));
    expect(fromHex("abc")).toBeUndefined();
    expect(fromHex("zz")).toBeUndefined();
    expect(toHex(leBytes(0x8020_0000n, 8))).toBe("0000208000000000");
    expect(fromLeBytes(leBytes(-1n, 8))).toBe(0xffff_ffff_ffff_ffffn);
  });
});

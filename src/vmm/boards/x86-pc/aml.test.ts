import { expect, test } from "bun:test";
import {
  AmlError,
  amlBuffer,
  amlDevice,
  amlInteger,
  amlName,
  amlNameString,
  amlPackage,
  amlPkgLength,
  amlResourceTemplate,
  amlScope,
  amlString,
  resExtendedInterrupt,
  resMemory32Fixed,
} from "./aml.ts";

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");

test("PkgLength: one byte up to 63 in all, then 2, 3 and 4 bytes with the low nibble first", () => {
  expect(hex(amlPkgLength(0))).toBe("01");
  expect(hex(amlPkgLength(62))).toBe("3f");
  // 63 bytes of contents need 2 length bytes: 65 = 0x41 -> lead 0x40 | 0x1, then 0x04.
  expect(hex(amlPkgLength(63))).toBe("41 04");
  expect(hex(amlPkgLength(0xffd))).toBe("4f ff");
  expect(hex(amlPkgLength(0xffe))).toBe("81 00 01");
  expect(hex(amlPkgLength(0x10_0000))).toBe("c4 00 00 01");
  expect(() => amlPkgLength(0x1000_0000)).toThrow(AmlError);
  expect(() => amlPkgLength(-1)).toThrow(/PkgLength for -1/);
});

test("NameStrings: root prefix, padding, dual and multi-segment paths; bad segments are refused", () => {
  expect(hex(amlNameString("_S5"))).toBe("5f 53 35 5f");
  expect(hex(amlNameString("\\_SB"))).toBe("5c 5f 53 42 5f");
  expect(hex(amlNameString("\\_SB.VR00"))).toBe("5c 2e 5f 53 42 5f 56 52 30 30");
  expect(hex(amlNameString("A.B.C"))).toBe("2f 03 41 5f 5f 5f 42 5f 5f 5f 43 5f 5f 5f");
  expect(() => amlNameString("0ABC")).toThrow(/name segment "0ABC"/);
  expect(() => amlNameString("TOOLONG")).toThrow(AmlError);
  expect(() => amlNameString("lower")).toThrow(AmlError);
});

test("integers take their shortest encoding; strings are NUL-terminated ASCII", () => {
  expect(hex(amlInteger(0))).toBe("00");
  expect(hex(amlInteger(1))).toBe("01");
  expect(hex(amlInteger(5))).toBe("0a 05");
  expect(hex(amlInteger(0x1234))).toBe("0b 34 12");
  expect(hex(amlInteger(0xc000_1000))).toBe("0c 00 10 00 c0");
  expect(hex(amlInteger(0x1_0000_0000n))).toBe("0e 00 00 00 00 01 00 00 00");
  expect(() => amlInteger(-1)).toThrow(AmlError);
  expect(hex(amlString("AB"))).toBe("0d 41 42 00");
  expect(() => amlString("a\u0000b")).toThrow(AmlError);
});

test("Name, Package, Buffer, Scope and Device wrap their contents with the right opcodes and lengths", () => {
  expect(hex(amlName("_UID", amlInteger(0)))).toBe("08 5f 55 49 44 00");
  expect(hex(amlPackage([amlInteger(5), amlInteger(0)]))).toBe("12 05 02 0a 05 00");
  expect(hex(amlBuffer(Uint8Array.of(0x79, 0)))).toBe("11 05 0a 02 79 00");
  expect(hex(amlScope("\\_SB", []))).toBe("10 06 5c 5f 53 42 5f");
  expect(hex(amlDevice("VR00", [amlName("_UID", amlInteger(1))]))).toBe("5b 82 0b 56 52 30 30 08 5f 55 49 44 01");
  // A device body past 63 bytes gets a two-byte PkgLength.
  const big = amlDevice("BIG", [amlBuffer(new Uint8Array(80))]);
  expect(big[2]).toBe(0x40 | ((big.length - 2) & 0x0f));
});

test("resource descriptors: Memory32Fixed, Extended Interrupt flags, and the End Tag", () => {
  expect(hex(resMemory32Fixed(0xc000_1000, 0x1000, true))).toBe("86 09 00 01 00 10 00 c0 00 10 00 00");
  expect(hex(resExtendedInterrupt(16, { level: true, activeHigh: true, shared: false }))).toBe(
    "89 06 00 01 01 10 00 00 00",
  );
  expect(resExtendedInterrupt(4, { level: false, activeHigh: false, shared: true })[3]).toBe(0x0f);
  const template = amlResourceTemplate([resMemory32Fixed(0, 0x200, false)]);
  expect(hex(template.subarray(-2))).toBe("79 00");
  expect(() => resMemory32Fixed(0x1_0000_0000, 1, true)).toThrow(/32-bit/);
});

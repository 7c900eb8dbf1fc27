import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { hasCommand, testIf } from "../../../test/support/skip.ts";
import { FDT_BEGIN_NODE, FDT_END, FDT_END_NODE, FDT_MAGIC, FDT_NOP, FDT_PROP, Fdt, FdtError } from "./fdt.ts";
import { dtbCells, dtbStrings, findDtbNode, parseDtb, readDtbHeader } from "./fdt-reader.ts";

/** A small tree using every property kind, a phandle reference and a reservation. */
function sampleTree(): Fdt {
  const fdt = new Fdt();
  fdt.addReservation(0x8000_0000, 0x20_0000);
  const root = fdt.root;
  root
    .u32("#address-cells", 2)
    .u32("#size-cells", 2)
    .string("compatible", "axvisor,test")
    .string("model", "test board");
  const intc = root.addNode("interrupt-controller@c000000");
  intc
    .strings("compatible", ["sifive,plic-1.0.0", "riscv,plic0"])
    .empty("interrupt-controller")
    .u32("#interrupt-cells", 1);
  intc.u64s("reg", [0xc00_0000, 0x60_0000]);
  const uart = root.addNode("serial@10000000");
  uart
    .string("compatible", "ns16550a")
    .u64s("reg", [0x1000_0000, 0x100])
    .u32("interrupts", 10)
    .u32("interrupt-parent", intc);
  uart.bytes("local-mac-address", Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56));
  root.addNode("chosen").string("bootargs", "console=ttyS0").u64("linux,initrd-start", 0x8800_0000n);
  return fdt;
}

function dtc(
  args: string[],
  input: Uint8Array,
): { stdout: string; stderr: string; exitCode: number; bytes: Uint8Array } {
  const result = Bun.spawnSync(["dtc", "-q", ...args, "-"], { stdin: input, stdout: "pipe", stderr: "pipe" });
  return {
    stdout: result.stdout.toString(),
    stderr: result.stderr.toString(),
    exitCode: result.exitCode,
    bytes: new Uint8Array(result.stdout),
  };
}

describe("Fdt writer", () => {
  test("header fields, block order and alignment", () => {
    const blob = sampleTree().toDtb();
    const header = readDtbHeader(blob);
    expect(header.magic).toBe(FDT_MAGIC);
    expect(header.version).toBe(17);
    expect(header.lastCompVersion).toBe(16);
    expect(header.totalSize).toBe(blob.length);
    expect(header.offMemRsvmap % 8).toBe(0);
    expect(header.offStruct % 4).toBe(0);
    expect(header.offMemRsvmap).toBeLessThan(header.offStruct);
    expect(header.offStruct + header.sizeStruct).toBe(header.offStrings);
    expect(header.offStrings + header.sizeStrings).toBe(header.totalSize);
    // Structure block starts with FDT_BEGIN_NODE for the root (empty name padded to 4) and ends with FDT_END.
    const view = new DataView(blob.buffer);
    expect(view.getUint32(header.offStruct)).toBe(FDT_BEGIN_NODE);
    expect(view.getUint32(header.offStruct + 4)).toBe(0); // "" + NUL, padded
    expect(view.getUint32(header.offStruct + 8)).toBe(FDT_PROP);
    expect(view.getUint32(header.offStrings - 4)).toBe(FDT_END);
    expect(view.getUint32(header.offStrings - 8)).toBe(FDT_END_NODE);
  });

  test("round-trips through the reader: properties, phandles, reservations", () => {
    const dtb = parseDtb(sampleTree().toDtb());
    expect(dtb.reservations).toEqual([{ address: 0x8000_0000n, size: 0x20_0000n }]);
    const uart = findDtbNode(dtb.root, "/serial@10000000");
    const intc = findDtbNode(dtb.root, "/interrupt-controller@c000000");
    if (uart === undefined || intc === undefined) throw new Error("nodes missing");
    expect(dtbCells(intc, "phandle")).toEqual([1]);
    expect(dtbCells(uart, "interrupt-parent")).toEqual([1]);
    expect(dtbCells(uart, "reg")).toEqual([0, 0x1000_0000, 0, 0x100]);
    expect(dtbStrings(intc, "compatible")).toEqual(["sifive,plic-1.0.0", "riscv,plic0"]);
    expect(intc.properties.get("interrupt-controller")).toEqual(new Uint8Array(0));
    expect([...(uart.properties.get("local-mac-address") ?? [])]).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const chosen = findDtbNode(dtb.root, "/chosen");
    if (chosen === undefined) throw new Error("chosen missing");
    expect(dtbCells(chosen, "linux,initrd-start")).toEqual([0, 0x8800_0000]);
    expect(dtbStrings(chosen, "bootargs")).toEqual(["console=ttyS0"]);
  });

  test("the strings block holds each property name once", () => {
    const blob = sampleTree().toDtb();
    const header = readDtbHeader(blob);
    const names = new TextDecoder()
      .decode(blob.subarray(header.offStrings, header.offStrings + header.sizeStrings))
      .split("\0");
    names.pop(); // after the final NUL
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n === "compatible")).toHaveLength(1);
    expect(names).toContain("reg");
  });

  test("phandles are allocated once, in order of first use, and references resolve", () => {
    const fdt = new Fdt();
    const a = fdt.root.addNode("a");
    const b = fdt.root.addNode("b");
    fdt.root.addNode("user").cells("refs", [b, 7, a, b]);
    expect(b.phandle).toBe(1);
    expect(a.phandle).toBe(2);
    const user = findDtbNode(parseDtb(fdt.toDtb()).root, "/user");
    expect(user === undefined ? undefined : dtbCells(user, "refs")).toEqual([1, 7, 2, 1]);
  });

  test("references to nodes whose phandle is first used at serialization get one", () => {
    const fdt = new Fdt();
    const target = fdt.root.addNode("target");
    fdt.root.addNode("user").u32("ref", target);
    const dtb = parseDtb(fdt.toDtb());
    const t = findDtbNode(dtb.root, "/target");
    const u = findDtbNode(dtb.root, "/user");
    // The property is emitted while serializing /user, after /target was written: the phandle must still exist.
    expect(t === undefined ? undefined : dtbCells(t, "phandle")).toEqual([1]);
    expect(u === undefined ? undefined : dtbCells(u, "ref")).toEqual([1]);
  });

  test("setting a property again replaces it in place", () => {
    const fdt = new Fdt();
    fdt.root.string("model", "a").u32("x", 1).string("model", "b");
    expect(fdt.root.propertyNames).toEqual(["model", "x"]);
    expect(dtbStrings(parseDtb(fdt.toDtb()).root, "model")).toEqual(["b"]);
  });

  test("boot CPU id goes into the header", () => {
    const fdt = new Fdt({ bootCpuId: 3 });
    expect(readDtbHeader(fdt.toDtb()).bootCpuId).toBe(3);
  });

  test("find walks absolute paths", () => {
    const fdt = sampleTree();
    expect(fdt.find("/")).toBe(fdt.root);
    expect(fdt.find("/serial@10000000")?.name).toBe("serial@10000000");
    expect(fdt.find("/nope")).toBeUndefined();
  });
});

describe("Fdt writer errors", () => {
  test("bad node names", () => {
    const fdt = new Fdt();
    expect(() => fdt.root.addNode("")).toThrow(FdtError);
    expect(() => fdt.root.addNode("has space")).toThrow('Cannot add node "has space" under /: only letters, digits');
    expect(() => fdt.root.addNode("cpu@")).toThrow("unit address");
    expect(() => fdt.root.addNode("x".repeat(32))).toThrow("1..31 characters");
    expect(() => fdt.root.addNode("a/b")).toThrow(FdtError);
  });
  test("duplicate sibling names", () => {
    const fdt = new Fdt();
    fdt.root.addNode("cpus").addNode("cpu@0");
    expect(() => fdt.root.addNode("cpus")).toThrow('Cannot add node "cpus" under /: a node with that name exists');
    const cpus = fdt.find("/cpus");
    expect(() => cpus?.addNode("cpu@0")).toThrow("under /cpus");
  });
  test("bad property names and values", () => {
    const n = new Fdt().root.addNode("n");
    expect(() => n.u32("bad name", 1)).toThrow('Cannot set property "bad name" on /n');
    expect(() => n.u32("x", -1)).toThrow("Cannot set /n:x: cell -1 is not a u32");
    expect(() => n.u32("x", 0x1_0000_0000)).toThrow("is not a u32");
    expect(() => n.u32("x", 1.5)).toThrow("is not a u32");
    expect(() => n.u64("x", -1n)).toThrow("is not a u64");
    expect(() => n.u64("x", 1n << 64n)).toThrow("is not a u64");
    expect(() => n.u64("x", 2 ** 60)).toThrow("use a bigint");
    expect(() => n.string("s", "a\0b")).toThrow("contains NUL");
  });
  test("phandle cannot be overwritten or removed once allocated", () => {
    const n = new Fdt().root.addNode("n");
    expect(n.phandle).toBe(1);
    expect(() => n.u32("phandle", 5)).toThrow("it was allocated as 1");
    expect(() => n.remove("phandle")).toThrow(FdtError);
  });
  test("a zero-size reservation is refused (it would end the block)", () => {
    expect(() => new Fdt().addReservation(0x1000, 0)).toThrow("Cannot reserve 0 bytes at 0x1000");
  });
});

describe("DTB reader", () => {
  /** Hand-assembled blob: NOPs before the root, inside a node and before FDT_END. */
  function handBlob(): Uint8Array {
    const strings = new TextEncoder().encode("x\0");
    const words = [
      FDT_NOP,
      FDT_BEGIN_NODE,
      0, // "" padded
      FDT_PROP,
      4,
      0,
      0xcafe,
      FDT_NOP,
      FDT_BEGIN_NODE,
      0x61000000, // "a\0\0\0"
      FDT_END_NODE,
      FDT_END_NODE,
      FDT_NOP,
      FDT_END,
    ];
    const offRsv = 40;
    const offStruct = offRsv + 16;
    const offStrings = offStruct + words.length * 4;
    const total = offStrings + strings.length;
    const blob = new Uint8Array(total);
    const v = new DataView(blob.buffer);
    [FDT_MAGIC, total, offStruct, offStrings, offRsv, 17, 16, 0, strings.length, words.length * 4].forEach((w, i) =>
      v.setUint32(i * 4, w),
    );
    words.forEach((w, i) => v.setUint32(offStruct + i * 4, w));
    blob.set(strings, offStrings);
    return blob;
  }

  test("reads NOP tokens anywhere a token may appear", () => {
    const dtb = parseDtb(handBlob());
    expect(dtbCells(dtb.root, "x")).toEqual([0xcafe]);
    expect(dtb.root.children.map((c) => c.name)).toEqual(["a"]);
  });

  test("refuses wrong magic, truncation and old versions with the state", () => {
    const blob = handBlob();
    const bad = blob.slice();
    new DataView(bad.buffer).setUint32(0, 0x12345678);
    expect(() => parseDtb(bad)).toThrow("Cannot parse DTB: magic is 0x12345678, expected 0xd00dfeed");
    expect(() => parseDtb(blob.subarray(0, blob.length - 1))).toThrow(
      `totalsize ${blob.length} does not fit the ${blob.length - 1} bytes given`,
    );
    expect(() => parseDtb(blob.subarray(0, 10))).toThrow("shorter than the 40-byte header");
    const old = blob.slice();
    new DataView(old.buffer).setUint32(20, 15);
    expect(() => parseDtb(old)).toThrow("version 15 is older than 16");
  });

  test("refuses an unknown token and a string offset outside the strings block", () => {
    const blob = handBlob();
    const header = readDtbHeader(blob);
    const badToken = blob.slice();
    new DataView(badToken.buffer).setUint32(header.offStruct + 7 * 4, 0x77);
    expect(() => parseDtb(badToken)).toThrow("unexpected token 0x77");
    const badName = blob.slice();
    new DataView(badName.buffer).setUint32(header.offStruct + 5 * 4, 99);
    expect(() => parseDtb(badName)).toThrow("property name offset 99 is outside the strings block");
  });

  test("random corruption gives a parse or an FdtError, never another exception", () => {
    const blob = sampleTree().toDtb();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(blob.length - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }), (flips) => {
        const copy = blob.slice();
        for (const [at, value] of flips) copy[at] = value;
        try {
          parseDtb(copy);
        } catch (error) {
          expect(error).toBeInstanceOf(FdtError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

const dtcPresent = hasCommand("dtc");

describe("dtc interoperability", () => {
  testIf(dtcPresent, "dtc decompiles our blob to the expected source")("dtc -I dtb -O dts", () => {
    const out = dtc(["-I", "dtb", "-O", "dts", "-o", "-"], sampleTree().toDtb());
    expect(out.stderr).toBe("");
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toContain("/memreserve/\t0x0000000080000000 0x0000000000200000;");
    expect(out.stdout).toContain('compatible = "sifive,plic-1.0.0\\0riscv,plic0";');
    expect(out.stdout).toContain("interrupt-parent = <0x01>;");
    expect(out.stdout).toContain("reg = <0x00 0x10000000 0x00 0x100>;");
    expect(out.stdout).toContain('bootargs = "console=ttyS0";');
    expect(out.stdout).toContain("local-mac-address = [52 54 00 12 34 56];");
    expect(out.stdout).toContain("interrupt-controller;");
  });

  testIf(dtcPresent, "dtc recompiles our decompiled blob to the same tree")("blob → dts → dtb → same tree", () => {
    const ours = sampleTree().toDtb();
    const dts = dtc(["-I", "dtb", "-O", "dts", "-o", "-"], ours);
    const back = dtc(["-I", "dts", "-O", "dtb", "-o", "-"], new TextEncoder().encode(dts.stdout));
    expect(back.exitCode).toBe(0);
    const a = parseDtb(ours);
    const b = parseDtb(back.bytes);
    expect(b.reservations).toEqual(a.reservations);
    expect(b.root).toEqual(a.root);
  });

  testIf(dtcPresent, "our reader parses a dtc-compiled blob")("dtc dts → dtb → our reader", () => {
    const source =
      '/dts-v1/;\n/ { #address-cells = <1>; a: node@10 { reg = <0x10>; compatible = "x", "y"; }; user { ref = <&a 5>; }; };\n';
    const out = dtc(["-I", "dts", "-O", "dtb", "-o", "-"], new TextEncoder().encode(source));
    expect(out.exitCode).toBe(0);
    const dtb = parseDtb(out.bytes);
    const node = findDtbNode(dtb.root, "/node@10");
    const user = findDtbNode(dtb.root, "/user");
    if (node === undefined || user === undefined) throw new Error("nodes missing");
    expect(dtbStrings(node, "compatible")).toEqual(["x", "y"]);
    const phandle = dtbCells(node, "phandle")?.[0];
    expect(dtbCells(user, "ref")).toEqual([phandle ?? -1, 5]);
  });
});

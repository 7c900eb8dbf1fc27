import { expect, test } from "bun:test";
import { ACPI_MAX_CPUS, buildAcpiTables } from "./acpi.ts";
import { ACPI_START, APIC_START, IOAPIC_START } from "./layout.ts";

const sum = (bytes: Uint8Array): number => bytes.reduce((acc, byte) => (acc + byte) & 0xff, 0);

/** Follow RSDP -> XSDT -> tables the way a kernel does, checking every checksum. */
function walk(cpus: number): Map<string, DataView> {
  const tables = buildAcpiTables(cpus);
  const at = (gpa: number, length: number): Uint8Array =>
    tables.bytes.subarray(gpa - tables.base, gpa - tables.base + length);
  const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rsdp = at(tables.rsdp, 36);
  expect(new TextDecoder().decode(rsdp.subarray(0, 8))).toBe("RSD PTR ");
  expect(sum(rsdp.subarray(0, 20))).toBe(0);
  expect(sum(rsdp)).toBe(0);
  expect(rsdp[15]).toBe(2);
  const table = (gpa: number): [string, DataView] => {
    const length = view(at(gpa, 8)).getUint32(4, true);
    const bytes = at(gpa, length);
    expect(sum(bytes)).toBe(0);
    return [new TextDecoder().decode(bytes.subarray(0, 4)), view(bytes)];
  };
  const [xsdtSig, xsdt] = table(Number(view(rsdp).getBigUint64(24, true)));
  expect(xsdtSig).toBe("XSDT");
  const found = new Map<string, DataView>();
  for (let offset = 36; offset < xsdt.byteLength; offset += 8) {
    const [signature, body] = table(Number(xsdt.getBigUint64(offset, true)));
    found.set(signature, body);
  }
  const fadt = found.get("FACP");
  if (fadt === undefined) throw new Error("no FADT");
  const [dsdtSig, dsdt] = table(Number(fadt.getBigUint64(140, true)));
  expect(fadt.getUint32(40, true)).toBe(Number(fadt.getBigUint64(140, true)));
  found.set(dsdtSig, dsdt);
  return found;
}

test("RSDP -> XSDT -> FADT (PC-compatible, not hardware-reduced, with an 8042) -> DSDT, and the MADT, all checksummed", () => {
  const tables = walk(2);
  expect([...tables.keys()].sort()).toEqual(["APIC", "DSDT", "FACP"]);
  const fadt = tables.get("FACP");
  expect((fadt?.getUint32(112, true) ?? 0) & (1 << 20)).toBe(0);
  expect((fadt?.getUint16(109, true) ?? 0) & 3).toBe(3);
  expect(buildAcpiTables(1).rsdp).toBe(ACPI_START);
});

test("the MADT lists one enabled local APIC per CPU and the IOAPIC", () => {
  const madt = walk(3).get("APIC");
  if (madt === undefined) throw new Error("no MADT");
  expect(madt.getUint32(36, true)).toBe(APIC_START);
  expect(madt.getUint32(40, true)).toBe(1); // PCAT_COMPAT
  const entries: number[][] = [];
  for (let at = 44; at < madt.byteLength; at += madt.getUint8(at + 1)) {
    const type = madt.getUint8(at);
    entries.push(
      type === 0
        ? [0, madt.getUint8(at + 3), madt.getUint32(at + 4, true)]
        : [type, madt.getUint8(at + 2), madt.getUint32(at + 4, true)],
    );
  }
  expect(entries).toEqual([
    [0, 0, 1],
    [0, 1, 1],
    [0, 2, 1],
    [1, 3, IOAPIC_START],
  ]);
});

test("CPU counts outside 1..254 are refused", () => {
  expect(() => buildAcpiTables(0)).toThrow(/for 0 CPUs: 1..254/);
  expect(() => buildAcpiTables(ACPI_MAX_CPUS + 1)).toThrow(/for 255 CPUs/);
});

import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasCommand, testIf } from "../../../../test/support/skip.ts";
import { ACPI_MAX_CPUS, ACPI_SLP_TYP_S5, AcpiError, type AcpiVirtioMmio, buildAcpiTables } from "./acpi.ts";
import {
  ACPI_PM1A_EVT_PORT,
  ACPI_RESET_PORT,
  ACPI_RESET_VALUE,
  ACPI_SCI_GSI,
  ACPI_START,
  APIC_START,
  IOAPIC_START,
  virtioMmioWindow,
} from "./layout.ts";

const sum = (bytes: Uint8Array): number => bytes.reduce((acc, byte) => (acc + byte) & 0xff, 0);
const VIRTIO: AcpiVirtioMmio[] = [virtioMmioWindow(0), virtioMmioWindow(1)];

/** Follow RSDP -> XSDT -> tables the way a kernel does, checking every checksum; FACS and DSDT from the FADT. */
function walk(cpus: number, virtioMmio: readonly AcpiVirtioMmio[] = []): Map<string, Uint8Array> {
  const tables = buildAcpiTables({ cpuCount: cpus, virtioMmio });
  const at = (gpa: number, length: number): Uint8Array =>
    tables.bytes.subarray(gpa - tables.base, gpa - tables.base + length);
  const view = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rsdp = at(tables.rsdp, 36);
  expect(new TextDecoder().decode(rsdp.subarray(0, 8))).toBe("RSD PTR ");
  expect(sum(rsdp.subarray(0, 20))).toBe(0);
  expect(sum(rsdp)).toBe(0);
  expect(rsdp[15]).toBe(2);
  const table = (gpa: number): [string, Uint8Array] => {
    const length = view(at(gpa, 8)).getUint32(4, true);
    const bytes = at(gpa, length);
    expect(sum(bytes)).toBe(0);
    return [new TextDecoder().decode(bytes.subarray(0, 4)), bytes];
  };
  const [xsdtSig, xsdtBytes] = table(Number(view(rsdp).getBigUint64(24, true)));
  const xsdt = view(xsdtBytes);
  expect(xsdtSig).toBe("XSDT");
  const found = new Map<string, Uint8Array>();
  for (let offset = 36; offset < xsdt.byteLength; offset += 8) {
    const [signature, body] = table(Number(xsdt.getBigUint64(offset, true)));
    found.set(signature, body);
  }
  const fadtBytes = found.get("FACP");
  if (fadtBytes === undefined) throw new Error("no FADT");
  const fadt = view(fadtBytes);
  const [dsdtSig, dsdt] = table(Number(fadt.getBigUint64(140, true)));
  expect(fadt.getUint32(40, true)).toBe(Number(fadt.getBigUint64(140, true)));
  found.set(dsdtSig, dsdt);
  const facsAt = fadt.getUint32(36, true);
  expect(facsAt % 64).toBe(0);
  found.set("FACS", at(facsAt, 64));
  return found;
}

const dv = (bytes: Uint8Array | undefined): DataView => {
  if (bytes === undefined) throw new Error("missing table");
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

test("RSDP -> XSDT -> FADT (PC-compatible, not hardware-reduced, with an 8042) -> FACS, DSDT, and the MADT", () => {
  const tables = walk(2);
  expect([...tables.keys()].sort()).toEqual(["APIC", "DSDT", "FACP", "FACS"]);
  const fadt = dv(tables.get("FACP"));
  expect(fadt.getUint32(112, true) & (1 << 20)).toBe(0);
  expect(fadt.getUint16(109, true) & 3).toBe(3);
  const facs = tables.get("FACS");
  expect(new TextDecoder().decode(facs?.subarray(0, 4))).toBe("FACS");
  expect(dv(facs).getUint32(4, true)).toBe(64);
  expect(buildAcpiTables({ cpuCount: 1 }).rsdp).toBe(ACPI_START);
});

test("the FADT points at the PM1a blocks, the SCI, the fixed power button and the i8042 reset register", () => {
  const fadt = dv(walk(1).get("FACP"));
  expect(fadt.getUint16(46, true)).toBe(ACPI_SCI_GSI);
  expect(fadt.getUint32(48, true)).toBe(0); // no SMI_CMD: ACPI mode from reset
  expect(fadt.getUint32(56, true)).toBe(ACPI_PM1A_EVT_PORT);
  expect(fadt.getUint32(64, true)).toBe(ACPI_PM1A_EVT_PORT + 4);
  expect([fadt.getUint8(88), fadt.getUint8(89)]).toEqual([4, 2]);
  expect(fadt.getUint32(76, true)).toBe(0); // no PM timer
  // X_PM1a_EVT_BLK / X_PM1a_CNT_BLK: SystemIO GAS agreeing with the 32-bit fields.
  expect([fadt.getUint8(148), fadt.getUint8(149), Number(fadt.getBigUint64(152, true))]).toEqual([
    1,
    32,
    ACPI_PM1A_EVT_PORT,
  ]);
  expect([fadt.getUint8(172), fadt.getUint8(173), Number(fadt.getBigUint64(176, true))]).toEqual([
    1,
    16,
    ACPI_PM1A_EVT_PORT + 4,
  ]);
  const flags = fadt.getUint32(112, true);
  expect(flags & (1 << 4)).toBe(0); // the power button is a fixed feature
  expect(flags & (1 << 10)).not.toBe(0); // RESET_REG_SUP
  expect([fadt.getUint8(116), fadt.getUint8(117), Number(fadt.getBigUint64(120, true))]).toEqual([
    1,
    8,
    ACPI_RESET_PORT,
  ]);
  expect(fadt.getUint8(128)).toBe(ACPI_RESET_VALUE);
});

test("the DSDT's AML is \\_S5 then the virtio-mmio devices, byte for byte where it is fixed", () => {
  const dsdt = walk(1, VIRTIO).get("DSDT");
  if (dsdt === undefined) throw new Error("no DSDT");
  const aml = [...dsdt.subarray(36)];
  // Name (\_S5_, Package (4) { 5, 5, Zero, Zero }): NameOp, root, NameSeg, PackageOp, PkgLength 8, 4 elements.
  expect(aml.slice(0, 15)).toEqual([
    0x08,
    0x5c,
    0x5f,
    0x53,
    0x35,
    0x5f,
    0x12,
    0x08,
    0x04,
    0x0a,
    ACPI_SLP_TYP_S5,
    0x0a,
    ACPI_SLP_TYP_S5,
    0x00,
    0x00,
  ]);
  const text = new TextDecoder("latin1").decode(dsdt);
  expect(text).toContain("_SB_");
  expect(text.split("LNRO0005").length - 1).toBe(2);
  expect(text).toContain("VR00");
  expect(text).toContain("VR01");
  // Without virtio devices there is no \_SB scope at all.
  const bare = walk(1).get("DSDT");
  expect(bare?.length).toBe(36 + 15);
});

test("the MADT lists one enabled local APIC per CPU, the IOAPIC, and the SCI as a level, active-high override", () => {
  const madt = dv(walk(3).get("APIC"));
  expect(madt.getUint32(36, true)).toBe(APIC_START);
  expect(madt.getUint32(40, true)).toBe(1); // PCAT_COMPAT
  const entries: number[][] = [];
  for (let at = 44; at < madt.byteLength; at += madt.getUint8(at + 1)) {
    const type = madt.getUint8(at);
    if (type === 0) entries.push([0, madt.getUint8(at + 3), madt.getUint32(at + 4, true)]);
    else if (type === 1) entries.push([1, madt.getUint8(at + 2), madt.getUint32(at + 4, true)]);
    else entries.push([type, madt.getUint8(at + 3), madt.getUint32(at + 4, true), madt.getUint16(at + 8, true)]);
  }
  expect(entries).toEqual([
    [0, 0, 1],
    [0, 1, 1],
    [0, 2, 1],
    [1, 3, IOAPIC_START],
    [2, ACPI_SCI_GSI, ACPI_SCI_GSI, 0x0d],
  ]);
});

test("CPU counts outside 1..254 are refused", () => {
  expect(() => buildAcpiTables({ cpuCount: 0 })).toThrow(/for 0 CPUs: 1..254/);
  expect(() => buildAcpiTables({ cpuCount: ACPI_MAX_CPUS + 1 })).toThrow(AcpiError);
});

/** Decompile tables with ACPICA's `iasl -d` (Debian acpica-tools) and return the .dsl text of each. */
function iaslDecompile(tables: Record<string, Uint8Array>): Record<string, { dsl: string; log: string }> {
  const dir = mkdtempSync(join(tmpdir(), "acpi-iasl-"));
  try {
    const out: Record<string, { dsl: string; log: string }> = {};
    for (const [name, bytes] of Object.entries(tables)) {
      const file = join(dir, `${name}.dat`);
      writeFileSync(file, bytes);
      const run = Bun.spawnSync(["iasl", "-d", file], { cwd: dir });
      const log = `${run.stdout.toString()}${run.stderr.toString()}`;
      if (run.exitCode !== 0) throw new Error(`iasl -d ${name}.dat failed (${run.exitCode}): ${log}`);
      out[name] = { dsl: readFileSync(join(dir, `${name}.dsl`), "utf8"), log };
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("ACPICA's disassembler reads the tables", () => {
  const iasl = hasCommand("iasl");
  const run = testIf(iasl, "iasl -d of the generated DSDT and FADT (install acpica-tools)");

  run("the DSDT decompiles to \\_S5 and LNRO0005 devices with their window and level interrupt", () => {
    const tables = walk(2, VIRTIO);
    const dsdt = tables.get("DSDT");
    if (dsdt === undefined) throw new Error("no DSDT");
    const { dsl, log } = iaslDecompile({ dsdt }).dsdt ?? { dsl: "", log: "" };
    expect(log).not.toMatch(/error|warning/i);
    const compact = dsl.replace(/\s+/g, " ");
    expect(compact).toContain(`Name (\\_S5, Package (0x04) // _S5_: S5 System State { 0x05, 0x05, Zero, Zero })`);
    for (const [index, window] of VIRTIO.entries()) {
      const name = `VR0${index}`;
      const device = compact.slice(compact.indexOf(`Device (${name})`));
      expect(device).toContain(`Name (_HID, "LNRO0005")`);
      expect(device).toContain(
        `Memory32Fixed (ReadWrite, 0x${window.base.toString(16).toUpperCase()}, // Address Base`,
      );
      expect(device).toContain(`0x${window.size.toString(16).toUpperCase().padStart(8, "0")}, // Address Length`);
      expect(device).toContain(
        `Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, ) { 0x${window.gsi.toString(16).toUpperCase().padStart(8, "0")}, }`,
      );
    }
  });

  run("the FADT decompiles with the PM1a blocks, the SCI, the reset register and no hardware-reduced flag", () => {
    const facp = walk(1).get("FACP");
    if (facp === undefined) throw new Error("no FADT");
    const { dsl, log } = iaslDecompile({ facp }).facp ?? { dsl: "", log: "" };
    expect(log).not.toMatch(/error|warning/i);
    const field = (name: string): string | undefined =>
      new RegExp(`\\] +${name.replace(/[()]/g, "\\$&")} : (\\S+)`).exec(dsl)?.[1];
    expect(field("PM1A Event Block Address")).toBe("00000600");
    expect(field("PM1A Control Block Address")).toBe("00000604");
    expect(field("PM1 Event Block Length")).toBe("04");
    expect(field("PM1 Control Block Length")).toBe("02");
    expect(field("SCI Interrupt")).toBe("0009");
    expect(field("Value to cause reset")).toBe("FE");
    expect(dsl).toMatch(/Hardware Reduced \(V5\) : 0/);
    expect(dsl).toMatch(/Control Method Power Button \(V1\) : 0/);
    expect(dsl).toMatch(/Reset Register Supported \(V2\) : 1/);
    expect(dsl).toMatch(/Address : 0000000000000064/);
  });
});

import { expect, test } from "bun:test";
import { APIC_START, IOAPIC_START, MPTABLE_START } from "./layout.ts";
import { buildMpTable, MP_IRQ_COUNT, mptableSize } from "./mptable.ts";

const sum = (bytes: Uint8Array): number => bytes.reduce((acc, byte) => (acc + byte) & 0xff, 0);

test("floating pointer and configuration table have valid signatures, checksums and entries", () => {
  const cpus = 3;
  const table = buildMpTable(cpus);
  const view = new DataView(table.buffer);
  const text = (at: number, length: number): string => new TextDecoder().decode(table.subarray(at, at + length));
  expect(table.length).toBe(mptableSize(cpus));
  expect(text(0, 4)).toBe("_MP_");
  expect(view.getUint32(4, true)).toBe(MPTABLE_START + 16);
  expect(sum(table.subarray(0, 16))).toBe(0);
  expect(text(16, 4)).toBe("PCMP");
  const length = view.getUint16(16 + 4, true);
  expect(length).toBe(table.length - 16);
  expect(sum(table.subarray(16, 16 + length))).toBe(0);
  expect(view.getUint16(16 + 34, true)).toBe(cpus + 2 + MP_IRQ_COUNT + 2);
  expect(view.getUint32(16 + 36, true)).toBe(APIC_START);
  // Processors: APIC ids 0..2, the first is the bootstrap processor.
  const cpu = (i: number): number[] => [table[60 + i * 20] ?? -1, table[61 + i * 20] ?? -1, table[63 + i * 20] ?? -1];
  expect([cpu(0), cpu(1), cpu(2)]).toEqual([
    [0, 0, 3],
    [0, 1, 1],
    [0, 2, 1],
  ]);
  const afterCpus = 60 + cpus * 20;
  expect(text(afterCpus + 2, 6)).toBe("ISA   ");
  const ioapic = afterCpus + 8;
  expect([table[ioapic], table[ioapic + 1], view.getUint32(ioapic + 4, true)]).toEqual([2, cpus, IOAPIC_START]);
  const irq5 = ioapic + 8 + 5 * 8;
  expect(Array.from(table.subarray(irq5, irq5 + 8))).toEqual([3, 0, 0, 0, 0, 5, cpus, 5]);
  const lint = ioapic + 8 + MP_IRQ_COUNT * 8;
  expect(Array.from(table.subarray(lint, lint + 16))).toEqual([4, 3, 0, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0xff, 1]);
});

test("CPU counts outside 1..254 are refused", () => {
  expect(() => buildMpTable(0)).toThrow(/for 0 CPUs: 1..254/);
  expect(() => buildMpTable(255)).toThrow(/for 255 CPUs/);
  expect(buildMpTable(254).length).toBe(mptableSize(254));
});

import { expect, test } from "bun:test";
import { EmptyVirtioMmioSlot } from "./empty-slot.ts";

test("an empty virtio-mmio slot identifies as version 2 with device id 0 and ignores writes", () => {
  const slot = new EmptyVirtioMmioSlot();
  expect(slot.read(0x000, 4)).toBe(0x74726976);
  expect(slot.read(0x004, 4)).toBe(2);
  expect(slot.read(0x008, 4)).toBe(0);
  expect(slot.read(0x070, 4)).toBe(0);
  slot.write();
  expect(slot.read(0x070, 4)).toBe(0);
  expect(slot.read(0x000, 1)).toBe(0);
  expect(slot.stats.badAccesses).toBe(2);
});

import { expect, test } from "bun:test";
import { GuestMemory } from "../../../addrspace/guest-memory.ts";
import type { GuestMemoryAccess } from "../../../hal/types.ts";
import { BOOT_GDT, setupLongModeBoot } from "./boot-cpu.ts";
import { BOOT_GDT_START, PDE_START, PDPTE_START, PML4_START } from "./layout.ts";

test("long-mode boot writes the GDT and a 1 GiB identity map, and sets paging registers", () => {
  const bytes = new Uint8Array(0x10_0000);
  const memory: GuestMemoryAccess = new GuestMemory([{ name: "ram", gpa: 0, bytes }]);
  const state = setupLongModeBoot(memory, { entry: 0x100200 });
  const view = new DataView(bytes.buffer);
  BOOT_GDT.forEach((entry, i) => expect(view.getBigUint64(BOOT_GDT_START + i * 8, true)).toBe(entry));
  expect(view.getBigUint64(PML4_START, true)).toBe(BigInt(PDPTE_START) | 3n);
  expect(view.getBigUint64(PDPTE_START, true)).toBe(BigInt(PDE_START) | 3n);
  expect(view.getBigUint64(PDE_START + 511 * 8, true)).toBe((511n << 21n) | 0x83n);
  expect(state).toMatchObject({ rip: 0x100200, cr3: BigInt(PML4_START), cr0: 0x8000_0001n, cr4: 0x20n, efer: 0x500n });
  expect(state.gprs).toMatchObject({ rsp: 0x8ff0n, rbp: 0x8ff0n, rsi: 0x7000n });
});

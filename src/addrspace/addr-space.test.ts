import { describe, expect, test } from "bun:test";
import { FakeHalVm } from "../../test/support/fake-backend.ts";
import { MAX_HOST_MEMORY_BLOCK } from "../hal/types.ts";
import { AddrSpace, splitIntoBlocks } from "./addr-space.ts";

const GiB = 2 ** 30;

describe("RAM regions larger than one host memory block (issue 9, item 15)", () => {
  test("are cut into consecutive blocks of at most MAX_HOST_MEMORY_BLOCK, in order, same flags", () => {
    const parts = splitIntoBlocks({ name: "ram0", gpa: 0x8000_0000, size: 9 * GiB, flags: 7, mapType: "alloc" });
    expect(parts.map((p) => [p.name, p.gpa, p.size])).toEqual([
      ["ram0.0", 0x8000_0000, MAX_HOST_MEMORY_BLOCK],
      ["ram0.1", 0x8000_0000 + MAX_HOST_MEMORY_BLOCK, MAX_HOST_MEMORY_BLOCK],
      ["ram0.2", 0x8000_0000 + 2 * MAX_HOST_MEMORY_BLOCK, GiB],
    ]);
    expect(parts.every((p) => p.flags === 7 && p.mapType === "alloc")).toBe(true);
    const small = { name: "ram1", gpa: 0, size: MAX_HOST_MEMORY_BLOCK, flags: 3, mapType: "alloc" as const };
    expect(splitIntoBlocks(small)).toEqual([small]);
  });

  test("a 5 GiB region maps as blocks the backend can allocate, and guest memory spans them", () => {
    // The blocks are allocated for real: untouched pages cost nothing, so 5 GiB is fine on any test host.
    const vm = new FakeHalVm({ arch: "x86_64", vmId: 1, cpuCount: 1 }, new Map());
    const space = AddrSpace.create(vm, [{ name: "ram", gpa: 0, size: 5 * GiB, flags: 7, mapType: "alloc" }]);
    expect(vm.slots.map((s) => [s.gpa, s.memory.bytes.length])).toEqual([
      [0, MAX_HOST_MEMORY_BLOCK],
      [MAX_HOST_MEMORY_BLOCK, GiB],
    ]);
    const across = MAX_HOST_MEMORY_BLOCK - 2;
    space.guestMemory.write(across, Uint8Array.of(1, 2, 3, 4));
    expect([...space.guestMemory.read(across, 4)]).toEqual([1, 2, 3, 4]);
    expect(space.guestMemory.contains(0, 5 * GiB)).toBe(true);
  });
});

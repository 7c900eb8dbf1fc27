import { expect, test } from "bun:test";
import { realModeState } from "./vcpu-state.ts";

test("real mode at an entry below 1 MiB: CS holds the 64 KiB page, IP the offset, paging off", () => {
  const state = realModeState(0x1_8000, { rax: 7n });
  expect(state.rip).toBe(0x8000);
  expect(state.segments?.cs).toMatchObject({ base: 0x1_0000, selector: 0x1000 });
  expect(state.segments?.ds?.base).toBe(0);
  expect(state).toMatchObject({ rflags: 2n, cr0: 0x10n, cr4: 0n, efer: 0n, gprs: { rax: 7n } });
  expect(() => realModeState(0x10_0000)).toThrow("Cannot enter real mode at 0x100000: the entry must be below 1 MiB");
});

import { expect, test } from "bun:test";
import { HalError } from "../types.ts";
import { hvfBackend, probeHvf } from "./index.ts";

test("the HVF probe says why it cannot run on each kind of host", () => {
  expect(probeHvf("linux", "x64").reason).toBe("not macOS (this host is linux/x64)");
  expect(probeHvf("darwin", "x64").reason).toContain("Apple silicon");
  expect(probeHvf("darwin", "arm64", () => false).reason).toContain("not found");
  expect(probeHvf("darwin", "arm64", () => true)).toEqual({
    backend: "hvf",
    available: false,
    reason: "Hypervisor.framework is present, but the axvisor-ts HVF backend is not implemented yet",
    archs: [],
  });
  expect(() => hvfBackend.open()).toThrow(HalError);
});

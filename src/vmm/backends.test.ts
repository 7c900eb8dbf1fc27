import { describe, expect, test } from "bun:test";
import { testVmConfig } from "../../test/support/vm-config.ts";
import type { BackendName, BackendSupport, GuestArch, HalBackend } from "../hal/types.ts";
import { type BackendDescriptor, backends, loadBackends, probeBackends, selectBackend } from "./backends.ts";

function fakeBackend(name: BackendName, archs: readonly GuestArch[], reason = "fake"): HalBackend {
  const support: BackendSupport = { backend: name, available: archs.length > 0, reason, archs };
  return {
    name,
    hasHardwareSupport: () => support,
    open: () => {
      throw new Error("not opened in these tests");
    },
  };
}

/** A descriptor that counts its loads. */
function lazy(backend: HalBackend): BackendDescriptor & { loads: number } {
  const descriptor = {
    name: backend.name,
    loads: 0,
    load: async (): Promise<HalBackend> => {
      descriptor.loads++;
      return backend;
    },
  };
  return descriptor;
}

const riscv = testVmConfig({ arch: "riscv64" });

describe("lazy backends", () => {
  test("the VMM's descriptors are kvm, hvf, emulated, in order of preference", () => {
    expect(backends.map((b) => b.name)).toEqual(["kvm", "hvf", "emulated"]);
  });

  test('"auto" loads candidates in order and stops at the first that runs the guest', async () => {
    const kvm = lazy(fakeBackend("kvm", [], "no /dev/kvm"));
    const emulated = lazy(fakeBackend("emulated", ["riscv64"]));
    const hvf = lazy(fakeBackend("hvf", []));
    const chosen = await selectBackend(riscv, [kvm, emulated, hvf]);
    expect(chosen.name).toBe("emulated");
    expect([kvm.loads, emulated.loads, hvf.loads]).toEqual([1, 1, 0]);
  });

  test("a named backend is the only one loaded", async () => {
    const kvm = lazy(fakeBackend("kvm", ["x86_64"]));
    const emulated = lazy(fakeBackend("emulated", ["riscv64"]));
    const chosen = await selectBackend({ ...riscv, backend: "emulated" }, [kvm, emulated]);
    expect(chosen.name).toBe("emulated");
    expect(kvm.loads).toBe(0);
  });

  test("a backend whose module cannot be imported is unavailable with the reason, and passed over", async () => {
    const broken: BackendDescriptor = { name: "kvm", load: () => Promise.reject(new Error("Cannot find module x")) };
    const emulated = fakeBackend("emulated", ["riscv64"]);
    expect((await selectBackend(riscv, [broken, emulated])).name).toBe("emulated");
    expect(await probeBackends([broken])).toEqual([
      { backend: "kvm", available: false, reason: "cannot load the kvm backend: Cannot find module x", archs: [] },
    ]);
    const [loaded] = await loadBackends([broken]);
    expect(() => loaded?.open()).toThrow("kvm: open: cannot load the kvm backend: Cannot find module x");
    await expect(selectBackend({ ...riscv, backend: "kvm" }, [broken])).rejects.toThrow(
      'backend "kvm" cannot run here: cannot load the kvm backend: Cannot find module x',
    );
  });

  test("a probe that throws is reported, not thrown", async () => {
    const throwing: HalBackend = {
      ...fakeBackend("hvf", []),
      hasHardwareSupport: () => {
        throw new Error("dlopen failed");
      },
    };
    expect(await probeBackends([throwing])).toEqual([
      { backend: "hvf", available: false, reason: "probe failed: dlopen failed", archs: [] },
    ]);
  });

  test("no fitting backend: every reason is named", async () => {
    const kvm = fakeBackend("kvm", [], "no /dev/kvm");
    const emulated = fakeBackend("emulated", ["riscv64"]);
    await expect(selectBackend({ ...riscv, arch: "x86_64" }, [kvm, emulated])).rejects.toThrow(
      "no backend can run a x86_64 guest here (kvm: no /dev/kvm; emulated: runs riscv64 guests, not x86_64)",
    );
    await expect(selectBackend({ ...riscv, machine: "virt-bare", backend: "kvm" }, [kvm, emulated])).rejects.toThrow(
      'base.machine = "virt-bare" needs the emulated backend, not base.backend = "kvm"',
    );
  });
});

import { describe, expect, test } from "bun:test";
import { FakeHalVcpu } from "../../test/support/fake-vcpu.ts";
import { AxVCpu, type VCpuState, VCpuStateError } from "./axvcpu.ts";

type Operation = "setup" | "bind" | "unbind" | "run" | "block" | "unblock";
const operations: Operation[] = ["setup", "bind", "unbind", "run", "block", "unblock"];
/** The legal transitions: from-state → operation → to-state. */
const legal: Record<VCpuState, Partial<Record<Operation, VCpuState>>> = {
  Invalid: {},
  Created: { setup: "Free" },
  Free: { bind: "Ready" },
  Ready: { unbind: "Free", run: "Ready", block: "Blocked" },
  Running: {},
  Blocked: { unblock: "Ready" },
};
const pathTo: Record<VCpuState, Operation[]> = {
  Invalid: ["bind"],
  Created: [],
  Free: ["setup"],
  Ready: ["setup", "bind"],
  Running: [],
  Blocked: ["setup", "bind", "block"],
};

function apply(vcpu: AxVCpu, operation: Operation): void {
  switch (operation) {
    case "setup":
      vcpu.setup(0x8020_0000);
      break;
    case "bind":
      vcpu.bind();
      break;
    case "unbind":
      vcpu.unbind();
      break;
    case "run":
      vcpu.run();
      break;
    case "block":
      vcpu.block();
      break;
    case "unblock":
      vcpu.unblock();
      break;
  }
}

function vcpuIn(state: VCpuState): AxVCpu {
  const vcpu = new AxVCpu({ id: 3, vmId: 1 }, new FakeHalVcpu(3));
  for (const op of pathTo[state]) {
    try {
      apply(vcpu, op);
    } catch {
      // reaching Invalid on purpose
    }
  }
  expect(vcpu.state).toBe(state);
  return vcpu;
}

describe("AxVCpu state machine", () => {
  for (const from of ["Invalid", "Created", "Free", "Ready", "Blocked"] as const) {
    for (const operation of operations) {
      const to = legal[from][operation];
      if (to !== undefined) {
        test(`${from} --${operation}--> ${to}`, () => {
          const vcpu = vcpuIn(from);
          apply(vcpu, operation);
          expect(vcpu.state).toBe(to);
        });
      } else {
        test(`${from} --${operation}--> Invalid with an error naming both states`, () => {
          const vcpu = vcpuIn(from);
          let error: unknown;
          try {
            apply(vcpu, operation);
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(VCpuStateError);
          const stateError = error as VCpuStateError;
          expect(stateError.actual).toBe(from);
          expect(stateError.message).toContain(`it is ${from}, expected `);
          expect(vcpu.state).toBe("Invalid");
        });
      }
    }
  }

  test("run is Running while the backend runs and Ready after the exit", () => {
    const arch = new FakeHalVcpu(0, [{ kind: "Halt" }]);
    const vcpu = new AxVCpu({ id: 0, vmId: 1 }, arch);
    vcpu.setup(0x1000);
    vcpu.bind();
    let seen: VCpuState | undefined;
    arch.run = () => {
      seen = vcpu.state;
      return { kind: "Halt" };
    };
    expect(vcpu.run()).toEqual({ kind: "Halt" });
    expect(seen).toBe("Running");
    expect(vcpu.state).toBe("Ready");
  });

  test("a backend failure during run or setup leaves the vCPU Invalid", () => {
    const arch = new FakeHalVcpu(0);
    const vcpu = new AxVCpu({ id: 0, vmId: 1 }, arch);
    vcpu.setup(0x1000);
    vcpu.bind();
    arch.failNextRun = new Error("backend broke");
    expect(() => vcpu.run()).toThrow("backend broke");
    expect(vcpu.state).toBe("Invalid");

    const failing = new FakeHalVcpu(1);
    failing.setup = () => {
      throw new Error("no such register");
    };
    const other = new AxVCpu({ id: 1, vmId: 1 }, failing);
    expect(() => other.setup(0)).toThrow("no such register");
    expect(other.state).toBe("Invalid");
  });

  test("setup passes entry, the stage-2 table and arch set-up through; helpers reach the backend", async () => {
    const arch = new FakeHalVcpu(0);
    const vcpu = new AxVCpu({ id: 0, vmId: 2, physCpuSet: 0b10n }, arch);
    vcpu.setup(0x8020_0000, { stage2: { root: 0x10_0000_4000, mode: "sv39x4" }, gprs: [[10, 0n]] });
    expect(arch.setups[0]).toEqual({
      entry: 0x8020_0000,
      stage2: { root: 0x10_0000_4000, mode: "sv39x4" },
      gprs: [[10, 0n]],
    });
    expect(vcpu.isBsp()).toBe(true);
    expect(vcpu.physCpuSet()).toBe(0b10n);
    vcpu.setGpr(11, 0x8220_0000n);
    expect(vcpu.getGpr(11)).toBe(0x8220_0000n);
    vcpu.injectInterrupt(9);
    expect(arch.interrupts.get(9)).toBe(true);
    vcpu.clearInterrupt(9);
    expect(arch.interrupts.get(9)).toBe(false);
    vcpu.setReturnValue(42n);
    expect(arch.returnValues).toEqual([42n]);
    vcpu.bind();
    expect(await vcpu.runAsync()).toEqual({ kind: "Nothing" });
    expect(vcpu.state).toBe("Ready");
  });
});

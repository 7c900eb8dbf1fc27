/**
 * Tests that need something this host may lack (a /dev/kvm, QEMU, a cross compiler) skip with the reason
 * printed, so a skipped test is never mistaken for a passing one.
 */
import { describe, test } from "bun:test";

export interface Requirement {
  readonly available: boolean;
  /** Why it is unavailable (or what was found). */
  readonly reason: string;
}

/** `test`, or `test.skip` after printing `[skip] label: reason` when the requirement is not met. */
export function testIf(requirement: Requirement, label: string): typeof test {
  if (requirement.available) return test;
  console.warn(`[skip] ${label}: ${requirement.reason}`);
  return test.skip;
}

/** `describe`, or `describe.skip` after printing the reason. */
export function describeIf(requirement: Requirement, label: string): typeof describe {
  if (requirement.available) return describe;
  console.warn(`[skip] ${label}: ${requirement.reason}`);
  return describe.skip;
}

/** Whether an executable is on PATH. */
export function hasCommand(command: string): Requirement {
  const found = Bun.which(command);
  return found === null
    ? { available: false, reason: `${command} is not installed (not on PATH)` }
    : { available: true, reason: `found ${found}` };
}

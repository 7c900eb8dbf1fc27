/**
 * macOS Hypervisor.framework backend — probe only, for now.
 *
 * The probe answers `axvisor info` truthfully on every host. The VM/vCPU implementation (FFI bindings to
 * hv_vm_create / hv_vcpu_create / hv_vcpu_run in `sys.ts`, arm64 guests on Apple silicon) is not written yet:
 * nobody on the team has a Mac to test it on, and an untested backend would be worse than an honest "not yet".
 */

import { existsSync } from "node:fs";
import type { BackendSupport, HalBackend, Hypervisor } from "../types.ts";
import { HalError } from "../types.ts";

const FRAMEWORK = "/System/Library/Frameworks/Hypervisor.framework";

export function probeHvf(
  platform: string = process.platform,
  arch: string = process.arch,
  frameworkPresent: () => boolean = () => existsSync(FRAMEWORK),
): BackendSupport {
  const unavailable = (reason: string): BackendSupport => ({ backend: "hvf", available: false, reason, archs: [] });
  if (platform !== "darwin") return unavailable(`not macOS (this host is ${platform}/${arch})`);
  if (arch !== "arm64")
    return unavailable(`macOS on ${arch}: axvisor-ts targets Hypervisor.framework on Apple silicon (arm64)`);
  if (!frameworkPresent()) return unavailable(`${FRAMEWORK} not found`);
  return unavailable("Hypervisor.framework is present, but the axvisor-ts HVF backend is not implemented yet");
}

export const hvfBackend: HalBackend = {
  name: "hvf",
  hasHardwareSupport: () => probeHvf(),
  open(): Hypervisor {
    throw new HalError("hvf", "unsupported", "open", probeHvf().reason);
  },
};

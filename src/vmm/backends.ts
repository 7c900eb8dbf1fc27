/**
 * The backends this VMM can use, and the choice of one for a VM. "auto" prefers hardware (KVM, then HVF) and
 * falls back to the emulated hart, which runs everywhere but only RISC-V guests.
 */

import { emulatedBackend } from "../hal/emulated/index.ts";
import { hvfBackend } from "../hal/hvf/index.ts";
import { kvmBackend } from "../hal/kvm/index.ts";
import type { BackendSupport, HalBackend } from "../hal/types.ts";
import type { VmConfig } from "./config/types.ts";
import { VmError } from "./errors.ts";

/** In order of preference for `backend = "auto"`. */
export const backends: readonly HalBackend[] = [kvmBackend, hvfBackend, emulatedBackend];

export function backendsFor(): readonly HalBackend[] {
  return backends;
}

/** Each backend's probe, for `axvisor info`. */
export function probeBackends(candidates: readonly HalBackend[] = backends): BackendSupport[] {
  return candidates.map((backend) => backend.hasHardwareSupport());
}

export function selectBackend(config: VmConfig, candidates: readonly HalBackend[]): HalBackend {
  const label = `vm ${config.id} (${config.name})`;
  const wanted = config.machine === "virt-bare" ? "emulated" : config.backend;
  if (config.machine === "virt-bare" && config.backend !== "auto" && config.backend !== "emulated") {
    throw new VmError(
      "backend",
      label,
      `base.machine = "virt-bare" needs the emulated backend, not base.backend = "${config.backend}"`,
    );
  }
  if (wanted !== "auto") {
    const backend = candidates.find((b) => b.name === wanted);
    if (backend === undefined)
      throw new VmError("backend", label, `backend "${wanted}" is not built into this axvisor`);
    const support = backend.hasHardwareSupport();
    if (!support.available)
      throw new VmError("backend", label, `backend "${wanted}" cannot run here: ${support.reason}`);
    if (!support.archs.includes(config.arch)) {
      throw new VmError(
        "backend",
        label,
        `backend "${wanted}" cannot run ${config.arch} guests here (it runs: ${support.archs.join(", ") || "nothing"})`,
      );
    }
    return backend;
  }
  const reasons: string[] = [];
  for (const backend of candidates) {
    const support = backend.hasHardwareSupport();
    if (support.available && support.archs.includes(config.arch)) return backend;
    reasons.push(
      `${backend.name}: ${support.available ? `runs ${support.archs.join(", ")} guests, not ${config.arch}` : support.reason}`,
    );
  }
  throw new VmError("backend", label, `no backend can run a ${config.arch} guest here (${reasons.join("; ")})`);
}

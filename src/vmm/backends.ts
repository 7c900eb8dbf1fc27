/**
 * The backends this VMM can use, and the choice of one for a VM. Each is a descriptor: a name and a loader that
 * imports the backend's module only when it is probed or chosen, so a backend whose native library cannot load
 * (KVM's libc on macOS or musl) costs nothing to a VM that does not use it, and the VMM imports on any host.
 * "auto" prefers hardware (KVM, then HVF) and falls back to the emulated hart, which runs everywhere but only
 * RISC-V guests.
 */

import type { BackendName, BackendSupport, HalBackend } from "../hal/types.ts";
import { HalError } from "../hal/types.ts";
import type { VmConfig } from "./config/types.ts";
import { errorMessage, VmError } from "./errors.ts";

/** A backend not loaded yet. */
export interface BackendDescriptor {
  readonly name: BackendName;
  /** Import the backend's module. Its native code, if any, loads later still: on the first probe or `open`. */
  load(): Promise<HalBackend>;
}

/** What backend choices accept: descriptors, or backends already loaded (tests, embedders). */
export type BackendCandidate = BackendDescriptor | HalBackend;

/** In order of preference for `backend = "auto"`. */
export const backends: readonly BackendDescriptor[] = [
  { name: "kvm", load: async () => (await import("../hal/kvm/index.ts")).kvmBackend },
  { name: "hvf", load: async () => (await import("../hal/hvf/index.ts")).hvfBackend },
  { name: "emulated", load: async () => (await import("../hal/emulated/index.ts")).emulatedBackend },
];

function isLoaded(candidate: BackendCandidate): candidate is HalBackend {
  return "hasHardwareSupport" in candidate;
}

/**
 * A backend whose module could not be imported: it reports itself unavailable with the reason and cannot be
 * opened, so `axvisor info` lists it and "auto" passes over it.
 */
function unloadable(name: BackendName, error: unknown): HalBackend {
  const reason = `cannot load the ${name} backend: ${errorMessage(error)}`;
  return {
    name,
    hasHardwareSupport: () => ({ backend: name, available: false, reason, archs: [] }),
    open: () => {
      throw new HalError(name, "unsupported", "open", reason);
    },
  };
}

/** Load one candidate (a no-op for a loaded backend). Never rejects. */
export async function loadBackend(candidate: BackendCandidate): Promise<HalBackend> {
  if (isLoaded(candidate)) return candidate;
  try {
    return await candidate.load();
  } catch (error) {
    return unloadable(candidate.name, error);
  }
}

/** Load every candidate (for `axvisor info`, which probes them all). Never rejects. */
export function loadBackends(candidates: readonly BackendCandidate[] = backends): Promise<HalBackend[]> {
  return Promise.all(candidates.map(loadBackend));
}

/** A backend's probe; one that throws (the contract says it never does) is reported as unavailable. */
function probe(backend: HalBackend): BackendSupport {
  try {
    return backend.hasHardwareSupport();
  } catch (error) {
    return { backend: backend.name, available: false, reason: `probe failed: ${errorMessage(error)}`, archs: [] };
  }
}

/** Each backend's probe, for `axvisor info`. Never rejects. */
export async function probeBackends(candidates: readonly BackendCandidate[] = backends): Promise<BackendSupport[]> {
  return (await loadBackends(candidates)).map(probe);
}

/**
 * The backend for `config`: the one it names, or for "auto" the first (in `candidates` order) that can run its
 * guest arch here. Only the backends looked at are loaded. Rejects with a `VmError` saying why none fits.
 */
export async function selectBackend(
  config: VmConfig,
  candidates: readonly BackendCandidate[] = backends,
): Promise<HalBackend> {
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
    const candidate = candidates.find((b) => b.name === wanted);
    if (candidate === undefined)
      throw new VmError("backend", label, `backend "${wanted}" is not built into this axvisor`);
    const backend = await loadBackend(candidate);
    const support = probe(backend);
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
  for (const candidate of candidates) {
    const backend = await loadBackend(candidate);
    const support = probe(backend);
    if (support.available && support.archs.includes(config.arch)) return backend;
    reasons.push(
      `${backend.name}: ${support.available ? `runs ${support.archs.join(", ")} guests, not ${config.arch}` : support.reason}`,
    );
  }
  throw new VmError("backend", label, `no backend can run a ${config.arch} guest here (${reasons.join("; ")})`);
}

/** The VMM's public API, for the CLI and for embedders. */

export {
  type BackendCandidate,
  type BackendDescriptor,
  backends,
  loadBackends,
  probeBackends,
  selectBackend,
} from "./backends.ts";
export type { VmConfig } from "./config/types.ts";
export { VmError, type VmErrorKind } from "./errors.ts";
export type { LogLevelName } from "./log-level.ts";
export { AxVM, type VmResult, type VmStatus } from "./vm.ts";
export { Vmm, type VmmOptions, type VmmResult, type VmSummary } from "./vmm.ts";

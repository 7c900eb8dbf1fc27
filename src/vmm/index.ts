/** The VMM's public API, for the CLI and for embedders. */

export { backends, probeBackends, selectBackend } from "./backends.ts";
export { Vmm, type LogLevelName, type VmSummary, type VmmOptions, type VmmResult } from "./vmm.ts";
export { AxVM, type VmResult, type VmStatus } from "./vm.ts";
export { VmError, type VmErrorKind } from "./errors.ts";
export type { VmConfig } from "./config/types.ts";

export { AxVCpu, VCpuStateError, type AxVCpuOptions, type VCpuArchSetup, type VCpuState } from "./axvcpu.ts";
export { assertNever, type AxVCpuExitReason, type ExitKind, type SystemDownAction } from "../hal/types.ts";

export { type AxVCpuExitReason, assertNever, type ExitKind, type SystemDownAction } from "../hal/types.ts";
export { AxVCpu, type AxVCpuOptions, type VCpuArchSetup, type VCpuState, VCpuStateError } from "./axvcpu.ts";

/**
 * The control plane's entry: an API server on a unix socket driving a `Vmm` (api-server.ts, api-vm.ts).
 */

import type { Vmm, VmSummary } from "../vmm.ts";
import { ApiServer } from "./api-server.ts";
import { ApiVm } from "./api-vm.ts";

export { ApiSocketError, socketAnswers } from "./unix-socket.ts";

export interface ApiServeOptions {
  readonly path: string;
  readonly version: string;
  /** Where relative paths in requests are resolved (the server's working directory). */
  readonly cwd: string;
  /** `run --api-sock`: the instance is the VM of the first config, already configured. */
  readonly startedFromConfig?: boolean;
  readonly instanceVmId?: number;
}

export interface ApiServeHandle {
  readonly path: string;
  /** Resolves with how the instance VM ended (never, if it is never started). */
  readonly instanceEnded: Promise<VmSummary>;
  close(): void;
}

/** Start the API server for `vmm` on `options.path`. Throws ApiSocketError when the path cannot be used. */
export async function serveApi(vmm: Vmm, options: ApiServeOptions): Promise<ApiServeHandle> {
  let ended: (summary: VmSummary) => void = () => undefined;
  const instanceEnded = new Promise<VmSummary>((resolve) => {
    ended = resolve;
  });
  const vm = new ApiVm(vmm, {
    cwd: options.cwd,
    version: options.version,
    instanceId: `axvisor-${process.pid}`,
    ...(options.instanceVmId === undefined ? {} : { instanceVmId: options.instanceVmId }),
    startedFromConfig: options.startedFromConfig === true,
    onInstanceEnded: (summary) => ended(summary),
  });
  const server = await ApiServer.start(options.path, vm);
  return { path: server.path, instanceEnded, close: () => server.close() };
}

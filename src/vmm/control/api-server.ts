/**
 * The API server: HTTP/1.1 on a unix socket (Bun.serve), speaking a subset of Firecracker's API (same paths,
 * bodies, status codes and `{"fault_message": ...}` errors; see api-schemas.ts) plus our `GET /vms` and
 * `GET /vms/{id}` for the several VMs one process can run. Requests are served one at a time, in order, as
 * Firecracker's single API thread does, so a pause is complete before a snapshot request after it starts.
 *
 *   GET  /                      instance info           PUT  /actions        InstanceStart | SendCtrlAltDel
 *   GET  /version               version                 PATCH /vm            {"state": "Paused" | "Resumed"}
 *   GET|PUT /machine-config     vCPUs, memory           PUT  /snapshot/create, /snapshot/load
 *   PUT  /boot-source           kernel, args, initrd    GET  /vm/config      the full configuration
 *   PUT  /drives/{id}           virtio-blk disks        GET  /vms, /vms/{id} (ours)
 *   PUT  /network-interfaces/{id}  virtio-net on a host TAP
 */

import { unlinkSync } from "node:fs";
import type { Server } from "bun";
import type { z } from "zod";
import {
  actionSchema,
  bootSourceSchema,
  describeIssues,
  driveSchema,
  machineConfigSchema,
  networkInterfaceSchema,
  snapshotCreateSchema,
  snapshotLoadSchema,
  vmStateSchema,
} from "./api-schemas.ts";
import { type ApiResult, type ApiVm, fault, NO_CONTENT } from "./api-vm.ts";
import { claimSocketPath, listenPrivately } from "./unix-socket.ts";

type Handler = (request: { readonly body: () => Promise<unknown>; readonly param: string }) => Promise<ApiResult>;

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Partial<Record<string, Handler>>>;
}

/** Parse the body with `schema`, or answer 400 naming the bad fields. */
async function withBody<S extends z.ZodType>(
  body: () => Promise<unknown>,
  schema: S,
  use: (value: z.infer<S>) => ApiResult | Promise<ApiResult>,
): Promise<ApiResult> {
  let json: unknown;
  try {
    json = await body();
  } catch (error) {
    return fault(400, `The request body is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return fault(400, `Invalid request body: ${describeIssues(parsed.error)}`);
  return use(parsed.data);
}

function routes(vm: ApiVm): readonly Route[] {
  const get =
    (result: () => ApiResult): Handler =>
    async () =>
      result();
  return [
    { pattern: /^\/$/, methods: { GET: get(() => vm.describe()) } },
    { pattern: /^\/version$/, methods: { GET: get(() => vm.version()) } },
    {
      pattern: /^\/machine-config$/,
      methods: {
        GET: get(() => vm.machineConfig()),
        PUT: ({ body }) => withBody(body, machineConfigSchema, (c) => vm.putMachineConfig(c)),
      },
    },
    {
      pattern: /^\/boot-source$/,
      methods: { PUT: ({ body }) => withBody(body, bootSourceSchema, (b) => vm.putBootSource(b)) },
    },
    {
      pattern: /^\/drives\/([^/]+)$/,
      methods: { PUT: ({ body, param }) => withBody(body, driveSchema, (d) => vm.putDrive(param, d)) },
    },
    {
      pattern: /^\/network-interfaces\/([^/]+)$/,
      methods: {
        PUT: ({ body, param }) => withBody(body, networkInterfaceSchema, (n) => vm.putNetworkInterface(param, n)),
      },
    },
    {
      pattern: /^\/actions$/,
      methods: {
        PUT: ({ body }) =>
          withBody(body, actionSchema, (action) => {
            switch (action.action_type) {
              case "InstanceStart":
                return vm.start();
              case "SendCtrlAltDel":
                return vm.sendCtrlAltDel();
              case "FlushMetrics":
                // We keep no metrics file: nothing to flush, which is what the action asks for.
                return NO_CONTENT;
            }
          }),
      },
    },
    { pattern: /^\/vm$/, methods: { PATCH: ({ body }) => withBody(body, vmStateSchema, (s) => vm.setState(s.state)) } },
    {
      pattern: /^\/snapshot\/create$/,
      methods: { PUT: ({ body }) => withBody(body, snapshotCreateSchema, (r) => vm.createSnapshot(r)) },
    },
    {
      pattern: /^\/snapshot\/load$/,
      methods: { PUT: ({ body }) => withBody(body, snapshotLoadSchema, (r) => vm.loadSnapshot(r)) },
    },
    { pattern: /^\/vm\/config$/, methods: { GET: get(() => vm.fullConfig()) } },
    { pattern: /^\/vms$/, methods: { GET: get(() => vm.listVms()) } },
    { pattern: /^\/vms\/([^/]+)$/, methods: { GET: async ({ param }) => vm.getVm(param) } },
  ];
}

/** Answer one request (exported for tests that need no socket). */
export async function dispatch(table: readonly Route[], method: string, path: string, body: () => Promise<unknown>) {
  for (const route of table) {
    const match = route.pattern.exec(path);
    if (match === null) continue;
    const handler = route.methods[method];
    if (handler === undefined) {
      return fault(
        405,
        `Invalid request method ${method} for ${path}: allowed ${Object.keys(route.methods).join(", ")}.`,
      );
    }
    return handler({ body, param: decodeURIComponent(match[1] ?? "") });
  }
  return fault(404, `Invalid request method and/or path: ${method} ${path}.`);
}

export class ApiServer {
  readonly path: string;
  readonly #server: Server<undefined>;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(path: string, vm: ApiVm) {
    this.path = path;
    const table = routes(vm);
    this.#server = listenPrivately(path, () =>
      Bun.serve({
        unix: path,
        fetch: (request) => this.#serialized(() => this.#answer(table, request)),
        error: (error) => json(fault(500, `Internal error: ${error.message}`)),
      }),
    );
  }

  /** Listen on `path` (refused if something other than a stale socket is there). Throws ApiSocketError. */
  static async start(path: string, vm: ApiVm): Promise<ApiServer> {
    await claimSocketPath(path);
    return new ApiServer(path, vm);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#server.stop(true);
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to clean.
    }
  }

  /** One request at a time, in arrival order. */
  #serialized(run: () => Promise<Response>): Promise<Response> {
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #answer(table: readonly Route[], request: Request): Promise<Response> {
    const url = new URL(request.url);
    const result = await dispatch(table, request.method, url.pathname, async () => {
      const text = await request.text();
      if (text.trim() === "") throw new Error("the body is empty");
      return JSON.parse(text);
    });
    return json(result);
  }
}

function json(result: ApiResult): Response {
  if (result.body === undefined) return new Response(null, { status: result.status });
  return new Response(JSON.stringify(result.body), {
    status: result.status,
    headers: { "content-type": "application/json" },
  });
}

/**
 * `axvisor api SOCKET METHOD URL [JSON]`: one request to an API server on a unix socket (ours or Firecracker's),
 * printing the response body. The exit status is 0 for a 2xx answer, 1 otherwise (the status line goes to stderr).
 */

import { UsageError } from "./configs.ts";

const METHODS = ["GET", "PUT", "PATCH", "POST", "DELETE"] as const;

export interface ApiCallResult {
  readonly status: number;
  readonly body: string;
}

/** Check the arguments; throws UsageError naming the bad one. */
export function checkApiArgs(method: string, url: string, body: string | undefined): string {
  const upper = method.toUpperCase();
  if (!(METHODS as readonly string[]).includes(upper))
    throw new UsageError(`Unknown HTTP method "${method}": use one of ${METHODS.join(", ")}`);
  if (!url.startsWith("/")) throw new UsageError(`The URL must be a path starting with "/" (got "${url}")`);
  if (body !== undefined) {
    try {
      JSON.parse(body);
    } catch (error) {
      throw new UsageError(`The request body is not JSON: ${(error as Error).message}`);
    }
  }
  return upper;
}

export async function callApi(
  socket: string,
  method: string,
  url: string,
  body: string | undefined,
): Promise<ApiCallResult> {
  const response = await fetch(`http://localhost${url}`, {
    unix: socket,
    method,
    ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }),
  });
  return { status: response.status, body: await response.text() };
}

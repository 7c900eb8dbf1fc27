/**
 * The API socket's path: refused when something that is not a stale socket is there, so that a typo never
 * deletes a file and two servers never share a socket. A socket file nobody listens on (a server that died) is
 * removed. The caller then listens with mode 0600 (`listenPrivately`).
 */

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { connect } from "node:net";

export class ApiSocketError extends Error {
  override readonly name = "ApiSocketError";
}

/** Whether a server accepts connections on the unix socket at `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Make `path` free for a new socket: nothing there, or a stale socket (removed). Throws ApiSocketError. */
export async function claimSocketPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new ApiSocketError(`Cannot use ${path} for the API socket: ${(error as Error).message}`);
  }
  if (!isSocket) throw new ApiSocketError(`Cannot use ${path} for the API socket: it exists and is not a socket`);
  if (await socketAnswers(path)) {
    throw new ApiSocketError(`Cannot use ${path} for the API socket: another server is listening on it`);
  }
  unlinkSync(path);
}

/**
 * Run `listen` (which creates the socket file) with a umask that makes it 0600 from the start, so there is no
 * moment another user could connect; then set the mode again in case the platform ignores the umask for sockets.
 */
export function listenPrivately<T>(path: string, listen: () => T): T {
  const previous = process.umask(0o177);
  let result: T;
  try {
    result = listen();
  } finally {
    process.umask(previous);
  }
  chmodSync(path, 0o600);
  return result;
}

/**
 * A preload (`bun --preload test/support/dlopen-fails.ts ...`) for a host whose C library cannot be opened, as on
 * macOS or musl: bun:ffi's `dlopen` fails for every library with the error Bun gives for a missing file; the rest
 * of bun:ffi is the real one. Each attempt is counted in `globalThis.dlopenAttempts`, so a test can tell "not
 * loaded" from "loaded and failed".
 */

import * as ffi from "bun:ffi";
import { mock } from "bun:test";

declare global {
  var dlopenAttempts: string[] | undefined;
}

globalThis.dlopenAttempts = [];

mock.module("bun:ffi", () => ({
  ...ffi,
  dlopen: (name: unknown): never => {
    const library = String(name);
    globalThis.dlopenAttempts?.push(library);
    throw Object.assign(
      new Error(
        `Failed to open library "${library}": ${library}: cannot open shared object file: No such file or directory`,
      ),
      { code: "ERR_DLOPEN_FAILED" },
    );
  },
}));

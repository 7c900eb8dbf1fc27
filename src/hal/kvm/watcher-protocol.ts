/**
 * What the VMM's thread and a VM's eventfd watcher thread (eventfd-watcher.ts) share: the start message and the
 * slots of the watcher's control block. Kept apart from the watcher's script so the VMM's thread never loads that
 * script (a module that sets `self.onmessage` on the main thread keeps the process alive).
 */

/** Slots of the watcher's own control block. */
export const WATCH_STATE = 0;
export const WATCH_STOP = 1;
export const WATCH_ERRNO = 2;
export const WATCH_SLOTS = 3;

export interface EventfdWatcherInit {
  /** The channels' eventfds, channel i at index i. */
  readonly fds: readonly number[];
  /** An eventfd written to stop the loop. */
  readonly stopFd: number;
  readonly control: SharedArrayBuffer;
  /** One bit per channel (Int32 words), set here, taken by the VMM's thread. */
  readonly fired: SharedArrayBuffer;
  /** The VM's wake block (wake-protocol.ts). */
  readonly wake: SharedArrayBuffer;
}

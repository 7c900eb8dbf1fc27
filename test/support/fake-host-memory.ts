/**
 * Host memory for tests that do not need a backend: blocks handed out at increasing host-physical addresses,
 * honouring alignment and fixed placement, with `notifyWritten` calls recorded.
 */
import type { HostMemory } from "../../src/hal/types.ts";

export interface RecordedWrite {
  readonly hostPhysAddr: number;
  readonly offset: number;
  readonly length: number;
}

export class FakeHostMemoryAllocator {
  readonly writes: RecordedWrite[] = [];
  readonly blocks: HostMemory[] = [];
  #next: number;

  constructor(firstHostPhysAddr = 0x10_0000_0000) {
    this.#next = firstHostPhysAddr;
  }

  allocate = (size: number, options: { alignment?: number; hostPhysAddr?: number } = {}): HostMemory => {
    const alignment = options.alignment ?? 0x1000;
    let at = options.hostPhysAddr ?? Math.ceil(this.#next / alignment) * alignment;
    if (options.hostPhysAddr === undefined) this.#next = at + size;
    else at = options.hostPhysAddr;
    const writes = this.writes;
    const block: HostMemory = {
      bytes: new Uint8Array(size),
      hostPhysAddr: at,
      notifyWritten(offset, length) {
        writes.push({ hostPhysAddr: at, offset, length });
      },
    };
    this.blocks.push(block);
    return block;
  };
}

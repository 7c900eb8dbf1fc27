/** The x86 exits (port I/O, the hypercall port, triple faults) through the generic decoder (no /dev/kvm needed). */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AXVISOR_HYPERCALL_PORT } from "../../../arch/x86_64/hypercall.ts";
import type { HalAccessHandler } from "../../types.ts";
import {
  KVM_EXIT_IO,
  KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN,
  KVM_PIO_DATA_OFFSET,
  KVM_RUN_LAYOUT,
  KVM_RUN_PORT_IO,
} from "../abi.ts";
import { completeRead, decodeExit, type ExitQueue } from "../exits.ts";
import { KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT } from "./abi.ts";
import { answerX86Access, type HypercallRegs, x86ExitDecoder } from "./exits.ts";

const F = KVM_RUN_LAYOUT.fields;
const MAPPING_SIZE = 3 * 4096;
const DATA_OFFSET = 4096;
const regs: HypercallRegs = { nr: 9n, args: [1n, 2n, 3n, 4n, 5n, 6n] };
const context = x86ExitDecoder({ readHypercallRegs: () => regs });

function run(reason: number): DataView {
  const view = new DataView(new ArrayBuffer(MAPPING_SIZE));
  view.setUint32(F.exit_reason.offset, reason, true);
  return view;
}

function io(direction: number, size: number, port: number, count: number, data: number[]): DataView {
  const view = run(KVM_EXIT_IO);
  view.setUint8(F["io.direction"].offset, direction);
  view.setUint8(F["io.size"].offset, size);
  view.setUint16(F["io.port"].offset, port, true);
  view.setUint32(F["io.count"].offset, count, true);
  view.setBigUint64(F["io.data_offset"].offset, BigInt(DATA_OFFSET), true);
  data.forEach((byte, i) => view.setUint8(DATA_OFFSET + i, byte));
  return view;
}

describe("decodeExit", () => {
  test("out of each size", () => {
    expect(decodeExit(io(KVM_EXIT_IO_OUT, 1, 0x3f8, 1, [0x41]), 0, context).exit).toEqual({
      kind: "IoWrite",
      port: 0x3f8,
      width: 1,
      data: 0x41n,
    });
    expect(decodeExit(io(KVM_EXIT_IO_OUT, 2, 0x10, 1, [0x34, 0x12]), 0, context).exit).toEqual({
      kind: "IoWrite",
      port: 0x10,
      width: 2,
      data: 0x1234n,
    });
    expect(decodeExit(io(KVM_EXIT_IO_OUT, 4, 0x10, 1, [4, 3, 2, 1]), 0, context).exit).toEqual({
      kind: "IoWrite",
      port: 0x10,
      width: 4,
      data: 0x0102_0304n,
    });
  });

  test("string out is presented element by element from the data area", () => {
    const view = io(KVM_EXIT_IO_OUT, 2, 0x20, 3, [1, 0, 2, 0, 3, 0]);
    const first = decodeExit(view, 0, context);
    expect(first.exit).toEqual({ kind: "IoWrite", port: 0x20, width: 2, data: 1n });
    const queue: ExitQueue | undefined = first.more;
    if (queue === undefined) throw new Error("expected more elements");
    expect(queue.next().exit).toEqual({ kind: "IoWrite", port: 0x20, width: 2, data: 2n });
    const last = queue.next();
    expect(last.exit).toEqual({ kind: "IoWrite", port: 0x20, width: 2, data: 3n });
    expect(last.more).toBeUndefined();
  });

  test("string in stores each answer at its element", () => {
    const view = io(KVM_EXIT_IO_IN, 1, 0x60, 2, []);
    const first = decodeExit(view, 0, context);
    expect(first.exit).toEqual({ kind: "IoRead", port: 0x60, width: 1 });
    // Unanswered elements read as all-ones (no device on the ISA bus).
    expect(view.getUint8(DATA_OFFSET)).toBe(0xff);
    expect(completeRead(view, first.completion, 0x1aan)).toBe(true);
    if (first.more === undefined) throw new Error("expected more elements");
    const second = first.more.next();
    completeRead(view, second.completion, 0xbbn);
    expect([view.getUint8(DATA_OFFSET), view.getUint8(DATA_OFFSET + 1)]).toEqual([0xaa, 0xbb]);
  });

  test("an out to the hypercall port is a Hypercall with the register arguments", () => {
    expect(decodeExit(io(KVM_EXIT_IO_OUT, 1, AXVISOR_HYPERCALL_PORT, 1, [0]), 0, context).exit).toEqual({
      kind: "Hypercall",
      nr: 9n,
      args: [1n, 2n, 3n, 4n, 5n, 6n],
    });
    // An `in` from that port is ordinary I/O.
    expect(decodeExit(io(KVM_EXIT_IO_IN, 1, AXVISOR_HYPERCALL_PORT, 1, []), 0, context).exit).toEqual({
      kind: "IoRead",
      port: AXVISOR_HYPERCALL_PORT,
      width: 1,
    });
  });

  test("I/O that does not fit the mapping is Unsupported, never an out-of-bounds read", () => {
    const view = io(KVM_EXIT_IO_OUT, 4, 0x10, 4000, []);
    expect(decodeExit(view, 0, context).exit).toMatchObject({ kind: "Unsupported", backend: "kvm" });
    expect(decodeExit(io(KVM_EXIT_IO_OUT, 3, 0x10, 1, []), 0, context).exit).toMatchObject({ kind: "Unsupported" });
  });

  test("SHUTDOWN (a triple fault) stops the VM as a crash", () => {
    expect(decodeExit(run(KVM_EXIT_SHUTDOWN), 0, context).exit).toMatchObject({ kind: "SystemDown", action: "crash" });
  });

  test("random kvm_run contents decode to an exit or Unsupported, never an exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.integer({ min: 0, max: 40 }), (head, reason) => {
        const view = new DataView(new ArrayBuffer(MAPPING_SIZE));
        head.forEach((byte, i) => view.setUint8(i, byte));
        view.setUint32(F.exit_reason.offset, reason, true);
        const decoded = decodeExit(view, 0, context);
        expect(typeof decoded.exit.kind).toBe("string");
        let more = decoded.more;
        for (let i = 0; more !== undefined && i < 10_000; i++) more = more.next().more;
      }),
    );
  });
});

describe("answerX86Access (HalVcpu.runAccesses)", () => {
  function recorder(readValue: number) {
    const calls: string[] = [];
    const handler: HalAccessHandler = {
      mmioRead: () => {
        throw new Error("no MMIO here");
      },
      mmioWrite: () => {
        throw new Error("no MMIO here");
      },
      portRead: (port, width) => {
        calls.push(`in ${port.toString(16)}/${width}`);
        return readValue;
      },
      portWrite: (port, width, value) => {
        calls.push(`out ${port.toString(16)}/${width}=${value.toString(16)}`);
      },
    };
    return { calls, handler };
  }

  test("an out of each size gives the handler the same value the decoder gives", () => {
    for (const [size, bytes, value] of [
      [1, [0x41], 0x41],
      [2, [0x34, 0x12], 0x1234],
      [4, [0x78, 0x56, 0x34, 0xf2], 0xf234_5678],
    ] as const) {
      const { calls, handler } = recorder(0);
      expect(answerX86Access(io(KVM_EXIT_IO_OUT, size, 0x510, 1, [...bytes]), KVM_EXIT_IO, handler)).toBe(true);
      expect(calls).toEqual([`out 510/${size}=${value.toString(16)}`]);
    }
  });

  test("an in stores the handler's value, size bytes little-endian, and nothing past them", () => {
    for (const size of [1, 2, 4] as const) {
      const { calls, handler } = recorder(0xa1b2_c3d4);
      const view = io(KVM_EXIT_IO_IN, size, 0x60, 1, [0, 0, 0, 0, 0x99]);
      expect(answerX86Access(view, KVM_EXIT_IO, handler)).toBe(true);
      expect(calls).toEqual([`in 60/${size}`]);
      const expected = [0xd4, 0xc3, 0xb2, 0xa1].map((byte, i) => (i < size ? byte : 0));
      expect([0, 1, 2, 3, 4].map((i) => view.getUint8(DATA_OFFSET + i))).toEqual([...expected, 0x99]);
    }
  });

  test("the packed word of a plain in/out (kvm-native.c) is answered from the PIO page, as the decoder would", () => {
    const packed = (direction: number, size: number, port: number): number =>
      KVM_RUN_PORT_IO | (direction << 24) | (size << 16) | port;
    for (const [size, bytes, value] of [
      [1, [0x41], 0x41],
      [2, [0x34, 0x12], 0x1234],
      [4, [0x78, 0x56, 0x34, 0xf2], 0xf234_5678],
    ] as const) {
      const { calls, handler } = recorder(0);
      const view = io(KVM_EXIT_IO_OUT, size, 0x3ff, 1, [...bytes]);
      expect(DATA_OFFSET).toBe(KVM_PIO_DATA_OFFSET);
      expect(answerX86Access(view, packed(KVM_EXIT_IO_OUT, size, 0x3ff), handler)).toBe(true);
      expect(calls).toEqual([`out 3ff/${size}=${value.toString(16)}`]);
    }
    for (const size of [1, 2, 4] as const) {
      const { calls, handler } = recorder(0xa1b2_c3d4);
      const view = io(KVM_EXIT_IO_IN, size, 0xffff, 1, [0, 0, 0, 0, 0x99]);
      expect(answerX86Access(view, packed(KVM_EXIT_IO_IN, size, 0xffff), handler)).toBe(true);
      expect(calls).toEqual([`in ffff/${size}`]);
      const expected = [0xd4, 0xc3, 0xb2, 0xa1].map((byte, i) => (i < size ? byte : 0));
      expect([0, 1, 2, 3, 4].map((i) => view.getUint8(DATA_OFFSET + i))).toEqual([...expected, 0x99]);
    }
    // The hypercall port is the decoder's, packed or not.
    const { calls, handler } = recorder(0);
    const hypercall = io(KVM_EXIT_IO_OUT, 4, AXVISOR_HYPERCALL_PORT, 1, [0, 0, 0, 0]);
    expect(answerX86Access(hypercall, packed(KVM_EXIT_IO_OUT, 4, AXVISOR_HYPERCALL_PORT), handler)).toBe(false);
    expect(calls).toEqual([]);
  });

  test("a plain MMIO access is answered too (one call per exit for the vCPU loop), an 8-byte one is not", () => {
    const calls: string[] = [];
    const handler: HalAccessHandler = {
      mmioRead: (addr, width) => {
        calls.push(`read ${addr.toString(16)}/${width}`);
        return 0x1234;
      },
      mmioWrite: (addr, width, value) => {
        calls.push(`write ${addr.toString(16)}/${width}=${value.toString(16)}`);
      },
      portRead: () => 0,
      portWrite: () => undefined,
    };
    const mmio = (len: number, write: boolean): DataView => {
      const view = run(KVM_EXIT_MMIO);
      view.setBigUint64(F["mmio.phys_addr"].offset, 0xfed0_0010n, true);
      view.setBigUint64(F["mmio.data"].offset, 0xaabb_ccddn, true);
      view.setUint32(F["mmio.len"].offset, len, true);
      view.setUint8(F["mmio.is_write"].offset, write ? 1 : 0);
      return view;
    };
    expect(answerX86Access(mmio(4, true), KVM_EXIT_MMIO, handler)).toBe(true);
    const read = mmio(2, false);
    expect(answerX86Access(read, KVM_EXIT_MMIO, handler)).toBe(true);
    expect(read.getUint16(F["mmio.data"].offset, true)).toBe(0x1234);
    expect(answerX86Access(mmio(8, true), KVM_EXIT_MMIO, handler)).toBe(false);
    expect(calls).toEqual(["write fed00010/4=aabbccdd", "read fed00010/2"]);
  });

  test("string I/O, the hypercall port and other exits are left to the decoder", () => {
    const { calls, handler } = recorder(0);
    expect(answerX86Access(io(KVM_EXIT_IO_OUT, 1, 0x3f8, 3, [1, 2, 3]), KVM_EXIT_IO, handler)).toBe(false);
    expect(answerX86Access(io(KVM_EXIT_IO_OUT, 4, AXVISOR_HYPERCALL_PORT, 1, [0, 0, 0, 0]), KVM_EXIT_IO, handler)).toBe(
      false,
    );
    expect(answerX86Access(run(KVM_EXIT_SHUTDOWN), KVM_EXIT_SHUTDOWN, handler)).toBe(false);
    expect(answerX86Access(io(KVM_EXIT_IO_OUT, 8, 0x80, 1, []), KVM_EXIT_IO, handler)).toBe(false);
    expect(calls).toEqual([]);
  });
});

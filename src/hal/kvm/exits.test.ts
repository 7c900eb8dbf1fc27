/** decodeExit over synthetic kvm_run images (no /dev/kvm needed). */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_IO,
  KVM_EXIT_IO_IN,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_RUN_LAYOUT,
  KVM_SYSTEM_EVENT_CRASH,
  KVM_SYSTEM_EVENT_RESET,
  KVM_SYSTEM_EVENT_SHUTDOWN,
} from "./abi.ts";
import {
  completeRead,
  type DecodeContext,
  decodeExit,
  HYPERCALL_PORT,
  nextPioElement,
  type PioCursor,
} from "./exits.ts";

const F = KVM_RUN_LAYOUT.fields;
const MAPPING_SIZE = 3 * 4096;
const DATA_OFFSET = 4096;
const regs = { rax: 9n, rdi: 1n, rsi: 2n, rcx: 3n, rbx: 4n, r8: 5n, r9: 6n };
const context: DecodeContext = { readHypercallRegs: () => regs };

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
  test("EINTR and EAGAIN are Nothing", () => {
    expect(decodeExit(run(KVM_EXIT_IO), -4, context).exit).toEqual({ kind: "Nothing" });
    expect(decodeExit(run(KVM_EXIT_IO), -11, context).exit).toEqual({ kind: "Nothing" });
  });

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
    const cursor: PioCursor | undefined = first.cursor;
    if (cursor === undefined) throw new Error("expected a cursor");
    expect(nextPioElement(view, cursor).exit).toEqual({ kind: "IoWrite", port: 0x20, width: 2, data: 2n });
    const last = nextPioElement(view, cursor);
    expect(last.exit).toEqual({ kind: "IoWrite", port: 0x20, width: 2, data: 3n });
    expect(last.cursor).toBeUndefined();
  });

  test("string in stores each answer at its element", () => {
    const view = io(KVM_EXIT_IO_IN, 1, 0x60, 2, []);
    const first = decodeExit(view, 0, context);
    expect(first.exit).toEqual({ kind: "IoRead", port: 0x60, width: 1 });
    // Unanswered elements read as all-ones (no device on the ISA bus).
    expect(view.getUint8(DATA_OFFSET)).toBe(0xff);
    expect(completeRead(view, first.completion, 0x1aan)).toBe(true);
    if (first.cursor === undefined) throw new Error("expected a cursor");
    const second = nextPioElement(view, first.cursor);
    completeRead(view, second.completion, 0xbbn);
    expect([view.getUint8(DATA_OFFSET), view.getUint8(DATA_OFFSET + 1)]).toEqual([0xaa, 0xbb]);
  });

  test("an out to the hypercall port is a Hypercall with the register arguments", () => {
    expect(decodeExit(io(KVM_EXIT_IO_OUT, 1, HYPERCALL_PORT, 1, [0]), 0, context).exit).toEqual({
      kind: "Hypercall",
      nr: 9n,
      args: [1n, 2n, 3n, 4n, 5n, 6n],
    });
    // An `in` from that port is ordinary I/O.
    expect(decodeExit(io(KVM_EXIT_IO_IN, 1, HYPERCALL_PORT, 1, []), 0, context).exit).toEqual({
      kind: "IoRead",
      port: HYPERCALL_PORT,
      width: 1,
    });
  });

  test("I/O that does not fit the mapping is Unsupported, never an out-of-bounds read", () => {
    const view = io(KVM_EXIT_IO_OUT, 4, 0x10, 4000, []);
    expect(decodeExit(view, 0, context).exit).toMatchObject({ kind: "Unsupported", backend: "kvm" });
    expect(decodeExit(io(KVM_EXIT_IO_OUT, 3, 0x10, 1, []), 0, context).exit).toMatchObject({ kind: "Unsupported" });
  });

  test("MMIO write and read of each width", () => {
    for (const width of [1, 2, 4, 8] as const) {
      const write = run(KVM_EXIT_MMIO);
      write.setBigUint64(F["mmio.phys_addr"].offset, 0xd000_0000n, true);
      write.setBigUint64(F["mmio.data"].offset, 0x8877_6655_4433_2211n, true);
      write.setUint32(F["mmio.len"].offset, width, true);
      write.setUint8(F["mmio.is_write"].offset, 1);
      const mask = (1n << BigInt(width * 8)) - 1n;
      expect(decodeExit(write, 0, context).exit).toEqual({
        kind: "MmioWrite",
        addr: 0xd000_0000,
        width,
        data: 0x8877_6655_4433_2211n & mask,
      });
      const read = run(KVM_EXIT_MMIO);
      read.setUint32(F["mmio.len"].offset, width, true);
      const decoded = decodeExit(read, 0, context);
      expect(decoded.exit).toMatchObject({ kind: "MmioRead", width });
      completeRead(read, decoded.completion, 0xffff_ffff_ffff_fffen);
      expect(read.getBigUint64(F["mmio.data"].offset, true)).toBe(0xffff_ffff_ffff_fffen & mask);
    }
  });

  test("HLT, SHUTDOWN, SYSTEM_EVENT, FAIL_ENTRY and INTERNAL_ERROR", () => {
    expect(decodeExit(run(KVM_EXIT_HLT), 0, context).exit).toEqual({ kind: "Halt" });
    expect(decodeExit(run(KVM_EXIT_SHUTDOWN), 0, context).exit).toMatchObject({ kind: "SystemDown", action: "crash" });
    const event = (type: number): DataView => {
      const view = run(KVM_EXIT_SYSTEM_EVENT);
      view.setUint32(F["system_event.type"].offset, type, true);
      return view;
    };
    expect(decodeExit(event(KVM_SYSTEM_EVENT_SHUTDOWN), 0, context).exit).toEqual({
      kind: "SystemDown",
      action: "poweroff",
      code: 0,
    });
    expect(decodeExit(event(KVM_SYSTEM_EVENT_RESET), 0, context).exit).toMatchObject({
      kind: "SystemDown",
      action: "reboot",
    });
    expect(decodeExit(event(KVM_SYSTEM_EVENT_CRASH), 0, context).exit).toMatchObject({
      kind: "SystemDown",
      action: "crash",
    });
    expect(decodeExit(event(77), 0, context).exit).toMatchObject({
      kind: "Unsupported",
      raw: "KVM_EXIT_SYSTEM_EVENT type=77",
    });
    const fail = run(KVM_EXIT_FAIL_ENTRY);
    fail.setBigUint64(F["fail_entry.hardware_entry_failure_reason"].offset, 0x21n, true);
    expect(decodeExit(fail, 0, context).exit).toMatchObject({ kind: "FailEntry", hardwareEntryFailureReason: 0x21n });
    const internal = run(KVM_EXIT_INTERNAL_ERROR);
    internal.setUint32(F["internal.suberror"].offset, 1, true);
    expect(decodeExit(internal, 0, context).exit).toMatchObject({
      kind: "FailEntry",
      detail: expect.stringContaining("emulation failure"),
    });
    expect(decodeExit(run(1234), 0, context).exit).toEqual({
      kind: "Unsupported",
      backend: "kvm",
      raw: "exit reason 1234",
    });
  });

  test("random kvm_run contents decode to an exit or Unsupported, never an exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.integer({ min: 0, max: 40 }), (head, reason) => {
        const view = new DataView(new ArrayBuffer(MAPPING_SIZE));
        head.forEach((byte, i) => view.setUint8(i, byte));
        view.setUint32(F.exit_reason.offset, reason, true);
        const decoded = decodeExit(view, 0, context);
        expect(typeof decoded.exit.kind).toBe("string");
        let cursor = decoded.cursor;
        for (let i = 0; cursor !== undefined && i < 10_000; i++) cursor = nextPioElement(view, cursor).cursor;
      }),
    );
  });
});

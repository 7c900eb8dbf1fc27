/** decodeExit's generic exits over synthetic kvm_run images (no /dev/kvm needed); the x86 ones are x86_64/'s. */
import { describe, expect, test } from "bun:test";
import type { HalAccessHandler } from "../types.ts";
import {
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_IO,
  KVM_EXIT_MMIO,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_RUN_LAYOUT,
  KVM_SYSTEM_EVENT_CRASH,
  KVM_SYSTEM_EVENT_RESET,
  KVM_SYSTEM_EVENT_SHUTDOWN,
} from "./abi.ts";
import { type ArchExitDecoder, answerMmioAccess, completeRead, decodeExit } from "./exits.ts";

const F = KVM_RUN_LAYOUT.fields;
const MAPPING_SIZE = 3 * 4096;
/** An arch that knows no exit of its own: everything not generic is Unsupported. */
const context: ArchExitDecoder = { decodeExit: () => undefined };

function run(reason: number): DataView {
  const view = new DataView(new ArrayBuffer(MAPPING_SIZE));
  view.setUint32(F.exit_reason.offset, reason, true);
  return view;
}

describe("decodeExit", () => {
  test("EINTR and EAGAIN are Nothing", () => {
    expect(decodeExit(run(KVM_EXIT_IO), -4, context).exit).toEqual({ kind: "Nothing" });
    expect(decodeExit(run(KVM_EXIT_IO), -11, context).exit).toEqual({ kind: "Nothing" });
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

  test("HLT, SYSTEM_EVENT, FAIL_ENTRY and INTERNAL_ERROR", () => {
    expect(decodeExit(run(KVM_EXIT_HLT), 0, context).exit).toEqual({ kind: "Halt" });
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

  test("a reason neither the generic decoder nor the arch knows is Unsupported with its name", () => {
    expect(decodeExit(run(KVM_EXIT_IO), 0, context).exit).toEqual({
      kind: "Unsupported",
      backend: "kvm",
      raw: "KVM_EXIT_IO 2",
    });
  });
});

describe("answerMmioAccess (HalVcpu.runAccesses)", () => {
  function mmio(addr: bigint, len: number, write: boolean, data: bigint): DataView {
    const view = run(KVM_EXIT_MMIO);
    view.setBigUint64(F["mmio.phys_addr"].offset, addr, true);
    view.setBigUint64(F["mmio.data"].offset, data, true);
    view.setUint32(F["mmio.len"].offset, len, true);
    view.setUint8(F["mmio.is_write"].offset, write ? 1 : 0);
    return view;
  }
  const calls: string[] = [];
  const handler: HalAccessHandler = {
    mmioRead: (addr, width) => {
      calls.push(`read ${addr.toString(16)}/${width}`);
      return 0xa1b2_c3d4;
    },
    mmioWrite: (addr, width, value) => {
      calls.push(`write ${addr.toString(16)}/${width}=${value.toString(16)}`);
    },
    portRead: () => 0,
    portWrite: () => undefined,
  };

  test("writes of 1, 2 and 4 bytes give the low bytes of mmio.data; addresses above 4 GiB are exact", () => {
    calls.length = 0;
    for (const len of [1, 2, 4]) {
      expect(answerMmioAccess(mmio(0x1_2345_6000n, len, true, 0x8877_6655_4433_2211n), KVM_EXIT_MMIO, handler)).toBe(
        true,
      );
    }
    expect(calls).toEqual(["write 123456000/1=11", "write 123456000/2=2211", "write 123456000/4=44332211"]);
  });

  test("reads store the handler's value in the low bytes of mmio.data only", () => {
    for (const len of [1, 2, 4]) {
      calls.length = 0;
      const view = mmio(0xd000_0000n, len, false, 0xffff_ffff_ffff_ffffn);
      expect(answerMmioAccess(view, KVM_EXIT_MMIO, handler)).toBe(true);
      expect(calls).toEqual([`read d0000000/${len}`]);
      const mask = (1n << BigInt(8 * len)) - 1n;
      const expected = (0xffff_ffff_ffff_ffffn & ~mask) | (0xa1b2_c3d4n & mask);
      expect(view.getBigUint64(F["mmio.data"].offset, true)).toBe(expected);
    }
  });

  test("8-byte accesses and other exits are left to the decoder", () => {
    calls.length = 0;
    expect(answerMmioAccess(mmio(0x1000n, 8, true, 1n), KVM_EXIT_MMIO, handler)).toBe(false);
    expect(answerMmioAccess(run(KVM_EXIT_HLT), KVM_EXIT_HLT, handler)).toBe(false);
    expect(calls).toEqual([]);
  });
});

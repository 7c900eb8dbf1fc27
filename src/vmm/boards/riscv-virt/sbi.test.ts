import { describe, expect, test } from "bun:test";
import { GuestMemory } from "../../../addrspace/guest-memory.ts";
import {
  SBI_ERR_ALREADY_AVAILABLE,
  SBI_ERR_FAILED,
  SBI_ERR_INVALID_ADDRESS,
  SBI_ERR_INVALID_PARAM,
  SBI_ERR_NOT_SUPPORTED,
  SBI_EXT_BASE,
  SBI_EXT_DBCN,
  SBI_EXT_HSM,
  SBI_EXT_IPI,
  SBI_EXT_RFENCE,
  SBI_EXT_SRST,
  SBI_EXT_TIME,
  SBI_HSM_STATE_START_PENDING,
  SBI_HSM_STATE_STARTED,
  SBI_HSM_STATE_STOP_PENDING,
  SBI_HSM_STATE_STOPPED,
  SBI_HSM_STATE_SUSPENDED,
  SBI_SUCCESS,
  type SbiHsmState,
} from "../../../arch/riscv64/sbi.ts";
import { CAUSE_LOAD_PAGE_FAULT } from "../../../arch/riscv64/traps.ts";
import {
  fenceRange,
  type GuestVirtualRead,
  handleSbiCall,
  type RemoteFence,
  resolveHartMask,
  SBI_DBCN_MAX_CHUNK,
  SBI_EXT_AXVISOR_HYPERCALL,
  SBI_IMPL_ID_AXVISOR_TS,
  SBI_IMPL_VERSION,
  SBI_SPEC_VERSION,
  type SbiArgs,
  SbiDispatchError,
  type SbiOutcome,
  type SbiPlatform,
  sbiLegacyRegister,
  sbiRetRegisters,
} from "./sbi.ts";

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 0x10_000;
const ALL = (1n << 64n) - 1n; // -1 as an unsigned register value

/** A platform that records every effect, with a small RAM at 0x8000_0000 and a scripted console input. */
class FakePlatform implements SbiPlatform {
  readonly hartCount: number;
  readonly states: SbiHsmState[];
  readonly ram = new Uint8Array(RAM_SIZE);
  guestHasHypervisorExtension = false;
  readonly machineIds = { mvendorid: 0n, marchid: 0x2an, mimpid: 0x1234n };
  readonly timers: Array<[number, bigint]> = [];
  readonly ipis: number[][] = [];
  readonly fences: Array<[number[], RemoteFence]> = [];
  readonly cleared: number[] = [];
  ipiPending = false;
  output: number[] = [];
  input: number[] = [];
  /** How many bytes consoleWrite accepts per call. */
  acceptLimit = Number.POSITIVE_INFINITY;
  /** Guest-virtual words for legacy hart masks. */
  readonly virtual = new Map<bigint, bigint>();

  constructor(hartCount: number) {
    this.hartCount = hartCount;
    this.states = Array.from({ length: hartCount }, (_, i) =>
      i === 0 ? SBI_HSM_STATE_STARTED : SBI_HSM_STATE_STOPPED,
    );
  }
  hartState(hart: number): SbiHsmState {
    const state = this.states[hart];
    if (state === undefined) throw new Error(`test bug: hart ${hart}`);
    return state;
  }
  readonly memory = new GuestMemory([{ name: "ram", gpa: RAM_BASE, bytes: this.ram }]);
  setTimer(hart: number, stimeValue: bigint): void {
    this.timers.push([hart, stimeValue]);
  }
  sendIpi(targets: readonly number[]): void {
    this.ipis.push([...targets]);
  }
  clearIpi(hart: number): boolean {
    this.cleared.push(hart);
    const was = this.ipiPending;
    this.ipiPending = false;
    return was;
  }
  remoteFence(targets: readonly number[], fence: RemoteFence): void {
    this.fences.push([[...targets], fence]);
  }
  consoleWrite(bytes: Uint8Array): number {
    const n = Math.min(bytes.length, this.acceptLimit);
    this.output.push(...bytes.subarray(0, n));
    return n;
  }
  consoleRead(maxBytes: number): Uint8Array {
    return Uint8Array.from(this.input.splice(0, maxBytes));
  }
  readGuestVirtualU64(_hart: number, gva: bigint): GuestVirtualRead {
    const value = this.virtual.get(gva);
    return value === undefined ? { ok: false, cause: BigInt(CAUSE_LOAD_PAGE_FAULT), tval: gva } : { ok: true, value };
  }
}

function args(...values: bigint[]): SbiArgs {
  const [a0 = 0n, a1 = 0n, a2 = 0n, a3 = 0n, a4 = 0n, a5 = 0n] = values;
  return [a0, a1, a2, a3, a4, a5];
}

function call(platform: SbiPlatform, eid: bigint, fid: bigint, values: bigint[] = [], hart = 0): SbiOutcome {
  return handleSbiCall({ extensionId: eid, functionId: fid, args: args(...values) }, hart, platform);
}

const success = (value = 0n): SbiOutcome => ({ kind: "Return", error: SBI_SUCCESS, value });
const failure = (error: bigint): SbiOutcome => ({ kind: "Return", error, value: 0n });

describe("BASE", () => {
  test("spec version is 2.0 encoded as major << 24 | minor", () => {
    expect(SBI_SPEC_VERSION).toBe(0x0200_0000n);
    expect(call(new FakePlatform(1), SBI_EXT_BASE, 0n)).toEqual(success(0x0200_0000n));
  });
  test("implementation id and version", () => {
    const p = new FakePlatform(1);
    expect(call(p, SBI_EXT_BASE, 1n)).toEqual(success(SBI_IMPL_ID_AXVISOR_TS));
    expect(SBI_IMPL_ID_AXVISOR_TS).toBe(0x41585453n);
    expect(call(p, SBI_EXT_BASE, 2n)).toEqual(success(SBI_IMPL_VERSION));
  });
  test("probe_extension: 1 for each implemented extension, 0 otherwise", () => {
    const p = new FakePlatform(1);
    for (const eid of [
      SBI_EXT_BASE,
      SBI_EXT_TIME,
      SBI_EXT_IPI,
      SBI_EXT_RFENCE,
      SBI_EXT_HSM,
      SBI_EXT_SRST,
      SBI_EXT_DBCN,
      SBI_EXT_AXVISOR_HYPERCALL,
    ]) {
      expect(call(p, SBI_EXT_BASE, 3n, [eid])).toEqual(success(1n));
    }
    for (let legacy = 0n; legacy <= 8n; legacy++) expect(call(p, SBI_EXT_BASE, 3n, [legacy])).toEqual(success(1n));
    // 0x09..0x0F are reserved legacy ids; PMU (0x504D55), SUSP (0x53555350), a negative long: not available.
    for (const eid of [0x09n, 0x0fn, 0x504d55n, 0x53555350n, ALL])
      expect(call(p, SBI_EXT_BASE, 3n, [eid])).toEqual(success(0n));
  });
  test("mvendorid / marchid / mimpid come from the platform", () => {
    const p = new FakePlatform(1);
    expect(call(p, SBI_EXT_BASE, 4n)).toEqual(success(0n));
    expect(call(p, SBI_EXT_BASE, 5n)).toEqual(success(0x2an));
    expect(call(p, SBI_EXT_BASE, 6n)).toEqual(success(0x1234n));
  });
  test("unknown BASE function is NOT_SUPPORTED", () => {
    expect(call(new FakePlatform(1), SBI_EXT_BASE, 7n)).toEqual(failure(SBI_ERR_NOT_SUPPORTED));
  });
});

describe("unknown extensions and function ids", () => {
  test("unknown EID, reserved legacy EID, and an EID with bits above 31 are NOT_SUPPORTED", () => {
    const p = new FakePlatform(1);
    for (const eid of [0x09n, 0x504d55n, 0x0a000000n, (1n << 32n) | SBI_EXT_BASE]) {
      expect(call(p, eid, 0n)).toEqual(failure(SBI_ERR_NOT_SUPPORTED));
    }
  });
  test("unknown FID of each extension is NOT_SUPPORTED", () => {
    const p = new FakePlatform(2);
    const cases: Array<[bigint, bigint]> = [
      [SBI_EXT_TIME, 1n],
      [SBI_EXT_IPI, 1n],
      [SBI_EXT_RFENCE, 7n],
      [SBI_EXT_HSM, 4n],
      [SBI_EXT_SRST, 1n],
      [SBI_EXT_DBCN, 3n],
    ];
    for (const [eid, fid] of cases) expect(call(p, eid, fid)).toEqual(failure(SBI_ERR_NOT_SUPPORTED));
    expect(p.timers).toEqual([]);
    expect(p.ipis).toEqual([]);
  });
});

describe("TIME", () => {
  test("set_timer arms the caller's timer with the 64-bit value", () => {
    const p = new FakePlatform(2);
    expect(call(p, SBI_EXT_TIME, 0n, [0x1_0000_0000n], 1)).toEqual(success());
    expect(call(p, SBI_EXT_TIME, 0n, [ALL], 0)).toEqual(success());
    expect(p.timers).toEqual([
      [1, 0x1_0000_0000n],
      [0, ALL],
    ]);
  });
});

describe("hart masks", () => {
  test("base -1 means every hart, whatever the mask", () => {
    expect(resolveHartMask(0n, ALL, 3)).toEqual([0, 1, 2]);
    expect(resolveHartMask(0x5n, -1n, 3)).toEqual([0, 1, 2]);
  });
  test("bits are hart ids counted from the base", () => {
    expect(resolveHartMask(0b101n, 0n, 4)).toEqual([0, 2]);
    expect(resolveHartMask(0b11n, 2n, 4)).toEqual([2, 3]);
    expect(resolveHartMask(0n, 1n, 4)).toEqual([]);
  });
  test("a base or a bit naming no hart is invalid", () => {
    expect(resolveHartMask(0b1n, 4n, 4)).toBeUndefined();
    expect(resolveHartMask(0n, 4n, 4)).toBeUndefined();
    expect(resolveHartMask(0b100n, 2n, 4)).toBeUndefined();
    expect(resolveHartMask(1n << 63n, 0n, 4)).toBeUndefined();
    expect(resolveHartMask(1n, ALL - 1n, 4)).toBeUndefined();
  });
});

describe("IPI", () => {
  test("send_ipi sets VSSIP on the masked harts", () => {
    const p = new FakePlatform(4);
    expect(call(p, SBI_EXT_IPI, 0n, [0b1010n, 0n])).toEqual(success());
    expect(call(p, SBI_EXT_IPI, 0n, [0n, ALL])).toEqual(success());
    expect(p.ipis).toEqual([
      [1, 3],
      [0, 1, 2, 3],
    ]);
  });
  test("a bad hart mask is INVALID_PARAM and sends nothing", () => {
    const p = new FakePlatform(2);
    expect(call(p, SBI_EXT_IPI, 0n, [0b111n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_IPI, 0n, [1n, 2n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(p.ipis).toEqual([]);
  });
});

describe("RFENCE", () => {
  test("fence ranges: (0,0) and size 2^64-1 mean everything; wrapping ranges are invalid", () => {
    expect(fenceRange(0n, 0n)).toEqual({ all: true });
    expect(fenceRange(0x1000n, ALL)).toEqual({ all: true });
    expect(fenceRange(0x1000n, 0x2000n)).toEqual({ all: false, start: 0x1000n, size: 0x2000n });
    expect(fenceRange(ALL - 0xfffn, 0x1000n)).toEqual({ all: false, start: ALL - 0xfffn, size: 0x1000n });
    expect(fenceRange(ALL - 0xfffn, 0x1001n)).toBeUndefined();
  });
  test("remote fence.i and sfence.vma (with and without ASID)", () => {
    const p = new FakePlatform(2);
    expect(call(p, SBI_EXT_RFENCE, 0n, [0b11n, 0n])).toEqual(success());
    expect(call(p, SBI_EXT_RFENCE, 1n, [0b10n, 0n, 0x4000n, 0x1000n])).toEqual(success());
    expect(call(p, SBI_EXT_RFENCE, 2n, [0n, ALL, 0n, 0n, 7n])).toEqual(success());
    expect(p.fences).toEqual([
      [[0, 1], { kind: "fence.i" }],
      [[1], { kind: "sfence.vma", range: { all: false, start: 0x4000n, size: 0x1000n }, asid: undefined }],
      [[0, 1], { kind: "sfence.vma", range: { all: true }, asid: 7n }],
    ]);
  });
  test("bad hart mask is INVALID_PARAM; a wrapping range is INVALID_ADDRESS", () => {
    const p = new FakePlatform(2);
    expect(call(p, SBI_EXT_RFENCE, 0n, [0b100n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_RFENCE, 1n, [1n, 5n, 0n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_RFENCE, 1n, [1n, 0n, ALL, 2n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
    expect(call(p, SBI_EXT_RFENCE, 2n, [1n, 0n, ALL, 2n, 1n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
    // Both wrong: the mask error is reported.
    expect(call(p, SBI_EXT_RFENCE, 1n, [4n, 0n, ALL, 2n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(p.fences).toEqual([]);
  });
  test("HFENCE functions are NOT_SUPPORTED when guest harts lack the H extension", () => {
    const p = new FakePlatform(2);
    for (const fid of [3n, 4n, 5n, 6n])
      expect(call(p, SBI_EXT_RFENCE, fid, [1n, 0n, 0n, 0n, 1n])).toEqual(failure(SBI_ERR_NOT_SUPPORTED));
    expect(p.fences).toEqual([]);
  });
  test("HFENCE.GVMA(.VMID) and HFENCE.VVMA(.ASID) with nested virtualization", () => {
    const p = new FakePlatform(2);
    p.guestHasHypervisorExtension = true;
    expect(call(p, SBI_EXT_RFENCE, 3n, [1n, 0n, 0x8000_0000n, 0x1000n, 5n])).toEqual(success());
    expect(call(p, SBI_EXT_RFENCE, 4n, [1n, 1n, 0n, 0n])).toEqual(success());
    expect(call(p, SBI_EXT_RFENCE, 5n, [3n, 0n, 0x1000n, ALL, 9n])).toEqual(success());
    expect(call(p, SBI_EXT_RFENCE, 6n, [0n, ALL, 0n, 0n])).toEqual(success());
    expect(call(p, SBI_EXT_RFENCE, 6n, [4n, 0n, 0n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_RFENCE, 4n, [1n, 0n, 3n, ALL - 1n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
    expect(p.fences).toEqual([
      [[0], { kind: "hfence.gvma", range: { all: false, start: 0x8000_0000n, size: 0x1000n }, vmid: 5n }],
      [[1], { kind: "hfence.gvma", range: { all: true }, vmid: undefined }],
      [[0, 1], { kind: "hfence.vvma", range: { all: true }, asid: 9n }],
      [[0, 1], { kind: "hfence.vvma", range: { all: true }, asid: undefined }],
    ]);
  });
});

describe("HSM", () => {
  test("hart_start of a stopped hart asks the VMM to start it with a0 = hartid, a1 = opaque", () => {
    const p = new FakePlatform(2);
    expect(call(p, SBI_EXT_HSM, 0n, [1n, 0x8000_2000n, 0xdead_beefn])).toEqual({
      kind: "CpuUp",
      targetCpu: 1,
      entryPoint: 0x8000_2000,
      arg: 0xdead_beefn,
      ret: { error: SBI_SUCCESS, value: 0n },
    });
  });
  test("hart_start errors: bad hart id, bad or misaligned address, already started", () => {
    const p = new FakePlatform(2);
    expect(call(p, SBI_EXT_HSM, 0n, [2n, 0x8000_2000n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_HSM, 0n, [ALL, 0x8000_2000n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_HSM, 0n, [1n, 0x1000n, 0n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
    expect(call(p, SBI_EXT_HSM, 0n, [1n, 0x8000_2001n, 0n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
    expect(call(p, SBI_EXT_HSM, 0n, [1n, ALL - 1n, 0n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
    expect(call(p, SBI_EXT_HSM, 0n, [0n, 0x8000_2000n, 0n])).toEqual(failure(SBI_ERR_ALREADY_AVAILABLE));
    p.states[1] = SBI_HSM_STATE_START_PENDING;
    expect(call(p, SBI_EXT_HSM, 0n, [1n, 0x8000_2000n, 0n])).toEqual(failure(SBI_ERR_ALREADY_AVAILABLE));
    p.states[1] = SBI_HSM_STATE_SUSPENDED;
    expect(call(p, SBI_EXT_HSM, 0n, [1n, 0x8000_2000n, 0n])).toEqual(failure(SBI_ERR_ALREADY_AVAILABLE));
    p.states[1] = SBI_HSM_STATE_STOP_PENDING;
    expect(call(p, SBI_EXT_HSM, 0n, [1n, 0x8000_2000n, 0n])).toEqual(failure(SBI_ERR_FAILED));
  });
  test("hart_stop stops the caller", () => {
    expect(call(new FakePlatform(2), SBI_EXT_HSM, 1n, [], 1)).toEqual({
      kind: "CpuDown",
      hart: 1,
      failRet: { error: SBI_ERR_FAILED, value: 0n },
    });
  });
  test("hart_get_status reports each state, INVALID_PARAM for a bad hart id", () => {
    const p = new FakePlatform(3);
    p.states[2] = SBI_HSM_STATE_SUSPENDED;
    expect(call(p, SBI_EXT_HSM, 2n, [0n])).toEqual(success(0n));
    expect(call(p, SBI_EXT_HSM, 2n, [1n])).toEqual(success(1n));
    expect(call(p, SBI_EXT_HSM, 2n, [2n])).toEqual(success(4n));
    expect(call(p, SBI_EXT_HSM, 2n, [3n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
  });
  test("hart_suspend default retentive ignores resume_addr", () => {
    expect(call(new FakePlatform(1), SBI_EXT_HSM, 3n, [0n, 0x1n, 5n])).toEqual({
      kind: "Suspend",
      hart: 0,
      suspendType: 0,
      retentive: true,
      resumeAddr: 0,
      opaque: 5n,
      ret: { error: SBI_SUCCESS, value: 0n },
    });
  });
  test("hart_suspend default non-retentive resumes at resume_addr with opaque", () => {
    expect(call(new FakePlatform(2), SBI_EXT_HSM, 3n, [0x8000_0000n, 0x8000_4000n, 77n], 1)).toEqual({
      kind: "Suspend",
      hart: 1,
      suspendType: 0x8000_0000,
      retentive: false,
      resumeAddr: 0x8000_4000,
      opaque: 77n,
      ret: { error: SBI_SUCCESS, value: 0n },
    });
    // Only the low 32 bits of suspend_type count (uint32_t parameter).
    expect(call(new FakePlatform(1), SBI_EXT_HSM, 3n, [0xffff_ffff_0000_0000n, 0n, 0n])).toMatchObject({
      kind: "Suspend",
      retentive: true,
    });
  });
  test("hart_suspend: reserved or unimplemented platform types are INVALID_PARAM; bad resume_addr INVALID_ADDRESS", () => {
    const p = new FakePlatform(1);
    for (const type of [
      0x1n,
      0x0fff_ffffn,
      0x1000_0000n,
      0x7fff_ffffn,
      0x8000_0001n,
      0x8fff_ffffn,
      0x9000_0000n,
      0xffff_ffffn,
    ]) {
      expect(call(p, SBI_EXT_HSM, 3n, [type, 0x8000_0000n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    }
    expect(call(p, SBI_EXT_HSM, 3n, [0x8000_0000n, 0x10n, 0n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
    expect(call(p, SBI_EXT_HSM, 3n, [0x8000_0000n, 0x8000_0003n, 0n])).toEqual(failure(SBI_ERR_INVALID_ADDRESS));
  });
});

describe("SRST", () => {
  test("shutdown, cold and warm reboot, with reason → exit code", () => {
    const p = new FakePlatform(1);
    const failRet = { error: SBI_ERR_FAILED, value: 0n };
    expect(call(p, SBI_EXT_SRST, 0n, [0n, 0n])).toEqual({
      kind: "SystemDown",
      action: "poweroff",
      resetType: "shutdown",
      code: 0,
      failRet,
    });
    expect(call(p, SBI_EXT_SRST, 0n, [0n, 1n])).toEqual({
      kind: "SystemDown",
      action: "poweroff",
      resetType: "shutdown",
      code: 1,
      failRet,
    });
    expect(call(p, SBI_EXT_SRST, 0n, [1n, 0n])).toEqual({
      kind: "SystemDown",
      action: "reboot",
      resetType: "cold-reboot",
      code: 0,
      failRet,
    });
    expect(call(p, SBI_EXT_SRST, 0n, [2n, 1n])).toEqual({
      kind: "SystemDown",
      action: "reboot",
      resetType: "warm-reboot",
      code: 1,
      failRet,
    });
  });
  test("reserved or vendor types and reasons are INVALID_PARAM", () => {
    const p = new FakePlatform(1);
    for (const type of [3n, 0xefff_ffffn, 0xf000_0000n, 0xffff_ffffn])
      expect(call(p, SBI_EXT_SRST, 0n, [type, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    for (const reason of [2n, 0xdfff_ffffn, 0xe000_0000n, 0xf000_0000n])
      expect(call(p, SBI_EXT_SRST, 0n, [0n, reason])).toEqual(failure(SBI_ERR_INVALID_PARAM));
  });
});

describe("DBCN", () => {
  const text = new TextEncoder().encode("hello, console\n");
  test("console_write writes the buffer and returns the byte count", () => {
    const p = new FakePlatform(1);
    p.ram.set(text, 0x100);
    expect(call(p, SBI_EXT_DBCN, 0n, [BigInt(text.length), BigInt(RAM_BASE + 0x100), 0n])).toEqual(
      success(BigInt(text.length)),
    );
    expect(new TextDecoder().decode(Uint8Array.from(p.output))).toBe("hello, console\n");
  });
  test("console_write reports a partial write", () => {
    const p = new FakePlatform(1);
    p.acceptLimit = 4;
    p.ram.set(text, 0);
    expect(call(p, SBI_EXT_DBCN, 0n, [BigInt(text.length), BigInt(RAM_BASE), 0n])).toEqual(success(4n));
    expect(p.output).toEqual([...text.subarray(0, 4)]);
  });
  test("console_write moves at most one chunk per call", () => {
    const p = new FakePlatform(1);
    expect(call(p, SBI_EXT_DBCN, 0n, [BigInt(RAM_SIZE), BigInt(RAM_BASE), 0n])).toEqual(
      success(BigInt(Math.min(RAM_SIZE, SBI_DBCN_MAX_CHUNK))),
    );
  });
  test("console_write of zero bytes succeeds without touching memory", () => {
    expect(call(new FakePlatform(1), SBI_EXT_DBCN, 0n, [0n, 0n, 0n])).toEqual(success(0n));
  });
  test("buffers outside RAM, crossing its end, or with base_addr_hi set are INVALID_PARAM", () => {
    const p = new FakePlatform(1);
    expect(call(p, SBI_EXT_DBCN, 0n, [4n, 0x1000n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_DBCN, 0n, [8n, BigInt(RAM_BASE + RAM_SIZE - 4), 0n])).toEqual(
      failure(SBI_ERR_INVALID_PARAM),
    );
    expect(call(p, SBI_EXT_DBCN, 0n, [4n, BigInt(RAM_BASE), 1n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_DBCN, 0n, [ALL, BigInt(RAM_BASE), 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(call(p, SBI_EXT_DBCN, 1n, [4n, ALL - 1n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(p.output).toEqual([]);
  });
  test("console_read copies pending input into guest memory and returns the count", () => {
    const p = new FakePlatform(1);
    p.input = [0x61, 0x62, 0x63];
    expect(call(p, SBI_EXT_DBCN, 1n, [2n, BigInt(RAM_BASE + 0x20), 0n])).toEqual(success(2n));
    expect([...p.ram.subarray(0x20, 0x23)]).toEqual([0x61, 0x62, 0]);
    expect(call(p, SBI_EXT_DBCN, 1n, [16n, BigInt(RAM_BASE + 0x20), 0n])).toEqual(success(1n));
    expect(call(p, SBI_EXT_DBCN, 1n, [16n, BigInt(RAM_BASE + 0x20), 0n])).toEqual(success(0n));
  });
  test("console_read with an invalid buffer consumes no input", () => {
    const p = new FakePlatform(1);
    p.input = [0x61];
    expect(call(p, SBI_EXT_DBCN, 1n, [1n, 0x10n, 0n])).toEqual(failure(SBI_ERR_INVALID_PARAM));
    expect(p.input).toEqual([0x61]);
  });
  test("console_write_byte writes the low 8 bits; a refused byte is FAILED", () => {
    const p = new FakePlatform(1);
    expect(call(p, SBI_EXT_DBCN, 2n, [0x1241n])).toEqual(success(0n));
    expect(p.output).toEqual([0x41]);
    p.acceptLimit = 0;
    expect(call(p, SBI_EXT_DBCN, 2n, [0x42n])).toEqual(failure(SBI_ERR_FAILED));
  });
});

describe("legacy extensions (v0.1)", () => {
  test("set_timer, console_putchar return 0 in a0 only", () => {
    const p = new FakePlatform(2);
    expect(call(p, 0x00n, 123n, [0x5555n], 1)).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(p.timers).toEqual([[1, 0x5555n]]);
    expect(call(p, 0x01n, 0n, [0x141n])).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(p.output).toEqual([0x41]);
  });
  test("console_getchar returns the byte, or -1 when there is no input", () => {
    const p = new FakePlatform(1);
    p.input = [0x7a];
    expect(call(p, 0x02n, 0n)).toEqual({ kind: "LegacyReturn", value: 0x7an });
    expect(call(p, 0x02n, 0n)).toEqual({ kind: "LegacyReturn", value: -1n });
    expect(sbiLegacyRegister(-1n)).toBe(ALL);
  });
  test("clear_ipi returns 0 when nothing was pending, positive when one was", () => {
    const p = new FakePlatform(2);
    expect(call(p, 0x03n, 0n, [], 1)).toEqual({ kind: "LegacyReturn", value: 0n });
    p.ipiPending = true;
    expect(call(p, 0x03n, 0n, [], 1)).toEqual({ kind: "LegacyReturn", value: 1n });
    expect(p.cleared).toEqual([1, 1]);
  });
  test("send_ipi reads the hart mask through a guest-virtual pointer", () => {
    const p = new FakePlatform(3);
    p.virtual.set(0xffff_ffe0_0000_1000n, 0b110n);
    expect(call(p, 0x04n, 0n, [0xffff_ffe0_0000_1000n])).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(p.ipis).toEqual([[1, 2]]);
  });
  test("a null hart mask pointer means every hart", () => {
    const p = new FakePlatform(3);
    expect(call(p, 0x04n, 0n, [0n])).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(p.ipis).toEqual([[0, 1, 2]]);
  });
  test("a faulting hart mask pointer is redirected to the guest", () => {
    const p = new FakePlatform(2);
    expect(call(p, 0x04n, 0n, [0x4000n])).toEqual({
      kind: "GuestTrap",
      cause: BigInt(CAUSE_LOAD_PAGE_FAULT),
      tval: 0x4000n,
    });
    expect(p.ipis).toEqual([]);
  });
  test("a hart mask naming a missing hart returns INVALID_PARAM in a0", () => {
    const p = new FakePlatform(2);
    p.virtual.set(0x4000n, 0b100n);
    expect(call(p, 0x04n, 0n, [0x4000n])).toEqual({ kind: "LegacyReturn", value: SBI_ERR_INVALID_PARAM });
    expect(p.ipis).toEqual([]);
  });
  test("more than 64 harts read one word per 64 harts", () => {
    const p = new FakePlatform(70);
    p.virtual.set(0x4000n, 1n);
    p.virtual.set(0x4008n, 0b10n);
    expect(call(p, 0x04n, 0n, [0x4000n])).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(p.ipis).toEqual([[0, 65]]);
  });
  test("remote fence.i, sfence.vma and sfence.vma.asid", () => {
    const p = new FakePlatform(2);
    p.virtual.set(0x4000n, 0b10n);
    expect(call(p, 0x05n, 0n, [0x4000n])).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(call(p, 0x06n, 0n, [0x4000n, 0x1000n, 0x2000n])).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(call(p, 0x07n, 0n, [0n, 0n, 0n, 3n])).toEqual({ kind: "LegacyReturn", value: 0n });
    expect(call(p, 0x06n, 0n, [0n, ALL, 2n])).toEqual({ kind: "LegacyReturn", value: SBI_ERR_INVALID_ADDRESS });
    expect(p.fences).toEqual([
      [[1], { kind: "fence.i" }],
      [[1], { kind: "sfence.vma", range: { all: false, start: 0x1000n, size: 0x2000n }, asid: undefined }],
      [[0, 1], { kind: "sfence.vma", range: { all: true }, asid: 3n }],
    ]);
  });
  test("shutdown powers the system off with code 0", () => {
    expect(call(new FakePlatform(1), 0x08n, 0n)).toMatchObject({
      kind: "SystemDown",
      action: "poweroff",
      resetType: "shutdown",
      code: 0,
    });
  });
});

describe("axvisor hypercall extension", () => {
  test("EID 0x485643 becomes a Hypercall with nr = FID and args a0..a5", () => {
    expect(call(new FakePlatform(1), SBI_EXT_AXVISOR_HYPERCALL, 3n, [1n, 2n, 3n, 4n, 5n, -1n])).toEqual({
      kind: "Hypercall",
      nr: 3n,
      args: [1n, 2n, 3n, 4n, 5n, ALL],
    });
  });
});

describe("dispatcher contract", () => {
  test("return registers are unsigned 64-bit", () => {
    expect(sbiRetRegisters({ error: SBI_ERR_NOT_SUPPORTED, value: 5n })).toEqual({ a0: ALL - 1n, a1: 5n });
  });
  test("signed and unsigned spellings of the same register value are the same call", () => {
    const p = new FakePlatform(4);
    expect(call(p, SBI_EXT_IPI, 0n, [1n, -1n])).toEqual(success());
    expect(p.ipis).toEqual([[0, 1, 2, 3]]);
  });
  test("a caller hart outside the VM is a VMM bug and throws with the state", () => {
    const p = new FakePlatform(2);
    expect(() => call(p, SBI_EXT_BASE, 0n, [], 2)).toThrow(SbiDispatchError);
    expect(() => call(p, SBI_EXT_BASE, 0n, [], 2)).toThrow(
      "Cannot dispatch an SBI call from hart 2: the VM has harts 0..1",
    );
  });
});

/** The bun:ffi syscall layer: argument checks before native code, errno kept in HalError, eventfd, signals. */

import { describe, expect, test } from "bun:test";
import { EBADF } from "../../src/common/errno.ts";
import { KVM_GET_API_VERSION } from "../../src/hal/kvm/abi.ts";
import * as sys from "../../src/hal/kvm/sys.ts";
import { KVM_GET_REGS } from "../../src/hal/kvm/x86_64/abi.ts";
import { HalError } from "../../src/hal/types.ts";
import { type Requirement, testIf } from "../support/skip.ts";

function nativeHelpers(): Requirement {
  const problem = sys.nativeHelpersProblem();
  return { available: problem === undefined, reason: problem ?? "compiled" };
}

function caught(action: () => unknown): HalError {
  try {
    action();
  } catch (error) {
    if (error instanceof HalError) return error;
    throw error;
  }
  throw new Error("expected a HalError");
}

describe("sys", () => {
  test("a failed ioctl keeps the ioctl's name and errno", () => {
    const fd = sys.eventfd(0, 0);
    try {
      const error = caught(() => sys.ioctlInt(fd, KVM_GET_API_VERSION));
      expect(error).toMatchObject({ kind: "syscall", operation: "KVM_GET_API_VERSION", errno: 25 }); // ENOTTY
    } finally {
      sys.close(fd);
    }
    expect(caught(() => sys.close(0x7fff_0000))).toMatchObject({
      kind: "syscall",
      operation: "close",
      errno: EBADF,
    });
  });

  test("buffers too small for the request and bad descriptors are refused before native code", () => {
    expect(caught(() => sys.ioctlBuf(3, KVM_GET_REGS, new Uint8Array(16)))).toMatchObject({
      kind: "invalid-argument",
      operation: "KVM_GET_REGS",
    });
    expect(caught(() => sys.ioctlInt(-1, KVM_GET_API_VERSION))).toMatchObject({ kind: "invalid-argument" });
    expect(caught(() => sys.mmapAnonymous(100))).toMatchObject({ kind: "invalid-argument", operation: "mmap" });
    expect(caught(() => sys.viewMapping(0x1001, 4096))).toMatchObject({ kind: "invalid-argument" });
  });

  test("eventfd counts, and an empty non-blocking one reads 0 (EAGAIN told apart from failure)", () => {
    const fd = sys.eventfd(0, sys.EFD_NONBLOCK);
    try {
      expect(sys.eventfdRead(fd)).toBe(0n);
      sys.eventfdWrite(fd, 3n);
      sys.eventfdWrite(fd, 4n);
      expect(sys.eventfdRead(fd)).toBe(7n);
    } finally {
      sys.close(fd);
    }
  });

  test("mapped memory is zeroed, writable, and detached on unmap", () => {
    const mapping = sys.mmapAnonymous(2 * sys.HOST_PAGE_SIZE);
    const bytes = new Uint8Array(mapping.buffer);
    expect(bytes.every((byte) => byte === 0)).toBe(true);
    bytes[4097] = 0x5a;
    expect(new Uint8Array(sys.viewMapping(mapping.address, mapping.length))[4097]).toBe(0x5a);
    sys.munmap(mapping);
    expect(bytes.length).toBe(0);
  });

  test("a blocked kick signal stays pending until consumed", () => {
    const mask = sys.blockSignalInThisThread(sys.SIGURG);
    expect(mask.length).toBe(sys.KERNEL_SIGSET_BYTES);
    expect(sys.consumePendingSignal(sys.SIGURG)).toBe(false);
    expect(sys.tgkill(sys.getpid(), sys.gettid(), sys.SIGURG)).toBe(true);
    expect(sys.consumePendingSignal(sys.SIGURG)).toBe(true);
    expect(sys.consumePendingSignal(sys.SIGURG)).toBe(false);
  });

  testIf(nativeHelpers(), "sys native helpers")(
    "the kick handler sets its target's immediate_exit when this thread is signalled, and nothing once released",
    () => {
      const mapping = sys.mmapAnonymous(sys.HOST_PAGE_SIZE);
      const bytes = new Uint8Array(mapping.buffer);
      const target = mapping.address + 1;
      try {
        expect(sys.takeSignalWithKickHandler(sys.SIGURG, target)).toEqual({ kind: "taken" });
        // One vCPU per process: a second target is refused while the first is held.
        expect(sys.takeSignalWithKickHandler(sys.SIGURG, mapping.address + 2)).toEqual({ kind: "busy" });
        expect(sys.tgkill(sys.getpid(), sys.gettid(), sys.SIGURG)).toBe(true);
        expect([bytes[0], bytes[1], bytes[2]]).toEqual([0, 1, 0]);
        // Handled, not left pending.
        expect(sys.consumePendingSignal(sys.SIGURG)).toBe(false);
        sys.releaseKickTarget(target);
        bytes[1] = 0;
        expect(sys.tgkill(sys.getpid(), sys.gettid(), sys.SIGURG)).toBe(true);
        expect(bytes[1]).toBe(0);
        // KVM_RUN through the helper on a descriptor that is not a vCPU: the errno comes back negated.
        const fd = sys.eventfd(0, 0);
        try {
          expect(sys.kvmRunFunction()(fd)).toBe(-25); // ENOTTY
        } finally {
          sys.close(fd);
        }
      } finally {
        sys.releaseKickTarget(target);
        sys.munmap(mapping);
      }
    },
  );
});

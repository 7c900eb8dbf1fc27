/** Which guests the KVM backend runs on which host, decided before any native code runs (no /dev/kvm needed). */
import { expect, test } from "bun:test";
import { kvmArchFor, probeKvm } from "./probe.ts";

test("the guest arch comes from the host arch through the arch table", () => {
  const x86 = kvmArchFor({ platform: "linux", arch: "x64" });
  expect(typeof x86 === "string" ? x86 : x86.guestArch).toBe("x86_64");
  expect(kvmArchFor({ platform: "linux", arch: "arm64" })).toBe(
    "KVM on arm64 hosts runs aarch64 guests, which this backend does not support yet",
  );
  expect(kvmArchFor({ platform: "linux", arch: "s390x" })).toBe("KVM on s390x hosts is not supported by this backend");
  expect(kvmArchFor({ platform: "darwin", arch: "arm64" })).toBe("KVM needs Linux; this host is darwin");
});

test("an arm64 host reports KVM unavailable with that reason, without opening anything", () => {
  expect(probeKvm("/dev/kvm", { platform: "linux", arch: "arm64" })).toEqual({
    backend: "kvm",
    available: false,
    reason: "KVM on arm64 hosts runs aarch64 guests, which this backend does not support yet",
    archs: [],
  });
});

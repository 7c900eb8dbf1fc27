/**
 * Disk images are opened and locked like QEMU's (issue 9, item 16): one writer or any number of readers, a clear
 * refusal naming the image and the holder, and a 0444 image never opened read-write, even by root.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describeIf, hasCommand, testIf } from "../../../test/support/skip.ts";
import { openDiskImage } from "./disk-image.ts";
import { HostError } from "./errors.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-disk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function image(name: string, mode = 0o644): string {
  const path = join(dir, name);
  writeFileSync(path, new Uint8Array(64 * 512));
  chmodSync(path, mode);
  return path;
}

function refusal(open: () => unknown): HostError {
  try {
    open();
  } catch (error) {
    if (error instanceof HostError) return error;
    throw error;
  }
  throw new Error("the open was not refused");
}

const locks = {
  available: process.platform === "linux" || process.platform === "darwin",
  reason: `file locks are implemented for Linux (OFD) and macOS (flock), not ${process.platform}`,
};

describeIf(locks, "disk image locks")("disk image locks", () => {
  test("a read-write image is exclusive: a second open, read-write or read-only, is refused until it closes", () => {
    const path = image("rw.img");
    const first = openDiskImage(path, { readOnly: false });
    expect(first.lock).toBe("exclusive");
    expect(first.size).toBe(64 * 512);
    for (const readOnly of [false, true]) {
      const error = refusal(() => openDiskImage(path, { readOnly }));
      expect(error.kind).toBe("locked");
      expect(error.message).toStartWith(
        `Cannot open disk image ${path} ${readOnly ? "read-only" : "read-write"}: it is in use`,
      );
      if (process.platform === "linux") expect(error.message).toContain(`pid ${process.pid}: this axvisor`);
    }
    first.close();
    first.close(); // idempotent
    using again = openDiskImage(path, { readOnly: false });
    expect(again.lock).toBe("exclusive");
  });

  test("read-only images share: any number of readers, no writer while one reads", () => {
    const path = image("ro.img");
    const a = openDiskImage(path, { readOnly: true });
    const b = openDiskImage(path, { readOnly: true });
    expect([a.lock, b.lock]).toEqual(["shared", "shared"]);
    expect(refusal(() => openDiskImage(path, { readOnly: false })).kind).toBe("locked");
    a.close();
    expect(refusal(() => openDiskImage(path, { readOnly: false })).kind).toBe("locked");
    b.close();
    openDiskImage(path, { readOnly: false }).close();
  });

  test("the holder in another process is named by its pid and command (Linux)", async () => {
    const path = image("other.img");
    const holder = Bun.spawn(
      [
        "bun",
        "-e",
        `const { openDiskImage } = await import(${JSON.stringify(resolve(import.meta.dir, "disk-image.ts"))});
         openDiskImage(${JSON.stringify(path)}, { readOnly: false });
         console.log("locked");
         await new Promise(() => setInterval(() => undefined, 1000));`,
      ],
      { stdout: "pipe", stderr: "inherit" },
    );
    try {
      const reader = holder.stdout.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain("locked");
      const error = refusal(() => openDiskImage(path, { readOnly: true }));
      expect(error.kind).toBe("locked");
      if (process.platform === "linux")
        expect(error.message).toContain(`a write lock is held by pid ${holder.pid}, bun`);
    } finally {
      holder.kill("SIGKILL");
      await holder.exited;
    }
  });
});

describe("disk images that must not be written or opened", () => {
  test(`a 0444 image is never opened read-write${process.getuid?.() === 0 ? " (we run as root, who could)" : ""}`, () => {
    const path = image("readonly-mode.img", 0o444);
    const error = refusal(() => openDiskImage(path, { readOnly: false }));
    expect(error.kind).toBe("read-only");
    expect(error.message).toBe(
      `Cannot open disk image ${path} read-write: its mode is 0444, nobody may write it; attach it with read_only = true`,
    );
    const readOnly = openDiskImage(path, { readOnly: true });
    expect(readOnly.readOnly).toBe(true);
    readOnly.close();
  });

  test("a missing image and a directory are refused by kind", () => {
    expect(refusal(() => openDiskImage(join(dir, "none.img"), { readOnly: true })).kind).toBe("missing");
    expect(refusal(() => openDiskImage(dir, { readOnly: true })).kind).toBe("not-regular");
  });

  testIf(hasCommand("mkfifo"), "FIFO disk")("a FIFO is refused without being opened (which would block)", () => {
    const fifo = join(dir, "fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const error = refusal(() => openDiskImage(fifo, { readOnly: false }));
    expect(error.kind).toBe("not-regular");
    expect(error.message).toContain("it is a FIFO (named pipe), not a file or block device");
  });
});

const holes = {
  available: process.platform === "linux",
  reason: `punching holes (fallocate) is implemented for Linux, not ${process.platform}`,
};

describeIf(holes, "punching holes")("punching holes in disk images (virtio-blk discard)", () => {
  /** A 4 MiB image, every byte written (so every block is allocated). */
  function fullImage(name: string): string {
    const path = join(dir, name);
    writeFileSync(path, new Uint8Array(4 << 20).fill(0xa5));
    return path;
  }

  test("a punched range reads as zeros and its blocks go back to the host; the size stays", () => {
    const path = fullImage("punch.img");
    const blocksBefore = statSync(path).blocks;
    using image = openDiskImage(path, { readOnly: false });
    // The test folder's file system (ext4, xfs, btrfs, tmpfs all can) must punch: false would mean no holes.
    expect(image.punchHole(1 << 20, 2 << 20)).toBe(true);
    const after = statSync(path);
    expect(after.size).toBe(4 << 20);
    // 2 MiB are 4096 blocks of 512 bytes; allow the file system's metadata to move a little.
    expect(blocksBefore - after.blocks).toBeGreaterThanOrEqual(4000);
    const bytes = readFileSync(path);
    expect(bytes.subarray(1 << 20, 3 << 20).every((b) => b === 0)).toBe(true);
    expect(bytes[(1 << 20) - 1]).toBe(0xa5);
    expect(bytes[3 << 20]).toBe(0xa5);
  });

  test("a read-only image refuses; a closed one says so; bad ranges are refused before the system call", () => {
    const path = fullImage("punch-ro.img");
    const ro = openDiskImage(path, { readOnly: true });
    expect(refusal(() => ro.punchHole(0, 4096)).kind).toBe("read-only");
    ro.close();
    const rw = openDiskImage(path, { readOnly: false });
    expect(refusal(() => rw.punchHole(-1, 4096)).message).toContain("must be a byte range");
    expect(refusal(() => rw.punchHole(0, 0)).message).toContain("must be a byte range");
    rw.close();
    expect(refusal(() => rw.punchHole(0, 4096)).message).toContain("it is closed");
    expect(statSync(path).blocks).toBeGreaterThanOrEqual(8000);
  });
});

/** A loop device over a fresh 8 MiB file, when this host lets us make one (root, /dev/loop-control, losetup). */
function loopDevice(): { available: boolean; reason: string; attach?: () => { device: string; detach: () => void } } {
  if (process.platform !== "linux") return { available: false, reason: "loop devices are a Linux feature" };
  if (process.getuid?.() !== 0) return { available: false, reason: "attaching a loop device needs root" };
  if (Bun.which("losetup") === null) return { available: false, reason: "losetup is not installed (util-linux)" };
  const path = join(dir, "loop-backing.img");
  writeFileSync(path, new Uint8Array(8 << 20).fill(0x5a));
  const probe = Bun.spawnSync(["losetup", "-f", "--show", path]);
  const device = probe.stdout.toString().trim();
  if (probe.exitCode !== 0 || !device.startsWith("/dev/"))
    return { available: false, reason: `losetup -f failed: ${probe.stderr.toString().trim()}` };
  return {
    available: true,
    reason: device,
    attach: () => ({ device, detach: () => void Bun.spawnSync(["losetup", "-d", device]) }),
  };
}

const loop = loopDevice();
testIf(loop, "block device disk")(
  "a block device's size comes from sysfs (fstat says 0); a hole reads as zeros",
  () => {
    const attached = loop.attach?.();
    if (attached === undefined) throw new Error("no loop device");
    try {
      using image = openDiskImage(attached.device, { readOnly: false });
      expect(image.size).toBe(8 << 20);
      // A loop device passes the punch down to its backing file (which holds holes: the test above).
      expect(image.punchHole(1 << 20, 1 << 20)).toBe(true);
      const bytes = readFileSync(join(dir, "loop-backing.img"));
      expect(bytes.subarray(1 << 20, 2 << 20).every((b) => b === 0)).toBe(true);
      expect(bytes[2 << 20]).toBe(0x5a);
    } finally {
      attached.detach();
    }
  },
);

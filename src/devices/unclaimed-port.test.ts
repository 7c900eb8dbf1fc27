import { describe, expect, test } from "bun:test";
import { Bus } from "./bus.ts";
import { DeviceError } from "./errors.ts";
import { POST_CODE_PORT, UnclaimedPort } from "./unclaimed-port.ts";

describe("unclaimed port", () => {
  test("reads are all ones for the width; writes are dropped but counted per port with the last value", () => {
    const dev = new UnclaimedPort();
    expect(dev.read(0x61, 1)).toBe(0xff);
    expect(dev.read(0xcf8, 2)).toBe(0xffff);
    expect(dev.read(0xcfc, 4)).toBe(0xffff_ffff);
    dev.write(POST_CODE_PORT, 1, 0x12);
    dev.write(POST_CODE_PORT, 1, 0x34);
    expect(dev.traffic(POST_CODE_PORT)).toEqual({ reads: 0, writes: 2, lastWrite: 0x34 });
    expect(dev.traffic(0x61)).toEqual({ reads: 1, writes: 0, lastWrite: null });
    expect(dev.ports()).toEqual([0x61, 0x80, 0xcf8, 0xcfc]);
  });

  test("as a window over specific ports, counts are keyed by port number", () => {
    const dev = new UnclaimedPort({ base: 0x80 });
    const bus = new Bus("port");
    bus.insert(0x80, 1, dev);
    bus.write(0x80, 1, 0xaan);
    const r = bus.read(0x80, 1);
    expect(r.kind === "ok" && r.value).toBe(0xffn);
    expect(dev.traffic(0x80)).toEqual({ reads: 1, writes: 1, lastWrite: 0xaa });
  });

  test("the map is bounded; further ports are counted together", () => {
    const dev = new UnclaimedPort({ maxTrackedPorts: 2 });
    dev.write(1, 1, 1);
    dev.write(2, 1, 1);
    dev.write(3, 1, 1);
    dev.read(4, 1);
    dev.read(1, 1);
    expect(dev.ports()).toEqual([1, 2]);
    expect(dev.stats).toEqual({ badAccesses: 0, untrackedReads: 1, untrackedWrites: 1 });
    expect(dev.traffic(1)).toEqual({ reads: 1, writes: 1, lastWrite: 1 });
  });

  test("snapshot round-trips and configuration is checked", () => {
    const dev = new UnclaimedPort();
    dev.write(0x80, 1, 5);
    const other = new UnclaimedPort();
    other.restore(JSON.parse(JSON.stringify(dev.snapshot())));
    expect(other.traffic(0x80)).toEqual({ reads: 0, writes: 1, lastWrite: 5 });
    expect(() => new UnclaimedPort({ base: 0x1_0000 })).toThrow(DeviceError);
    expect(() => new UnclaimedPort({ maxTrackedPorts: 0 }).restore(dev.snapshot())).toThrow(DeviceError);
  });

  test("a port hit again and again keeps counting into the restored counters after a restore", () => {
    const dev = new UnclaimedPort({ maxTrackedPorts: 1 });
    dev.write(0x80, 1, 1);
    const saved = dev.snapshot();
    dev.write(0x80, 1, 2);
    dev.write(0x81, 1, 3); // untracked: the map is full
    dev.write(0x81, 1, 3);
    dev.restore(saved);
    dev.write(0x80, 1, 4);
    expect(dev.traffic(0x80)).toEqual({ reads: 0, writes: 2, lastWrite: 4 });
    // After a restore that leaves room, a port that was untracked gets its own counters.
    dev.restore({ ports: [], untrackedReads: 0, untrackedWrites: 0 });
    dev.write(0x81, 1, 5);
    dev.write(0x81, 1, 6);
    expect(dev.traffic(0x81)).toEqual({ reads: 0, writes: 2, lastWrite: 6 });
    expect(dev.stats.untrackedWrites).toBe(0);
  });
});

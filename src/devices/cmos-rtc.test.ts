import { describe, expect, test } from "bun:test";
import {
  CmosRtc,
  REG_B_24H,
  REG_B_DM,
  RTC_CENTURY,
  RTC_DAY_OF_MONTH,
  RTC_DAY_OF_WEEK,
  RTC_HOURS,
  RTC_MINUTES,
  RTC_MONTH,
  RTC_REG_A,
  RTC_REG_B,
  RTC_REG_C,
  RTC_REG_D,
  RTC_SECONDS,
  RTC_YEAR,
} from "./cmos-rtc.ts";

/** 2026-11-22 (a Sunday) 15:04:05.250 UTC */
const T0 = Date.UTC(2026, 10, 22, 15, 4, 5, 250);

function rtcAt(ms = T0) {
  let now = ms;
  const rtc = new CmosRtc({ clock: () => now });
  const read = (index: number): number => {
    rtc.write(0, 1, index | 0x80); // with the NMI-disable bit, as Linux writes it
    return rtc.read(1, 1);
  };
  const write = (index: number, value: number): void => {
    rtc.write(0, 1, index);
    rtc.write(1, 1, value);
  };
  return { rtc, read, write, advance: (d: number) => (now += d) };
}

describe("CMOS RTC", () => {
  test("reads the clock in BCD, 24-hour, as a PC BIOS leaves it", () => {
    const { read } = rtcAt();
    expect([read(RTC_SECONDS), read(RTC_MINUTES), read(RTC_HOURS)]).toEqual([0x05, 0x04, 0x15]);
    expect([read(RTC_DAY_OF_WEEK), read(RTC_DAY_OF_MONTH), read(RTC_MONTH), read(RTC_YEAR), read(RTC_CENTURY)]).toEqual(
      [0x01, 0x22, 0x11, 0x26, 0x20],
    );
  });

  test("status registers: UIP never set (no polling storms), C reads 0, D says valid", () => {
    const { read } = rtcAt();
    expect(read(RTC_REG_A) & 0x80).toBe(0);
    expect(read(RTC_REG_A)).toBe(0x26);
    expect(read(RTC_REG_B)).toBe(REG_B_24H);
    expect(read(RTC_REG_C)).toBe(0);
    expect(read(RTC_REG_D)).toBe(0x80);
  });

  test("binary and 12-hour modes from register B", () => {
    const { read, write } = rtcAt();
    write(RTC_REG_B, REG_B_DM);
    expect(read(RTC_HOURS)).toBe(0x80 | 3); // 3 PM, binary, 12-hour
    expect(read(RTC_MINUTES)).toBe(4);
    write(RTC_REG_B, REG_B_DM | REG_B_24H);
    expect(read(RTC_HOURS)).toBe(15);
  });

  test("writing a time field moves the guest clock and it keeps running from there", () => {
    const { rtc, read, write, advance } = rtcAt();
    write(RTC_YEAR, 0x30);
    write(RTC_HOURS, 0x09);
    expect(read(RTC_YEAR)).toBe(0x30);
    expect(read(RTC_HOURS)).toBe(0x09);
    expect(new Date(rtc.now()).toISOString()).toBe("2030-11-22T09:04:05.250Z");
    advance(61_000);
    expect(read(RTC_MINUTES)).toBe(0x05);
    expect(read(RTC_SECONDS)).toBe(0x06);
  });

  test("nonsense writes are counted, not applied; NVRAM bytes are stored", () => {
    const { rtc, read, write } = rtcAt();
    write(RTC_MONTH, 0x99);
    expect(read(RTC_MONTH)).toBe(0x11);
    write(RTC_REG_C, 0xff);
    expect(rtc.stats.badAccesses).toBe(2);
    write(0x40, 0x5a);
    expect(read(0x40)).toBe(0x5a);
    expect(rtc.read(0, 4)).toBe(0xff);
    expect(rtc.stats.badAccesses).toBe(3);
  });

  test("snapshot and restore keep the index, RAM and the guest's clock offset", () => {
    const a = rtcAt();
    a.write(0x40, 0x11);
    a.write(RTC_YEAR, 0x31);
    const b = rtcAt();
    b.rtc.restore(a.rtc.snapshot());
    expect(b.read(0x40)).toBe(0x11);
    expect(b.read(RTC_YEAR)).toBe(0x31);
  });
});

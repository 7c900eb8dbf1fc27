import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import {
  GOLDFISH_RTC_ALARM_HIGH,
  GOLDFISH_RTC_ALARM_LOW,
  GOLDFISH_RTC_ALARM_STATUS,
  GOLDFISH_RTC_CLEAR_ALARM,
  GOLDFISH_RTC_CLEAR_INTERRUPT,
  GOLDFISH_RTC_IRQ_ENABLED,
  GOLDFISH_RTC_TIME_HIGH,
  GOLDFISH_RTC_TIME_LOW,
  GoldfishRtc,
  hostWallClockNs,
} from "./goldfish-rtc.ts";

/** 2026-12-04T12:00:00Z in ns: above 2^32 ns, so the high word matters. */
const START_NS = 1_796_385_600_000_000_000n;
const SECOND = 1_000_000_000n;

function make(start = START_NS) {
  let now = start;
  const irq = new RecordingIrqLine();
  const rtc = new GoldfishRtc({ irq, clock: () => now });
  return {
    rtc,
    irq,
    advance(ns: bigint) {
      now += ns;
    },
  };
}

/** Read the time as Linux's rtc-goldfish does: TIME_LOW first (latches the high word), then TIME_HIGH. */
function readTime(rtc: GoldfishRtc): bigint {
  const low = BigInt(rtc.read(GOLDFISH_RTC_TIME_LOW, 4));
  const high = BigInt(rtc.read(GOLDFISH_RTC_TIME_HIGH, 4));
  return (high << 32n) | low;
}

describe("Goldfish RTC", () => {
  test("TIME_LOW then TIME_HIGH read the clock in ns; the high word is latched by the low read", () => {
    const { rtc, advance } = make();
    expect(readTime(rtc)).toBe(START_NS);
    const low = rtc.read(GOLDFISH_RTC_TIME_LOW, 4);
    // The clock moves past a 2^32 ns boundary between the two reads: the high word is still the latched one.
    advance(1n << 33n);
    const high = rtc.read(GOLDFISH_RTC_TIME_HIGH, 4);
    expect((BigInt(high) << 32n) | BigInt(low)).toBe(START_NS);
    expect(readTime(rtc)).toBe(START_NS + (1n << 33n));
  });

  test("the default clock is the host's wall clock", () => {
    const rtc = new GoldfishRtc({ irq: new RecordingIrqLine() });
    const host = hostWallClockNs();
    const diff = readTime(rtc) - host;
    expect(diff < SECOND && diff > -SECOND).toBe(true);
  });

  test("writing TIME_HIGH then TIME_LOW sets the time, which keeps running from there", () => {
    const { rtc, advance } = make();
    const wanted = 1_000_000_000n * SECOND; // 2001-09-09
    rtc.write(GOLDFISH_RTC_TIME_HIGH, 4, Number(wanted >> 32n));
    rtc.write(GOLDFISH_RTC_TIME_LOW, 4, Number(wanted & 0xffff_ffffn));
    expect(readTime(rtc)).toBe(wanted);
    advance(5n * SECOND);
    expect(readTime(rtc)).toBe(wanted + 5n * SECOND);
  });

  test("an alarm fires when the clock reaches it: pending until cleared, the line follows IRQ_ENABLED", () => {
    const { rtc, irq, advance } = make();
    const at = START_NS + 2n * SECOND;
    rtc.write(GOLDFISH_RTC_ALARM_HIGH, 4, Number(at >> 32n));
    rtc.write(GOLDFISH_RTC_ALARM_LOW, 4, Number(at & 0xffff_ffffn));
    rtc.write(GOLDFISH_RTC_IRQ_ENABLED, 4, 1);
    expect(rtc.read(GOLDFISH_RTC_ALARM_STATUS, 4)).toBe(1);
    expect((BigInt(rtc.read(GOLDFISH_RTC_ALARM_HIGH, 4)) << 32n) | BigInt(rtc.read(GOLDFISH_RTC_ALARM_LOW, 4))).toBe(
      at,
    );
    expect(rtc.alarmDeadline()).toBe(at);
    advance(SECOND);
    rtc.tick();
    expect(irq.level).toBe(false);
    advance(SECOND);
    rtc.tick();
    expect(irq.level).toBe(true);
    expect(rtc.read(GOLDFISH_RTC_ALARM_STATUS, 4)).toBe(0);
    expect(rtc.alarmDeadline()).toBeUndefined();
    // Disabling the interrupt drops the line but keeps it pending; enabling raises it again.
    rtc.write(GOLDFISH_RTC_IRQ_ENABLED, 4, 0);
    expect(irq.level).toBe(false);
    rtc.write(GOLDFISH_RTC_IRQ_ENABLED, 4, 1);
    expect(irq.level).toBe(true);
    rtc.write(GOLDFISH_RTC_CLEAR_INTERRUPT, 4, 1);
    expect(irq.level).toBe(false);
    expect(irq.riseCount).toBe(2);
    expect(rtc.stats.alarmsFired).toBe(1);
  });

  test("an alarm in the past fires when armed; CLEAR_ALARM disarms one that has not fired", () => {
    const { rtc, irq, advance } = make();
    rtc.write(GOLDFISH_RTC_IRQ_ENABLED, 4, 1);
    rtc.write(GOLDFISH_RTC_ALARM_HIGH, 4, 0);
    rtc.write(GOLDFISH_RTC_ALARM_LOW, 4, 5);
    expect(irq.level).toBe(true);
    rtc.write(GOLDFISH_RTC_CLEAR_INTERRUPT, 4, 1);
    const at = START_NS + SECOND;
    rtc.write(GOLDFISH_RTC_ALARM_HIGH, 4, Number(at >> 32n));
    rtc.write(GOLDFISH_RTC_ALARM_LOW, 4, Number(at & 0xffff_ffffn));
    rtc.write(GOLDFISH_RTC_CLEAR_ALARM, 4, 1);
    expect(rtc.read(GOLDFISH_RTC_ALARM_STATUS, 4)).toBe(0);
    advance(2n * SECOND);
    rtc.tick();
    expect(irq.level).toBe(false);
    expect(rtc.stats.alarmsFired).toBe(1);
  });

  test("accesses that are not 32-bit, and unknown offsets, are ignored and counted", () => {
    const { rtc } = make();
    expect(rtc.read(GOLDFISH_RTC_TIME_LOW, 1)).toBe(0);
    rtc.write(GOLDFISH_RTC_TIME_LOW, 2, 0);
    expect(rtc.read(0x20, 4)).toBe(0);
    rtc.write(0xffc, 4, 1);
    expect(rtc.stats.badAccesses).toBe(4);
    expect(readTime(rtc)).toBe(START_NS);
  });

  test("snapshot and restore keep the offset, the alarm and the interrupt state", () => {
    const { rtc, advance } = make();
    rtc.write(GOLDFISH_RTC_TIME_HIGH, 4, 0);
    rtc.write(GOLDFISH_RTC_TIME_LOW, 4, 1000);
    rtc.write(GOLDFISH_RTC_ALARM_HIGH, 4, 0);
    rtc.write(GOLDFISH_RTC_ALARM_LOW, 4, 2000);
    rtc.write(GOLDFISH_RTC_IRQ_ENABLED, 4, 1);
    const other = make();
    other.rtc.restore(rtc.snapshot());
    expect(other.irq.level).toBe(false);
    expect(readTime(other.rtc)).toBe(1000n);
    advance(0n);
    other.advance(1500n);
    other.rtc.tick();
    expect(other.irq.level).toBe(true);
  });
});

import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import { LevelIrqLine, SharedIrqLine } from "./irq.ts";

describe("LevelIrqLine", () => {
  test("calls onChange only when the level changes", () => {
    const seen: boolean[] = [];
    const line = new LevelIrqLine((l) => seen.push(l));
    line.set(false);
    line.set(true);
    line.set(true);
    line.set(false);
    expect(seen).toEqual([true, false]);
    expect(line.level).toBe(false);
  });

  test("trigger pulses a low line and is invisible on a high one", () => {
    const seen: boolean[] = [];
    const line = new LevelIrqLine((l) => seen.push(l));
    line.trigger();
    expect(seen).toEqual([true, false]);
    line.set(true);
    line.trigger();
    expect(seen).toEqual([true, false, true]);
    expect(line.level).toBe(true);
  });
});

describe("SharedIrqLine", () => {
  test("the output is the OR of its sources and changes only on transitions", () => {
    const out = new RecordingIrqLine();
    const shared = new SharedIrqLine(out);
    const a = shared.source();
    const b = shared.source();
    a.set(true);
    b.set(true);
    a.set(false);
    expect(out.level).toBe(true);
    b.set(false);
    expect(out.level).toBe(false);
    b.set(false); // repeated lows do not count twice
    a.set(true);
    expect(out.events).toEqual([
      { kind: "set", level: true },
      { kind: "set", level: false },
      { kind: "set", level: true },
    ]);
    expect(shared.sourceCount).toBe(2);
  });

  test("a pulse passes only while no source holds the output high", () => {
    const out = new RecordingIrqLine();
    const shared = new SharedIrqLine(out);
    const a = shared.source();
    const b = shared.source();
    b.trigger();
    expect(out.triggerCount).toBe(1);
    a.set(true);
    b.trigger();
    expect(out.triggerCount).toBe(1);
  });
});

describe("RecordingIrqLine", () => {
  test("changes() and riseCount follow real transitions since the last clear", () => {
    const line = new RecordingIrqLine();
    line.set(true);
    line.set(true);
    line.set(false);
    line.set(true);
    expect(line.changes()).toEqual([true, false, true]);
    expect(line.riseCount).toBe(2);
    line.clear();
    line.set(true); // no change from the level at clear time
    line.set(false);
    expect(line.changes()).toEqual([false]);
    expect(line.riseCount).toBe(0);
  });
});

import { describe, expect, test } from "bun:test";
import { TimerWheel } from "./timer.ts";

describe("TimerWheel", () => {
  test("runs due timers in deadline order, once, and tracks the next deadline", () => {
    const wheel = new TimerWheel();
    const fired: string[] = [];
    wheel.add(300, () => fired.push("c"));
    wheel.add(100, () => fired.push("a"));
    wheel.add(200, () => fired.push("b"));
    expect(wheel.nextDeadline()).toBe(100);
    expect(wheel.runDue(99)).toBe(0);
    expect(wheel.runDue(250)).toBe(2);
    expect(fired).toEqual(["a", "b"]);
    expect(wheel.nextDeadline()).toBe(300);
    expect(wheel.runDue(1000)).toBe(1);
    expect(wheel.runDue(1000)).toBe(0);
    expect(fired).toEqual(["a", "b", "c"]);
    expect(wheel.nextDeadline()).toBeUndefined();
  });

  test("cancel removes a timer and updates the next deadline; callbacks may re-arm", () => {
    const wheel = new TimerWheel();
    const first = wheel.add(10, () => undefined);
    wheel.add(20, () => wheel.add(30, () => undefined));
    wheel.cancel(first);
    wheel.cancel(first);
    expect(wheel.nextDeadline()).toBe(20);
    wheel.runDue(25);
    expect(wheel.nextDeadline()).toBe(30);
    expect(wheel.size).toBe(1);
  });
});

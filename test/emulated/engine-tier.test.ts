import { describe, expect, test } from "bun:test";
import {
  boundary,
  DEFAULT_ENGINE_OPTIONS,
  engineFromEnvironment,
  TIMER_CHECK_INTERVAL,
  TIMER_CHECK_MAX_INTERVAL,
  TIMER_CHECK_TICKS,
} from "../../src/hal/emulated/engine.ts";
import { makeHart } from "./fixture.ts";

describe("AXVISOR_EMULATED_TIER", () => {
  test("unset or empty means the WebAssembly tier", () => {
    expect(engineFromEnvironment(undefined)).toEqual({ engine: "fast", options: DEFAULT_ENGINE_OPTIONS });
    expect(engineFromEnvironment("")).toEqual({ engine: "fast", options: DEFAULT_ENGINE_OPTIONS });
  });

  test("each tier name selects its engine", () => {
    expect(engineFromEnvironment("js").options.wasm).toBe(false);
    expect(engineFromEnvironment("js").options.jit).toBe(true);
    expect(engineFromEnvironment("interp").options).toMatchObject({ jit: false, wasmInterpreter: false });
    expect(engineFromEnvironment("wasm-interp").options.jit).toBe(false);
    expect(engineFromEnvironment("wasm-interp").options.wasmInterpreter).not.toBe(false);
    expect(engineFromEnvironment("reference").engine).toBe("reference");
    expect(engineFromEnvironment("wasm-eager").options.wasmThreshold).toBe(1);
    expect(engineFromEnvironment("js-eager").options).toMatchObject({ wasm: false, hotThreshold: 1 });
  });

  test("an unknown name is refused with the value and the choices", () => {
    expect(() => engineFromEnvironment("fastest")).toThrow(
      /AXVISOR_EMULATED_TIER is "fastest".*wasm, js, interp, wasm-interp, reference, wasm-eager, js-eager/,
    );
  });
});

describe("timer checks", () => {
  test("the interval between comparator checks follows the hart's rate per clock tick, within its bounds", () => {
    const f = makeHart();
    const h = f.hart;
    /** Retire `insns` instructions over `ticks` of the clock, check the comparators, and return the next interval. */
    const checkAfter = (insns: number, ticks: number): number => {
      h.icount += insns;
      f.time += ticks;
      h.nextTimerCheck = h.icount;
      boundary(h);
      return h.nextTimerCheck - h.icount;
    };
    // A clock that does not move (a test's) gives the least interval.
    expect(checkAfter(0, 0)).toBe(TIMER_CHECK_INTERVAL);
    // 100 k instructions in 1000 ticks: 100 per tick, times TIMER_CHECK_TICKS.
    expect(checkAfter(100_000, 1000)).toBe(100 * TIMER_CHECK_TICKS);
    // Far faster: the most. Far slower: the least.
    expect(checkAfter(100_000_000, 10)).toBe(TIMER_CHECK_MAX_INTERVAL);
    expect(checkAfter(100, 1000)).toBe(TIMER_CHECK_INTERVAL);
  });
});

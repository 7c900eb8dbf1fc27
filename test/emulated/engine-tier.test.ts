import { describe, expect, test } from "bun:test";
import { DEFAULT_ENGINE_OPTIONS, engineFromEnvironment } from "../../src/hal/emulated/engine.ts";

describe("AXVISOR_EMULATED_TIER", () => {
  test("unset or empty means the WebAssembly tier", () => {
    expect(engineFromEnvironment(undefined)).toEqual({ engine: "fast", options: DEFAULT_ENGINE_OPTIONS });
    expect(engineFromEnvironment("")).toEqual({ engine: "fast", options: DEFAULT_ENGINE_OPTIONS });
  });

  test("each tier name selects its engine", () => {
    expect(engineFromEnvironment("js").options.wasm).toBe(false);
    expect(engineFromEnvironment("js").options.jit).toBe(true);
    expect(engineFromEnvironment("interp").options.jit).toBe(false);
    expect(engineFromEnvironment("reference").engine).toBe("reference");
    expect(engineFromEnvironment("wasm-eager").options.wasmThreshold).toBe(1);
    expect(engineFromEnvironment("js-eager").options).toMatchObject({ wasm: false, hotThreshold: 1 });
  });

  test("an unknown name is refused with the value and the choices", () => {
    expect(() => engineFromEnvironment("fastest")).toThrow(
      /AXVISOR_EMULATED_TIER is "fastest".*wasm, js, interp, reference, wasm-eager, js-eager/,
    );
  });
});

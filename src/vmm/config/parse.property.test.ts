/**
 * Property tests: whatever text or structure arrives, parsing either yields a VmConfig or throws a ConfigError
 * with at least one issue, never anything else (no TypeError from a path we did not foresee).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import fc from "fast-check";
import { stringify } from "smol-toml";

import { ConfigError } from "./errors.ts";
import { parseVmConfig } from "./parse.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-config-prop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "k.bin"), new Uint8Array(0x1000));

/** Parses `text`; returns "ok" or "config-error", and lets any other exception fail the property. */
function outcome(text: string): "ok" | "config-error" {
  try {
    parseVmConfig(text, { baseDir: dir, sourceName: "prop.toml" });
    return "ok";
  } catch (error) {
    if (
      error instanceof ConfigError &&
      error.issues.length > 0 &&
      error.message.startsWith("Cannot load VM config prop.toml")
    ) {
      return "config-error";
    }
    throw error;
  }
}

// Pieces of TOML that make random text likely to get past the tokenizer and reach the schema.
const tokens = fc.constantFrom(
  "[base]\n",
  "[kernel]\n",
  "[devices]\n",
  "[[kernel.memory_regions]]\n",
  "[[devices.emu_devices]]\n",
  "id = 1\n",
  'name = "x"\n',
  "cpu_num = ",
  "phys_cpu_ids = [0, 1]\n",
  'kernel_path = "k.bin"\n',
  "kernel_load_addr = 0x8020_0000\n",
  "entry_point = ",
  "memory_regions = [[0x8000_0000, 0x100_0000, 7, 0]]\n",
  "memory_regions = [",
  "gpa = ",
  "size = ",
  'flags = "rwx"\n',
  'map_type = "identical"\n',
  'emu_devices = [["u", 0x1000_0000, 0x100, 10, 2, []]]\n',
  'interrupt_mode = "pt"\n',
  'console = "file:"\n',
  "0x1_0000_0000_0000_0000\n",
  "-1\n",
  "1.5\n",
  "1979-05-27T07:32:00Z\n",
  "inf\n",
  "true\n",
  "[",
  "]",
  "{",
  "}",
  ",",
  "=",
  '"',
  "\n",
  " ",
  "__proto__ = 1\n",
  "constructor = {}\n",
);

const tomlish = fc.oneof(
  fc.array(tokens, { maxLength: 40 }).map((parts) => parts.join("")),
  fc.string({ maxLength: 200 }),
  fc
    .tuple(fc.array(tokens, { maxLength: 20 }), fc.string({ maxLength: 20 }), fc.array(tokens, { maxLength: 20 }))
    .map(([a, s, b]) => a.join("") + s + b.join("")),
);

describe("parseVmConfig never throws anything but ConfigError", () => {
  test("random TOML-ish text", () => {
    fc.assert(
      fc.property(tomlish, (text) => {
        outcome(text);
      }),
      { numRuns: 1500 },
    );
  });

  // TOML values of every kind, including ones the schema does not expect.
  const anyValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.integer({ min: -5, max: 0x1_0000_0000 }),
      fc.constantFrom(0, 1, 2, 0x8000_0000, 0x8020_0000, 0x100_0000, 0xfff, Number.MAX_SAFE_INTEGER),
      fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constantFrom(
        "k.bin",
        "missing.bin",
        "rwx",
        "alloc",
        "identical",
        "console",
        "file:x",
        "emu",
        "",
        "riscv64",
        "virt-bare",
      ),
      fc.array(tie("value"), { maxLength: 6 }),
      fc.dictionary(
        fc.constantFrom("gpa", "size", "flags", "map_type", "name", "base_gpa", "length", "x"),
        tie("value"),
        {
          maxKeys: 4,
        },
      ),
    ),
  })).value;

  /** A valid document; the property mutates it at random paths so both outcomes occur. */
  const validDocument = (): Record<string, unknown> => ({
    base: { id: 1, name: "p", cpu_num: 1, phys_cpu_ids: [0] },
    kernel: {
      kernel_path: "k.bin",
      kernel_load_addr: 0x8020_0000,
      entry_point: 0x8020_0000,
      memory_regions: [[0x8000_0000, 0x100_0000, 7, 0]],
    },
    devices: {
      emu_devices: [["uart", 0x1000_0000, 0x100, 10, 2, []]],
      passthrough_addresses: [[0x2000_0000, 0x1000]],
      interrupt_mode: "emu",
    },
  });

  const DELETE = Symbol("delete");
  const paths: readonly (readonly (string | number)[])[] = [
    ["base", "id"],
    ["base", "name"],
    ["base", "cpu_num"],
    ["base", "phys_cpu_ids"],
    ["base", "phys_cpu_ids", 0],
    ["base", "arch"],
    ["base", "backend"],
    ["base", "machine"],
    ["base", "vm_type"],
    ["base", "unexpected"],
    ["kernel", "kernel_path"],
    ["kernel", "kernel_load_addr"],
    ["kernel", "entry_point"],
    ["kernel", "dtb_path"],
    ["kernel", "dtb_load_addr"],
    ["kernel", "ramdisk_path"],
    ["kernel", "ramdisk_load_addr"],
    ["kernel", "bios_path"],
    ["kernel", "timebase_frequency"],
    ["kernel", "memory_regions"],
    ["kernel", "memory_regions", 0],
    ["kernel", "memory_regions", 0, 1],
    ["kernel", "memory_regions", 1],
    ["devices", "emu_devices"],
    ["devices", "emu_devices", 0, 1],
    ["devices", "emu_devices", 0, 4],
    ["devices", "passthrough_devices"],
    ["devices", "passthrough_addresses", 0],
    ["devices", "excluded_devices"],
    ["devices", "console"],
    ["devices", "unmapped_mmio"],
    ["devices", "interrupt_mode"],
    ["devices"],
    ["kernel"],
  ];
  const plausible = fc.oneof(
    anyValue,
    fc.constantFrom(
      0,
      1,
      2,
      0x8000_0000,
      0x8040_0000,
      0x100_0000,
      "k.bin",
      "rw",
      "identical",
      "virtio-blk",
      "stdout",
      "emulated",
    ),
    fc.constant([0x8100_0000, 0x1000, 3, 1]),
    fc.constant({ gpa: 0x9000_0000, size: 0x1000, flags: "rw" }),
  );
  const mutation = fc.tuple(fc.constantFrom(...paths), fc.oneof(plausible, fc.constant<typeof DELETE>(DELETE)));

  function mutate(document: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
    let node: unknown = document;
    for (const segment of path.slice(0, -1)) {
      if (typeof node !== "object" || node === null) return;
      node = (node as Record<string | number, unknown>)[segment];
    }
    if (typeof node !== "object" || node === null) return;
    const last = path[path.length - 1];
    if (last === undefined) return;
    if (value === DELETE) delete (node as Record<string | number, unknown>)[last];
    else (node as Record<string | number, unknown>)[last] = value;
  }

  const structured = fc.array(mutation, { maxLength: 3 }).map((mutations) => {
    const document = validDocument();
    for (const [path, value] of mutations) mutate(document, path, value);
    return document;
  });

  test("random structured configs", () => {
    let parsed = 0;
    let rejected = 0;
    fc.assert(
      fc.property(structured, (document) => {
        let text: string;
        try {
          text = stringify(document);
        } catch {
          return; // smol-toml cannot write this value (e.g. a mixed array); not our input to judge
        }
        if (outcome(text) === "ok") parsed++;
        else rejected++;
      }),
      { numRuns: 1500 },
    );
    // Both outcomes must occur, or the generator is not testing what it claims to.
    expect(rejected).toBeGreaterThan(0);
    expect(parsed).toBeGreaterThan(0);
  });

  test("a valid structured config parses", () => {
    const text = stringify({
      base: { id: 1, name: "p", cpu_num: 1 },
      kernel: {
        kernel_path: "k.bin",
        kernel_load_addr: 0x8020_0000,
        memory_regions: [[0x8000_0000, 0x100_0000, 7, 0]],
      },
    });
    expect(outcome(text)).toBe("ok");
  });
});

/**
 * The shape of a VM config file: axvisor's `AxVMCrateConfig` TOML (repositories arceos-hypervisor/axvisor
 * `configs/vms/*.toml` and arceos-hypervisor/axvmconfig `src/lib.rs`), in both of its spellings:
 *
 * - positional arrays, as axvisor's own configs write them (serde reads a struct from a sequence):
 *   `memory_regions = [[0x8000_0000, 0x400_0000, 0x7, 0]]` is [gpa, size, flags, map_type];
 * - tables with named fields (`[[kernel.memory_regions]]` with `gpa = ...`), where flags and enumerations may also
 *   be written as words ("rwx", "identical", "virtio-blk").
 *
 * Every object is strict: an unknown key is an error naming it. Integers must be non-negative safe integers;
 * smol-toml hands bigger ones over as bigint (`integersAsBigInt: "asNeeded"`), which we reject by name. This
 * module checks shapes and single values only; relations between values (overlaps, RAM bounds, files) are checked
 * in `resolve.ts` and its section resolvers.
 */

import { z } from "zod";
import { hex } from "../../common/format.ts";
import { MappingFlags } from "../../hal/types.ts";
import type { ConfigIssue } from "./errors.ts";
import {
  EMULATED_DEVICE_TYPE_CODES,
  type EmulatedDeviceType,
  type InterruptMode,
  MEMORY_MAP_TYPE_CODES,
  type MemoryMapType,
  VM_TYPE_CODES,
  type VmType,
} from "./types.ts";

// ---------------------------------------------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------------------------------------------

/** How a TOML value is called in messages. */
function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return "a string";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "bigint") return "an integer";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a float";
  if (Array.isArray(value)) return "an array";
  // smol-toml's TomlDate extends Date.
  if (value instanceof Date) return "a date";
  if (typeof value === "object" && value !== null) return "a table";
  return typeof value;
}

function custom(ctx: z.RefinementCtx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: "custom", message });
  return z.NEVER;
}

/** A non-negative integer that is exactly representable (≤ 2^53 − 1): counts, ids, addresses, sizes. */
function uintValue(value: unknown, ctx: z.RefinementCtx): number {
  if (value === undefined) return custom(ctx, "required key is missing");
  if (typeof value === "bigint") {
    return custom(ctx, "is not a safe integer (the largest accepted value is 2^53 - 1)");
  }
  if (typeof value !== "number" || !Number.isInteger(value)) {
    return custom(ctx, `expected a non-negative integer, got ${describeValue(value)}`);
  }
  if (value < 0) return custom(ctx, "expected a non-negative integer");
  if (!Number.isSafeInteger(value))
    return custom(ctx, "is not a safe integer (the largest accepted value is 2^53 - 1)");
  return value;
}

const uint = z.unknown().transform(uintValue);

function stringValue(value: unknown, ctx: z.RefinementCtx): string {
  if (value === undefined) return custom(ctx, "required key is missing");
  if (typeof value !== "string") return custom(ctx, `expected a string, got ${describeValue(value)}`);
  return value;
}

const str = z.unknown().transform(stringValue);

const bool = z.unknown().transform((value, ctx): boolean => {
  if (value === undefined) return custom(ctx, "required key is missing");
  if (typeof value !== "boolean") return custom(ctx, `expected true or false, got ${describeValue(value)}`);
  return value;
});

/** A string that must be one of `names` (each name may have aliases); yields the canonical name. */
function wordOf<T extends string>(canonical: Readonly<Record<string, T>>): z.ZodType<T, unknown> {
  const accepted = Object.keys(canonical);
  return z.unknown().transform((value, ctx): T => {
    const text = stringValue(value, ctx);
    if (typeof text !== "string") return z.NEVER;
    const found = Object.hasOwn(canonical, text) ? canonical[text] : undefined;
    if (found === undefined) return custom(ctx, `expected one of ${accepted.map((a) => JSON.stringify(a)).join(", ")}`);
    return found;
  });
}

/** A value written either as a number code or as a word. */
function codeOrWord<T extends string>(
  codes: Readonly<Record<T, number>>,
  aliases: Readonly<Record<string, T>> = {},
): z.ZodType<T, unknown> {
  const words = Object.keys(codes) as T[];
  return z.unknown().transform((value, ctx): T => {
    if (typeof value === "string") {
      if (Object.hasOwn(codes, value)) return value as T;
      const alias = Object.hasOwn(aliases, value) ? aliases[value] : undefined;
      if (alias !== undefined) return alias;
      return custom(ctx, `expected one of ${words.map((w) => JSON.stringify(w)).join(", ")} (or its number)`);
    }
    const code = uintValue(value, ctx);
    if (typeof code !== "number") return z.NEVER;
    const word = words.find((w) => codes[w] === code);
    if (word === undefined) {
      const known = words.map((w) => `${hex(codes[w])} (${w})`).join(", ");
      return custom(ctx, `unknown code; expected one of ${known}`);
    }
    return word;
  });
}

/** Letters accepted in a flags string, with the `MappingFlags` bit each stands for. */
const FLAG_LETTERS: Readonly<Record<string, number>> = {
  r: MappingFlags.READ,
  w: MappingFlags.WRITE,
  x: MappingFlags.EXECUTE,
  u: MappingFlags.USER,
  d: MappingFlags.DEVICE,
  n: MappingFlags.UNCACHED,
};
const ALL_MAPPING_FLAGS = Object.values(MappingFlags).reduce((all, bit) => all | bit, 0);

/** Mapping flags: a number (axaddrspace `MappingFlags` bits) or letters such as "rwx" ("-" is a placeholder). */
const mappingFlags = z.unknown().transform((value, ctx): number => {
  if (typeof value === "string") {
    let bits = 0;
    for (const letter of value.toLowerCase()) {
      if (letter === "-") continue;
      const bit = FLAG_LETTERS[letter];
      if (bit === undefined) {
        return custom(
          ctx,
          `unknown flag letter ${JSON.stringify(letter)}; use r, w, x, u (user), d (device), n (uncached)`,
        );
      }
      bits |= bit;
    }
    return bits;
  }
  const bits = uintValue(value, ctx);
  if (typeof bits !== "number") return z.NEVER;
  if ((bits & ~ALL_MAPPING_FLAGS) !== 0 || bits > ALL_MAPPING_FLAGS) {
    return custom(ctx, `has bits that are not MappingFlags (known bits: ${hex(ALL_MAPPING_FLAGS)})`);
  }
  return bits;
});

const mapType = codeOrWord<MemoryMapType>(MEMORY_MAP_TYPE_CODES);

const vmType = codeOrWord<VmType>(VM_TYPE_CODES);

const emulatedDeviceType = codeOrWord<EmulatedDeviceType>(EMULATED_DEVICE_TYPE_CODES);

/** axvmconfig's serde names and aliases for `VMInterruptMode`, plus our spellings. */
const interruptMode = wordOf<InterruptMode>({
  no_irq: "none",
  no: "none",
  none: "none",
  emu: "emulated",
  emulated: "emulated",
  passthrough: "passthrough",
  pt: "passthrough",
});

const imageLocation = wordOf({ fs: "fs", memory: "memory" } as const);
const arch = wordOf({ riscv64: "riscv64", x86_64: "x86_64", aarch64: "aarch64" } as const);
const backend = wordOf({ auto: "auto", kvm: "kvm", hvf: "hvf", emulated: "emulated" } as const);
const machine = wordOf({ "virt-hypervisor": "virt-hypervisor", "virt-bare": "virt-bare" } as const);
const unmappedMmio = wordOf({ ignore: "ignore", fault: "fault" } as const);
const onReset = wordOf({ reboot: "reboot", stop: "stop" } as const);

/** `console = "stdout" | "none" | "file:<path>"`; the path is resolved later against the config's folder. */
type RawConsole =
  | { readonly kind: "stdout" }
  | { readonly kind: "none" }
  | { readonly kind: "file"; readonly path: string };
const consoleSpec = z.unknown().transform((value, ctx): RawConsole => {
  const text = stringValue(value, ctx);
  if (typeof text !== "string") return z.NEVER;
  if (text === "stdout") return { kind: "stdout" };
  if (text === "none") return { kind: "none" };
  if (text.startsWith("file:") && text.length > "file:".length)
    return { kind: "file", path: text.slice("file:".length) };
  return custom(ctx, `expected "stdout", "none" or "file:<path>"`);
});

// ---------------------------------------------------------------------------------------------------------------
// Records written positionally or as tables
// ---------------------------------------------------------------------------------------------------------------

/**
 * Field names of each positional form, in order. The same names are the keys of the table form. Used to build
 * both schemas and to name tuple elements in messages (`kernel.memory_regions[1][0] (gpa)`).
 */
const POSITIONAL_FIELDS = {
  memory_regions: ["gpa", "size", "flags", "map_type"],
  emu_devices: ["name", "base_gpa", "length", "irq_id", "emu_type", "cfg_list"],
  passthrough_devices: ["name", "base_gpa", "base_hpa", "length", "irq_id"],
  passthrough_addresses: ["base_gpa", "length"],
} as const;

const cfgList = z.array(uint);

interface RawMemoryRegion {
  readonly gpa: number;
  readonly size: number;
  readonly flags: number;
  readonly map_type: MemoryMapType;
}
const memoryRegion = z.union([
  z.tuple([uint, uint, mappingFlags, mapType]).transform(
    ([gpa, size, flags, map]): RawMemoryRegion => ({
      gpa,
      size,
      flags,
      map_type: map,
    }),
  ),
  z
    .strictObject({ gpa: uint, size: uint, flags: mappingFlags, map_type: mapType.optional() })
    .transform((r): RawMemoryRegion => ({ gpa: r.gpa, size: r.size, flags: r.flags, map_type: r.map_type ?? "alloc" })),
]);

interface RawEmulatedDevice {
  readonly name: string;
  readonly base_gpa: number;
  readonly length: number;
  readonly irq_id: number;
  readonly emu_type: EmulatedDeviceType;
  readonly cfg_list: readonly number[];
}
const emulatedDevice = z.union([
  z.tuple([str, uint, uint, uint, emulatedDeviceType, cfgList.optional()]).transform(
    ([name, base, length, irq, type, list]): RawEmulatedDevice => ({
      name,
      base_gpa: base,
      length,
      irq_id: irq,
      emu_type: type,
      cfg_list: list ?? [],
    }),
  ),
  z
    .strictObject({
      name: str,
      base_gpa: uint,
      length: uint,
      irq_id: uint.optional(),
      emu_type: emulatedDeviceType,
      cfg_list: cfgList.optional(),
    })
    .transform(
      (d): RawEmulatedDevice => ({
        name: d.name,
        base_gpa: d.base_gpa,
        length: d.length,
        irq_id: d.irq_id ?? 0,
        emu_type: d.emu_type,
        cfg_list: d.cfg_list ?? [],
      }),
    ),
]);

interface RawPassthroughDevice {
  readonly name: string;
  readonly base_gpa: number;
  readonly base_hpa: number;
  readonly length: number;
  readonly irq_id: number;
}
// axvmconfig marks every field but `name` `#[serde(default)]`, so trailing elements may be left out.
const passthroughDevice = z.union([
  z.tuple([str, uint.optional(), uint.optional(), uint.optional(), uint.optional()]).transform(
    ([name, gpa, hpa, length, irq]): RawPassthroughDevice => ({
      name,
      base_gpa: gpa ?? 0,
      base_hpa: hpa ?? 0,
      length: length ?? 0,
      irq_id: irq ?? 0,
    }),
  ),
  z
    .strictObject({
      name: str,
      base_gpa: uint.optional(),
      base_hpa: uint.optional(),
      length: uint.optional(),
      irq_id: uint.optional(),
    })
    .transform(
      (d): RawPassthroughDevice => ({
        name: d.name,
        base_gpa: d.base_gpa ?? 0,
        base_hpa: d.base_hpa ?? 0,
        length: d.length ?? 0,
        irq_id: d.irq_id ?? 0,
      }),
    ),
]);

interface RawPassthroughAddress {
  readonly base_gpa: number;
  readonly length: number;
}
const passthroughAddress = z.union([
  z.tuple([uint, uint]).transform(([base, length]): RawPassthroughAddress => ({ base_gpa: base, length })),
  z.strictObject({ base_gpa: uint, length: uint }),
]);

// ---------------------------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------------------------

/** `[[devices.disks]]`: one virtio-blk disk each (our addition; `kernel.disk_path` is a read-write first disk). */
const diskTable = z.strictObject({
  path: str,
  read_only: bool.optional(),
  serial: str.optional(),
});

/** `[[devices.nets]]`: one virtio-net device each, on a host TAP interface (our addition). */
const netTable = z.strictObject({
  tap: str,
  mac: str.optional(),
});

const baseSection = z.strictObject({
  id: uint,
  name: str,
  vm_type: vmType.optional(),
  cpu_num: uint,
  phys_cpu_ids: z.array(uint).optional(),
  phys_cpu_sets: z.array(uint).optional(),
  // Our additions.
  arch: arch.optional(),
  backend: backend.optional(),
  machine: machine.optional(),
  on_reset: onReset.optional(),
});

const kernelSection = z.strictObject({
  entry_point: uint.optional(),
  kernel_path: str,
  kernel_load_addr: uint.optional(),
  bios_path: str.optional(),
  bios_load_addr: uint.optional(),
  dtb_path: str.optional(),
  dtb_load_addr: uint.optional(),
  ramdisk_path: str.optional(),
  ramdisk_load_addr: uint.optional(),
  image_location: imageLocation.optional(),
  cmdline: str.optional(),
  disk_path: str.optional(),
  memory_regions: z.array(memoryRegion),
  // Our addition.
  timebase_frequency: uint.optional(),
});

const devicesSection = z.strictObject({
  emu_devices: z.array(emulatedDevice).optional(),
  passthrough_devices: z.array(passthroughDevice).optional(),
  passthrough_addresses: z.array(passthroughAddress).optional(),
  excluded_devices: z.array(z.array(str)).optional(),
  interrupt_mode: interruptMode.optional(),
  // Our additions.
  console: consoleSpec.optional(),
  unmapped_mmio: unmappedMmio.optional(),
  disks: z.array(diskTable).optional(),
  nets: z.array(netTable).optional(),
  /** The board's default virtio-rng device (riscv virt); false leaves it out. */
  rng: z.boolean().optional(),
});

export const vmConfigFileSchema = z.strictObject({
  base: baseSection,
  kernel: kernelSection,
  devices: devicesSection.optional(),
});

export type RawVmConfig = z.output<typeof vmConfigFileSchema>;

// ---------------------------------------------------------------------------------------------------------------
// zod issues → ConfigIssues
// ---------------------------------------------------------------------------------------------------------------

type PathSegment = PropertyKey;

/** `["kernel", "memory_regions", 1, "gpa"]` → `kernel.memory_regions[1].gpa`, naming positional elements. */
function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    if (typeof segment === "number") {
      out += `[${segment}]`;
      const fields = positionalFieldsFor(path.slice(0, i));
      const next = path[i + 1];
      // The element after a record index is a tuple position when the record was written as an array.
      if (fields !== undefined && typeof next === "number" && i + 2 === path.length) {
        const name = fields[next];
        out += `[${next}]${name === undefined ? "" : ` (${name})`}`;
        return out;
      }
    } else {
      const text = String(segment);
      const key = /^[A-Za-z0-9_-]+$/.test(text) ? text : JSON.stringify(text);
      out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}

function positionalFieldsFor(collectionPath: readonly PathSegment[]): readonly string[] | undefined {
  const last = collectionPath[collectionPath.length - 1];
  if (typeof last !== "string" || !Object.hasOwn(POSITIONAL_FIELDS, last)) return undefined;
  return POSITIONAL_FIELDS[last as keyof typeof POSITIONAL_FIELDS];
}

/** The value at `path` inside the raw TOML document, or undefined. */
function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let node: unknown = root;
  for (const segment of path) {
    if (Array.isArray(node) && typeof segment === "number") node = node[segment];
    else if (typeof node === "object" && node !== null && typeof segment === "string" && Object.hasOwn(node, segment)) {
      node = (node as Record<string, unknown>)[segment];
    } else return undefined;
  }
  return node;
}

/** Keys whose numbers are addresses, sizes or bit masks: shown in hex. */
const HEX_KEY = /addr|gpa|hpa|size|length|entry|flags|sets|type/;

function keyForValue(path: readonly PathSegment[]): string | undefined {
  const last = path[path.length - 1];
  if (typeof last === "string") return last;
  if (typeof last === "number") {
    const fields = positionalFieldsFor(path.slice(0, -2));
    if (fields !== undefined) return fields[last];
    const parent = path[path.length - 2];
    if (typeof parent === "string") return parent;
  }
  return undefined;
}

/** The value as the user should see it: strings quoted, addresses in hex, long arrays shortened. */
function formatValue(
  value: unknown,
  key: string | undefined,
  fields: readonly string[] | undefined = undefined,
): string | undefined {
  if (value === undefined) return undefined;
  const asHex = key !== undefined && HEX_KEY.test(key);
  if (typeof value === "bigint") return asHex ? hex(value) : value.toString();
  if (typeof value === "number") return asHex && Number.isInteger(value) && value >= 0 ? hex(value) : String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    // A positional record's elements are formatted by their field names ([gpa, size, ...] in hex).
    const shown = value.slice(0, 6).map((v, i) => formatValue(v, fields?.[i] ?? key) ?? "?");
    return `[${shown.join(", ")}${value.length > 6 ? ", ..." : ""}]`;
  }
  if (describeValue(value) === "a date") return String(value);
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value);
    return `{ ${keys.slice(0, 6).join(", ")}${keys.length > 6 ? ", ..." : ""} }`;
  }
  return String(value);
}

function issueAt(root: unknown, path: readonly PathSegment[], problem: string): ConfigIssue {
  const fields = typeof path[path.length - 1] === "number" ? positionalFieldsFor(path.slice(0, -1)) : undefined;
  return { path: formatPath(path), value: formatValue(valueAt(root, path), keyForValue(path), fields), problem };
}

const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  tuple: "an array",
  array: "an array",
  object: "a table",
  string: "a string",
  number: "a number",
};

function expectedForm(collectionPath: readonly PathSegment[]): string | undefined {
  const fields = positionalFieldsFor(collectionPath);
  return fields === undefined ? undefined : `[${fields.join(", ")}] or a table with those keys`;
}

/** Turn zod's issues into ours, resolving unions to the branch that matches the value's form. */
export function configIssuesFromZod(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  base: readonly PathSegment[] = [],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) out.push(issueAt(root, [...path, key], "unknown key"));
        break;
      case "invalid_union": {
        // A branch that failed only because the value has the other form (array vs table) is not interesting.
        const relevant = issue.errors.filter(
          (branch) => !(branch.length === 1 && branch[0]?.code === "invalid_type" && branch[0].path.length === 0),
        );
        if (relevant.length === 0) {
          const value = valueAt(root, path);
          const form = expectedForm(path.slice(0, -1)) ?? "another form";
          out.push(issueAt(root, path, `expected ${form}, got ${describeValue(value)}`));
        } else {
          for (const branch of relevant) out.push(...configIssuesFromZod(branch, root, path));
        }
        break;
      }
      case "invalid_type": {
        const value = valueAt(root, path);
        const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
        const problem =
          value === undefined ? "required key is missing" : `expected ${expected}, got ${describeValue(value)}`;
        out.push(issueAt(root, path, problem));
        break;
      }
      case "too_small":
      case "too_big": {
        const fields = positionalFieldsFor(path.slice(0, -1));
        const value = valueAt(root, path);
        if (fields !== undefined && Array.isArray(value)) {
          out.push(issueAt(root, path, `expected [${fields.join(", ")}], got ${value.length} element(s)`));
        } else out.push(issueAt(root, path, issue.message));
        break;
      }
      default:
        out.push(issueAt(root, path, issue.message));
    }
  }
  return out;
}

#!/usr/bin/env bun
/**
 * Checks the layer rules of docs/ARCHITECTURE.md on every `src/**\/*.ts` file:
 *
 *   cli → vmm → {vcpu, devices, addrspace} → hal
 *
 * - `cli` may import anything under src; `vmm` anything but `cli`.
 * - `vcpu`, `devices`, `addrspace` may import their own folder and, from hal, only `src/hal/types.ts` (whether the
 *   import is type-only or not); never each other, `vmm` or `cli`.
 * - `src/hal/types.ts` imports nothing from src but `src/arch`; `src/hal/<backend>/**` imports `src/hal/types.ts`
 *   and its own folder only. Inside a backend, its generic files (directly in `src/hal/<backend>/`) reach a
 *   per-guest-arch folder (`src/hal/<backend>/<arch>/`, arch one of riscv64, x86_64, aarch64) only through the
 *   backend's arch table, `src/hal/<backend>/arches.ts`; one arch folder never imports another.
 * - `src/arch/<arch>/**` (pure architectural facts) and `src/common/**` (pure helpers: number formatting, ranges)
 *   import nothing but their own folder; every layer may import them.
 * - `src/vmm/boards/<board>/**` takes from the HAL only `src/hal/types.ts` (never a backend) and imports no other
 *   board's folder.
 * - `bun:ffi` is imported only by `src/hal/<backend>/sys.ts`; nothing under src imports `native/`.
 * - Code under src does not import `test/` (unit tests beside the code may), nor anything else outside src.
 *
 * Every form of import counts: `import ... from`, `import type`, `export ... from`, `import "x"`, and `import("x")`
 * (also in type positions). A dynamic import whose specifier is not a string literal cannot be checked and is
 * reported. Usage: `bun scripts/lint-imports.ts [root]` (root defaults to this repository). Exit status 1 with one
 * line per violation, `file:line: X may not import Y (rule)`.
 */

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

export interface ImportRef {
  /** The specifier as written, or undefined for a dynamic import with a computed specifier. */
  readonly specifier: string | undefined;
  readonly line: number;
  readonly kind: "static" | "export-from" | "dynamic";
}

export interface Violation {
  /** Path relative to the root, with forward slashes. */
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface LintResult {
  readonly files: number;
  readonly imports: number;
  readonly violations: readonly Violation[];
}

// ---------------------------------------------------------------------------------------------------------------
// Scanning: a small TypeScript tokenizer that knows comments, strings, templates and regex literals well enough
// to find import specifiers with their line numbers, without being fooled by "import" inside strings or comments.
// ---------------------------------------------------------------------------------------------------------------

type Token =
  | { readonly type: "word"; readonly text: string; readonly line: number }
  | { readonly type: "punct"; readonly text: string; readonly line: number }
  | { readonly type: "string"; readonly text: string; readonly line: number }
  | { readonly type: "template"; readonly line: number };

const WORD_START = /[A-Za-z_$\u00a0-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u00a0-\uffff]/;
/** After these tokens a `/` starts a regex literal, not a division. */
const REGEX_AFTER_PUNCT = new Set([
  "(",
  ",",
  "=",
  ":",
  "[",
  "!",
  "&",
  "|",
  "?",
  "{",
  "}",
  ";",
  "+",
  "-",
  "*",
  "%",
  "<",
  ">",
  "~",
  "^",
  "=>",
]);
const REGEX_AFTER_WORD = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  // A leading "#!" line (hashbang) is not code.
  let i = source.startsWith("#!") ? Math.max(source.indexOf("\n"), 0) : 0;
  if (source.startsWith("#!") && i === 0) i = source.length;
  let line = 1;
  // Brace depth of each open template `${`, so that `}` resumes the template.
  const templateStack: number[] = [];
  let braceDepth = 0;

  const regexAllowed = (): boolean => {
    const last = tokens[tokens.length - 1];
    if (last === undefined) return true;
    if (last.type === "punct") return REGEX_AFTER_PUNCT.has(last.text);
    if (last.type === "word") return REGEX_AFTER_WORD.has(last.text);
    return false;
  };

  /** Skip a template literal body starting after "`" or "}"; returns true if it stopped at "${". */
  const templateBody = (): boolean => {
    while (i < source.length) {
      const ch = source[i];
      if (ch === "\\") {
        if (source[i + 1] === "\n") line++;
        i += 2;
        continue;
      }
      if (ch === "`") {
        i++;
        return false;
      }
      if (ch === "$" && source[i + 1] === "{") {
        i += 2;
        return true;
      }
      if (ch === "\n") line++;
      i++;
    }
    return false;
  };

  while (i < source.length) {
    const ch = source[i] ?? "";
    const next = source[i + 1] ?? "";
    if (ch === "\n") {
      line++;
      i++;
    } else if (ch === " " || ch === "\t" || ch === "\r" || ch === "\f" || ch === "\v") {
      i++;
    } else if (ch === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (ch === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      for (let j = i; j < stop; j++) if (source[j] === "\n") line++;
      i = stop;
    } else if (ch === '"' || ch === "'") {
      const startLine = line;
      let text = "";
      i++;
      while (i < source.length && source[i] !== ch && source[i] !== "\n") {
        if (source[i] === "\\") {
          text += source[i + 1] ?? "";
          if (source[i + 1] === "\n") line++;
          i += 2;
        } else text += source[i++];
      }
      i++;
      tokens.push({ type: "string", text, line: startLine });
    } else if (ch === "`") {
      tokens.push({ type: "template", line });
      i++;
      if (templateBody()) templateStack.push(braceDepth);
    } else if (ch === "}" && templateStack.length > 0 && templateStack[templateStack.length - 1] === braceDepth) {
      templateStack.pop();
      if (templateBody()) templateStack.push(braceDepth);
    } else if (ch === "/" && regexAllowed()) {
      i++;
      let inClass = false;
      while (i < source.length && source[i] !== "\n") {
        const c = source[i];
        if (c === "\\") i += 2;
        else {
          i++;
          if (c === "[") inClass = true;
          else if (c === "]") inClass = false;
          else if (c === "/" && !inClass) break;
        }
      }
      while (i < source.length && WORD_PART.test(source[i] ?? "")) i++; // flags
      tokens.push({ type: "punct", text: "regex", line });
    } else if (WORD_START.test(ch)) {
      let j = i + 1;
      while (j < source.length && WORD_PART.test(source[j] ?? "")) j++;
      tokens.push({ type: "word", text: source.slice(i, j), line });
      i = j;
    } else if (/[0-9]/.test(ch)) {
      let j = i + 1;
      while (j < source.length && /[0-9A-Za-z_.]/.test(source[j] ?? "")) j++;
      tokens.push({ type: "punct", text: "number", line });
      i = j;
    } else {
      const two = ch + next;
      const text = two === "=>" || two === "?." ? two : ch;
      if (text === "{") braceDepth++;
      if (text === "}") braceDepth--;
      tokens.push({ type: "punct", text, line });
      i += text.length;
    }
  }
  return tokens;
}

/** Every import, re-export and dynamic import in `source`, with the line it starts on. */
export function scanImports(source: string): ImportRef[] {
  const tokens = tokenize(source);
  const refs: ImportRef[] = [];
  const at = (k: number): Token | undefined => tokens[k];
  const isPunct = (t: Token | undefined, text: string): boolean => t?.type === "punct" && t.text === text;
  const isWord = (t: Token | undefined, text: string): boolean => t?.type === "word" && t.text === text;

  /** From token k, find `from "x"` before the statement ends; returns the string token or undefined. */
  const fromClause = (k: number): Token | undefined => {
    let depth = 0;
    for (let j = k; j < tokens.length; j++) {
      const t = tokens[j];
      if (t === undefined) return undefined;
      if (t.type === "punct" && t.text === "{") depth++;
      else if (t.type === "punct" && t.text === "}") depth--;
      else if (depth === 0 && t.type === "punct" && (t.text === ";" || t.text === "=" || t.text === "("))
        return undefined;
      // A statement without a semicolon ends where the next import/export begins.
      else if (depth === 0 && j > k && t.type === "word" && (t.text === "import" || t.text === "export"))
        return undefined;
      else if (depth === 0 && t.type === "word" && t.text === "from" && at(j + 1)?.type === "string") return at(j + 1);
      else if (depth === 0 && t.type === "string") return undefined;
    }
    return undefined;
  };

  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k];
    if (token === undefined || token.type !== "word") continue;
    const previous = at(k - 1);
    // `obj.import`, `obj?.import` and `{ import: ... }` are property names, not imports.
    if (isPunct(previous, ".") || isPunct(previous, "?.") || isPunct(at(k + 1), ":")) continue;
    if (token.text === "import") {
      const next = at(k + 1);
      if (isPunct(next, "(")) {
        const argument = at(k + 2);
        const closes = isPunct(at(k + 3), ")") || isPunct(at(k + 3), ",");
        refs.push({
          specifier: argument?.type === "string" && closes ? argument.text : undefined,
          line: token.line,
          kind: "dynamic",
        });
      } else if (isPunct(next, ".")) {
      } else if (next?.type === "string") {
        refs.push({ specifier: next.text, line: token.line, kind: "static" });
      } else {
        const specifier = fromClause(k + 1);
        if (specifier?.type === "string") refs.push({ specifier: specifier.text, line: token.line, kind: "static" });
      }
    } else if (token.text === "export") {
      const next = at(k + 1);
      const afterType = isWord(next, "type") ? at(k + 2) : next;
      if (isPunct(afterType, "*") || isPunct(afterType, "{")) {
        const specifier = fromClause(k + 1);
        if (specifier?.type === "string")
          refs.push({ specifier: specifier.text, line: token.line, kind: "export-from" });
      }
    }
  }
  return refs;
}

// ---------------------------------------------------------------------------------------------------------------
// Layers and rules
// ---------------------------------------------------------------------------------------------------------------

/** Guest architectures: the folder names of `src/arch/` and of a backend's per-arch code. */
const ARCH_FOLDERS = new Set(["riscv64", "x86_64", "aarch64"]);

type Place =
  | { readonly layer: "cli" | "vmm" | "vcpu" | "devices" | "addrspace" | "hal-types" }
  | { readonly layer: "arch"; readonly arch: string }
  | { readonly layer: "common" }
  | { readonly layer: "hal-backend"; readonly backend: string }
  | { readonly layer: "hal-other" } // a file directly in src/hal other than types.ts
  | { readonly layer: "src-other"; readonly folder: string }
  | { readonly layer: "native" | "test" | "outside" };

/** Where a root-relative path (forward slashes) sits in the layer map. */
export function placeOf(path: string): Place {
  const parts = path.split("/");
  if (parts[0] === "native") return { layer: "native" };
  if (parts[0] === "test") return { layer: "test" };
  if (parts[0] !== "src" || parts.length < 2) return { layer: "outside" };
  const folder = parts[1] ?? "";
  switch (folder) {
    case "cli":
    case "vmm":
    case "vcpu":
    case "devices":
    case "addrspace":
      return { layer: folder };
    case "common":
      return { layer: "common" };
    case "arch":
      return { layer: "arch", arch: parts[2] ?? "" };
    case "hal":
      if (parts.length === 3) return parts[2] === "types.ts" ? { layer: "hal-types" } : { layer: "hal-other" };
      return { layer: "hal-backend", backend: parts[2] ?? "" };
    default:
      return { layer: "src-other", folder };
  }
}

function layerName(place: Place): string {
  switch (place.layer) {
    case "hal-backend":
      return `hal/${place.backend}`;
    case "hal-types":
      return "hal/types.ts";
    case "src-other":
      return `src/${place.folder}`;
    case "arch":
      return `arch/${place.arch}`;
    default:
      return place.layer;
  }
}

const MIDDLE_LAYERS = new Set(["vcpu", "devices", "addrspace"]);

/** Why `from` may not import `target` (both root-relative), or undefined if it may. */
export function ruleBroken(from: string, target: string): string | undefined {
  const source = placeOf(from);
  const dest = placeOf(target);
  const isTest = from.endsWith(".test.ts");
  if (dest.layer === "native")
    return "nothing under src imports native/; native code is reached through a backend's sys.ts";
  if (dest.layer === "test") return isTest ? undefined : "only tests import test/";
  if (dest.layer === "outside") return "src imports only src (and packages)";
  if (source.layer === "src-other") return `src/${source.folder} is not a layer of docs/ARCHITECTURE.md`;
  if (dest.layer === "src-other") return `src/${dest.folder} is not a layer of docs/ARCHITECTURE.md`;
  if (dest.layer === "hal-other") return "src/hal holds only types.ts and one folder per backend";
  if (source.layer === "arch") {
    if (dest.layer === "arch" && dest.arch === source.arch) return undefined;
    return `arch/${source.arch} holds pure architectural facts and imports nothing but its own folder`;
  }
  if (source.layer === "common") {
    return dest.layer === "common" ? undefined : "src/common holds pure helpers and imports nothing but its own folder";
  }
  if (dest.layer === "arch") return ARCH_FOLDERS.has(dest.arch) ? undefined : `src/arch/${dest.arch} is not an arch`;
  if (dest.layer === "common") return undefined;
  const board = boardOf(from);
  if (board !== undefined) {
    if (dest.layer === "hal-backend") return "a board takes from the HAL only hal/types.ts, never a backend";
    const other = boardOf(target);
    if (other !== undefined && other !== board) return `a board imports no other board (${board} → ${other})`;
  }

  switch (source.layer) {
    case "cli":
      return undefined;
    case "vmm":
      return dest.layer === "cli" ? "vmm → vcpu, devices, addrspace, hal; never cli" : undefined;
    case "vcpu":
    case "devices":
    case "addrspace":
      if (dest.layer === source.layer || dest.layer === "hal-types") return undefined;
      if (dest.layer === "hal-backend") return `${source.layer} → hal/types.ts only, never a backend`;
      if (MIDDLE_LAYERS.has(dest.layer)) return `${source.layer} → its own folder and hal/types.ts; not ${dest.layer}`;
      return `${source.layer} → its own folder and hal/types.ts; dependencies point down only`;
    case "hal-types":
      return "hal/types.ts is the bottom of the graph and imports nothing from src";
    case "hal-backend": {
      if (dest.layer === "hal-types") return undefined;
      if (dest.layer !== "hal-backend" || dest.backend !== source.backend) {
        return `hal/${source.backend} → hal/types.ts and its own folder only`;
      }
      const fromArch = backendArchOf(from);
      const toArch = backendArchOf(target);
      if (toArch === undefined || toArch === fromArch) return undefined;
      if (fromArch !== undefined) return `hal/${source.backend}/${fromArch} imports no other arch folder (${toArch})`;
      if (from === `src/hal/${source.backend}/arches.ts`) return undefined;
      return `hal/${source.backend}'s generic files reach hal/${source.backend}/${toArch} only through hal/${source.backend}/arches.ts`;
    }
    case "hal-other":
      return "src/hal holds only types.ts and one folder per backend";
    default:
      return undefined;
  }
}

/** The board folder of `src/vmm/boards/<board>/...`, or undefined. */
function boardOf(path: string): string | undefined {
  const parts = path.split("/");
  return parts[0] === "src" && parts[1] === "vmm" && parts[2] === "boards" && parts.length > 4 ? parts[3] : undefined;
}

/** The per-guest-arch folder of `src/hal/<backend>/<arch>/...`, or undefined for a backend's generic files. */
function backendArchOf(path: string): string | undefined {
  const parts = path.split("/");
  const folder = parts[3];
  return parts[1] === "hal" && parts.length > 4 && folder !== undefined && ARCH_FOLDERS.has(folder)
    ? folder
    : undefined;
}

/** `bun:ffi` is allowed only in `src/hal/<backend>/sys.ts`. */
function ffiAllowed(from: string): boolean {
  return /^src\/hal\/[^/]+\/sys\.ts$/.test(from);
}

// ---------------------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------------------

function listTs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(path));
    else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

function toPosix(path: string): string {
  return path.split(sep).join("/");
}

/** Resolve a relative specifier to a root-relative path, trying the extensions TypeScript would. */
function resolveRelative(root: string, fromFile: string, specifier: string): string {
  const base = resolve(dirname(fromFile), specifier);
  const candidates = [base, `${base}.ts`, join(base, "index.ts")];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? base;
  return toPosix(relative(root, found));
}

export function lintImports(root: string): LintResult {
  const files = listTs(join(root, "src"));
  const violations: Violation[] = [];
  let imports = 0;
  for (const file of files) {
    const from = toPosix(relative(root, file));
    const who = layerName(placeOf(from));
    for (const ref of scanImports(readFileSync(file, "utf8"))) {
      imports++;
      const report = (what: string, rule: string): void => {
        violations.push({ file: from, line: ref.line, message: `${who} may not import ${what} (${rule})` });
      };
      const specifier = ref.specifier;
      if (specifier === undefined) {
        report("a computed specifier", "dynamic imports need a string literal so the layer rules can be checked");
        continue;
      }
      if (specifier === "bun:ffi") {
        if (!ffiAllowed(from)) report("bun:ffi", "bun:ffi only in src/hal/<backend>/sys.ts");
        continue;
      }
      if (!specifier.startsWith(".") && !specifier.startsWith("/")) continue; // packages, node:, bun:
      const target = specifier.startsWith("/")
        ? toPosix(relative(root, specifier))
        : resolveRelative(root, file, specifier);
      const rule = ruleBroken(from, target);
      if (rule !== undefined) report(target, rule);
    }
  }
  return { files: files.length, imports, violations };
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line}: ${v.message}`;
}

if (import.meta.main) {
  const root = resolve(process.argv[2] ?? join(import.meta.dir, ".."));
  const result = lintImports(root);
  if (result.violations.length > 0) {
    for (const v of result.violations) console.error(formatViolation(v));
    console.error(
      `lint-imports: ${result.violations.length} violation(s) in ${result.files} files (see docs/ARCHITECTURE.md, "Layers")`,
    );
    process.exit(1);
  }
  console.log(`lint-imports: ${result.files} files, ${result.imports} imports, layer rules hold`);
}

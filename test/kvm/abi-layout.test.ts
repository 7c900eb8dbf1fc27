/**
 * Compares the KVM ABI as the backend declares it (the generic src/hal/kvm/abi.ts plus the host arch's part, e.g.
 * src/hal/kvm/x86_64/abi.ts, found through the arch table) with the host's <linux/kvm.h>: native/kvm-abi-dump.c is
 * compiled with gcc at test time and prints every size, offset and number; each must match a declaration, and each
 * printed item must be declared (so neither side can drift silently).
 */
import { expect } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KVM_GENERIC_ABI, type KvmAbi } from "../../src/hal/kvm/abi.ts";
import { kvmArchForHost } from "../../src/hal/kvm/arches.ts";
import { type Requirement, testIf } from "../support/skip.ts";

const ROOT = join(import.meta.dir, "..", "..");
const DUMP_SOURCE = join(ROOT, "native", "kvm-abi-dump.c");
const KVM_HEADER = "/usr/include/linux/kvm.h";

function compilerAndHeader(): Requirement {
  const gcc = Bun.which("gcc");
  if (gcc === null) return { available: false, reason: "gcc is not installed (not on PATH)" };
  if (!existsSync(KVM_HEADER)) return { available: false, reason: `${KVM_HEADER} is missing (install linux-libc-dev)` };
  if (kvmArchForHost(process.arch) === undefined)
    return { available: false, reason: `the KVM backend has no arch module for ${process.arch} hosts` };
  return { available: true, reason: `gcc at ${gcc}` };
}

/** Compile and run the dump; returns "size kvm_regs" / "offset kvm_regs.rax" / "const KVM_RUN" -> value. */
function runDump(): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), "kvm-abi-"));
  try {
    const exe = join(dir, "kvm-abi-dump");
    const cc = Bun.spawnSync(["gcc", "-Wall", "-Werror", "-o", exe, DUMP_SOURCE]);
    if (cc.exitCode !== 0) throw new Error(`Cannot compile ${DUMP_SOURCE}: ${cc.stderr.toString()}`);
    const run = Bun.spawnSync([exe]);
    if (run.exitCode !== 0) throw new Error(`kvm-abi-dump exited with ${run.exitCode}`);
    const items = new Map<string, number>();
    for (const line of run.stdout.toString().split("\n")) {
      if (line === "") continue;
      const [kind, name, value] = line.split(" ");
      if (kind === undefined || name === undefined || value === undefined) throw new Error(`Bad dump line "${line}"`);
      items.set(`${kind} ${name}`, Number(value));
    }
    return items;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same items as the generic ABI and the host arch's declare them. */
function declared(): Map<string, number> {
  const arch = kvmArchForHost(process.arch);
  if (arch === undefined) throw new Error(`The KVM backend has no arch module for ${process.arch}`);
  const items = new Map<string, number>();
  const add = (abi: KvmAbi): void => {
    for (const layout of abi.layouts) {
      items.set(`size ${layout.name}`, layout.size);
      for (const [field, spec] of Object.entries(layout.fields))
        items.set(`offset ${layout.name}.${field}`, spec.offset);
    }
    for (const ioctl of abi.ioctls) items.set(`const ${ioctl.name}`, ioctl.request);
    for (const [name, value] of Object.entries(abi.constants)) items.set(`const ${name}`, value);
  };
  add(KVM_GENERIC_ABI);
  add(arch.abi);
  return items;
}

testIf(compilerAndHeader(), "kvm abi layout vs <linux/kvm.h>")(
  "the declared KVM ABI matches <linux/kvm.h> item for item",
  () => {
    const host = runDump();
    const ours = declared();
    expect(host.size).toBeGreaterThan(150);
    const mismatches: string[] = [];
    for (const [key, value] of ours) {
      const hostValue = host.get(key);
      if (hostValue === undefined) mismatches.push(`${key}: declared (${value}) but not printed by the dump`);
      else if (hostValue !== value) mismatches.push(`${key}: declared as ${value}, <linux/kvm.h> says ${hostValue}`);
    }
    for (const key of host.keys()) if (!ours.has(key)) mismatches.push(`${key}: printed by the dump but not declared`);
    expect(mismatches).toEqual([]);
  },
);

/**
 * Compares the KVM ABI as the backend declares it (the generic src/hal/kvm/abi.ts plus each arch's part, e.g.
 * src/hal/kvm/x86_64/abi.ts and src/hal/kvm/aarch64/abi.ts, found through the arch table) with <linux/kvm.h>:
 * native/kvm-abi-dump.c is compiled at test time for every architecture the backend has, with the host's gcc for
 * the host's own and with the Debian cross compiler (x86_64-linux-gnu-gcc, aarch64-linux-gnu-gcc, which bring
 * that architecture's kernel headers) for the others. Every item is a compile-time constant that the object file
 * carries as an absolute symbol, read back with nm: nothing is run, so no machine or emulator of that architecture
 * is needed. Each item must match a declaration, and each declared item must be emitted (neither side can drift).
 */
import { expect } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KVM_GENERIC_ABI, type KvmAbi } from "../../src/hal/kvm/abi.ts";
import { KVM_ARCHES } from "../../src/hal/kvm/arches.ts";
import type { KvmArch } from "../../src/hal/kvm/per-arch.ts";
import { type Requirement, testIf } from "../support/skip.ts";

const ROOT = join(import.meta.dir, "..", "..");
const DUMP_SOURCE = join(ROOT, "native", "kvm-abi-dump.c");

/** How to build for one architecture: the compiler, its nm, and the kernel header it compiles against. */
interface Toolchain {
  readonly cc: string;
  readonly nm: string;
  readonly header: string;
  /** The Debian packages that provide it, for the skip message. */
  readonly packages: string;
}

/** The host's gcc for its own architecture, the Debian cross toolchain for another. */
function toolchainFor(hostArch: string, target: NodeJS.Architecture): Toolchain | undefined {
  if (target === hostArch) {
    return { cc: "gcc", nm: "nm", header: "/usr/include/linux/kvm.h", packages: "gcc linux-libc-dev" };
  }
  const triplet = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" }[target as string];
  if (triplet === undefined) return undefined;
  return {
    cc: `${triplet}-gcc`,
    nm: `${triplet}-nm`,
    header: `/usr/${triplet}/include/linux/kvm.h`,
    packages: `gcc-${triplet}${target === "arm64" ? " linux-libc-dev-arm64-cross" : ""}`,
  };
}

function requirement(toolchain: Toolchain | undefined): Requirement {
  if (toolchain === undefined) return { available: false, reason: "no known compiler for that architecture" };
  for (const tool of [toolchain.cc, toolchain.nm]) {
    if (Bun.which(tool) === null)
      return { available: false, reason: `${tool} is not installed (Debian: ${toolchain.packages})` };
  }
  if (!existsSync(toolchain.header))
    return { available: false, reason: `${toolchain.header} is missing (Debian: ${toolchain.packages})` };
  return { available: true, reason: `${toolchain.cc}` };
}

/** Compile the dump for one architecture; returns "size kvm_regs" / "offset kvm_regs.rax" / "const KVM_RUN" -> value. */
function emittedItems(toolchain: Toolchain): Map<string, bigint> {
  const dir = mkdtempSync(join(tmpdir(), "kvm-abi-"));
  try {
    const object = join(dir, "kvm-abi-dump.o");
    const cc = Bun.spawnSync([toolchain.cc, "-Wall", "-Werror", "-c", "-o", object, DUMP_SOURCE]);
    if (cc.exitCode !== 0) throw new Error(`Cannot compile ${DUMP_SOURCE} with ${toolchain.cc}: ${cc.stderr}`);
    const nm = Bun.spawnSync([toolchain.nm, object]);
    if (nm.exitCode !== 0) throw new Error(`${toolchain.nm} failed on ${object}: ${nm.stderr}`);
    const items = new Map<string, bigint>();
    for (const line of nm.stdout.toString().split("\n")) {
      // "<hex value> A <kind> <name>": only the absolute symbols are items (the functions that hold them are not).
      const match = /^([0-9a-f]+) A (size|offset|const|regid) (\S+)$/.exec(line);
      if (match === null) continue;
      const [, value, kind, name] = match;
      items.set(`${kind} ${name}`, BigInt(`0x${value}`));
    }
    return items;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same items as the generic ABI and one arch's declare them. */
function declared(arch: KvmArch): Map<string, bigint> {
  const items = new Map<string, bigint>();
  const add = (abi: KvmAbi): void => {
    for (const layout of abi.layouts) {
      items.set(`size ${layout.name}`, BigInt(layout.size));
      for (const [field, spec] of Object.entries(layout.fields))
        items.set(`offset ${layout.name}.${field}`, BigInt(spec.offset));
    }
    for (const ioctl of abi.ioctls) items.set(`const ${ioctl.name}`, BigInt(ioctl.request));
    for (const [name, value] of Object.entries(abi.constants)) items.set(`const ${name}`, BigInt(value));
    for (const [name, value] of Object.entries(abi.registerIds ?? {})) items.set(`regid ${name}`, value);
  };
  add(KVM_GENERIC_ABI);
  add(arch.abi);
  return items;
}

for (const [target, arch] of Object.entries(KVM_ARCHES) as [NodeJS.Architecture, KvmArch][]) {
  const toolchain = toolchainFor(process.arch, target);
  testIf(requirement(toolchain), `kvm abi layout (${arch.guestArch}) vs <linux/kvm.h>`)(
    `the declared ${arch.guestArch} KVM ABI matches <linux/kvm.h> item for item`,
    () => {
      if (toolchain === undefined) throw new Error(`no toolchain for ${target}`);
      const emitted = emittedItems(toolchain);
      const ours = declared(arch);
      expect(emitted.size).toBeGreaterThan(100);
      const mismatches: string[] = [];
      for (const [key, value] of ours) {
        const cValue = emitted.get(key);
        if (cValue === undefined) mismatches.push(`${key}: declared (${value}) but not emitted by the dump`);
        else if (cValue !== value) mismatches.push(`${key}: declared as ${value}, <linux/kvm.h> says ${cValue}`);
      }
      for (const key of emitted.keys())
        if (!ours.has(key)) mismatches.push(`${key}: emitted by the dump but not declared`);
      expect(mismatches).toEqual([]);
    },
  );
}

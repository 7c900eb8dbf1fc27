/**
 * Network interfaces: our `[[devices.nets]]` tables (tap, mac). Checked here as the run would use them: a name the
 * kernel accepts for an interface (src/hal/host/tap.ts's rule), one net per TAP (a TAP without multi_queue takes one
 * attachment: the second would be refused), and a unicast MAC address. Without `mac`, a stable default is derived
 * from the VM id and the net's index (`defaultMac`), so a guest keeps its address across runs. Whether the TAP can
 * be created or attached is only known when the builder opens it (it depends on who runs us, and when).
 */

import { interfaceNameProblem } from "../../hal/host/tap.ts";
import type { ResolveContext } from "./resolve-context.ts";
import type { RawVmConfig } from "./schema.ts";
import type { NetConfig } from "./types.ts";

type RawNet = NonNullable<NonNullable<RawVmConfig["devices"]>["nets"]>[number];

/** QEMU's locally administered prefix for guest NICs (52:54:00), which our defaults share. */
const DEFAULT_MAC_PREFIX = [0x52, 0x54, 0x00] as const;

/**
 * The default MAC of net `index` of VM `vmId`: 52:54:00, then the VM id's low 16 bits (folded from the whole id
 * when it is larger) and the index, so "vm 1, net 0" is 52:54:00:00:01:00 in every run. Set `mac` when VMs of
 * different runs share a link.
 */
export function defaultMac(vmId: number, index: number): string {
  let id = vmId;
  let folded = 0;
  while (id > 0) {
    folded ^= id % 0x1_0000;
    id = Math.floor(id / 0x1_0000);
  }
  return formatMac([...DEFAULT_MAC_PREFIX, folded >> 8, folded & 0xff, index & 0xff]);
}

export function formatMac(bytes: readonly number[] | Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/** "52:54:00:12:34:56" (or with "-") → 6 bytes, or why it is not a MAC address a NIC may have. */
export function parseMac(text: string): { readonly bytes: Uint8Array } | { readonly problem: string } {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    return { problem: 'is not a MAC address (six hex byte pairs, "52:54:00:12:34:56")' };
  }
  const bytes = Uint8Array.from(parts, (p) => Number.parseInt(p, 16));
  if (((bytes[0] ?? 0) & 1) !== 0)
    return { problem: "is a multicast address (the first byte is odd); a NIC needs a unicast one" };
  if (bytes.every((b) => b === 0)) return { problem: "is all zeros, which no NIC may use" };
  return { bytes };
}

export function resolveNets(vmId: number, tables: readonly RawNet[] | undefined, ctx: ResolveContext): NetConfig[] {
  const { issues } = ctx;
  const nets: NetConfig[] = [];
  const taps = new Map<string, string>();
  (tables ?? []).forEach((raw, index) => {
    const key = `devices.nets[${index}]`;
    const problem = interfaceNameProblem(raw.tap);
    if (problem !== undefined) issues.add(`${key}.tap`, raw.tap, `${problem} (a TAP interface name)`);
    const first = taps.get(raw.tap);
    if (first !== undefined) {
      issues.add(`${key}.tap`, raw.tap, `is also ${first}.tap: a TAP takes one attachment, so each net needs its own`);
    } else taps.set(raw.tap, key);
    let mac: string;
    let macFrom: NetConfig["macFrom"] = "config";
    if (raw.mac === undefined) {
      mac = defaultMac(vmId, index);
      macFrom = "default";
    } else {
      const parsed = parseMac(raw.mac);
      if ("problem" in parsed) issues.add(`${key}.mac`, raw.mac, parsed.problem);
      mac = "bytes" in parsed ? formatMac(parsed.bytes) : raw.mac;
    }
    nets.push({ tap: raw.tap, mac, macFrom, key });
  });
  const macs = new Map<string, string>();
  for (const net of nets) {
    const first = macs.get(net.mac);
    if (first !== undefined) issues.add(`${net.key}.mac`, net.mac, `is also ${first}'s address`);
    else macs.set(net.mac, net.key);
  }
  return nets;
}

/**
 * virtio-net on a real TAP, device level: test/support/net-tap-probe.ts runs in a network namespace made here (so
 * nothing touches the host's own interfaces), drives a VirtioNet device through the test virtio driver as a tiny
 * guest, and talks to the host kernel across the TAP: ARP and an ICMP echo from the "guest", the host's `ping`
 * answered by it. It also checks the TAP rules: a TAP made by us disappears when closed, an existing one is
 * attached (and a second attachment refused), a TUN or a bad name is refused, and deleting an attached TAP stops
 * its reader with a report. The full-guest test (Linux, TCP both ways) is scripts/e2e/40-net-tap.sh.
 */
import { afterAll, expect } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { hasCommand, type Requirement, testIf } from "./support/skip.ts";

const NS = `axvisor-test-${process.pid}`;

function requirement(): Requirement {
  if (process.platform !== "linux") return { available: false, reason: "TAP interfaces are a Linux feature" };
  if (process.getuid?.() !== 0) return { available: false, reason: "making a network namespace and a TAP needs root" };
  if (!existsSync("/dev/net/tun")) return { available: false, reason: "/dev/net/tun is missing" };
  for (const tool of ["ip", "ping"]) {
    const found = hasCommand(tool);
    if (!found.available) return found;
  }
  const made = Bun.spawnSync(["ip", "netns", "add", NS], { stderr: "pipe" });
  if (made.exitCode !== 0) {
    return { available: false, reason: `cannot make a network namespace: ${made.stderr.toString().trim()}` };
  }
  return { available: true, reason: `namespace ${NS}` };
}

const available = requirement();
afterAll(() => {
  if (available.available) Bun.spawnSync(["ip", "netns", "del", NS]);
});

testIf(available, "virtio-net on a TAP in a network namespace")(
  "frames cross a real TAP both ways through the device; TAPs are created, attached, refused and lost as they should",
  async () => {
    const probe = Bun.spawn(["ip", "netns", "exec", NS, "bun", join(import.meta.dir, "support/net-tap-probe.ts")], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err] = await Promise.all([new Response(probe.stdout).text(), new Response(probe.stderr).text()]);
    expect(await probe.exited, err).toBe(0);
    const result: unknown = JSON.parse(out.trim().split("\n").pop() ?? "{}");
    expect(result).toMatchObject({
      badName: { kind: "io", message: expect.stringContaining('the name contains "/"') },
      notTap: { kind: "io", message: expect.stringContaining("exists and is not a TAP") },
      attachedCreated: false,
      secondAttach: { kind: "busy", message: expect.stringContaining("another process is attached to it") },
      readerFailure: expect.stringContaining('TAP "axt1" went away'),
      created: true,
      arpReply: true,
      echoReplies: 1,
      hostPingReceived: 2,
      echoRequestsAnswered: 2,
      deviceStats: { txErrors: 0, txMalformed: 0, rxTooSmall: 0 },
      goneAfterClose: true,
    });
  },
);

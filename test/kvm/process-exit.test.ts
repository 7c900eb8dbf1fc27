/**
 * A process that loads the KVM backend ends when its work is done. A helper thread's script sets `self.onmessage`;
 * loaded on the main thread (through a value import of its constants) it makes the main thread listen for messages,
 * and the process never exits by itself (the benchmark that measured the fast paths hung at its end that way).
 * Runs without /dev/kvm: only the modules are loaded.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

test("a script that imports the KVM backend, the builder and the TAP module exits by itself", async () => {
  const script = [
    `import { kvmBackend } from "${join(ROOT, "src/hal/kvm/index.ts")}";`,
    `import "${join(ROOT, "src/vmm/builder.ts")}";`,
    `import "${join(ROOT, "src/hal/host/tap.ts")}";`,
    "kvmBackend.hasHardwareSupport();",
    'console.log("done");',
  ].join("\n");
  const child = Bun.spawn(["bun", "-e", script], { stdout: "pipe", stderr: "pipe" });
  // A hang is the failure: kill it after a generous while (start-up is well under a second here).
  const guard = setTimeout(() => child.kill(), 30_000);
  const code = await child.exited;
  clearTimeout(guard);
  expect(await new Response(child.stdout).text()).toBe("done\n");
  expect(code).toBe(0);
});

/**
 * The API server in-process (src/vmm/control/): routing (404 for unknown paths, 405 for a wrong method), 400s that
 * name the bad field, the Firecracker error shape, pre-boot rules, our /vms endpoints, and the socket itself:
 * created 0600, a regular file or a live socket at the path refused, a stale socket replaced.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiVmConfig } from "../src/vmm/control/api-config.ts";
import { type ApiServeHandle, serveApi } from "../src/vmm/control/index.ts";
import { Vmm } from "../src/vmm/vmm.ts";
import { COUNTER_BIN, countsIn, until } from "./support/counter-guest.ts";

let dir = "";
let handle: ApiServeHandle | undefined;
let vmm: Vmm;
let output = "";

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "axvisor-api-unit-"));
  output = "";
  const decoder = new TextDecoder();
  vmm = new Vmm({ logLevel: "silent", console: { writer: (bytes) => (output += decoder.decode(bytes)) } });
});

afterEach(async () => {
  vmm.stop();
  handle?.close();
  handle = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<string> {
  const path = join(dir, "api.sock");
  handle = await serveApi(vmm, { path, version: "9.9.9", cwd: dir });
  return path;
}

async function call(socket: string, method: string, path: string, body?: string) {
  const response = await fetch(`http://localhost${path}`, {
    unix: socket,
    method,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as Record<string, unknown>) };
}

describe("API routes", () => {
  test("unknown paths are 404, wrong methods 405, both in Firecracker's error shape", async () => {
    const socket = await start();
    expect(await call(socket, "GET", "/nope")).toEqual({
      status: 404,
      body: { fault_message: "Invalid request method and/or path: GET /nope." },
    });
    const wrong = await call(socket, "DELETE", "/machine-config");
    expect(wrong.status).toBe(405);
    expect(String(wrong.body?.fault_message)).toContain("allowed GET, PUT");
    expect((await call(socket, "GET", "/version")).body).toEqual({ firecracker_version: "9.9.9" });
  });

  test("bad bodies are 400s naming the field", async () => {
    const socket = await start();
    const tooMany = await call(socket, "PUT", "/machine-config", '{"vcpu_count": 64, "mem_size_mib": 128}');
    expect(tooMany.status).toBe(400);
    expect(String(tooMany.body?.fault_message)).toContain("vcpu_count");
    const unknown = await call(socket, "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 8, "cpus": 2}');
    expect(String(unknown.body?.fault_message)).toContain("cpus");
    const notJson = await call(socket, "PUT", "/boot-source", "{kernel");
    expect(String(notJson.body?.fault_message)).toStartWith("The request body is not valid JSON");
    const empty = await call(socket, "PUT", "/actions", "");
    expect(String(empty.body?.fault_message)).toContain("the body is empty");
    const both = await call(
      socket,
      "PUT",
      "/snapshot/load",
      '{"snapshot_path": "a", "mem_file_path": "b", "mem_backend": {"backend_type": "File", "backend_path": "c"}}',
    );
    expect(String(both.body?.fault_message)).toContain("exactly one of mem_file_path and mem_backend");
    const drive = await call(
      socket,
      "PUT",
      "/drives/root",
      '{"drive_id": "other", "path_on_host": "/x", "is_root_device": true}',
    );
    expect(String(drive.body?.fault_message)).toContain("does not match the drive_id");
    const mtu = await call(
      socket,
      "PUT",
      "/network-interfaces/eth0",
      '{"iface_id": "eth0", "host_dev_name": "tap0", "mtu": 9000}',
    );
    expect(String(mtu.body?.fault_message)).toContain("mtu is not supported");
    const otherId = await call(socket, "PUT", "/network-interfaces/eth0", '{"iface_id": "eth1", "host_dev_name": "t"}');
    expect(String(otherId.body?.fault_message)).toContain("does not match the iface_id");
  });

  test("network interfaces become [[devices.nets]]: the TAP and the MAC", async () => {
    const socket = await start();
    const body = '{"iface_id": "eth0", "host_dev_name": "tap7", "guest_mac": "52:54:00:ab:cd:ef"}';
    expect((await call(socket, "PUT", "/network-interfaces/eth0", body)).status).toBe(204);
    expect((await call(socket, "GET", "/vm/config")).body?.["network-interfaces"]).toEqual([JSON.parse(body)]);
    const config = apiVmConfig(
      {
        id: 1,
        name: "net",
        machine: { vcpu_count: 1, mem_size_mib: 16 },
        boot: { kernel_image_path: COUNTER_BIN },
        drives: [],
        nets: [JSON.parse(body)],
      },
      dir,
    );
    expect(config.devices.nets).toEqual([
      expect.objectContaining({ tap: "tap7", mac: "52:54:00:ab:cd:ef", macFrom: "config" }),
    ]);
  });

  test("start without a boot source, snapshot before pause, pre-boot changes after start: refused with why", async () => {
    const socket = await start();
    const noBoot = await call(socket, "PUT", "/actions", '{"action_type": "InstanceStart"}');
    expect(String(noBoot.body?.fault_message)).toContain("no boot source");
    expect((await call(socket, "PATCH", "/vm", '{"state": "Paused"}')).status).toBe(400);
    await call(socket, "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 16}');
    await call(socket, "PUT", "/boot-source", JSON.stringify({ kernel_image_path: COUNTER_BIN }));
    expect((await call(socket, "PUT", "/actions", '{"action_type": "InstanceStart"}')).status).toBe(204);
    await until(() => countsIn(output).length >= 2, "2 counts");
    const early = await call(socket, "PUT", "/snapshot/create", '{"snapshot_path": "s", "mem_file_path": "m"}');
    expect(String(early.body?.fault_message)).toContain("pause it first");
    const late = await call(socket, "PUT", "/machine-config", '{"vcpu_count": 2, "mem_size_mib": 16}');
    expect(String(late.body?.fault_message)).toContain("pre-boot only");
    const again = await call(socket, "PUT", "/actions", '{"action_type": "InstanceStart"}');
    expect(String(again.body?.fault_message)).toContain("already started");
    const vms = await call(socket, "GET", "/vms");
    expect(vms.body as unknown).toEqual([
      expect.objectContaining({ id: 1, state: "Running", arch: "riscv64", backend: "emulated", vcpu_count: 1 }),
    ]);
    expect((await call(socket, "GET", "/vms/1")).body?.board).toBe("riscv-virt-hypervisor");
    expect((await call(socket, "GET", "/vms/7")).status).toBe(404);
    const config = await call(socket, "GET", "/vm/config");
    expect(config.body?.["machine-config"]).toEqual(expect.objectContaining({ vcpu_count: 1, mem_size_mib: 16 }));
  });
});

describe("the API socket", () => {
  test("is created with mode 0600 and removed on close", async () => {
    const socket = await start();
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    handle?.close();
    handle = undefined;
    expect(() => statSync(socket)).toThrow();
  });

  test("a regular file at the path is refused and left alone", async () => {
    const path = join(dir, "api.sock");
    writeFileSync(path, "keep me");
    await expect(serveApi(vmm, { path, version: "1", cwd: dir })).rejects.toThrow("it exists and is not a socket");
    expect(statSync(path).size).toBe(7);
  });

  test("a socket another server listens on is refused; a stale one is replaced", async () => {
    const path = join(dir, "api.sock");
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(path, resolve));
    await expect(serveApi(vmm, { path, version: "1", cwd: dir })).rejects.toThrow("another server is listening");
    await new Promise<void>((resolve) => other.close(() => resolve()));
    // A stale socket: its server was killed (SIGKILL), so nothing removed the file and nobody listens.
    const script = `Bun.listen({ unix: ${JSON.stringify(path)}, socket: { data() {} } }); console.log("up"); setInterval(() => {}, 1000);`;
    const child = Bun.spawn(["bun", "-e", script], { stdout: "pipe" });
    const reader = child.stdout.getReader();
    await reader.read();
    child.kill("SIGKILL");
    await child.exited;
    expect(statSync(path).isSocket()).toBe(true);
    handle = await serveApi(vmm, { path, version: "1", cwd: dir });
    expect((await call(path, "GET", "/")).status).toBe(200);
  });
});

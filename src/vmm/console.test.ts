import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostConsoleInput, openConsoleOutput } from "./console.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (chunks: Uint8Array[]): string => chunks.map((c) => new TextDecoder().decode(c)).join("");

describe("console output", () => {
  test("a single VM's bytes pass straight through", () => {
    const out: Uint8Array[] = [];
    const console = openConsoleOutput({ kind: "stdout" }, { writer: (b) => out.push(b) });
    console.write(bytes("no newline yet"));
    expect(text(out)).toBe("no newline yet");
  });

  test("with a prefix, whole lines are prefixed and a partial line waits for its end (or close)", () => {
    const out: Uint8Array[] = [];
    const console = openConsoleOutput({ kind: "stdout" }, { prefix: "[vm1] ", writer: (b) => out.push(b) });
    console.write(bytes("hel"));
    expect(out).toHaveLength(0);
    console.write(bytes("lo\nworld\npart"));
    expect(text(out)).toBe("[vm1] hello\n[vm1] world\n");
    console.close();
    expect(text(out)).toBe("[vm1] hello\n[vm1] world\n[vm1] part\n");
  });

  test("file and none sinks", () => {
    const path = join(mkdtempSync(join(tmpdir(), "axvisor-console-")), "guest.log");
    const file = openConsoleOutput({ kind: "file", path });
    file.write(bytes("one\n"));
    file.write(bytes("two\n"));
    file.close();
    expect(readFileSync(path, "utf8")).toBe("one\ntwo\n");
    const none = openConsoleOutput({ kind: "none" });
    none.write(bytes("dropped"));
    none.close();
  });
});

describe("host console input escapes (QEMU's Ctrl-A)", () => {
  const make = () => {
    const delivered: Uint8Array[] = [];
    let quits = 0;
    let shutdowns = 0;
    const help: string[] = [];
    const input = new HostConsoleInput({
      deliver: (b) => delivered.push(b),
      onQuit: () => quits++,
      onShutdownRequest: () => shutdowns++,
      writeHelp: (t) => help.push(t),
    });
    return { input, delivered, help, quits: () => quits, shutdowns: () => shutdowns };
  };

  test("ordinary bytes pass through unchanged", () => {
    const { input } = make();
    expect([...input.filter(bytes("ls -l\r"))]).toEqual([...bytes("ls -l\r")]);
  });

  test("Ctrl-A X quits and swallows the rest of the chunk; Ctrl-A Ctrl-A sends one Ctrl-A", () => {
    const { input, quits } = make();
    expect([...input.filter(Uint8Array.of(0x61, 0x01, 0x01, 0x62))]).toEqual([0x61, 0x01, 0x62]);
    expect(quits()).toBe(0);
    expect([...input.filter(Uint8Array.of(0x63, 0x01, 0x78, 0x64))]).toEqual([0x63]);
    expect(quits()).toBe(1);
  });

  test("the escape may span chunks; Ctrl-A H prints help; unknown escapes are dropped", () => {
    const { input, quits, help } = make();
    expect([...input.filter(Uint8Array.of(0x01))]).toEqual([]);
    expect([...input.filter(bytes("X"))]).toEqual([]);
    expect(quits()).toBe(1);
    expect([...input.filter(Uint8Array.of(0x01, 0x68, 0x7a))]).toEqual([0x7a]);
    expect(help.join("")).toContain("C-a x  quit axvisor");
    expect([...input.filter(Uint8Array.of(0x01, 0x71, 0x7a))]).toEqual([0x7a]);
  });

  test("Ctrl-A R asks for a guest shutdown and keeps the rest of the chunk; the help lists it", () => {
    const { input, shutdowns, help, quits } = make();
    expect([...input.filter(Uint8Array.of(0x61, 0x01, 0x72, 0x62))]).toEqual([0x61, 0x62]);
    expect(shutdowns()).toBe(1);
    expect([...input.filter(Uint8Array.of(0x01, 0x52))]).toEqual([]);
    expect(shutdowns()).toBe(2);
    expect(quits()).toBe(0);
    input.filter(Uint8Array.of(0x01, 0x68));
    expect(help.join("")).toContain("C-a r  ask the guest to shut down");
  });
});

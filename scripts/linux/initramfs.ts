#!/usr/bin/env bun
/**
 * Writes an uncompressed initramfs (cpio "newc", the format Linux unpacks: Documentation/driver-api/early-userspace/
 * buffer-format.rst) from a list in the format of the kernel's usr/gen_init_cpio, without root (device nodes are
 * described, not created on the host):
 *
 *   dir  <path> <mode>
 *   nod  <path> <mode> c|b <major> <minor>
 *   file <path> <host file> <mode>
 *
 * Owners are 0:0; '#' starts a comment. Usage: bun scripts/linux/initramfs.ts <list> <out.cpio>
 */
import { readFileSync, writeFileSync } from "node:fs";

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

interface Entry {
  readonly path: string;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly rdevMajor: number;
  readonly rdevMinor: number;
}

function parse(list: string): Entry[] {
  const entries: Entry[] = [];
  for (const [index, raw] of list.split("\n").entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const fields = line.split(/\s+/);
    const bad = (why: string): Error => new Error(`initramfs list line ${index + 1} ("${line}"): ${why}`);
    const mode = (text: string | undefined): number => {
      if (text === undefined || !/^[0-7]{3,4}$/.test(text)) throw bad(`mode ${text ?? "(missing)"} is not octal`);
      return Number.parseInt(text, 8);
    };
    const [kind, path] = fields;
    if (path === undefined || !path.startsWith("/")) throw bad("the path must be absolute");
    const name = path.slice(1);
    switch (kind) {
      case "dir":
        entries.push({
          path: name,
          mode: S_IFDIR | mode(fields[2]),
          data: new Uint8Array(),
          rdevMajor: 0,
          rdevMinor: 0,
        });
        break;
      case "nod": {
        const type = fields[3];
        if (type !== "c" && type !== "b") throw bad("a node is c (character) or b (block)");
        entries.push({
          path: name,
          mode: (type === "c" ? S_IFCHR : S_IFBLK) | mode(fields[2]),
          data: new Uint8Array(),
          rdevMajor: Number(fields[4]),
          rdevMinor: Number(fields[5]),
        });
        break;
      }
      case "file": {
        const source = fields[2];
        if (source === undefined) throw bad("a file needs its host path");
        entries.push({
          path: name,
          mode: S_IFREG | mode(fields[3]),
          data: readFileSync(source),
          rdevMajor: 0,
          rdevMinor: 0,
        });
        break;
      }
      default:
        throw bad(`unknown entry kind ${kind}`);
    }
  }
  return entries;
}

const encoder = new TextEncoder();

function header(entry: Entry, ino: number): Uint8Array {
  const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, "0");
  const fields = [
    ino, // c_ino
    entry.mode, // c_mode
    0, // c_uid
    0, // c_gid
    1, // c_nlink
    0, // c_mtime
    entry.data.length, // c_filesize
    0, // c_devmajor
    0, // c_devminor
    entry.rdevMajor, // c_rdevmajor
    entry.rdevMinor, // c_rdevminor
    encoder.encode(entry.path).length + 1, // c_namesize (with the NUL)
    0, // c_check
  ];
  return encoder.encode(`070701${fields.map(hex8).join("")}${entry.path}\0`);
}

/** Header + name padded to 4 bytes, then data padded to 4 bytes. */
export function writeCpio(entries: readonly Entry[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const push = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    size += bytes.length;
    const pad = (4 - (size % 4)) % 4;
    if (pad > 0) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
  };
  entries.forEach((entry, i) => {
    push(header(entry, i + 1));
    if (entry.data.length > 0) push(entry.data);
  });
  push(header({ path: "TRAILER!!!", mode: 0, data: new Uint8Array(), rdevMajor: 0, rdevMinor: 0 }, 0));
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

if (import.meta.main) {
  const [listPath, outPath] = process.argv.slice(2);
  if (listPath === undefined || outPath === undefined) {
    console.error("usage: bun scripts/linux/initramfs.ts <list> <out.cpio>");
    process.exit(2);
  }
  try {
    writeFileSync(outPath, writeCpio(parse(readFileSync(listPath, "utf8"))));
  } catch (error) {
    console.error(`initramfs: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

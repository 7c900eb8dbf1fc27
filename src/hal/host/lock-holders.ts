/**
 * Who holds a lock on a file, for the message when we cannot take ours (Linux only; elsewhere nobody says).
 *
 * `F_OFD_GETLK` gives the holder's pid only for classic POSIX locks: an OFD lock belongs to an open file
 * description, not a process, and reports pid -1 (so does /proc/locks). As `lslocks` does, the descriptors of
 * every process we may look at (/proc/<pid>/fd) are searched for the same file with a lock on it
 * (/proc/<pid>/fdinfo/<fd> lists it). This runs only when a lock was refused.
 */
import { readdirSync, readFileSync, type Stats, statSync } from "node:fs";

export interface LockHolder {
  readonly pid: number;
  /** The process's command name (/proc/<pid>/comm), when readable. */
  readonly command: string | undefined;
  readonly access: "read" | "write" | undefined;
}

function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** /proc/locks entries on inode `ino`: "1: OFDLCK ADVISORY  WRITE -1 fe:00:2154552 0 EOF". */
function procLocks(ino: number): Array<{ pid: number; access: "read" | "write" }> {
  let text: string;
  try {
    text = readFileSync("/proc/locks", "utf8");
  } catch {
    return [];
  }
  const found: Array<{ pid: number; access: "read" | "write" }> = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // id, class, mode, access, pid, maj:min:ino, start, end (a "->" marks a waiter: skip those lines)
    if (fields[1] === "->") continue;
    const device = fields[5];
    if (device === undefined || !device.endsWith(`:${ino}`)) continue;
    found.push({ pid: Number(fields[4]), access: fields[3] === "WRITE" ? "write" : "read" });
  }
  return found;
}

/** Processes with `stats`' file open and a lock on that descriptor (for OFD locks, which have no pid). */
function lockingOpeners(stats: Stats): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return pids;
  }
  for (const entry of entries) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // another user's process, or it exited
    }
    for (const fd of fds) {
      try {
        const target = statSync(`/proc/${entry}/fd/${fd}`);
        if (target.ino !== stats.ino || target.dev !== stats.dev) continue;
        if (/^lock:/m.test(readFileSync(`/proc/${entry}/fdinfo/${fd}`, "utf8"))) {
          pids.push(Number(entry));
          break;
        }
      } catch {
        // The descriptor closed meanwhile.
      }
    }
  }
  return pids;
}

/** The processes holding locks on the file `stats` describes, as far as this host lets us see. */
export function lockHolders(stats: Stats): LockHolder[] {
  if (process.platform !== "linux") return [];
  const entries = procLocks(stats.ino);
  const holders = new Map<number, LockHolder>();
  for (const { pid, access } of entries) {
    if (pid > 0) holders.set(pid, { pid, command: commandOf(pid), access });
  }
  if (entries.some((e) => e.pid <= 0)) {
    const access = entries.find((e) => e.pid <= 0)?.access;
    for (const pid of lockingOpeners(stats))
      if (!holders.has(pid)) holders.set(pid, { pid, command: commandOf(pid), access });
  }
  return [...holders.values()];
}

import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { SecretError } from "../secret/index.js";

/**
 * An exclusive lock between keyhold processes, as a lock file that holds its owner's pid and a
 * random token. It never exists half-written: the content goes into a private file first, which
 * is then hard-linked to the lock path (link fails if the lock exists). A lock whose owner is
 * gone (a kill -9) is stale: the next taker renames it away, checks that what it moved is the
 * very lock it judged stale, and only then takes its own. Release removes the lock only if it
 * still holds the owner's token. PID reuse could make a stale lock look alive; then the taker
 * waits for `timeoutMs` and fails with LOCK_TIMEOUT rather than guess.
 */
export interface HeldLock {
  release(): void;
}

/** A lock file younger than this is never judged stale on its content alone. */
const GRACE_MS = 2_000;

function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function ownerAlive(content: string, path: string): boolean {
  const owner = parseProcessTag(content.split(" ")[0] ?? "");
  if (owner === undefined) {
    // Not a lock this code writes (links make them whole): stale only once it is old.
    try {
      return Date.now() - statSync(path).mtimeMs < GRACE_MS;
    } catch {
      return true;
    }
  }
  return processAlive(owner.pid, owner.started);
}

function tryTake(lockPath: string): HeldLock | undefined {
  const token = `${processTag()} ${randomBytes(12).toString("hex")}\n`;
  const draft = `${lockPath}.${randomBytes(6).toString("hex")}.new`;
  const fd = openSync(
    draft,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    writeSync(fd, token);
  } catch (err) {
    closeSync(fd);
    unlinkSync(draft);
    throw err;
  }
  closeSync(fd);
  try {
    linkSync(draft, lockPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw err;
  } finally {
    try {
      unlinkSync(draft);
    } catch {
      // already gone
    }
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      // Remove the lock only while it is still ours: one broken as stale and retaken by someone
      // else must not be removed from under them.
      if (readLock(lockPath) === token) {
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone
        }
      }
    },
  };
}

function breakIfStale(lockPath: string): void {
  const content = readLock(lockPath);
  if (content === undefined || ownerAlive(content, lockPath)) return;
  const aside = `${lockPath}.stale-${randomBytes(6).toString("hex")}`;
  try {
    renameSync(lockPath, aside);
  } catch {
    return; // someone else moved it first
  }
  // If a live lock was taken between the read and the rename, put it back.
  if (readLock(aside) !== content) {
    try {
      linkSync(aside, lockPath);
    } catch {
      // the path was retaken: the moved lock's owner will find its lock gone and release nothing
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already gone
  }
}

export async function acquireLock(lockPath: string, timeoutMs = 10_000): Promise<HeldLock> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    const lock = tryTake(lockPath);
    if (lock) return lock;
    breakIfStale(lockPath);
    if (Date.now() > deadline) {
      throw new SecretError("LOCK_TIMEOUT", `timed out waiting for the lock ${lockPath}`, {
        hint: "another keyhold process is working on this store; if none is, remove the lock file",
      });
    }
    await sleep(delay + Math.floor(Math.random() * delay));
  }
}

/** Runs `work` while holding the lock at `lockPath`. */
export async function withLock<T>(
  lockPath: string,
  work: () => Promise<T> | T,
  timeoutMs?: number,
): Promise<T> {
  const lock = await acquireLock(lockPath, timeoutMs);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

/**
 * Whether a process with this pid exists (EPERM: it exists but belongs to someone else). With
 * `started` (its processStartTime), whether it is still that same process: a pid reused by a
 * later process does not count.
 */
export function processAlive(pid: number, started?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (started === undefined) return true;
  const now = processStartTime(pid);
  // Unreadable /proc (hidepid): keep the old answer rather than call a live owner dead.
  return now === undefined || now === started;
}

/**
 * When a process started, in clock ticks after boot (field 22 of /proc/PID/stat): with the pid,
 * it names one process for good, since no two processes with one pid start at the same tick.
 * Undefined where /proc does not say.
 */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = fields[19];
  return start !== undefined && /^[0-9]+$/.test(start) ? start : undefined;
}

/** This process's own tag: its start time never changes, so /proc is read for it once. */
let ownTag: string | undefined;

/** This process as `pid` or `pid.starttime`, for names and lock files that outlive it. */
export function processTag(pid = process.pid): string {
  if (pid === process.pid && ownTag !== undefined) return ownTag;
  const started = processStartTime(pid);
  const tag = started === undefined ? String(pid) : `${pid}.${started}`;
  if (pid === process.pid) ownTag = tag;
  return tag;
}

/** Parses a processTag back; undefined if it is not one. */
export function parseProcessTag(tag: string): { pid: number; started?: string } | undefined {
  const m = /^([1-9][0-9]{0,9})(?:\.([0-9]{1,20}))?$/.exec(tag);
  if (m === null) return undefined;
  return m[2] === undefined ? { pid: Number(m[1]) } : { pid: Number(m[1]), started: m[2] };
}

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
  const pid = Number.parseInt(content, 10);
  if (!Number.isInteger(pid) || pid <= 0) {
    // Not a lock this code writes (links make them whole): stale only once it is old.
    try {
      return Date.now() - statSync(path).mtimeMs < GRACE_MS;
    } catch {
      return true;
    }
  }
  return processAlive(pid);
}

function tryTake(lockPath: string): HeldLock | undefined {
  const token = `${process.pid} ${randomBytes(12).toString("hex")}\n`;
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

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

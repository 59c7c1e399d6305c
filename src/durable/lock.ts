import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { SecretError } from "../secret/index.js";

/**
 * An exclusive lock between keyhold processes: a lock file created with O_CREAT|O_EXCL that
 * holds the owner's pid. A lock whose owner no longer exists (a kill -9) is stale and is broken
 * by the next taker, so a crash never wedges the store. PID reuse could make a stale lock look
 * alive; then the taker waits for `timeoutMs` and fails with LOCK_TIMEOUT rather than guess.
 */
export interface HeldLock {
  release(): void;
}

function ownerAlive(lockPath: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lockPath, "utf8"), 10);
  } catch {
    return true; // vanished or unreadable: let the next attempt decide
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryTake(lockPath: string): HeldLock | undefined {
  let fd: number;
  try {
    fd = openSync(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw err;
  }
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      try {
        unlinkSync(lockPath);
      } catch {
        // already broken by someone who judged it stale
      }
    },
  };
}

function breakIfStale(lockPath: string): void {
  if (ownerAlive(lockPath)) return;
  try {
    unlinkSync(lockPath);
  } catch {
    // someone else broke it first
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
    await sleep(delay);
  }
}

/** Runs `work` while holding the lock at `lockPath`. */
export async function withLock<T>(lockPath: string, work: () => Promise<T> | T, timeoutMs?: number): Promise<T> {
  const lock = await acquireLock(lockPath, timeoutMs);
  try {
    return await work();
  } finally {
    lock.release();
  }
}

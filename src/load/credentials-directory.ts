import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmdirSync,
  statfsSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { type Secret, SecretError } from "../secret/index.js";
import { assertCredentialName } from "../systemd/index.js";

export interface CredentialEntry {
  name: string;
  value: Secret;
}

export interface CredentialsDirectory {
  path: string;
  /** "ramfs" (never swapped) or "tmpfs" (may be swapped where swap exists). */
  filesystem: "ramfs" | "tmpfs";
  /** Overwrites and removes every file, unmounts, removes the directory. Idempotent. */
  remove(): void;
}

export interface CredentialsDirectoryOptions {
  /** Owner of the directory and files; default the calling user. */
  uid?: number;
  gid?: number;
  /** Where to create it. Default /run/keyhold (root) or $XDG_RUNTIME_DIR or /dev/shm. */
  parent?: string;
  /** Try a private ramfs mount (root only). Default true. */
  ramfs?: boolean;
  /** Name prefix inside `parent`. Default "credentials-". */
  prefix?: string;
}

function defaultParent(): string {
  if (process.geteuid?.() === 0) return "/run/keyhold";
  const runtime = process.env.XDG_RUNTIME_DIR;
  return runtime && runtime.startsWith("/") ? runtime : "/dev/shm";
}

function mountRamfs(dir: string): boolean {
  // ramfs, as systemd 252 uses for $CREDENTIALS_DIRECTORY: its pages are never swapped out,
  // unlike tmpfs. Mounting needs CAP_SYS_ADMIN; without it keyhold falls back to tmpfs.
  const r = spawnSync("mount", ["-t", "ramfs", "-o", "mode=0700,nosuid,nodev,noexec", "ramfs", dir], {
    stdio: "ignore",
  });
  return r.status === 0;
}

const RAMFS_MAGIC = 0x858458f6;
const TMPFS_MAGIC = 0x01021994;

/** Which memory file system holds `path`, or undefined when it is on a disk. */
function memoryFilesystemOf(path: string): "ramfs" | "tmpfs" | undefined {
  const type = statfsSync(path).type;
  if (type === RAMFS_MAGIC) return "ramfs";
  if (type === TMPFS_MAGIC) return "tmpfs";
  return undefined;
}

function writeCredentialFile(path: string, value: Secret, uid: number, gid: number): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o400);
  try {
    const bytes = value.exposeBytes();
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (process.geteuid?.() === 0) chownSync(path, uid, gid);
}

function overwriteAndUnlink(path: string): void {
  try {
    const size = statSync(path).size;
    const fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      writeSync(fd, Buffer.alloc(size), 0, size, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    // already gone, or not writable: unlink below still removes it
  }
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * Wipes and removes a credentials directory made by createCredentialsDirectory, also one left
 * behind by a process that was killed: files are overwritten, a ramfs mount is unmounted.
 */
export function removeCredentialsDirectory(path: string): void {
  try {
    chmodSync(path, 0o700);
    for (const f of readdirSync(path)) overwriteAndUnlink(join(path, f));
  } catch {
    // directory already gone
  }
  try {
    // A mount point sits on a different device than its parent directory.
    if (statSync(path).dev !== statSync(dirname(path)).dev) spawnSync("umount", [path], { stdio: "ignore" });
  } catch {
    // already gone
  }
  try {
    rmdirSync(path);
  } catch {
    // already gone
  }
}

/**
 * Creates a private directory on a memory file system holding one 0400 file per credential,
 * the way systemd lays out $CREDENTIALS_DIRECTORY for a service: directory 0700 (0500 once
 * filled), owned by the process that will read it. Nothing in it ever reaches a disk.
 */
export function createCredentialsDirectory(
  entries: readonly CredentialEntry[],
  options: CredentialsDirectoryOptions = {},
): CredentialsDirectory {
  for (const e of entries) assertCredentialName(e.name);
  const uid = options.uid ?? process.geteuid?.() ?? 0;
  const gid = options.gid ?? process.getegid?.() ?? 0;
  const parent = options.parent ?? defaultParent();
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  const path = mkdtempSync(join(parent, options.prefix ?? "credentials-"));
  if ((options.ramfs ?? true) && process.geteuid?.() === 0) mountRamfs(path);
  const filesystem = memoryFilesystemOf(path);
  let removed = false;
  const dir: CredentialsDirectory = {
    path,
    filesystem: filesystem ?? "tmpfs",
    remove() {
      if (removed) return;
      removed = true;
      removeCredentialsDirectory(path);
    },
  };
  if (filesystem === undefined) {
    dir.remove();
    throw new SecretError("NOT_MEMORY_FS", `${parent} is not on a memory file system; refusing to write credentials there`, {
      hint: "run as root (keyhold mounts a private ramfs) or set XDG_RUNTIME_DIR to a tmpfs directory",
    });
  }
  try {
    for (const e of entries) writeCredentialFile(join(path, e.name), e.value, uid, gid);
    chmodSync(path, 0o500);
    if (process.geteuid?.() === 0) chownSync(path, uid, gid);
    return dir;
  } catch (err) {
    dir.remove();
    throw err;
  }
}

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
  fstatSync,
  lstatSync,
  rmSync,
  statfsSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { type Secret, SecretError } from "../secret/index.js";
import { assertCredentialName, systemTool } from "../systemd/index.js";

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

function mountRamfs(dir: string): boolean {
  // ramfs, as systemd 252 uses for $CREDENTIALS_DIRECTORY: its pages are never swapped out,
  // unlike tmpfs. Mounting needs CAP_SYS_ADMIN; without it keyhold falls back to tmpfs.
  const r = spawnSync(
    systemTool("mount"),
    ["-t", "ramfs", "-o", "mode=0700,nosuid,nodev,noexec", "ramfs", dir],
    {
      stdio: "ignore",
    },
  );
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
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o400,
  );
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

/**
 * Overwrites a regular file through a descriptor opened without following links and without
 * blocking (a FIFO planted by a --user child cannot hang the cleanup), then unlinks the entry;
 * anything that is not a regular file is removed without being opened.
 */
function overwriteAndUnlink(path: string): void {
  try {
    const fd = openSync(
      path,
      constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
    try {
      const st = fstatSync(fd);
      if (st.isFile() && st.size > 0) writeSync(fd, Buffer.alloc(st.size), 0, st.size, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    // a symlink, a directory, a FIFO without reader, or already gone: removed below all the same
  }
  rmSync(path, { recursive: true, force: true });
}

/**
 * Wipes and removes a credentials directory made by createCredentialsDirectory, also one left
 * behind by a process that was killed: files are overwritten, a ramfs mount is unmounted. A
 * path that is not a real directory (a symlink planted in a shared parent) is left alone.
 */
export function removeCredentialsDirectory(path: string): void {
  try {
    if (!lstatSync(path).isDirectory()) return;
  } catch {
    return;
  }
  try {
    chmodSync(path, 0o700);
    for (const f of readdirSync(path)) overwriteAndUnlink(join(path, f));
  } catch {
    // directory already gone
  }
  try {
    // A mount point sits on a different device than its parent directory.
    if (lstatSync(path).dev !== lstatSync(dirname(path)).dev) {
      const r = spawnSync(systemTool("umount"), [path], { stdio: "ignore" });
      if (r.status !== 0) spawnSync(systemTool("umount"), ["--lazy", path], { stdio: "ignore" });
    }
  } catch {
    // already gone
  }
  rmSync(path, { recursive: true, force: true });
}

/**
 * The parent for credential directories of the calling user. Root: /run/keyhold (0711, root's).
 * Anyone else: a private keyhold-<uid> directory (0700) in $XDG_RUNTIME_DIR or /dev/shm, never a
 * shared world-writable directory itself, where other users could plant names and links.
 */
export function privateRunParent(): string {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0) {
    ensureOwnDirectory("/run/keyhold", 0o711, 0);
    return "/run/keyhold";
  }
  const runtime = process.env.XDG_RUNTIME_DIR;
  const base = runtime?.startsWith("/") ? runtime : "/dev/shm";
  const parent = join(base, `keyhold-${uid}`);
  ensureOwnDirectory(parent, 0o700, uid);
  return parent;
}

function ensureOwnDirectory(path: string, mode: number, uid: number): void {
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== uid) {
    throw new SecretError(
      "PATH_VALIDATION_FAILED",
      `${path} is not a directory owned by uid ${uid}; refusing to use it`,
      {
        hint: "remove it, or set XDG_RUNTIME_DIR to a private directory",
      },
    );
  }
  if ((st.mode & 0o777) !== mode) chmodSync(path, mode);
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
  const parent = options.parent ?? privateRunParent();
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
    throw new SecretError(
      "NOT_MEMORY_FS",
      `${parent} is not on a memory file system; refusing to write credentials there`,
      {
        hint: "run as root (keyhold mounts a private ramfs) or set XDG_RUNTIME_DIR to a tmpfs directory",
      },
    );
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

import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  fsyncSync,
  lstatSync,
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
import { withLock } from "../durable/lock.js";
import { type Secret, SecretError } from "../secret/index.js";
import { assertCredentialName, CREDENTIAL_SIZE_MAX, childProcesses, systemTool } from "../systemd/index.js";

export interface CredentialEntry {
  name: string;
  value: Secret;
}

export interface CredentialsDirectory {
  /** Where the files are ($CREDENTIALS_DIRECTORY): for another user's reader, a mount inside the directory made. */
  path: string;
  /** "ramfs" (never swapped) or "tmpfs" (may be swapped where swap exists). */
  filesystem: "ramfs" | "tmpfs";
  /** Wipes what is inside, unmounts, removes the directory made. Idempotent. */
  remove(): void;
}

export interface CredentialsDirectoryOptions {
  /** Owner of the files (and group of the directory); default the calling user. */
  uid?: number;
  gid?: number;
  /** Where to create it. Default: see privateRunLocation. */
  parent?: string;
  /** Try a private ramfs mount (root only). Default true. */
  ramfs?: boolean;
  /** Name prefix inside `parent`. Default "credentials-". */
  prefix?: string;
}

export function mountRamfs(dir: string, mode = 0o700): boolean {
  // ramfs, as systemd 252 uses for $CREDENTIALS_DIRECTORY: its pages are never swapped out,
  // unlike tmpfs. Mounting needs CAP_SYS_ADMIN; without it keyhold falls back to tmpfs.
  const r = childProcesses().spawnSync(
    systemTool("mount"),
    ["-t", "ramfs", "-o", `mode=0${mode.toString(8)},nosuid,nodev,noexec`, "ramfs", dir],
    {
      stdio: "ignore",
    },
  );
  return r.status === 0;
}

function mountTool(args: readonly string[]): boolean {
  return childProcesses().spawnSync(systemTool("mount"), args, { stdio: "ignore" }).status === 0;
}

/**
 * Makes the mount at `dir` read-only for everyone, root included, until remounted: its owner can
 * no longer chmod, write or grow a file in it, as systemd does with $CREDENTIALS_DIRECTORY. Fails
 * (EBUSY) while any process holds a file in it open for writing.
 */
function remountReadOnly(dir: string): boolean {
  return mountTool(["-o", "remount,ro,bind", dir]);
}

/** A second, writable view at `view` of the (read-only) mount at `dir`; the mount at `dir` stays read-only. */
function bindWritable(dir: string, view: string): boolean {
  return mountTool(["--bind", dir, view]) && mountTool(["-o", "remount,rw,bind", view]);
}

const RAMFS_MAGIC = 0x858458f6;
const TMPFS_MAGIC = 0x01021994;

/** Which memory file system holds `path`, or undefined when it is on a disk. */
export function memoryFilesystemOf(path: string): "ramfs" | "tmpfs" | undefined {
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
    if (process.geteuid?.() === 0) fchownSync(fd, uid, gid);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether `path` is a mount point: it sits on another device than its parent. */
function isMountPoint(path: string): boolean {
  try {
    return lstatSync(path).dev !== lstatSync(dirname(path)).dev;
  } catch {
    return false;
  }
}

/** Unmounts each of `paths` (one umount process for all, a second only for busy ones). */
function unmount(...paths: string[]): void {
  const r = childProcesses().spawnSync(systemTool("umount"), paths, { stdio: "ignore" });
  // Busy (a process the child left behind still has it open): detach it now; the kernel frees
  // the pages when the last user lets go.
  const busy = r.status === 0 ? [] : paths.filter(isMountPoint);
  if (busy.length > 0) childProcesses().spawnSync(systemTool("umount"), ["--lazy", ...busy], { stdio: "ignore" });
}

/**
 * Inside the directory made for a reader that is another user: the read-only ramfs holding its
 * files, and the writable view of that ramfs its removal mounts for a moment to overwrite them.
 */
const READER_MOUNT = "credentials";
const WIPE_VIEW = "writable";

/**
 * Overwrites and unlinks the entries of a directory only keyhold's user can change (its own, 0500
 * or 0550): no other user can add, rename or replace an entry in it, so its paths hold still.
 * Only regular files are opened (O_NOFOLLOW, O_NONBLOCK); nothing is descended into, except with
 * `mounts` a mount point among the entries (a reader's read-only ramfs, or the writable view a
 * killed removal left), which is wiped and unmounted by removeMount. False when the directory is
 * on a read-only mount: nothing in it could be wiped.
 */
function wipeOwnDirectory(path: string, mounts = false): boolean {
  let entries: string[];
  try {
    chmodSync(path, 0o700);
    entries = readdirSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "EROFS";
  }
  for (const entry of entries) {
    const p = join(path, entry);
    try {
      const st = lstatSync(p);
      if (st.isDirectory()) {
        if (mounts && isMountPoint(p)) removeMount(p, join(path, WIPE_VIEW));
        rmdirSync(p); // keyhold makes none but READER_MOUNT: an empty one goes, a full one stays
      } else {
        if (st.isFile()) overwrite(p);
        unlinkSync(p);
      }
    } catch {
      // left in place: the directory's own removal fails after it, and the next sweep tries again
    }
  }
  return true;
}

/**
 * Wipes and unmounts the ramfs at `mount`. A read-only one (a reader's) is wiped through a
 * writable view mounted at `view`, inside the directory that holds both, which only keyhold's
 * user can enter by now (wipeOwnDirectory made it 0700): making `mount` itself writable again,
 * even for a moment, would let a process the reader left behind with its cwd or a descriptor in
 * it chmod its file and grow it. Where no view can be mounted, the files go unwiped with the
 * mount. A mount whose entries another user could change is only unmounted, never walked.
 */
function removeMount(mount: string, view: string): void {
  const root = directoryAt(mount);
  if (root !== undefined && onlyChangeableBy(root, process.geteuid?.() ?? 0) && !wipeOwnDirectory(mount)) {
    try {
      mkdirSync(view, { mode: 0o700 });
    } catch {
      // there already: a view a killed removal left, stacked on here and unmounted below
    }
    if (bindWritable(mount, view)) wipeOwnDirectory(view);
    unmount(...(isMountPoint(view) ? [view] : []), mount);
    try {
      rmdirSync(view);
    } catch {
      // still a mount point (the leftover view): its own entry is removed in the same loop
    }
  } else unmount(mount);
}

/**
 * Zeros the first bytes of a credential file: where keyhold wrote the value. The reader owns the
 * file and may have grown it; the overwrite stops at the largest value keyhold writes.
 */
function overwrite(path: string): void {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    );
  } catch {
    return; // gone, or not openable: unlinked all the same
  }
  try {
    const size = Math.min(fstatSync(fd).size, CREDENTIAL_SIZE_MAX);
    if (size > 0) writeSync(fd, Buffer.alloc(size), 0, size, 0);
  } catch {
    // a write error leaves the unlink to do what it can
  } finally {
    closeSync(fd);
  }
}

/**
 * Empties a directory that belongs to another user (directories an older keyhold gave to the
 * --user it ran) with that user's rights, never root's: whatever that user renamed or linked
 * inside, the removal can reach only what the user could remove anyway.
 */
function emptyAsOwner(path: string, uid: number, gid: number): void {
  childProcesses().spawnSync(systemTool("find"), [path, "-mindepth", "1", "-delete"], {
    uid,
    gid,
    cwd: "/",
    // Not root's environment: the owner can read the environment of a process running as them
    // (/proc/PID/environ), and find needs nothing from it.
    env: {},
    stdio: "ignore",
    timeout: 30_000,
  });
}

/**
 * Wipes and removes a credentials directory made by createCredentialsDirectory, also one left
 * behind by a process that was killed. A directory of keyhold's own user is wiped entry by entry
 * (no one else can change its entries), a ramfs is unmounted, and what was under it removed; a
 * reader's read-only ramfs inside it is wiped through a writable view first (removeMount). A
 * directory another user owns (an older keyhold gave its directory to the --user it ran) is
 * never read as root: it is unmounted, then emptied with its owner's rights. A path that is not
 * a real directory (a link planted in a shared parent) is left alone.
 */
export function removeCredentialsDirectory(path: string): void {
  const me = process.geteuid?.() ?? 0;
  const top = directoryAt(path);
  if (top === undefined) return;
  if (onlyChangeableBy(top, me)) wipeOwnDirectory(path, true);
  if (isMountPoint(path)) unmount(path);
  const under = directoryAt(path);
  if (under === undefined) return;
  try {
    if (onlyChangeableBy(under, me)) wipeOwnDirectory(path);
    else if (me === 0 && under.uid !== 0) {
      chmodSync(path, 0o700); // so its owner can empty it whatever mode it was left in
      emptyAsOwner(path, under.uid, under.gid);
    } else return; // another user's, or one others can write to: not ours to walk
    rmdirSync(path);
  } catch {
    // already gone, or something in it could not be removed: left for the next sweep
  }
}

interface DirectoryOwner {
  uid: number;
  gid: number;
  mode: number;
}

/** Owner and mode of `path` when it is a directory (not a link to one). */
function directoryAt(path: string): DirectoryOwner | undefined {
  try {
    const st = lstatSync(path);
    return st.isDirectory() ? { uid: st.uid, gid: st.gid, mode: st.mode } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether only `uid` can add, rename or remove entries of the directory. */
function onlyChangeableBy(dir: DirectoryOwner, uid: number): boolean {
  return dir.uid === uid && (dir.mode & 0o022) === 0;
}

/**
 * Where credential directories of the calling user go: `parent`, and `prefix` in front of the
 * names keyhold gives them there. Root: /run/keyhold (0711, root's). Anyone else: keyhold-<uid>
 * (0700) in a runtime directory only that user owns ($XDG_RUNTIME_DIR, else /run/user/<uid>);
 * without one, each directory is made fresh in /dev/shm under a unique name (mkdtemp) and its
 * owner and mode are checked: no name there is reserved for a user, since anyone can take it first.
 */
export function privateRunLocation(): { parent: string; prefix: string } {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0) {
    ensureOwnDirectory("/run/keyhold", 0o711, 0);
    return { parent: "/run/keyhold", prefix: "" };
  }
  for (const runtime of [process.env.XDG_RUNTIME_DIR, `/run/user/${uid}`]) {
    if (runtime === undefined || !runtime.startsWith("/") || !privateTo(runtime, uid)) continue;
    const parent = join(runtime, `keyhold-${uid}`);
    ensureOwnDirectory(parent, 0o700, uid);
    return { parent, prefix: "" };
  }
  return { parent: "/dev/shm", prefix: `keyhold-${uid}-` };
}

/** Where root's shared ramfs is mounted: inside root's /run/keyhold. */
export const ROOT_SHARED_RAMFS = "/run/keyhold/ramfs";

/** Whether `path` is the shared ramfs as keyhold mounts it: root's, 0711, a ramfs. */
function sharedRamfsReady(path: string): boolean {
  try {
    const st = lstatSync(path);
    return (
      st.isDirectory() && st.uid === 0 && (st.mode & 0o7777) === 0o711 && memoryFilesystemOf(path) === "ramfs"
    );
  } catch {
    return false;
  }
}

/**
 * Root's one ramfs kept mounted at ROOT_SHARED_RAMFS (root's, 0711: traversable, not listable)
 * for the rest of the boot: `keyhold run` makes its private directories in it, and keyhold's own
 * unsealed keys are kept in it (src/load/key-cache.ts), so neither starts a mount process per
 * command. With `mount`, the first caller after boot mounts it, under a lock so two first callers
 * never stack two mounts there. Undefined for anyone but root, and where it is not mounted and
 * cannot be (no CAP_SYS_ADMIN, or not asked to).
 */
export async function rootSharedRamfs(options: { mount: boolean }): Promise<string | undefined> {
  if (process.geteuid?.() !== 0) return undefined;
  const shared = ROOT_SHARED_RAMFS;
  if (sharedRamfsReady(shared)) return shared;
  if (!options.mount) return undefined;
  ensureOwnDirectory(dirname(shared), 0o711, 0);
  await withLock(`${shared}.lock`, () => {
    if (sharedRamfsReady(shared)) return;
    try {
      mkdirSync(shared, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const st = lstatSync(shared);
    if (st.isDirectory() && st.uid === 0 && memoryFilesystemOf(shared) !== "ramfs") mountRamfs(shared, 0o711);
  });
  return sharedRamfsReady(shared) ? shared : undefined;
}

/** A directory owned by `uid` that no one else can enter. */
function privateTo(path: string, uid: number): boolean {
  try {
    const st = statSync(path);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
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

/** A fresh directory from mkdtemp, checked to be a directory of ours that only we can enter. */
function makeFreshDirectory(template: string): string {
  const path = mkdtempSync(template);
  const st = lstatSync(path);
  if (!st.isDirectory() || st.uid !== (process.geteuid?.() ?? 0) || (st.mode & 0o077) !== 0) {
    throw new SecretError("PATH_VALIDATION_FAILED", `${path} is not a private directory of this user`);
  }
  return path;
}

/**
 * Creates a private directory on a memory file system holding one 0400 file per credential,
 * the way systemd lays out $CREDENTIALS_DIRECTORY for a service. Nothing in it ever reaches a
 * disk. The files belong to the reader (`uid`); the directory always stays the caller's: 0500,
 * or 0550 with the reader's group when the reader is another user, who can then list and read
 * it but never add, rename or replace an entry. Removing it therefore never meets a tree the
 * reader built.
 *
 * A reader that is another user owns its files and could chmod one and append to it without
 * end on a ramfs (no size limit, never swapped). So, as systemd does, root gives such a reader
 * a ramfs of its own, mounted at READER_MOUNT inside the made directory (root's, 0700 while
 * the files are written) and made read-only once they are; only then does the made directory
 * open to the reader's group (0710), so no process of the reader ever sees the mount writable.
 * `path` is then that mount, and `remove()` removes the made directory around it. Where no
 * ramfs can be mounted the files stay on the parent's file system: a tmpfs (whose size limit
 * bounds them) is accepted, a ramfs refused.
 */
export function createCredentialsDirectory(
  entries: readonly CredentialEntry[],
  options: CredentialsDirectoryOptions = {},
): CredentialsDirectory {
  for (const e of entries) assertCredentialName(e.name);
  const me = process.geteuid?.() ?? 0;
  const uid = options.uid ?? me;
  const gid = options.gid ?? process.getegid?.() ?? 0;
  const reader = me === 0 && uid !== me;
  const place = options.parent === undefined ? privateRunLocation() : { parent: options.parent, prefix: "" };
  mkdirSync(place.parent, { recursive: true, mode: 0o700 });
  const made = makeFreshDirectory(join(place.parent, `${place.prefix}${options.prefix ?? "credentials-"}`));
  const path = reader ? join(made, READER_MOUNT) : made;
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    removeCredentialsDirectory(made);
  };
  let filesystem: CredentialsDirectory["filesystem"] | undefined;
  try {
    if (reader) mkdirSync(path, { mode: 0o700 });
    if ((options.ramfs ?? true) && me === 0) mountRamfs(path);
    filesystem = memoryFilesystemOf(path);
  } catch (err) {
    remove();
    throw err;
  }
  if (filesystem === undefined) {
    remove();
    throw new SecretError(
      "NOT_MEMORY_FS",
      `${place.parent} is not on a memory file system; refusing to write credentials there`,
      {
        hint: "run as root (keyhold mounts a private ramfs) or set XDG_RUNTIME_DIR to a tmpfs directory",
      },
    );
  }
  const dir: CredentialsDirectory = { path, filesystem, remove };
  try {
    for (const e of entries) writeCredentialFile(join(path, e.name), e.value, uid, gid);
    if (reader) {
      chownSync(path, me, gid);
      chmodSync(path, 0o550);
      if (!(isMountPoint(path) ? remountReadOnly(path) : filesystem === "tmpfs")) {
        throw new SecretError(
          "IO_ERROR",
          `cannot make the credentials of uid ${uid} read-only on ${filesystem}; refusing to hand it files it could grow without limit`,
          { hint: "keyhold needs CAP_SYS_ADMIN to mount and remount a ramfs for another user" },
        );
      }
      chownSync(made, me, gid);
      chmodSync(made, 0o710);
    } else chmodSync(path, 0o500);
    return dir;
  } catch (err) {
    remove();
    throw err;
  }
}

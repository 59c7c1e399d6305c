import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { wipe } from "../secret/index.js";
import { readCredentialHeader } from "../systemd/header.js";
import { memoryFilesystemOf, rootSharedRamfs } from "./credentials-directory.js";

/*
 * keyhold's own keys (the audit key, the vault's master, the scan key: src/load/sealed-key.ts),
 * once unsealed, kept for the rest of the boot in root's shared ramfs, so that a command does not
 * start a systemd-creds process for each of them every time. Only a key sealed with the host key
 * alone is kept: whoever can read the cache (root) can read the host key too (root's, 0400) and
 * decrypt the sealed file with it, so the cache lets nobody read a key they could not read
 * before. A key sealed with the TPM is never kept (its policy may ask more than being root).
 *
 *   KEY_CACHE_DIR/<slot>.<version>     the plaintext as systemd-creds gave it, root's, 0400
 *
 * `slot` names the key (its credential name and sealed file); `version` the sealed bytes and the
 * host key's identity, so a re-sealed key or a new host key is a different entry, and storing one
 * removes the slot's others. The directory is root's, 0700, on a ramfs (never swapped, never on a
 * disk, gone at shutdown); anything else there is not used. `KEYHOLD_KEY_CACHE=off` turns the
 * cache off; `rm -r /run/keyhold/ramfs/keys` empties it.
 */

export const KEY_CACHE_DIR = "/run/keyhold/ramfs/keys";
export const KEY_CACHE_VARIABLE = "KEYHOLD_KEY_CACHE";
const HOST_KEY = "/var/lib/systemd/credential.secret";
const DIR_MODE = 0o700;
const ENTRY_MODE = 0o400;

export interface KeyCacheRequest {
  /** The credential name the key is sealed under. */
  name: string;
  /** The sealed file's path and bytes. */
  path: string;
  sealed: Buffer;
  /** Largest plaintext accepted. */
  maxBytes: number;
  env: NodeJS.ProcessEnv;
}

/** A key's place in the cache, or undefined when this key is not kept (see above). */
export interface KeyCacheEntry {
  slot: string;
  version: string;
}

const digest = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(typeof p === "string" ? Buffer.from(p) : p).update("\0");
  return h.digest("hex").slice(0, 32);
};

/** Whether this process may use the cache for this key, and under which entry. */
export function keyCacheEntry(request: KeyCacheRequest): KeyCacheEntry | undefined {
  if (process.geteuid?.() !== 0 || request.env[KEY_CACHE_VARIABLE] === "off") return undefined;
  let keyType: string;
  try {
    keyType = readCredentialHeader(request.sealed).keyType;
  } catch {
    return undefined; // systemd-creds says what is wrong with it
  }
  if (keyType !== "host") return undefined;
  const hostKey = request.env.SYSTEMD_CREDENTIAL_SECRET || HOST_KEY;
  let id: string;
  try {
    const st = statSync(hostKey, { bigint: true });
    id = `${hostKey}:${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
  return { slot: digest(request.name, request.path), version: digest(request.sealed, id) };
}

/** The cache directory when it is root's, 0700, on a ramfs; undefined otherwise. */
function cacheDirectory(): string | undefined {
  try {
    const st = lstatSync(KEY_CACHE_DIR);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o7777) !== DIR_MODE) return undefined;
    return memoryFilesystemOf(KEY_CACHE_DIR) === "ramfs" ? KEY_CACHE_DIR : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The cached plaintext of `entry`, or undefined (not cached, or an entry that is not a regular
 * file of root's, 0400, with one link and a size within `maxBytes`: it is then stored anew).
 */
export function readCachedKey(entry: KeyCacheEntry, maxBytes: number): Buffer | undefined {
  const dir = cacheDirectory();
  if (dir === undefined) return undefined;
  let fd: number;
  try {
    fd = openSync(join(dir, `${entry.slot}.${entry.version}`), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o7777) !== ENTRY_MODE || st.nlink !== 1) return undefined;
    if (st.size === 0 || st.size > maxBytes) return undefined;
    const bytes = Buffer.alloc(st.size);
    let offset = 0;
    while (offset < bytes.length) {
      const n = readSync(fd, bytes, offset, bytes.length - offset, offset);
      if (n === 0) break;
      offset += n;
    }
    if (offset !== bytes.length) {
      wipe(bytes);
      return undefined;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

/**
 * Keeps `plaintext` as `entry` (written beside it and renamed into place, so a reader never sees
 * half of it) and removes the slot's other versions. Best effort: where the cache cannot be made
 * or written (not root, no ramfs, a read-only sandbox) the key is simply decrypted next time.
 */
export async function storeCachedKey(entry: KeyCacheEntry, plaintext: Uint8Array): Promise<void> {
  try {
    let dir = cacheDirectory();
    if (dir === undefined) {
      const shared = await rootSharedRamfs({ mount: canMount() });
      if (shared === undefined) return;
      try {
        mkdirSync(KEY_CACHE_DIR, { mode: DIR_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") return;
      }
      dir = cacheDirectory();
      if (dir === undefined) return;
    }
    const name = `${entry.slot}.${entry.version}`;
    const temp = join(dir, `.${name}.${randomBytes(6).toString("hex")}`);
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, ENTRY_MODE);
    try {
      let offset = 0;
      while (offset < plaintext.length) offset += writeSync(fd, plaintext, offset, plaintext.length - offset);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, join(dir, name));
    for (const other of readdirSync(dir)) {
      if (other.startsWith(`${entry.slot}.`) && other !== name) unlinkSync(join(dir, other));
    }
  } catch {
    // a cache that cannot be written costs a decrypt next time, nothing else
  }
}

/** Removes every cached version of the key sealed as `name` at `path` (a key sealed anew there). */
export function forgetCachedKey(name: string, path: string): void {
  const dir = cacheDirectory();
  if (dir === undefined) return;
  const slot = `${digest(name, path)}.`;
  try {
    for (const other of readdirSync(dir)) if (other.startsWith(slot)) unlinkSync(join(dir, other));
  } catch {
    // nothing cached
  }
}

/**
 * Whether a mount can work here: root with CAP_SYS_ADMIN in its effective set. A sandboxed root
 * process without it (the vault's answering unit) would otherwise start a `mount` that fails at
 * every request.
 */
function canMount(): boolean {
  try {
    const status = readFileSync("/proc/self/status", "latin1");
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return hex !== undefined && (BigInt(`0x${hex}`) & (1n << 21n)) !== 0n;
  } catch {
    return false;
  }
}

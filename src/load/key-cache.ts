import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";
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
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { asKeyBytes, type KeyBytes, SecretError, wipe } from "../secret/index.js";
import { readCredentialHeader } from "../systemd/header.js";
import { writeFileAtomic } from "../durable/atomic.js";
import { memoryFilesystemOf, rootSharedRamfs } from "./credentials-directory.js";
import { readProtectedFile } from "./protected-file.js";

/*
 * keyhold's own keys (the audit key, the vault's master, the scan key: src/load/sealed-key.ts),
 * once unsealed, kept for the rest of the boot in root's shared ramfs, so that a command does not
 * start a systemd-creds process for each of them every time. Only a key sealed with the host key
 * alone is kept, and kept sealed with a key derived from the host key's own bytes: reading an
 * entry, or planting one keyhold would use, takes the host key, which decrypts the sealed file
 * anyway. Being root is not enough: a root process the host key is hidden from (InaccessiblePaths=,
 * a container given /run but not /var/lib) finds only ciphertext here and cannot forge an entry.
 * A key sealed with the TPM is never kept (its policy may ask more than the host key).
 *
 *   KEY_CACHE_DIR/<slot>.<version>            IV (12) | AES-256-GCM of the plaintext | tag (16),
 *                                             the entry's name as associated data; root's, 0400
 *   KEY_CACHE_DIR/.<slot>.<version>.<random>  an entry being written (renamed into place)
 *
 * `slot` names the key (its credential name and sealed file); `version` is a MAC of the sealed
 * bytes under the host key, so a re-sealed key or a new host key is a different entry, and storing
 * one removes the slot's others and any temporary file a killed writer left. The directory is
 * root's, 0700, on a ramfs (never swapped, never on a disk, gone at shutdown); anything else there
 * is not used. `KEYHOLD_KEY_CACHE=off` turns the cache off; `rm -r /run/keyhold/ramfs/keys`
 * empties it.
 */

export const KEY_CACHE_DIR = "/run/keyhold/ramfs/keys";
export const KEY_CACHE_VARIABLE = "KEYHOLD_KEY_CACHE";
const HOST_KEY = "/var/lib/systemd/credential.secret";
// systemd's host key is 4112 bytes (a machine id and 4096 random bytes).
const HOST_KEY_MAX_BYTES = 64 * 1024;
const DIR_MODE = 0o700;
const ENTRY_MODE = 0o400;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_INFO = "keyhold key cache v1";

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
  /** What the entry is sealed with, derived from the host key: wiped with disposeKeyCacheEntry. */
  key: KeyBytes;
}

const digest = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(typeof p === "string" ? Buffer.from(p) : p).update("\0");
  return h.digest("hex").slice(0, 32);
};

/**
 * The host key's bytes, when this process can read it and it is root's alone (a host key others
 * can read would let them open the cache). Undefined otherwise: the key is then not cached.
 */
function readHostKey(path: string): Buffer | undefined {
  try {
    const bytes = readProtectedFile(path, { owners: [0], maxBytes: HOST_KEY_MAX_BYTES });
    return bytes.length > 0 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** Exactly `size` bytes from the start of `fd`, or undefined (wiped) when fewer are there. */
function readAll(fd: number, size: number): Buffer | undefined {
  const bytes = Buffer.alloc(size);
  let offset = 0;
  while (offset < size) {
    const n = readSync(fd, bytes, offset, size - offset, offset);
    if (n === 0) break;
    offset += n;
  }
  if (offset === size) return bytes;
  wipe(bytes);
  return undefined;
}

/**
 * Whether KEYHOLD_KEY_CACHE lets this process use the cache: unset, empty or "on" yes, "off" no.
 * Anything else is a USAGE error: a misspelt "of" or "0" must not leave the cache on unnoticed.
 */
function cacheWanted(env: NodeJS.ProcessEnv): boolean {
  const value = env[KEY_CACHE_VARIABLE];
  if (value === undefined || value === "" || value === "on") return true;
  if (value === "off") return false;
  throw new SecretError("USAGE", `${KEY_CACHE_VARIABLE} must be "on" or "off"`, {
    hint: `unset it, or set ${KEY_CACHE_VARIABLE}=off to decrypt keyhold's own keys every time`,
  });
}

/** Whether this process may use the cache for this key, and under which entry. */
export function keyCacheEntry(request: KeyCacheRequest): KeyCacheEntry | undefined {
  if (!cacheWanted(request.env) || process.geteuid?.() !== 0) return undefined;
  let keyType: string;
  try {
    keyType = readCredentialHeader(request.sealed).keyType;
  } catch {
    return undefined; // systemd-creds says what is wrong with it
  }
  if (keyType !== "host") return undefined;
  const hostKey = readHostKey(request.env.SYSTEMD_CREDENTIAL_SECRET || HOST_KEY);
  if (hostKey === undefined) return undefined;
  const keys = Buffer.from(hkdfSync("sha256", hostKey, Buffer.alloc(0), KEY_INFO, 64));
  wipe(hostKey);
  try {
    const slot = digest(request.name, request.path);
    const version = createHmac("sha256", keys.subarray(0, 32))
      .update(`${slot}\0`)
      .update(request.sealed)
      .digest("hex")
      .slice(0, 32);
    return { slot, version, key: asKeyBytes(Buffer.from(keys.subarray(32))) };
  } finally {
    wipe(keys);
  }
}

/** Wipes what keyCacheEntry derived from the host key. */
export function disposeKeyCacheEntry(entry: KeyCacheEntry | undefined): void {
  wipe(entry?.key);
}

const entryName = (entry: KeyCacheEntry) => `${entry.slot}.${entry.version}`;

/** `plaintext` sealed for `entry`: IV, ciphertext, tag. */
function sealEntry(entry: KeyCacheEntry, plaintext: Uint8Array): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", entry.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(entryName(entry)));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** The plaintext of an entry's bytes, or undefined when they were not sealed for `entry`. */
function openEntry(entry: KeyCacheEntry, bytes: Buffer): Buffer | undefined {
  const decipher = createDecipheriv("aes-256-gcm", entry.key, bytes.subarray(0, IV_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(entryName(entry)));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  const plaintext = decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES));
  try {
    decipher.final();
    return plaintext;
  } catch {
    wipe(plaintext); // GCM hands the bytes out before the tag is checked
    return undefined;
  }
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
 * The cached plaintext of `entry`, or undefined: not cached, an entry that is not a regular file
 * of root's, 0400, with one link and a size within `maxBytes`, or one not sealed for this entry
 * with this host key (it is then stored anew).
 */
export function readCachedKey(entry: KeyCacheEntry, maxBytes: number): Buffer | undefined {
  const dir = cacheDirectory();
  if (dir === undefined) return undefined;
  let fd: number;
  try {
    fd = openSync(join(dir, entryName(entry)), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== 0 || (st.mode & 0o7777) !== ENTRY_MODE || st.nlink !== 1) return undefined;
    if (st.size <= IV_BYTES + TAG_BYTES || st.size > maxBytes + IV_BYTES + TAG_BYTES) return undefined;
    const bytes = readAll(fd, st.size);
    return bytes && openEntry(entry, bytes);
  } finally {
    closeSync(fd);
  }
}

/** Removes the slot's entries and temporary files, except `keep`. */
function removeSlot(dir: string, slot: string, keep?: string): void {
  for (const other of readdirSync(dir)) {
    if ((other.startsWith(`${slot}.`) || other.startsWith(`.${slot}.`)) && other !== keep) {
      try {
        unlinkSync(join(dir, other));
      } catch {
        // removed meanwhile by another keyhold
      }
    }
  }
}

/**
 * Keeps `plaintext` as `entry` (written beside it and renamed into place, so a reader never sees
 * half of it) and removes the slot's other versions and the temporary files of writers that were
 * killed. A write that fails removes its temporary file. Best effort: where the cache cannot be
 * made or written (not root, no ramfs, a read-only sandbox) the key is simply decrypted next time.
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
    const name = entryName(entry);
    // On a ramfs the flushes cost nothing; a failed write removes its temporary file, and one a
    // killed writer left (`.<slot>.<version>.tmp-…`) goes with the slot's next store.
    writeFileAtomic(join(dir, name), sealEntry(entry, plaintext), { mode: ENTRY_MODE, syncDirectory: false });
    removeSlot(dir, entry.slot, name);
  } catch {
    // a cache that cannot be written costs a decrypt next time, nothing else
  }
}

/**
 * Removes `entry` when the sealed file at `path` no longer holds `sealed`: a key sealed anew (or
 * moved away) while this process decrypted the old one had its entries forgotten before this one
 * was stored, and the key it replaced must not come back for the rest of the boot.
 */
export function dropIfResealed(entry: KeyCacheEntry, path: string, sealed: Buffer): void {
  let same = false;
  try {
    same = readProtectedFile(path, { permissions: "any", owners: "any", maxBytes: sealed.length }).equals(sealed);
  } catch {
    // gone, or grown: not the file this entry was made from
  }
  const dir = cacheDirectory();
  if (same || dir === undefined) return;
  try {
    unlinkSync(join(dir, entryName(entry)));
  } catch {
    // not stored, or forgotten already
  }
}

/**
 * Removes every cached version of the key sealed as `name` at `path` (a key sealed anew there,
 * moved away or removed), and what writers killed meanwhile left of it.
 */
export function forgetCachedKey(name: string, path: string): void {
  const dir = cacheDirectory();
  if (dir === undefined) return;
  try {
    removeSlot(dir, digest(name, path));
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

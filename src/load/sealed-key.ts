import { renameSync, unlinkSync } from "node:fs";
import { writeFileAtomic } from "../durable/index.js";
import { isKeyholdError, SECRET_KEY_BYTES, Secret, SecretError, SecretKey, wipe } from "../secret/index.js";
import { type CredsOptions, decryptCredential, type EncryptOptions, encryptCredential } from "../systemd/index.js";
import {
  disposeKeyCacheEntry,
  dropIfResealed,
  forgetCachedKey,
  keyCacheEntry,
  readCachedKey,
  storeCachedKey,
} from "./key-cache.js";
import { assertCleanAbsolutePath } from "./protected-file.js";
import { credentialPlaces, loadCredential } from "./sources.js";

/**
 * The 32-byte keys keyhold makes for itself and keeps sealed with systemd-creds (encrypted with this
 * host's key under a credential name, so only root on this host opens them), one file each. This
 * module is the only one that seals and unseals them. The sealed plaintext keeps the encoding each
 * key was first written with, so the keys already on hosts keep opening:
 *
 *   key            credential name          sealed file                               plaintext
 *   audit key      keyhold.audit-key        STATE/keyhold.audit-key                   "hex": 64 hex characters
 *                                           (a job server's: STATE/SERVICE.audit-key)
 *   scan key       keyhold.scan-key         STATE/keyhold.scan-key                    "raw": the 32 bytes
 *   vault master   keyhold-vault-master     STORE/NAME (staged: STORE/NAME.next)      "raw": the 32 bytes
 *                  (or the name configured)
 *
 * A service given the key with LoadCredentialEncrypted= finds that same plaintext in
 * $CREDENTIALS_DIRECTORY; unsealKey takes it from there first (src/load/sources.ts) when asked to.
 * Root keeps a key sealed with the host key, once unsealed, in its ramfs for the rest of the boot
 * (src/load/key-cache.ts), so commands do not decrypt it again and again.
 */
export type SealedKeyEncoding = "hex" | "raw";

export interface SealedKeyFile {
  /** The credential name the key is sealed under (and its name in $CREDENTIALS_DIRECTORY). */
  name: string;
  /** The sealed file. */
  path: string;
  encoding: SealedKeyEncoding;
}

// A sealed 32-byte key is well under 1 KiB of base64; a handed-in copy is 32 or 64 bytes.
const KEY_FILE_MAX_BYTES = 16 * 1024;

/** The plaintext to seal: the bytes themselves, or a fresh buffer of their hex (the caller wipes it). */
function encode(file: SealedKeyFile, key: Uint8Array): { plaintext: Uint8Array; copy?: Buffer } {
  if (key.length !== SECRET_KEY_BYTES) {
    throw new SecretError("INVALID_FORMAT", `the key ${file.name} must be ${SECRET_KEY_BYTES} bytes`);
  }
  if (file.encoding === "raw") return { plaintext: key };
  const copy = Buffer.from(Buffer.from(key.buffer, key.byteOffset, key.length).toString("hex"), "latin1");
  return { plaintext: copy, copy };
}

function decode(file: SealedKeyFile, plaintext: Buffer): SecretKey {
  try {
    // JavaScript strings cannot be wiped; the hex string lives until it is collected.
    return file.encoding === "hex"
      ? SecretKey.fromHex(plaintext.toString("latin1"))
      : SecretKey.fromBytes(plaintext);
  } catch (err) {
    const expected = file.encoding === "hex" ? "64 hex characters" : "32 bytes";
    throw new SecretError("INVALID_FORMAT", `the key ${file.name} is not ${expected}`, { cause: err });
  }
}

/**
 * Seals the 32 bytes of `key` as credential `file.name` and writes it atomically, mode 0600, to `file.path`.
 * `beforeWrite` runs between the encryption and the write (the audit key's anchor goes first, so a
 * key on disk always has one), and a failed encryption writes nothing.
 */
export async function sealKey(
  file: SealedKeyFile,
  key: Uint8Array,
  creds: EncryptOptions = {},
  beforeWrite?: () => void,
): Promise<void> {
  assertCleanAbsolutePath(file.path, "sealed key file");
  const { plaintext, copy } = encode(file, key);
  let sealed: Buffer;
  try {
    sealed = await encryptCredential(file.name, plaintext, creds);
  } finally {
    wipe(copy);
  }
  beforeWrite?.();
  writeFileAtomic(file.path, sealed, { mode: 0o600 });
  forgetCachedKey(file.name, file.path);
}

/** A validation time past any not-after time systemd-creds can write. */
const NEVER_EXPIRES = "9999-01-01";

/** The sealed `ciphertext` decrypted, from the key cache when it holds it (kept there when it may). */
async function decryptCached(file: SealedKeyFile, ciphertext: Buffer, creds: CredsOptions): Promise<Secret> {
  const entry = keyCacheEntry({
    name: file.name,
    path: file.path,
    sealed: ciphertext,
    maxBytes: KEY_FILE_MAX_BYTES,
    env: creds.env ?? process.env,
  });
  try {
    if (entry === undefined) return await decryptCredential(file.name, ciphertext, creds);
    const cached = readCachedKey(entry, KEY_FILE_MAX_BYTES);
    if (cached !== undefined) return Secret.fromBytes(cached, { wipeSource: true });
    // A key sealed with a not-after time must not outlive it in the cache, and that time is
    // inside the ciphertext: checked against the end of time, only a key without one decrypts
    // (the usual case: still one systemd-creds), and only such a key is kept.
    let secret: Secret;
    try {
      secret = await decryptCredential(file.name, ciphertext, { ...creds, validAt: NEVER_EXPIRES });
    } catch (err) {
      if (!isKeyholdError(err) || err.code !== "EXPIRED") throw err;
      return await decryptCredential(file.name, ciphertext, creds);
    }
    await storeCachedKey(entry, secret.exposeBytes());
    dropIfResealed(entry, file.path, ciphertext);
    return secret;
  } finally {
    disposeKeyCacheEntry(entry);
  }
}

/**
 * Moves the sealed key at `from.path` to `to.path` (a staged key promoted) and drops what the key
 * cache holds for both: the key that was at `to.path` is gone from this host with the move.
 */
export function moveSealedKey(from: SealedKeyFile, to: SealedKeyFile): void {
  assertCleanAbsolutePath(from.path, "sealed key file");
  assertCleanAbsolutePath(to.path, "sealed key file");
  renameSync(from.path, to.path);
  forgetCachedKey(from.name, from.path);
  forgetCachedKey(to.name, to.path);
}

/** Removes the sealed key at `file.path` (a staged key discarded) and its cached copy; false when there was none. */
export function removeSealedKey(file: SealedKeyFile): boolean {
  assertCleanAbsolutePath(file.path, "sealed key file");
  // The file goes first: a decrypt storing its entry meanwhile then finds it gone (dropIfResealed).
  let removed = true;
  try {
    unlinkSync(file.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    removed = false;
  }
  forgetCachedKey(file.name, file.path);
  return removed;
}

/**
 * The key of `file`: with `handed`, from $CREDENTIALS_DIRECTORY/NAME when that variable is set and
 * the file is there, otherwise decrypted from `file.path`. Undefined when neither exists. The sealed
 * file must be keyhold's own (the caller's or root's, 0600 or 0400), as keyhold writes it.
 */
export async function unsealKey(
  file: SealedKeyFile,
  creds: CredsOptions = {},
  options: { handed?: boolean } = {},
): Promise<SecretKey | undefined> {
  const places = credentialPlaces(file.name, creds.env ?? process.env, {
    sealed: file.path,
    handed: options.handed ?? false,
  });
  const secret = await loadCredential(
    places,
    creds,
    { maxBytes: KEY_FILE_MAX_BYTES, sealed: { permissions: "owner-only", maxBytes: KEY_FILE_MAX_BYTES } },
    (ciphertext) => decryptCached(file, ciphertext, creds),
  );
  if (secret === undefined) return undefined;
  try {
    return decode(file, secret.exposeBytes());
  } finally {
    secret.dispose();
  }
}

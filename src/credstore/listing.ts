import { lstatSync, readdirSync } from "node:fs";
import { readProtectedFile } from "../load/index.js";
import { isSecretError, SecretError, wipe } from "../secret/index.js";
import {
  CREDENTIAL_SIZE_MAX,
  type CredentialKeyType,
  credentialNameProblem,
  decryptCredential,
  readCredentialHeader,
} from "../systemd/index.js";
import { type StoreLayout, storeFile } from "./layout.js";
import { readMeta } from "./meta.js";
import { ownCredential } from "./reserved.js";
import { TEMPORARY_NAME } from "./store.js";

/** What can be wrong with one file of the store: `ls` shows it as a status, `doctor` as a finding. */
export type FileProblem =
  | "expired"
  | "expiring"
  | "name-mismatch"
  | "not-a-credential"
  | "plaintext"
  | "invalid-name"
  | "unknown-key-type"
  | "leftover-temp"
  | "symlink"
  | "not-a-file"
  | "too-large"
  | "unreadable"
  | "decrypt-failed"
  /** A running unit holds an earlier version (set by the application layer, which asks systemd). */
  | "stale";

export type CredentialStatus = "ok" | "perms-too-open" | FileProblem;

/** What `ls` shows about one entry of the store: never a value. */
export interface CredentialEntryInfo {
  name: string;
  status: CredentialStatus;
  /** Plaintext size in bytes when keyhold recorded it, else null. */
  size: number | null;
  fileSize: number;
  keyType: CredentialKeyType | null;
  created: string | null;
  notAfter: string | null;
  version: number | null;
  uid: number;
  gid: number;
  mode: string;
  /** For name-mismatch: the name embedded in the ciphertext (systemd reports it). */
  embeddedName?: string;
  /** For keyhold's own credentials (the vault master, …): what it is and what manages it; else null. */
  keyhold: { role: string; managedBy: string } | null;
}

const EXPIRING_MS = 14 * 24 * 3600 * 1000;

function looksLikeText(bytes: Buffer): boolean {
  if (bytes.length === 0) return false;
  for (const b of bytes) if (b !== 9 && b !== 10 && b !== 13 && (b < 0x20 || b > 0x7e)) return false;
  return true;
}

/**
 * Inspects every entry of the store (one that is not a regular file only with lstat). With `decryptCheck` (root), credentials keyhold did not
 * write are decrypted under their file name to catch the embedded-name mismatch; the
 * plaintext is disposed at once and never leaves this function.
 */
export async function listCredentials(
  l: StoreLayout,
  options: { decryptCheck?: boolean; now?: Date } = {},
): Promise<CredentialEntryInfo[]> {
  const now = (options.now ?? new Date()).getTime();
  let names: string[];
  try {
    names = readdirSync(l.store).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES")
      throw new SecretError("NOT_ROOT", `permission denied on ${l.store}`, { hint: "run with sudo" });
    throw new SecretError("STORE_NOT_FOUND", `credential store not found: ${l.store}`, {
      hint: "run: sudo keyhold init",
    });
  }
  const out: CredentialEntryInfo[] = [];
  for (const name of names) {
    const path = storeFile(l, name);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(path);
    } catch {
      continue; // removed since the directory was read
    }
    const info: CredentialEntryInfo = {
      name,
      status: "ok",
      size: null,
      fileSize: st.size,
      keyType: null,
      created: null,
      notAfter: null,
      version: null,
      uid: st.uid,
      gid: st.gid,
      mode: `0${(st.mode & 0o777).toString(8)}`,
      keyhold: null,
    };
    const own = ownCredential(l, name);
    if (own !== undefined) info.keyhold = { role: own.role, managedBy: own.managedBy };
    out.push(info);
    // Known from lstat alone, never opened: a FIFO would block the read, a link may lead to
    // /dev/zero or round in a loop, and systemd's LoadCredentialEncrypted= would follow a link.
    if (st.isSymbolicLink() || !st.isFile()) {
      info.status = st.isSymbolicLink() ? "symlink" : "not-a-file";
      continue;
    }
    if (TEMPORARY_NAME.test(name)) {
      info.status = "leftover-temp";
      continue;
    }
    // One bad file is one bad line: it never hides the rest of the store.
    if (st.size > CREDENTIAL_SIZE_MAX) {
      info.status = "too-large";
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = readProtectedFile(path, { permissions: "any", owners: "any" });
    } catch (err) {
      info.status = isSecretError(err, "TOO_LARGE") ? "too-large" : "unreadable";
      continue;
    }
    let isCredential = true;
    try {
      info.keyType = readCredentialHeader(bytes).keyType;
    } catch {
      isCredential = false;
      info.status = looksLikeText(bytes) ? "plaintext" : "not-a-credential";
    }
    wipe(bytes);
    if (!isCredential) continue;
    if (info.keyType === "unknown") {
      info.status = "unknown-key-type";
      continue;
    }
    if (credentialNameProblem(name) !== undefined) {
      info.status = "invalid-name";
      continue;
    }
    const meta = readMeta(l, name);
    const current = meta?.versions.find((v) => v.version === meta.current);
    if (meta && current) {
      info.size = current.size;
      info.created = current.created;
      info.notAfter = current.notAfter ?? null;
      info.version = current.version;
    } else if (options.decryptCheck) {
      try {
        const value = await decryptCredential(
          name,
          readProtectedFile(path, { permissions: "any", owners: "any" }),
          l.creds,
        );
        info.size = value.byteLength;
        value.dispose();
      } catch (err) {
        if (isSecretError(err, "NAME_MISMATCH")) {
          info.status = "name-mismatch";
          const m = /embedded credential name '([^']*)'/i.exec(err.message);
          if (m?.[1] !== undefined) info.embeddedName = m[1];
          continue;
        }
        if (isSecretError(err, "EXPIRED")) {
          info.status = "expired";
          continue;
        }
        if (!isSecretError(err, "NOT_ROOT")) {
          info.status = isSecretError(err, "TOO_LARGE") ? "too-large" : "decrypt-failed";
          continue;
        }
      }
    }
    if ((st.mode & 0o077) !== 0 || (process.geteuid?.() === 0 && (st.uid !== 0 || st.gid !== 0))) {
      info.status = "perms-too-open";
    } else if (info.notAfter !== null) {
      const left = Date.parse(info.notAfter) - now;
      if (left <= 0) info.status = "expired";
      else if (left < EXPIRING_MS) info.status = "expiring";
    }
  }
  return out;
}

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { withLock, writeFileAtomic } from "../durable/index.js";
import { readProtectedFile } from "../load/index.js";
import { isSecretError, SecretError, SecretKey } from "../secret/index.js";
import { type CredsOptions, decryptCredential, encryptCredential } from "../systemd/index.js";
import { HEAD_ZERO, sealHead } from "./format.js";
import { AuditLog } from "./log.js";

/** The credential name the audit key is sealed under (and its file name in the state directory). */
export const AUDIT_KEY_NAME = "keyhold.audit-key";
export const AUDIT_LOG_FILE = "audit.log";
/**
 * The log's anchor (docs/audit-format.md, "The anchor"): named after the key, not the log, so
 * removing `audit.log*` leaves it, and made together with the key.
 */
export const AUDIT_ANCHOR_FILE = "keyhold.audit-anchor";

// The key file is a systemd credential holding 64 hex characters: far below this.
const KEY_FILE_MAX_BYTES = 16 * 1024;

/**
 * Creates the audit key once: 32 random bytes as hex, sealed with systemd-creds as credential
 * AUDIT_KEY_NAME, written atomically with mode 0600 to `<stateDir>/keyhold.audit-key`. Returns
 * false and changes nothing if the key exists: replacing it would orphan every record already
 * written. A lock makes concurrent callers agree on one key. The anchor (seq 0, no records yet)
 * is written first, so a key in the state directory always has an anchor beside it.
 */
export async function createAuditKey(stateDir: string, creds: CredsOptions = {}): Promise<boolean> {
  return createAuditKeyFile(join(stateDir, AUDIT_KEY_NAME), creds, join(stateDir, AUDIT_ANCHOR_FILE));
}

/**
 * createAuditKey at another path: a job server's own key (`keyhold unit --mode jobserver
 * --install`), kept apart from the log it keys. With `anchorPath`, the anchor (seq 0) is written
 * there before the key.
 */
export async function createAuditKeyFile(
  path: string,
  creds: CredsOptions = {},
  anchorPath?: string,
): Promise<boolean> {
  return withLock(`${path}.lock`, async () => {
    if (existsSync(path)) return false;
    const hex = Buffer.from(randomBytes(32).toString("hex"), "utf8");
    try {
      const sealed = await encryptCredential(AUDIT_KEY_NAME, hex, creds);
      if (anchorPath !== undefined) {
        const key = keyFromHex(Buffer.from(hex)); // wipes its copy
        try {
          writeFileAtomic(anchorPath, sealHead(HEAD_ZERO, key, "anchor"), { mode: 0o600 });
        } finally {
          key.dispose();
        }
      }
      writeFileAtomic(path, sealed, { mode: 0o600 });
    } finally {
      hex.fill(0);
    }
    return true;
  });
}

/**
 * The audit key: from `$CREDENTIALS_DIRECTORY/keyhold.audit-key` when that variable is set and
 * the file is there (a service given it with LoadCredentialEncrypted=), otherwise decrypted from
 * `<stateDir>/keyhold.audit-key` with systemd-creds. AUDIT_KEY_MISSING when neither exists.
 * `keyFile` names the sealed key instead (a job server's own, to verify its log).
 */
export async function loadAuditKey(
  stateDir: string,
  creds: CredsOptions = {},
  keyFile?: string,
): Promise<SecretKey> {
  const credentialsDirectory = (creds.env ?? process.env).CREDENTIALS_DIRECTORY;
  if (credentialsDirectory && keyFile === undefined) {
    const fromService = readIfPresent(join(credentialsDirectory, AUDIT_KEY_NAME), {
      permissions: "no-others",
      owners: "any",
    });
    if (fromService !== null) return keyFromHex(fromService);
  }
  const path = keyFile ?? join(stateDir, AUDIT_KEY_NAME);
  const sealed = readIfPresent(path, {});
  if (sealed === null) {
    throw new SecretError("AUDIT_KEY_MISSING", `audit key not found: ${path}`, {
      hint: "create it with: keyhold init",
    });
  }
  const secret = await decryptCredential(AUDIT_KEY_NAME, sealed, creds);
  try {
    return keyFromHex(secret.exposeBytes());
  } finally {
    secret.dispose();
  }
}

/**
 * The state directory's audit log, `<stateDir>/audit.log`, keyed with loadAuditKey and anchored
 * in `<stateDir>/keyhold.audit-anchor`. The anchor is always expected: a key is made together with
 * its anchor (createAuditKey, `keyhold unit --mode jobserver --install`), and a log whose key
 * was made elsewhere (one given through $CREDENTIALS_DIRECTORY) starts only deliberately, with
 * `keyhold audit --restart`. So no file the state directory holds can say "no log was ever
 * here": the key, from wherever it comes, says there was one.
 */
export async function openStateAuditLog(
  stateDir: string,
  creds: CredsOptions = {},
  keyFile?: string,
): Promise<AuditLog> {
  const key = await loadAuditKey(stateDir, creds, keyFile);
  return AuditLog.open({
    path: join(stateDir, AUDIT_LOG_FILE),
    key,
    anchor: { path: join(stateDir, AUDIT_ANCHOR_FILE), expected: true },
    ...(creds.env ? { env: creds.env } : {}),
  });
}

function readIfPresent(path: string, rules: Parameters<typeof readProtectedFile>[1]): Buffer | null {
  try {
    return readProtectedFile(path, { maxBytes: KEY_FILE_MAX_BYTES, ...rules });
  } catch (err) {
    if (isSecretError(err, "FILE_NOT_FOUND")) return null;
    throw err;
  }
}

function keyFromHex(bytes: Buffer): SecretKey {
  // JavaScript strings cannot be wiped; the hex string below lives until it is collected.
  try {
    return SecretKey.fromHex(bytes.toString("utf8"));
  } catch (err) {
    throw new SecretError("INVALID_FORMAT", `the audit key is not 64 hex characters`, { cause: err });
  } finally {
    bytes.fill(0);
  }
}

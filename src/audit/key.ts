import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { withLock, writeFileAtomic } from "../durable/index.js";
import { readProtectedFile } from "../load/index.js";
import { isSecretError, SecretError, SecretKey } from "../secret/index.js";
import { type CredsOptions, decryptCredential, encryptCredential } from "../systemd/index.js";
import { AuditLog } from "./log.js";

/** The credential name the audit key is sealed under (and its file name in the state directory). */
export const AUDIT_KEY_NAME = "keyhold.audit-key";
export const AUDIT_LOG_FILE = "audit.log";

// The key file is a systemd credential holding 64 hex characters: far below this.
const KEY_FILE_MAX_BYTES = 16 * 1024;

/**
 * Creates the audit key once: 32 random bytes as hex, sealed with systemd-creds as credential
 * AUDIT_KEY_NAME, written atomically with mode 0600 to `<stateDir>/keyhold.audit-key`. Returns
 * false and changes nothing if the key exists: replacing it would orphan every record already
 * written. A lock makes concurrent callers agree on one key.
 */
export async function createAuditKey(stateDir: string, creds: CredsOptions = {}): Promise<boolean> {
  return createAuditKeyFile(join(stateDir, AUDIT_KEY_NAME), creds);
}

/** createAuditKey at another path: a job server's own key (`keyhold unit --mode jobserver --install`). */
export async function createAuditKeyFile(path: string, creds: CredsOptions = {}): Promise<boolean> {
  return withLock(`${path}.lock`, async () => {
    if (existsSync(path)) return false;
    const hex = Buffer.from(randomBytes(32).toString("hex"), "utf8");
    try {
      writeFileAtomic(path, await encryptCredential(AUDIT_KEY_NAME, hex, creds), { mode: 0o600 });
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

/** The state directory's audit log, `<stateDir>/audit.log`, keyed with loadAuditKey. */
export async function openStateAuditLog(
  stateDir: string,
  creds: CredsOptions = {},
  keyFile?: string,
): Promise<AuditLog> {
  const key = await loadAuditKey(stateDir, creds, keyFile);
  return AuditLog.open({
    path: join(stateDir, AUDIT_LOG_FILE),
    key,
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

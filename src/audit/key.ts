import { existsSync } from "node:fs";
import { join } from "node:path";
import { withLock, writeFileAtomic } from "../durable/index.js";
import { type SealedKeyFile, sealKey, unsealKey } from "../load/index.js";
import { SecretError, SecretKey } from "../secret/index.js";
import type { CredsOptions } from "../systemd/index.js";
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

/**
 * Creates the audit key once: 32 random bytes as 64 hex characters, sealed with systemd-creds as credential
 * AUDIT_KEY_NAME, written atomically with mode 0600 to `<stateDir>/keyhold.audit-key`. Returns
 * false and changes nothing if the key exists: replacing it would orphan every record already
 * written. A lock makes concurrent callers agree on one key. The anchor (seq 0, no records yet)
 * is written first, so a key in the state directory always has an anchor beside it.
 */
export async function createAuditKey(stateDir: string, creds: CredsOptions = {}): Promise<boolean> {
  return createAuditKeyFile(join(stateDir, AUDIT_KEY_NAME), creds, join(stateDir, AUDIT_ANCHOR_FILE));
}

/** The audit key sealed at `path` (docs/audit-format.md; src/load/sealed-key.ts lists every sealed key). */
function auditKeyFile(path: string): SealedKeyFile {
  return { name: AUDIT_KEY_NAME, path, encoding: "hex" };
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
    const key = SecretKey.random();
    try {
      await sealKey(auditKeyFile(path), key.exposeBytes(), creds, () => {
        if (anchorPath !== undefined)
          writeFileAtomic(anchorPath, sealHead(HEAD_ZERO, key, "anchor"), { mode: 0o600 });
      });
    } finally {
      key.dispose();
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
  const path = keyFile ?? join(stateDir, AUDIT_KEY_NAME);
  const key = await unsealKey(auditKeyFile(path), creds, { handed: keyFile === undefined });
  if (key === undefined) {
    throw new SecretError("AUDIT_KEY_MISSING", `audit key not found: ${path}`, {
      hint: "create it with: keyhold init",
    });
  }
  return key;
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

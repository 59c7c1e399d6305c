/*
 * keyhold's defaults, one home each: the version it reports, where its credential store and
 * state directory are when neither an option nor the environment names them, and the names of
 * credentials it makes for its own parts. A leaf: every part (load, systemd, credstore, audit,
 * scan, vault, jobs, cli) may import it and it imports nothing, so a command that only needs a
 * name (credstore/reserved.ts, on every `keyhold run`) does not load the part that uses it.
 */

/** `keyhold --version`, the job server's health answer and SARIF's tool version (package.json's). */
export const VERSION = "0.1.0";

/** The encrypted credential store, one of the places `LoadCredentialEncrypted=NAME` searches. */
export const DEFAULT_STORE = "/etc/credstore.encrypted";

/** keyhold's state: metadata and earlier versions, the audit log and keys, the scan index, the vault. */
export const DEFAULT_STATE = "/var/lib/keyhold";

/** The credential that holds scan's key (docs/scan.md 1.1). */
export const SCAN_KEY_NAME = "keyhold.scan-key";

/** The vault's master as a systemd credential, unless the vault was made with another name. */
export const MASTER_CREDENTIAL = "keyhold-vault-master";

/**
 * The value of an environment variable, where an empty one counts as unset — as shells users
 * expect: `KEYHOLD_STATE= keyhold ls` means "no state directory given", not the relative path "".
 */
function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

/** The store directory: `given` (an option), else $KEYHOLD_STORE (when not empty), else DEFAULT_STORE. */
export function storeDirectory(env: NodeJS.ProcessEnv, given?: string): string {
  return given ?? fromEnv(env, "KEYHOLD_STORE") ?? DEFAULT_STORE;
}

/** The state directory: `given` (an option), else $KEYHOLD_STATE (when not empty), else DEFAULT_STATE. */
export function stateDirectory(env: NodeJS.ProcessEnv, given?: string): string {
  return given ?? fromEnv(env, "KEYHOLD_STATE") ?? DEFAULT_STATE;
}

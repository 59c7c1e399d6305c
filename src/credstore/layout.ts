import { join } from "node:path";
import { stateDirectory, storeDirectory } from "../defaults.js";
import { assertCleanAbsolutePath } from "../load/index.js";
import type { CredsOptions, WithKey } from "../systemd/index.js";

/**
 * Where one credstore lives. The store directory holds exactly what systemd loads: one
 * ciphertext per credential, named after it. Everything else — metadata, earlier versions, the
 * lock, the audit log — sits in the state directory, outside every name systemd searches.
 *
 *   STORE/NAME                              current ciphertext, 0600 root:root
 *   STATE/credentials/NAME/meta.json        non-secret metadata (versions, times, sizes)
 *   STATE/credentials/NAME/versions/N       every version's ciphertext, immutable once written
 *   STATE/store.lock                        serialises writers
 */
export interface StoreLayout {
  store: string;
  state: string;
  /** Options passed to systemd-creds (tests point SYSTEMD_CREDENTIAL_SECRET at a scratch key). */
  creds: CredsOptions;
  withKey?: WithKey;
}

export function resolveLayout(options: {
  store?: string;
  state?: string;
  env?: NodeJS.ProcessEnv;
  withKey?: WithKey;
}): StoreLayout {
  const env = options.env ?? process.env;
  const store = storeDirectory(env, options.store);
  const state = stateDirectory(env, options.state);
  assertCleanAbsolutePath(store, "store directory");
  assertCleanAbsolutePath(state, "state directory");
  const layout: StoreLayout = { store, state, creds: { env } };
  if (options.withKey !== undefined) layout.withKey = options.withKey;
  return layout;
}

export const storeFile = (l: StoreLayout, name: string): string => join(l.store, name);
export const credentialStateDir = (l: StoreLayout, name: string): string =>
  join(l.state, "credentials", name);
export const metaFile = (l: StoreLayout, name: string): string =>
  join(credentialStateDir(l, name), "meta.json");
export const versionsDir = (l: StoreLayout, name: string): string =>
  join(credentialStateDir(l, name), "versions");
export const versionFile = (l: StoreLayout, name: string, version: number): string =>
  join(versionsDir(l, name), String(version));
export const lockFile = (l: StoreLayout): string => join(l.state, "store.lock");
/** The vault's configuration (backend, who holds its master): written by `keyhold vault init`. */
export const vaultDir = (l: StoreLayout): string => join(l.state, "vault");
export const vaultConfigFile = (l: StoreLayout): string => join(vaultDir(l), "config.json");

import {
  closeOpened,
  type DotenvEntry,
  openForShred,
  parseDotenv,
  readOpened,
  shredOpened,
  type StoreLayout,
} from "../credstore/index.js";
import { readProtectedFile, secretFromText } from "../load/index.js";
import { KeyholdError, Secret, wipe } from "../secret/index.js";
import { CREDENTIAL_SIZE_MAX } from "../systemd/index.js";
import { decryptFernet, type LegacyEntry, legacyEntries, type SecretRef } from "../vault/index.js";
import { type HostVaultOptions, withHostVault } from "./vault-host.js";

/*
 * Values coming into this host's vault from outside it, as `keyhold vault put`, `import-env` and
 * `migrate-fernet` bring them: one value (or a plaintext file being migrated, overwritten and
 * removed once the vault reads back the same bytes), a .env file, a legacy Fernet-encrypted store.
 * Imports are all or nothing (src/vault/secrets.ts).
 */

/** Legacy stores and .env files to import: large, but not without end. */
export const LEGACY_STORE_MAX = 64 * 1024 * 1024;

/**
 * A file named by the user: a regular file (a FIFO or device would block or never end; a symbolic
 * link is refused as everywhere in keyhold) of at most `maxBytes`, any owner and mode.
 */
export function readInputFile(path: string, maxBytes: number): Buffer {
  return readProtectedFile(path, { permissions: "any", owners: "any", maxBytes });
}

export interface VaultPutOptions {
  expires?: Date;
}

/** Stores `value` as a new version of `ref`; returns the version. The caller disposes of `value`. */
export async function putVaultSecret(
  l: StoreLayout,
  ref: SecretRef,
  value: Secret,
  put: VaultPutOptions = {},
  options: HostVaultOptions = {},
): Promise<number> {
  return withHostVault(l, options, async ({ vault }) => {
    const { version } = await vault.put(
      ref,
      value,
      put.expires === undefined ? {} : { expires: put.expires },
    );
    return version;
  });
}

/**
 * Migrates a plaintext file into the vault as a new version of `ref` (read whatever its mode: it
 * is what is being fixed). With `shred` the file is read and later overwritten through one
 * descriptor, and only once the vault gives back the same bytes.
 */
export async function migrateVaultFile(
  l: StoreLayout,
  ref: SecretRef,
  file: string,
  migrate: VaultPutOptions & { keepNewline?: boolean; shred?: boolean },
  options: HostVaultOptions = {},
): Promise<number> {
  const opened = migrate.shred ? openForShred(file) : undefined;
  let value: Secret;
  try {
    value = secretFromText(
      opened ? readOpened(opened, CREDENTIAL_SIZE_MAX) : readProtectedFile(file, { permissions: "any" }),
      migrate.keepNewline ?? false,
    );
  } catch (err) {
    if (opened) closeOpened(opened);
    throw err;
  }
  try {
    return await withHostVault(l, options, async ({ vault }) => {
      const expires = migrate.expires;
      const { version } = await vault.put(ref, value, expires === undefined ? {} : { expires });
      if (opened) {
        const back = await vault.get(ref);
        const same = back.verify(value);
        back.dispose();
        if (!same)
          throw new KeyholdError(
            "IO_ERROR",
            "the stored value did not read back the same; the original was kept",
          );
        shredOpened(opened);
      }
      return version;
    });
  } finally {
    value.dispose();
    if (opened) closeOpened(opened);
  }
}

/** The entries of a .env file, each to become NS/<name>; the caller disposes of their values. */
export function readDotenvFile(file: string, ns: string): Array<DotenvEntry & { ref: SecretRef }> {
  const bytes = readInputFile(file, LEGACY_STORE_MAX);
  const entries = parseDotenv(file, bytes.toString("utf8"));
  wipe(bytes);
  return entries.map((e) => ({ ...e, ref: { ns, name: e.name } }));
}

/**
 * The secrets of a legacy Fernet-encrypted JSON store: api_keys.SERVICE becomes SERVICE/api_key,
 * oauth_tokens.SERVICE.FIELD becomes SERVICE/oauth_FIELD. A token older than `ttlSeconds` is
 * refused. The caller disposes of their values.
 */
export function readFernetStore(tokenFile: string, keyFile: string, ttlSeconds?: number): LegacyEntry[] {
  const token = readInputFile(tokenFile, LEGACY_STORE_MAX).toString("utf8");
  const keyBytes = readProtectedFile(keyFile, { maxBytes: 1024 });
  const key = Secret.fromBytes(keyBytes, { wipeSource: true });
  let plain: Secret;
  try {
    plain = decryptFernet(key, token, ttlSeconds === undefined ? {} : { ttlSeconds });
  } finally {
    key.dispose();
  }
  const entries = legacyEntries(plain);
  plain.dispose();
  return entries;
}

/**
 * Imports `entries` (recorded as coming from `source`) all or nothing: a secret already holding the
 * same value is left as it is; one holding another value refuses the import unless `overwrite`.
 * The caller disposes of the values.
 */
export function importVaultValues(
  l: StoreLayout,
  entries: ReadonlyArray<{ ref: SecretRef; value: Secret }>,
  source: string,
  overwrite: boolean,
  options: HostVaultOptions = {},
): Promise<{ count: number; unchanged: string[] }> {
  return withHostVault(l, options, ({ vault }) => vault.importValues([...entries], source, { overwrite }));
}

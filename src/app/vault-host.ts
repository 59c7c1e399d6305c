import { mkdirSync, readFileSync } from "node:fs";
import { type AuditLog, createAuditKey, openStateAuditLog } from "../audit/index.js";
// The barrel, though only the layout is used: a separate chunk for layout.ts would be one more
// file for every command that runs a credential (see vaultCode).
import { type StoreLayout, vaultConfigFile, vaultDir } from "../credstore/index.js";
import { writeFileAtomic } from "../durable/index.js";
import { readProtectedFile } from "../load/index.js";
import { isKeyholdError, KeyholdError, Secret, wipe } from "../secret/index.js";
import { phase } from "../timing.js";
import type { RotationSchedule, SecretRef, Vault, VaultBackend } from "../vault/index.js";
// What opening needs first (the backend and the master key's provider) is imported here; the
// rest of the vault loads later, see vaultCode.
import { FileBackend } from "../vault/file-backend.js";
import {
  keyringProvider,
  type MasterKeyProvider,
  type ProviderKind,
  passphraseProvider,
  systemdCredentialProvider,
} from "../vault/providers.js";

/**
 * The vault itself (its store, records, keys and checks, the PostgreSQL backend): nothing of it
 * runs before the master key is decrypted, so startHostVault starts loading it once the decrypts
 * are under way, and it loads while systemd-creds works. The barrel, not vault/open.ts: the bundle
 * splits its chunks by which lazily loaded modules reach each file, and the barrel is loaded
 * lazily elsewhere already (`keyhold run --vault`), so this adds no chunk boundary to the modules
 * every command shares.
 */
const vaultCode = () => import("../vault/index.js");

/*
 * This host's vault as keyhold's commands (and a library caller) open it. The backend and the
 * provider chosen when the vault was made are remembered (never a secret) in the file
 * vaultConfigFile(layout) of the state directory, so opening needs nothing but the layout; the
 * vault comes with the host's audit log attached and records keyed fingerprints of the values it
 * stores for `keyhold scan`. Also what opening and joining take in (a passphrase file, a master key
 * as `keyhold vault export-master` writes it) and verifying the store as opened.
 */

export interface VaultConfig {
  backend: VaultBackendKind;
  provider: ProviderKind;
  credentialName?: string;
  postgres?: { host?: string; port?: number; database?: string; user?: string; store?: string };
}

export type VaultBackendKind = "file" | "postgres";
export const VAULT_BACKENDS: readonly VaultBackendKind[] = ["file", "postgres"];
export const VAULT_PROVIDERS: readonly ProviderKind[] = ["systemd-credential", "keyring", "passphrase"];

/** This host's vault configuration; VAULT_NOT_FOUND when there is no vault in the state directory. */
export function readVaultConfig(l: StoreLayout): VaultConfig {
  let text: string;
  try {
    text = readFileSync(vaultConfigFile(l), "utf8");
  } catch {
    throw new KeyholdError("VAULT_NOT_FOUND", `no vault in ${l.state}`, {
      hint: "create one with: keyhold vault init",
    });
  }
  try {
    const c = JSON.parse(text) as VaultConfig;
    if (!VAULT_BACKENDS.includes(c.backend) || !VAULT_PROVIDERS.includes(c.provider)) throw new Error("bad");
    return c;
  } catch {
    throw new KeyholdError("INVALID_FORMAT", `vault configuration is malformed: ${vaultConfigFile(l)}`);
  }
}

/** Where this host's vault keeps its records and who holds its master, or undefined when there is no vault yet. */
export function vaultKind(l: StoreLayout): Pick<VaultConfig, "backend" | "provider"> | undefined {
  try {
    const { backend, provider } = readVaultConfig(l);
    return { backend, provider };
  } catch (err) {
    if (isKeyholdError(err, "VAULT_NOT_FOUND")) return undefined;
    throw err;
  }
}

async function backendFor(l: StoreLayout, config: VaultConfig): Promise<VaultBackend> {
  if (config.backend === "file") return new FileBackend({ dir: vaultDir(l) });
  const pg = config.postgres ?? {};
  const { PostgresBackend } = await vaultCode();
  return PostgresBackend.connect({
    config: {
      ...(pg.host === undefined ? {} : { host: pg.host }),
      ...(pg.port === undefined ? {} : { port: pg.port }),
      ...(pg.database === undefined ? {} : { database: pg.database }),
      ...(pg.user === undefined ? {} : { user: pg.user }),
    },
    ...(pg.store === undefined ? {} : { store: pg.store }),
  });
}

export interface HostVaultOptions {
  /**
   * The vault's passphrase, asked for only when the passphrase provider holds its master key. The
   * caller disposes of nothing: the opened vault's close() disposes of it.
   */
  passphrase?: () => Promise<Secret>;
}

function systemdProvider(l: StoreLayout, config: VaultConfig): MasterKeyProvider {
  return systemdCredentialProvider({
    dir: l.store,
    env: l.creds.env ?? process.env,
    ...(l.withKey === undefined ? {} : { withKey: l.withKey }),
    ...(config.credentialName === undefined ? {} : { name: config.credentialName }),
  });
}

async function providerFor(
  l: StoreLayout,
  config: VaultConfig,
  options: HostVaultOptions,
): Promise<{ provider: MasterKeyProvider; pass?: Secret }> {
  switch (config.provider) {
    case "systemd-credential":
      return { provider: systemdProvider(l, config) };
    case "keyring":
      return { provider: keyringProvider() };
    case "passphrase": {
      if (options.passphrase === undefined)
        throw new KeyholdError("USAGE", "this vault needs its passphrase");
      const pass = await options.passphrase();
      return { provider: passphraseProvider({ passphrase: pass }), pass };
    }
  }
}

/** Keyed fingerprints of stored values for `keyhold scan` (src/scan), recorded when a value is stored. */
function fingerprintHook(l: StoreLayout): (name: string, value: Secret) => Promise<void> {
  return async (name, value) => {
    const { openFingerprintIndex } = await import("../scan/index.js");
    const index = await openFingerprintIndex(l.state, l.creds);
    await index.record(name, value, "vault");
  };
}

/** An opened vault with what came with it; close() closes the vault and its backend. */
export interface HostVault {
  vault: Vault;
  audit: AuditLog;
  /** The passphrase it was opened with (passphrase provider), for re-authentication. */
  pass?: Secret;
  close(): Promise<void>;
}

/**
 * The start of opening this host's vault: the audit log opening and, for a master kept as a
 * systemd credential, the master's decrypt, both under way (two systemd-creds processes side by
 * side instead of one after the other). Nothing of the store is read yet. Either openHostVault
 * takes it, or abandon() drops it (wiping a master decrypted early).
 */
export interface HostVaultStart {
  config: VaultConfig;
  audit: Promise<AuditLog>;
  early?: MasterKeyProvider;
  abandon(): void;
}

export function startHostVault(l: StoreLayout): HostVaultStart {
  const config = readVaultConfig(l);
  const audit = openStateAuditLog(l.state, l.creds);
  audit.catch(() => undefined); // thrown by whoever awaits it
  const early = config.provider === "systemd-credential" ? systemdProvider(l, config) : undefined;
  const prefetched = early?.prefetch?.();
  vaultCode().catch(() => undefined); // a failure to load is thrown where the vault is opened
  phase("decrypts-started");
  return {
    config,
    audit,
    ...(early === undefined ? {} : { early }),
    abandon: () => prefetched?.release(),
  };
}

/**
 * Opens this host's vault; a failure to open is audited (vault.open) before it is thrown. The
 * vault takes the master only once the audit log is open (`started`, or a start made here).
 */
export async function openHostVault(
  l: StoreLayout,
  options: HostVaultOptions = {},
  started: HostVaultStart = startHostVault(l),
): Promise<HostVault> {
  const { config, early } = started;
  try {
    const audit = await started.audit;
    phase("audit-open");
    const { provider, pass } = early === undefined ? await providerFor(l, config, options) : { provider: early };
    const opened = await openWithAudit(l, config, audit, provider, pass);
    phase("vault-open");
    return opened;
  } finally {
    started.abandon(); // wipes nothing the vault took
  }
}

async function openWithAudit(
  l: StoreLayout,
  config: VaultConfig,
  audit: AuditLog,
  provider: MasterKeyProvider,
  pass: Secret | undefined,
): Promise<HostVault> {
  const backend = await backendFor(l, config);
  let vault: Vault;
  try {
    const { openVault } = await vaultCode();
    vault = await openVault({
      backend,
      provider,
      stateDir: l.state,
      audit,
      onValueStored: fingerprintHook(l),
    });
  } catch (err) {
    await audit
      .append({ op: "vault.open", result: "error", code: isKeyholdError(err) ? err.code : "INTERNAL" })
      .catch(() => undefined);
    pass?.dispose();
    await backend.close();
    throw err;
  }
  return {
    vault,
    audit,
    ...(pass === undefined ? {} : { pass }),
    async close() {
      vault.close();
      pass?.dispose();
      await backend.close();
    },
  };
}

/** Opens this host's vault for `work` and closes it afterwards, whatever `work` does. */
export async function withHostVault<T>(
  l: StoreLayout,
  options: HostVaultOptions,
  work: (opened: HostVault) => Promise<T>,
  started?: HostVaultStart,
): Promise<T> {
  const opened = await openHostVault(l, options, started);
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

export interface CreateHostVaultOptions extends HostVaultOptions {
  schedule?: RotationSchedule;
  /** Join a shared vault: this host's copy of its master key (disposed of here), read when needed. */
  join?: () => Promise<Secret>;
}

/**
 * Makes this host's vault (or, with `join`, takes this host's copy of a shared one): the state,
 * store and vault directories, the audit key, the vault itself, and last the configuration that
 * says how to open it again. Returns the store's id.
 */
export async function createHostVault(
  l: StoreLayout,
  config: VaultConfig,
  options: CreateHostVaultOptions = {},
): Promise<{ storeId: string }> {
  mkdirSync(l.state, { recursive: true, mode: 0o700 });
  mkdirSync(l.store, { recursive: true, mode: 0o700 });
  mkdirSync(vaultDir(l), { recursive: true, mode: 0o700 });
  await createAuditKey(l.state, l.creds);
  const audit = await openStateAuditLog(l.state, l.creds);
  const backend = await backendFor(l, config);
  const { provider, pass } = await providerFor(l, config, options);
  try {
    const { initVault, joinVault } = await vaultCode();
    let vault: Vault;
    if (options.join !== undefined) {
      const master = await options.join();
      try {
        vault = await joinVault({ backend, provider, stateDir: l.state, audit, master });
      } finally {
        master.dispose();
      }
    } else {
      vault = await initVault({
        backend,
        provider,
        stateDir: l.state,
        audit,
        schedule: options.schedule ?? {},
      });
    }
    writeFileAtomic(vaultConfigFile(l), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    const { storeId } = vault;
    vault.close();
    return { storeId };
  } finally {
    pass?.dispose();
    await backend.close();
  }
}

/**
 * Reads vault secrets to hand to a command as files: each becomes the file NAME (the part after
 * the namespace), so two secrets of the same name are refused before the vault is opened.
 */
export async function loadVaultSecrets(
  l: StoreLayout,
  options: HostVaultOptions,
  refs: readonly SecretRef[],
): Promise<Array<{ name: string; value: Secret }>> {
  const names = new Set<string>();
  for (const r of refs) {
    if (names.has(r.name)) throw new KeyholdError("USAGE", `two secrets would both be the file ${r.name}`);
    names.add(r.name);
  }
  return withHostVault(l, options, async ({ vault }) => {
    const out: Array<{ name: string; value: Secret }> = [];
    try {
      for (const r of refs) out.push({ name: r.name, value: await vault.get(r) });
    } catch (err) {
      for (const s of out) s.value.dispose();
      throw err;
    }
    return out;
  });
}

/** The vault's passphrase from an owner-only file (one trailing newline is not part of it). */
export function readPassphraseFile(path: string): Secret {
  const bytes = readProtectedFile(path, { maxBytes: 4096 });
  const text = bytes.toString("utf8").replace(/\r?\n$/, "");
  wipe(bytes);
  if (text.length === 0) throw new KeyholdError("EMPTY_VALUE", "the passphrase file is empty");
  return Secret.fromString(text);
}

/**
 * A shared vault's master key as `keyhold vault export-master` writes it (64 hex characters and a
 * newline), for `join`; `raw` is wiped.
 */
export function masterFromExport(raw: Buffer): Secret {
  const hex = raw.toString("utf8").trim();
  wipe(raw);
  if (!/^[0-9a-f]{64}$/i.test(hex))
    throw new KeyholdError("INVALID_FORMAT", "the master key on stdin must be 64 hex characters");
  return Secret.fromBytes(Buffer.from(hex, "hex"), { wipeSource: true });
}

/** Opening refuses these: a store that cannot be opened at all is a finding too, not just an error. */
const TAMPERING = ["VAULT_TAMPERED", "VAULT_ROLLBACK", "VAULT_FORKED", "AUDIT_TAMPERED"];

export interface HostVaultVerification {
  /** What is wrong, as text (none when the store, and with `withAudit` the log, verified). */
  problems: string[];
  /** The generation this host now remembers, when it had not seen this store before. */
  firstSight?: number;
}

/**
 * Verifies this host's vault (`vault verify`), and with `withAudit` the audit log against this
 * host's seal in it (`vault audit verify`). Tampering found while opening is a problem, not an error.
 */
export async function verifyHostVault(
  l: StoreLayout,
  options: HostVaultOptions,
  withAudit: boolean,
): Promise<HostVaultVerification> {
  let firstSight: number | undefined;
  try {
    const problems = await withHostVault(l, options, async ({ vault }) => {
      const report = withAudit ? await vault.verifyAudit() : await vault.verify();
      const store = "store" in report ? report.store : report;
      if (store.firstSight) firstSight = store.generation;
      return report.problems;
    });
    return { problems, ...(firstSight === undefined ? {} : { firstSight }) };
  } catch (err) {
    if (!isKeyholdError(err) || !TAMPERING.includes(err.code)) throw err;
    return {
      problems: [`${err.message} [${err.code}]`],
      ...(firstSight === undefined ? {} : { firstSight }),
    };
  }
}

import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type AuditLog, createAuditKey, openStateAuditLog } from "../../src/audit/index.js";
import {
  FileBackend,
  type InitVaultOptions,
  initVault,
  type MasterKeyProvider,
  openVault,
  systemdCredentialProvider,
  type Vault,
  type VaultBackend,
  type VaultOptions,
} from "../../src/vault/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

/** A scratch world with a host key, an audit log, a systemd-credential master and a file store. */
export interface VaultWorld {
  scratch: Scratch;
  vaultDir: string;
  audit: AuditLog;
  provider: MasterKeyProvider;
  backend: VaultBackend;
  options: VaultOptions;
  init(extra?: Partial<InitVaultOptions>): Promise<Vault>;
  open(extra?: Partial<VaultOptions>): Promise<Vault>;
  cleanup(): void;
}

export async function makeVaultWorld(prefix = "keyhold-vault-"): Promise<VaultWorld> {
  const scratch = makeScratch(prefix);
  mkdirSync(scratch.store, { recursive: true, mode: 0o700 });
  mkdirSync(scratch.state, { recursive: true, mode: 0o700 });
  await createAuditKey(scratch.state, { env: scratch.env });
  const audit = await openStateAuditLog(scratch.state, { env: scratch.env });
  const provider = systemdCredentialProvider({ dir: scratch.store, env: scratch.env, withKey: "host" });
  const vaultDir = join(scratch.state, "vault");
  const backend = new FileBackend({ dir: vaultDir });
  const options: VaultOptions = { backend, provider, stateDir: scratch.state, audit };
  return {
    scratch,
    vaultDir,
    audit,
    provider,
    backend,
    options,
    init: (extra = {}) => initVault({ ...options, ...extra }),
    open: (extra = {}) => openVault({ ...options, ...extra }),
    cleanup: () => scratch.cleanup(),
  };
}

/** Every byte of every file under `dir`, for canary searches. */
export function everyFileUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) out.push(...everyFileUnder(path));
    else if (st.isFile()) out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

/** Parses a vector file: `key: value` lines. */
export function readVector(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "") continue;
    const at = line.indexOf(": ");
    out[line.slice(0, at)] = line.slice(at + 2);
  }
  return out;
}

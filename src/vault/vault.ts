import { Secret } from "../secret/index.js";
import * as access from "./access.js";
import { ScopedVault } from "./access.js";
import type { AuditVerifyReport } from "./audit-trail.js";
import type { VerifyReport } from "./barrier.js";
import type { Reauth, VaultCore, VaultOptions } from "./core.js";
import { createStore, type InitVaultOptions, joinStore, openStore } from "./opening.js";
import { type AccessRule, checkPlugin, type PluginManifest, type PolicyDocument } from "./policy.js";
import type { ProviderKind } from "./providers.js";
import type { RotationSchedule } from "./records.js";
import { checkPart, parseRef, type SecretRef } from "./refs.js";
import * as rotation from "./rotation.js";
import type { RotationResult } from "./rotation.js";
import * as secrets from "./secrets.js";
import type { PutOptions, SecretInfo, VersionInfo } from "./secrets.js";

/*
 * The vault's front door: one handle on a store, each method one operation. What the operations
 * share is in core.ts; the records and their envelope in records.ts; the checked reads, the commit
 * and the full check in barrier.ts; the keys in keyring.ts; this host's memory in host-state.ts;
 * the secrets, access and rotation in secrets.ts, access.ts and rotation.ts.
 */

export type { AuditVerifyReport, VaultAuditLog } from "./audit-trail.js";
export type { VerifyReport } from "./barrier.js";
export type { Reauth, VaultOptions } from "./core.js";
export type { InitVaultOptions } from "./opening.js";
export type { RotationSchedule } from "./records.js";
export type { RotateLevel, RotationResult } from "./rotation.js";
export type { PutOptions, SecretInfo, VersionInfo } from "./secrets.js";
export { ScopedVault };

/**
 * The vault: a key hierarchy over an untrusted backend (docs/vault-format.md). Every operation
 * is audited; every write is one atomic compare-and-swap commit that also moves the integrity
 * root (`head`), so concurrent writers retry instead of losing updates and a crash leaves the
 * store as it was before or after the commit.
 */
export class Vault {
  readonly #core: VaultCore;

  private constructor(core: VaultCore) {
    this.#core = core;
  }

  // ---------------------------------------------------------------- creation and opening

  /** Creates a new store: master (kept by the provider), KEK 1, integrity key, empty policy, head. */
  static async init(options: InitVaultOptions): Promise<Vault> {
    return new Vault(await createStore(options));
  }

  /** Opens an existing store and checks all of it (docs/vault-format.md section 4). */
  static async open(options: VaultOptions): Promise<Vault> {
    return new Vault(await openStore(options));
  }

  /**
   * Gives this host its own copy of an existing store's master (a PostgreSQL store shared by
   * several hosts), handed to this host's provider, then opens the store.
   */
  static async join(options: VaultOptions & { master: Secret }): Promise<Vault> {
    await joinStore(options);
    return Vault.open(options);
  }

  /** The master key, for giving another host its own copy (sensitive: re-authentication, audited). */
  async exportMaster(auth: Reauth = {}): Promise<Secret> {
    const core = this.#core;
    core.live();
    await core.reauth("vault.export", auth);
    const { meta } = core.barrier.keys;
    await core.trail.record({ op: "vault.export", result: "ok", detail: { master: meta.master.version } });
    return Secret.fromBytes(core.barrier.keys.master);
  }

  get storeId(): string {
    return this.#core.storeId.toString("hex");
  }

  get providerKind(): ProviderKind {
    return this.#core.barrier.keys.meta.master.provider;
  }

  // ---------------------------------------------------------------- secrets

  /** Stores a new version of `ref` and makes it current. */
  async put(
    ref: string | SecretRef,
    value: Secret | string | Uint8Array,
    options: PutOptions = {},
  ): Promise<{ version: number }> {
    return secrets.put(this.#core, parseRef(ref), value, options, undefined);
  }

  /** The current value of `ref`, or the given version. */
  async get(ref: string | SecretRef, options: { version?: number } = {}): Promise<Secret> {
    return secrets.get(this.#core, parseRef(ref), options.version, undefined);
  }

  /** Names and metadata of every secret (in `ns` when given), never values. */
  async list(ns?: string): Promise<SecretInfo[]> {
    return secrets.list(this.#core, ns === undefined ? undefined : checkPart(ns, "namespace"), undefined);
  }

  async versions(ref: string | SecretRef): Promise<VersionInfo[]> {
    return secrets.versions(this.#core, parseRef(ref));
  }

  /**
   * Stores many values in one commit (imports): all of them or none. A secret that already holds
   * the same value is left as it is (so the same import run again changes nothing); one that holds
   * another value refuses the whole import (CREDENTIAL_EXISTS, naming them) unless `overwrite`,
   * which stores the imported value as its new version. The `source` goes to the audit log.
   */
  async importValues(
    entries: Array<{ ref: string | SecretRef; value: Secret }>,
    source: string,
    options: { overwrite?: boolean } = {},
  ): Promise<{ count: number; unchanged: string[] }> {
    this.#core.live();
    const parsed = entries.map((e) => ({ ref: parseRef(e.ref), value: e.value }));
    return secrets.importValues(this.#core, parsed, source, options);
  }

  /** Makes an older kept version current again (`to`, default the one before the current). */
  async rollback(ref: string | SecretRef, options: { to?: number } = {}): Promise<{ version: number }> {
    return secrets.rollback(this.#core, parseRef(ref), options.to);
  }

  /** Deletes a secret and every version of it (the file backend shreds the replaced file). */
  async delete(ref: string | SecretRef): Promise<void> {
    const r = parseRef(ref);
    this.#core.live();
    await secrets.remove(this.#core, r, undefined);
  }

  // ---------------------------------------------------------------- rotation

  /** A new DEK for `ns` (or every namespace); with `rewrite`, values are re-sealed and old DEKs dropped. */
  async rotateDek(
    ns?: string,
    options: { rewrite?: boolean; reason?: string } = {},
  ): Promise<RotationResult> {
    return rotation.rotateDek(this.#core, ns, options);
  }

  /** A new KEK version; every DEK and the integrity key are rewrapped, values are not touched. */
  async rotateKek(options: { reason?: string } = {}): Promise<RotationResult> {
    return rotation.rotateKek(this.#core, options);
  }

  /** A new master key and integrity key, the whole store rewrapped and re-MACed in one commit (rotation.ts). */
  async rotateMaster(options: Reauth & { reason?: string } = {}): Promise<RotationResult> {
    return rotation.rotateMaster(this.#core, options);
  }

  /** Rotates the levels whose schedule says they are due; returns what it rotated. */
  async rotateDue(): Promise<RotationResult[]> {
    return rotation.rotateDue(this.#core);
  }

  /** Event-based rotation of every level (suspected compromise): master, then every DEK with values re-sealed. */
  async rotateAll(options: Reauth & { reason: string }): Promise<RotationResult[]> {
    const master = await this.rotateMaster(options);
    const dek = await this.rotateDek(undefined, { rewrite: true, reason: options.reason });
    return [master, dek];
  }

  async setSchedule(schedule: RotationSchedule): Promise<void> {
    await rotation.setSchedule(this.#core, schedule);
  }

  schedule(): RotationSchedule & { lastMaster: string; lastKek?: string; lastDek?: string } {
    return rotation.schedule(this.#core);
  }

  /** Key versions in use, for `keyhold vault rotate --status` and tests. */
  keyVersions(): { master: number; kek: number; keks: number[] } {
    const { meta } = this.#core.barrier.keys;
    return { master: meta.master.version, kek: meta.kek, keks: meta.keks.map((k) => k.v) };
  }

  // ---------------------------------------------------------------- policy

  async policy(): Promise<PolicyDocument> {
    return access.readPolicy(this.#core);
  }

  /** Records a plugin's manifest: the credentials it says it needs. Grants beyond it are refused. */
  async registerManifest(manifest: PluginManifest): Promise<void> {
    await access.registerManifest(this.#core, manifest);
  }

  /** Grants `rule` to `plugin` (sensitive: needs re-authentication); ends a lockout it answers. */
  async grant(plugin: string, rule: AccessRule, auth: Reauth = {}): Promise<void> {
    await access.grant(this.#core, plugin, rule, auth);
  }

  /** Removes `plugin`'s grant on ns/name (`*` for the namespace grant; sensitive). */
  async revoke(plugin: string, ns: string, name: string, auth: Reauth = {}): Promise<void> {
    await access.revoke(this.#core, plugin, ns, name, auth);
  }

  /**
   * Ends `plugin`'s lockout on this host before its time and forgets its recent denials
   * (sensitive: needs re-authentication). The store is not touched: lockouts are host state.
   */
  async unlock(plugin: string, auth: Reauth = {}): Promise<{ wasLocked: boolean; denials: number }> {
    return access.unlock(this.#core, plugin, auth);
  }

  /** A handle for one plugin that reaches only what its policy grants; every attempt is rate-limited. */
  scope(plugin: string): ScopedVault {
    checkPlugin(plugin);
    const core = this.#core;
    return new ScopedVault(plugin, {
      get: (ref, version) => secrets.get(core, ref, version, plugin),
      put: (ref, value, options) => secrets.put(core, ref, value, options, plugin),
      list: (ns) => secrets.list(core, ns, plugin),
      delete: (ref) => secrets.remove(core, ref, plugin),
    });
  }

  // ---------------------------------------------------------------- integrity and audit

  /**
   * The full check of docs/vault-format.md section 4: every record MAC, the digest, the count, the
   * head's place in the store's history, and that this history holds the head this host saw last.
   */
  async verify(): Promise<VerifyReport> {
    return (await this.#core.verify()).report;
  }

  /**
   * The full check of the store (as `verify`), then the shared audit log's own chain, and that the
   * log still holds the record the store sealed for this host at its last commit.
   */
  async verifyAudit(): Promise<AuditVerifyReport> {
    const core = this.#core;
    return core.trail.verify(await core.verify(), () => core.host.seen()?.host);
  }

  /** Wipes every key this handle holds. The handle is unusable afterwards. */
  close(): void {
    this.#core.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

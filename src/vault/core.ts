import { isSecretError, type Secret, SecretError } from "../secret/index.js";
import { type AuditDetail, AuditTrail, type VaultAuditLog } from "./audit-trail.js";
import type { VaultBackend } from "./backend.js";
import { Barrier, type Verified } from "./barrier.js";
import { HostMemory } from "./host-state.js";
import type { Keyring } from "./keyring.js";
import type { RateLimits } from "./limiter.js";
import type { MasterKeyProvider, ProviderContext } from "./providers.js";
import { parseEnvelope, parseJson } from "./records.js";
import type { Transaction } from "./transaction.js";

/*
 * What every operation of a vault handle shares: the barrier over the store, this host's memory
 * of it, the audit trail, the master key provider, and the audited commit they make together.
 * The operations themselves live in secrets.ts, access.ts and rotation.ts; vault.ts is the door.
 */

export interface VaultOptions {
  backend: VaultBackend;
  provider: MasterKeyProvider;
  /** Where this host remembers the generation and head it saw last (rollback and fork detection). */
  stateDir: string;
  audit?: VaultAuditLog;
  /** Called after a value is stored (the leak scanner records a keyed fingerprint); never gets a copy to keep. */
  onValueStored?: (name: string, value: Secret) => Promise<void>;
  limits?: Partial<RateLimits>;
  /** Clock, for expiry and schedules. */
  now?: () => Date;
}

/** Proof for sensitive operations: the passphrase again (passphrase provider) or nothing (root). */
export interface Reauth {
  passphrase?: Secret;
}

/** What a provider may read of the store: record bodies by key (their MACs are the vault's to check). */
export function providerContext(backend: VaultBackend, storeId: Buffer): ProviderContext {
  return {
    storeId,
    async readBody(key) {
      const rec = await backend.read(key);
      if (rec === undefined) return undefined;
      return parseJson(parseEnvelope(key, rec.value).b, key);
    },
  };
}

export class VaultCore {
  readonly backend: VaultBackend;
  readonly provider: MasterKeyProvider;
  readonly host: HostMemory;
  readonly barrier: Barrier;
  readonly trail: AuditTrail;
  readonly now: () => Date;
  readonly onValueStored: VaultOptions["onValueStored"];
  #closed = false;

  constructor(options: VaultOptions, keys: Keyring) {
    this.backend = options.backend;
    this.provider = options.provider;
    this.now = options.now ?? (() => new Date());
    this.onValueStored = options.onValueStored;
    this.host = new HostMemory(options.stateDir, keys.storeId, options.limits, this.now);
    this.trail = new AuditTrail(options.audit);
    this.barrier = new Barrier(
      options.backend,
      this.host,
      keys,
      () => this.provider.candidates(this.context()),
      this.now,
    );
  }

  get storeId(): Buffer {
    return this.barrier.keys.storeId;
  }

  context(): ProviderContext {
    return providerContext(this.backend, this.storeId);
  }

  live(): void {
    if (this.#closed) throw new SecretError("DISPOSED", "the vault was closed");
  }

  /** One audited commit of `work` (see Barrier.commit); `ref` names the secret in the audit event. */
  transact<T>(
    op: string,
    ref: { ns: string; name: string } | undefined,
    work: (tx: Transaction) => Promise<T>,
    detail?: (result: T) => AuditDetail,
  ): Promise<T> {
    this.live();
    return this.trail.audited(
      op,
      ref,
      undefined,
      async () => {
        await this.trail.arrive();
        return this.barrier.commit(work, () => this.trail.last);
      },
      detail,
    );
  }

  /** Asks the provider for proof before a sensitive operation; a refusal is audited. */
  async reauth(op: string, auth: Reauth): Promise<void> {
    try {
      await this.provider.reauthenticate(this.context(), auth.passphrase);
    } catch (err) {
      await this.trail.record({
        op,
        result: "denied",
        code: isSecretError(err) ? err.code : "REAUTH_REQUIRED",
      });
      throw err;
    }
  }

  /** The barrier's full check; the first sight of the store on this host goes to the audit log. */
  async verify(): Promise<Verified> {
    const checked = await this.barrier.verify();
    if (checked.report.ok && checked.verdict?.kind === "first-sight")
      await this.trail.record({
        op: "vault.first-sight",
        result: "ok",
        detail: { generation: checked.report.generation },
      });
    return checked;
  }

  /** Wipes every key the handle holds. It is unusable afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.barrier.close();
  }
}

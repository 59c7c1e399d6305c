import { isSecretError } from "../secret/index.js";
import type { Verified, VerifyReport } from "./barrier.js";
import type { AuditSeal } from "./records.js";

/*
 * What a vault handle writes to the shared audit log (src/audit): one event per operation with
 * its outcome, never a value; and the handle's last record, which its next commit seals into the
 * store's head so that cutting the log's tail shows (verifyAudit).
 */

/** The subset of the shared audit log (src/audit) the vault writes to. */
export interface VaultAuditLog {
  append(event: {
    op: string;
    name?: string;
    result: "ok" | "denied" | "error";
    code?: string;
    detail?: Record<string, string | number | boolean>;
  }): Promise<{ seq: number; mac: string }>;
  read(): Promise<Array<{ seq: number; mac: string }>>;
  verify(): Promise<{ ok: boolean; problems: Array<{ message: string }> }>;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** The store's problems (its full check, as `verify`), then the audit log's. */
  problems: string[];
  /** The store's full check, which this ran first. */
  store: VerifyReport;
}

export type AuditEvent = Parameters<VaultAuditLog["append"]>[0];
export type AuditDetail = Record<string, string | number | boolean>;

export class AuditTrail {
  readonly #log: VaultAuditLog | undefined;
  #last: AuditSeal | null = null;

  constructor(log: VaultAuditLog | undefined) {
    this.#log = log;
  }

  /** This handle's last record in the log: what its next commit seals for this host. */
  get last(): AuditSeal | null {
    return this.#last;
  }

  async record(event: AuditEvent): Promise<void> {
    if (this.#log === undefined) return;
    const detail =
      event.detail !== undefined && Object.keys(event.detail).length > 0 ? { detail: event.detail } : {};
    const { detail: _, ...rest } = event;
    const rec = await this.#log.append({ ...rest, ...detail });
    this.#last = { seq: rec.seq, mac: rec.mac };
  }

  /**
   * Before a commit: the head seals this handle's last audit record, so a handle that has written
   * none yet (a fresh process) records its arrival first, and its first commit already seals the log's tip.
   */
  async arrive(): Promise<void> {
    if (this.#log !== undefined && this.#last === null) await this.record({ op: "vault.open", result: "ok" });
  }

  /** Runs `work` and appends one audit event with its outcome (never a value). */
  async audited<T>(
    op: string,
    ref: { ns: string; name: string } | undefined,
    plugin: string | undefined,
    work: () => Promise<T>,
    detail?: (result: T) => AuditDetail,
  ): Promise<T> {
    const name = ref === undefined ? undefined : `${ref.ns}/${ref.name}`;
    const base: Record<string, string> = plugin === undefined ? {} : { plugin };
    let result: T;
    try {
      result = await work();
    } catch (err) {
      await this.record({
        op,
        ...(name === undefined ? {} : { name }),
        result: isSecretError(err, "ACCESS_DENIED") ? "denied" : "error",
        code: isSecretError(err) ? err.code : "INTERNAL",
        detail: base,
      });
      throw err;
    }
    await this.record({
      op,
      ...(name === undefined ? {} : { name }),
      result: "ok",
      detail: { ...base, ...(detail?.(result) ?? {}) },
    });
    return result;
  }

  /**
   * The store's full check (`checked`, done first), then the log's own chain, and that the log
   * still holds the record the store sealed for this host at its last commit (so cutting the
   * log's tail shows). The seal is read from the head that check accepted, never from a head put
   * back or forked. Each host keeps its own log, so each checks its own seal (`host()`, its id); a
   * format 1 store has one seal, the last writer's.
   */
  async verify(checked: Verified, host: () => string | null | undefined): Promise<AuditVerifyReport> {
    const { report: store, head } = checked;
    const problems = [...store.problems];
    if (this.#log === undefined) {
      problems.push("no audit log is attached to this vault");
      return { ok: false, problems, store };
    }
    for (const p of (await this.#log.verify()).problems) problems.push(p.message);
    let seal: AuditSeal | null | undefined;
    let sealer = "the vault sealed";
    if (head?.seals !== undefined) {
      const id = host();
      seal = id && Object.hasOwn(head.seals, id) ? head.seals[id] : undefined;
      sealer = "the vault sealed for this host";
    } else seal = head?.audit;
    if (seal) {
      const { seq, mac } = seal;
      const sealed = (await this.#log.read()).find((r) => r.seq === seq);
      if (sealed === undefined)
        problems.push(`the audit log ends before record ${seq}, which ${sealer}: it was truncated`);
      else if (sealed.mac !== mac) problems.push(`audit record ${seq} differs from the one ${sealer}`);
    }
    return { ok: problems.length === 0, problems, store };
  }
}

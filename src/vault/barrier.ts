import { setTimeout as sleep } from "node:timers/promises";
import { isSecretError, SecretError } from "../secret/index.js";
import type { CommitOp, StoredRecord, VaultBackend } from "./backend.js";
import { type GuardedKey, recordMac, sameBytes, storeDigest, xorInto } from "./crypto.js";
import {
  CHAIN_SEGMENT,
  type ChainSegment,
  chainKey,
  chainProblems,
  type HistoryVerdict,
  historyError,
  judgeHistory,
  linkIn,
} from "./history.js";
import type { HostMemory } from "./host-state.js";
import { type Keyring, keyringFor, type MasterSource } from "./keyring.js";
import {
  type AuditSeal,
  b64,
  type DekRing,
  type Envelope,
  type EnvelopeCache,
  type HeadBody,
  type MetaBody,
  nowIso,
  openEnvelope,
  parseEnvelope,
  parseJson,
  sealEnvelope,
  VAULT_FORMAT,
  vaultTampered,
} from "./records.js";
import { dekKey, keyText } from "./refs.js";
import { Transaction } from "./transaction.js";

/*
 * The barrier between the vault and its untrusted backend (docs/vault-format.md section 4): every
 * read is checked against the integrity key, every write is one compare-and-swap commit that also
 * moves the integrity root (`head`, with the digest over every record's MAC and the store's head
 * history), and the full check (`verify`) holds the store against its head and against this
 * host's memory of it. It holds the handle's keyring and swaps in the one a commit made. It knows
 * records and keys only: what a plugin may do, and what the audit log says, are decided above it.
 */

const COMMIT_ATTEMPTS = 50;

export interface VerifyReport {
  ok: boolean;
  generation: number;
  records: number;
  problems: string[];
  /**
   * How the store relates to what this host saw before: `first-sight` (it had seen nothing, or
   * only a generation number, and now remembers this head), `unchanged`, `extended` (the store's
   * history holds the head it saw), `rolled-back`, `forked`; `unchecked` when the store itself
   * failed its check.
   */
  history: HistoryVerdict["kind"] | "unchecked";
  /** Whether this handle was the first on this host to see the store (at open or since). */
  firstSight: boolean;
}

/** A full check's outcome: the report, the history verdict, and the head it accepted (if it did). */
export interface Verified {
  report: VerifyReport;
  verdict: HistoryVerdict | undefined;
  head: HeadBody | undefined;
}

/** One read of the whole store, and what checking it against its head found (section 4). */
interface Snapshot {
  records: Map<string, StoredRecord>;
  /** Every record but head, parsed; a full check has checked every MAC, a commit's meta's only. */
  envelopes: Map<string, Envelope>;
  /** Their MACs, by record key: what the digest is made of. */
  macs: Map<string, Buffer>;
  head: HeadBody | undefined;
  /** The head's MAC (base64); "" without a head. */
  headMac: string;
  /** 1 and 2: the XOR digest (and, from 2, the history); 3: storeDigest. 0: no head read. */
  format: number;
  /** The `chain/` bodies, read by a full check only. */
  segments: Map<string, ChainSegment>;
  problems: string[];
  keys: Keyring;
}

export class Barrier {
  readonly #backend: VaultBackend;
  readonly #host: HostMemory;
  readonly #masters: MasterSource;
  readonly #now: () => Date;
  #keys: Keyring;
  #parsed: EnvelopeCache = new Map();
  /** Set while `init` writes the first commit: the only one made without a head to build on. */
  #creating = false;
  #firstSight = false;

  /** `candidates`: the provider's masters, for a store whose master was rotated by another process. */
  constructor(
    backend: VaultBackend,
    host: HostMemory,
    keys: Keyring,
    candidates: () => Promise<GuardedKey[]>,
    now: () => Date,
  ) {
    this.#backend = backend;
    this.#host = host;
    this.#keys = keys;
    this.#now = now;
    this.#masters = {
      refuseRetired: (check, retired) => host.refuseRetired(check, retired),
      candidates,
    };
  }

  /** The keys this handle holds now (another process may rotate them: read them again after an await). */
  get keys(): Keyring {
    return this.#keys;
  }

  /** Runs `work`, which makes the store's first commit (there is no head to check it against yet). */
  async creating<T>(work: () => Promise<T>): Promise<T> {
    this.#creating = true;
    try {
      return await work();
    } finally {
      this.#creating = false;
    }
  }

  /** The body of record `key`, its MAC checked; undefined when there is none. */
  read<T>(key: string): Promise<T | undefined> {
    return this.#withCurrentKeys(async () => {
      const rec = await this.#backend.read(key);
      return rec === undefined ? undefined : openEnvelope<T>(this.#keys.ik, key, rec.value);
    });
  }

  /** The body of record `key`, its MAC checked; `missing()` when there is none. */
  require<T>(key: string, missing: () => SecretError): Promise<T> {
    return this.#withCurrentKeys(async () => {
      const rec = await this.#backend.read(key);
      if (rec === undefined) throw missing();
      return openEnvelope<T>(this.#keys.ik, key, rec.value);
    });
  }

  /** Every record under `prefix`, its MAC checked, by key. */
  readAll<T>(prefix: string): Promise<Array<[string, T]>> {
    return this.#withCurrentKeys(async () => {
      const records = await this.#backend.readAll(prefix);
      return [...records].map(([key, rec]): [string, T] => [
        key,
        openEnvelope<T>(this.#keys.ik, key, rec.value),
      ]);
    });
  }

  /** A DEK by namespace and version; DEKs never change once made, only their wrapping, so they are cached. */
  async dek(ns: string, version: number): Promise<GuardedKey> {
    const cached = this.#keys.cachedDek(ns, version);
    if (cached !== undefined) return cached;
    const ring = await this.require<DekRing>(dekKey(ns), () =>
      vaultTampered(`namespace ${ns} has no data keys`),
    );
    try {
      return this.#keys.dek(ring, version);
    } catch (err) {
      // Another process may have rotated the master: pick up its meta and master, then try once more.
      if (!isSecretError(err, "DECRYPT_FAILED")) throw err;
      await this.#reloadMeta();
      return this.#keys.dek(ring, version);
    }
  }

  /**
   * Runs a read that checks record MACs; when one fails because another process gave the store a
   * new integrity key meanwhile (a master rotation), once more with the keys the store now names.
   */
  async #withCurrentKeys<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (!isSecretError(err, "VAULT_TAMPERED") || !(await this.#reloadMeta())) throw err;
      return read();
    }
  }

  /**
   * Takes the store's meta record and the keys it names (another process may have rotated the
   * master, and with it the integrity key); true when the integrity key changed. Only meta's own
   * MAC is checked here: what a handle then reads is checked record by record, what it commits
   * against the whole store (#snapshot).
   */
  async #reloadMeta(): Promise<boolean> {
    const rec = await this.#backend.read("meta");
    if (rec === undefined) throw vaultTampered("vault meta record missing");
    const keys = await keyringFor(rec.value, this.#keys, this.#masters);
    const env = parseEnvelope("meta", rec.value);
    if (!sameBytes(recordMac(keys.ik, "meta", env.b), env.mac)) {
      this.#discard(keys);
      throw vaultTampered("vault record meta failed its integrity check");
    }
    const changed = keys.ik !== this.#keys.ik;
    this.#adopt(keys);
    return changed;
  }

  /** Makes `keys` this handle's own, wiping the ones they replace. */
  #adopt(keys: Keyring): void {
    const replaced = this.#keys;
    if (keys === replaced) return;
    this.#keys = keys;
    replaced.wipeUnshared(keys);
  }

  /** Wipes the keys of `keys` this handle does not hold (a store that failed its check named them). */
  #discard(keys: Keyring): void {
    if (keys !== this.#keys) keys.wipeUnshared(this.#keys);
  }

  /**
   * One read of the whole store and the keys its meta names, checked against its head: the
   * record count and the digest over every record's MAC, the head's own MAC and format, and with
   * `full` every record's MAC and the shape of the head history (docs/vault-format.md section 4).
   * The caller adopts `keys` when it accepts the snapshot, and discards them otherwise.
   */
  async #snapshot(full: boolean): Promise<Snapshot> {
    const records = await this.#backend.readAll();
    const metaRec = records.get("meta");
    let keys = this.#keys;
    const problems: string[] = [];
    if (metaRec !== undefined && !this.#creating) {
      try {
        keys = await keyringFor(metaRec.value, this.#keys, this.#masters);
      } catch (err) {
        if (!isSecretError(err, "VAULT_TAMPERED")) throw err;
        problems.push(err.message);
      }
    }
    const snap = inspect(records, keys.ik, full, this.#parsed);
    snap.problems.unshift(...problems);
    return { ...snap, keys };
  }

  /**
   * The full check of docs/vault-format.md section 4: every record MAC, the digest, the count, the
   * head's place in the store's history, and that this history holds the head this host saw last.
   * A store that passes is remembered as this host's latest sight of it.
   */
  async verify(): Promise<Verified> {
    // This host's memory first: whatever another process of this host saw since is then in the store read next.
    const seen = this.#host.seen();
    const snap = await this.#snapshot(true);
    const { head, problems } = snap;
    let verdict: HistoryVerdict | undefined;
    let seenNow: string | null = null;
    if (problems.length === 0 && head !== undefined) {
      verdict = await judgeHistory(seen, {
        generation: head.generation,
        head: snap.headMac,
        since: snap.format >= 2 ? (head.since as number) : null,
        master: snap.keys.meta.master.check,
        linkAt: async (g) => linkIn(snap.segments.get(chainKey(g)), g),
      });
      if (verdict.kind === "rolled-back" || verdict.kind === "forked") problems.push(verdict.problem);
      else seenNow = snap.format >= 2 ? snap.headMac : null;
    }
    const generation = head?.generation ?? 0;
    if (problems.length === 0) {
      this.#adopt(snap.keys);
      await this.#host.remember(generation, seenNow, snap.keys.meta.retired);
      if (verdict?.kind === "first-sight") this.#firstSight = true;
    } else this.#discard(snap.keys);
    const report: VerifyReport = {
      ok: problems.length === 0,
      generation,
      records: snap.records.size - (snap.records.has("head") ? 1 : 0),
      problems,
      history: verdict?.kind ?? "unchecked",
      firstSight: this.#firstSight,
    };
    return { report, verdict, head: report.ok ? head : undefined };
  }

  /**
   * Runs `work` against a fresh transaction and commits its writes together with the new head,
   * retrying from scratch when another writer committed first (optimistic concurrency). The head
   * seals `auditSeal()`, this host's last audit record, beside the other hosts' seals.
   *
   * Each attempt starts from one read of the whole store, checked against its head (#snapshot:
   * the digest over every record's MAC, the count, the head's MAC) and against this host's
   * memory of the store's history; everything the work reads comes from that read, and the new
   * head's digest is made from it. So a record swapped in after the check (a history record from
   * another branch, say) is not built on: the commit either names exactly what was checked or
   * fails its compare-and-swap.
   */
  async commit<T>(work: (tx: Transaction) => Promise<T>, auditSeal: () => AuditSeal | null): Promise<T> {
    for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
      // This host's memory before the store: whatever another process of this host saw since
      // is then in the store read next. Never write on top of a store that does not extend it.
      const seen = this.#host.seen();
      const snap = await this.#snapshot(false);
      const head = snap.head;
      if (this.#creating) {
        if (snap.records.size > 0)
          throw new SecretError("VAULT_EXISTS", `a vault already exists at ${this.#backend.location}`);
      } else if (snap.problems.length > 0) {
        this.#discard(snap.keys);
        throw vaultTampered(`vault failed its integrity check: ${snap.problems[0]}`);
      }
      const tx = new Transaction(snap.records, snap.keys);
      if (head !== undefined) {
        const verdict = await judgeHistory(seen, {
          generation: head.generation,
          head: snap.headMac,
          since: snap.format >= 2 ? (head.since as number) : null,
          master: snap.keys.meta.master.check,
          linkAt: async (g) => linkIn(await tx.get<ChainSegment>(chainKey(g)), g),
        });
        const refused = historyError(verdict, this.#host.seenPath);
        if (refused !== undefined) {
          this.#discard(snap.keys);
          throw refused;
        }
      }
      // The store checked out: the keys it names (another process may have rotated them) are this handle's now.
      this.#adopt(snap.keys);
      let landed = false;
      try {
        let result: T;
        try {
          result = await work(tx);
        } catch (err) {
          // Another process may have rotated the master: take its meta and master once, then retry.
          if (attempt === 0 && isSecretError(err, "DECRYPT_FAILED")) {
            await this.#reloadMeta();
            continue;
          }
          throw err;
        }
        const next = await this.#commitWrites(tx, snap, head, seen?.host ?? null, auditSeal());
        if ((await this.#backend.commit(next.ops)) === "ok") {
          landed = true;
          const written = tx.written<MetaBody>("meta");
          this.#adopt(written === undefined ? tx.keys : tx.keys.withMeta(written));
          await this.#host.remember(next.generation, next.headMac, this.#keys.meta.retired);
          return result;
        }
      } finally {
        // DEKs the work made for a commit that did not land are nobody's.
        if (!landed) tx.keys.wipeMadeUnshared(this.#keys);
      }
      await sleep(Math.floor(Math.random() * Math.min(50, 2 ** attempt)));
    }
    throw new SecretError("VAULT_CONFLICT", "too many concurrent writers; the change was not made", {
      hint: "try again",
    });
  }

  /**
   * The writes of a commit whose work is done: the records it wrote (an older store upgraded to
   * this format on the way), the head it replaces appended to the history, and the new head.
   */
  async #commitWrites(
    tx: Transaction,
    snap: Snapshot,
    head: HeadBody | undefined,
    knownHost: string | null,
    lastAudit: AuditSeal | null,
  ): Promise<{ ops: CommitOp[]; generation: number; headMac: string }> {
    // An older store is upgraded by this commit: format 3 in meta and head; a format 1
    // store's history starts here, a format 2 store's goes on.
    const meta = await tx.get<MetaBody>("meta");
    if (meta !== undefined && meta.format < VAULT_FORMAT) tx.put("meta", { ...meta, format: VAULT_FORMAT });
    const chained = head !== undefined && snap.format >= 2;
    if (chained && !(await appendToChain(tx, head, snap.headMac)))
      throw vaultTampered(
        `the vault's head history (${chainKey(head.generation)}) is out of step with its head`,
      );
    const { ops, macs, ik } = commitOps(tx, snap);
    // Each host seals its own audit position: the hosts sharing a store keep separate logs.
    // A long-lived handle's last record may be older than what another process of this
    // host sealed since: a seal never moves back, or cutting the log there would not show.
    const seals = { ...(chained ? head.seals : {}) };
    if (lastAudit !== null) {
      const host = knownHost ?? (await this.#host.hostId());
      const sealed = Object.hasOwn(seals, host) ? seals[host] : undefined;
      if (sealed === undefined || sealed.seq < lastAudit.seq) seals[host] = lastAudit;
    }
    const generation = (head?.generation ?? 0) + 1;
    const nextHead: HeadBody = {
      format: VAULT_FORMAT,
      generation,
      prev: chained ? snap.headMac : null,
      since: chained ? (head.since as number) : generation,
      count: macs.size,
      digest: storeDigest(ik, macs).toString("base64"),
      seals,
      updated: nowIso(this.#now),
    };
    const sealedHead = sealEnvelope(ik, "head", nextHead);
    ops.push({ key: "head", expect: snap.records.get("head")?.rev ?? null, value: sealedHead.text });
    return { ops, generation, headMac: sealedHead.mac.toString("base64") };
  }

  /** Wipes every key this handle holds. */
  close(): void {
    this.#keys.wipeAll();
  }
}

/**
 * The record writes of a commit and the MAC of every record after it (for the digest). With a
 * new integrity key (master rotation) every record is MACed again, its body unchanged: each is
 * checked under the old key first, so nothing altered behind the vault's back is sealed anew.
 */
function commitOps(
  tx: Transaction,
  snap: Snapshot,
): { ops: CommitOp[]; macs: Map<string, Buffer>; ik: GuardedKey } {
  const ik = tx.keys.ik;
  const macs = new Map(snap.macs);
  const ops: CommitOp[] = [];
  const rev = (key: string) => snap.records.get(key)?.rev ?? null;
  for (const [key, write] of tx.writes) {
    macs.delete(key);
    if (write === null) {
      if (rev(key) !== null) ops.push({ key, expect: rev(key), value: null });
      continue;
    }
    const sealed = sealEnvelope(ik, key, write);
    macs.set(key, sealed.mac);
    ops.push({ key, expect: rev(key), value: sealed.text });
  }
  if (ik !== snap.keys.ik) {
    for (const [key, env] of snap.envelopes) {
      if (tx.writes.has(key)) continue;
      if (!sameBytes(recordMac(snap.keys.ik, key, env.b), env.mac))
        throw vaultTampered(`vault record ${keyText(key)} failed its integrity check`);
      const sealed = sealEnvelope(ik, key, env.b);
      macs.set(key, sealed.mac);
      ops.push({ key, expect: rev(key), value: sealed.text });
    }
  }
  return { ops, macs, ik };
}

/**
 * Appends the head being replaced to the store's history (`chain/<n>`) in the commit replacing
 * it; false when the history is not where that head says it should be.
 */
async function appendToChain(tx: Transaction, head: HeadBody, headMac: string): Promise<boolean> {
  const key = chainKey(head.generation);
  const segment = (await tx.get<ChainSegment>(key)) ?? { first: head.generation, links: [] };
  const starts = head.generation % CHAIN_SEGMENT === 0 || head.generation === head.since;
  if (segment.first + segment.links.length !== head.generation || (segment.links.length === 0 && !starts))
    return false;
  segment.links.push(headMac);
  tx.put(key, segment);
  return true;
}

/**
 * Checks one read of the whole store against its head with integrity key `ik` (section 4): the
 * head's MAC, its format against meta's, the record count and the digest over every record's MAC;
 * with `full`, every record's MAC and the shape of the head history too. Without `full` only
 * meta's MAC is recomputed: the digest vouches for every record's MAC, and each record a commit
 * reads is checked as it is read.
 */
function inspect(
  records: Map<string, StoredRecord>,
  ik: GuardedKey,
  full: boolean,
  parsed: EnvelopeCache,
): Omit<Snapshot, "keys"> {
  const problems: string[] = [];
  const envelopes = new Map<string, Envelope>();
  const macs = new Map<string, Buffer>();
  const segments = new Map<string, ChainSegment>();
  let metaFormat: unknown;
  for (const [key, rec] of records) {
    if (key === "head") continue;
    try {
      let known = parsed.get(key);
      if (known === undefined || known.text !== rec.value) {
        known = { text: rec.value, env: parseEnvelope(key, rec.value) };
        parsed.set(key, known);
      }
      const { env } = known;
      envelopes.set(key, env);
      macs.set(key, env.mac);
      if ((full || key === "meta") && !sameBytes(recordMac(ik, key, env.b), env.mac))
        problems.push(`record ${keyText(key)} failed its integrity check`);
      else if (key === "meta") metaFormat = (parseJson(env.b, key) as MetaBody).format;
      else if (full && key.startsWith("chain/")) segments.set(key, parseJson(env.b, key) as ChainSegment);
    } catch (err) {
      problems.push(isSecretError(err) ? err.message : `record ${keyText(key)} is malformed`);
    }
  }
  if (parsed.size > envelopes.size)
    for (const key of parsed.keys()) if (!envelopes.has(key)) parsed.delete(key);
  const snap: Omit<Snapshot, "keys"> = {
    records,
    envelopes,
    macs,
    head: undefined,
    headMac: "",
    format: 0,
    segments,
    problems,
  };
  const headRec = records.get("head");
  if (headRec === undefined) {
    problems.push("the integrity root (head) is missing");
    return snap;
  }
  try {
    const env = parseEnvelope("head", headRec.value);
    if (!sameBytes(recordMac(ik, "head", env.b), env.mac))
      throw vaultTampered("vault record head failed its integrity check");
    const head = parseJson(env.b, "head") as HeadBody;
    // From format 3 the head names its format; a head without one is format 1 or 2, as meta says.
    const format = head.format ?? (metaFormat === 1 ? 1 : 2);
    if (format !== metaFormat || (head.format !== undefined && head.format < 3))
      problems.push("the integrity root and the meta record name different formats");
    const count = records.size - 1;
    if (head.count !== count)
      problems.push(`the store holds ${count} records, its integrity root says ${head.count}`);
    const digest = format >= 3 ? storeDigest(ik, macs) : xorDigest(macs.values());
    if (!sameBytes(b64(head.digest), digest))
      problems.push(
        "the store's records do not match its integrity root (a record was added, removed or replayed)",
      );
    if (full) problems.push(...chainProblems(head, format >= 2, segments));
    Object.assign(snap, { head, headMac: env.mac.toString("base64"), format });
  } catch (err) {
    problems.push(isSecretError(err) ? err.message : "the integrity root is malformed");
  }
  return snap;
}

/** The digest of format 1 and 2 stores: the XOR of every record's MAC (section 8). */
function xorDigest(macs: Iterable<Buffer>): Buffer {
  const digest = Buffer.alloc(32);
  for (const mac of macs) xorInto(digest, mac);
  return digest;
}

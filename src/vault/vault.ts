import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isSecretError, Secret, SecretError } from "../secret/index.js";
import { quoted } from "../secret/printable.js";
import type { CommitOp, StoredRecord, VaultBackend } from "./backend.js";
import {
  dekAd,
  deriveKek,
  integrityKeyAd,
  KEY_BYTES,
  type KeyBytes,
  masterCheck,
  open,
  RECORD_KEY_MAX_BYTES,
  randomBytesSodium,
  randomKey,
  recordMac,
  sameBytes,
  seal,
  STORE_ID_BYTES,
  storeDigest,
  toSecureKey,
  VALUE_MAX_BYTES,
  valueAd,
  wipe,
  xorInto,
} from "./crypto.js";
import {
  CHAIN_SEGMENT,
  type ChainSegment,
  chainKey,
  chainProblems,
  type HistoryVerdict,
  historyError,
  hostId,
  judgeHistory,
  linkIn,
  readHostState,
  rememberHead,
  retiredMaster,
} from "./history.js";
import { AccessLimiter, lockoutFileName, type RateLimits } from "./limiter.js";
import {
  type AccessRule,
  allows,
  checkPlugin,
  checkRule,
  declared,
  emptyPolicy,
  type PluginManifest,
  type PolicyDocument,
  type VaultOp,
} from "./policy.js";
import type { MasterKeyProvider, ProviderContext, ProviderKind } from "./providers.js";
import { checkPart, dekKey, keyText, parseRef, refText, type SecretRef, secretKey } from "./refs.js";

/**
 * Format 2 chains the heads, format 3 digests the store with one HMAC over every record's MAC
 * (docs/vault-format.md section 4); an older store is upgraded by its next commit.
 */
export const VAULT_FORMAT = 3;
const KEPT_VERSIONS = 10;
const COMMIT_ATTEMPTS = 50;

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

export interface RotationSchedule {
  master?: string;
  kek?: string;
  dek?: string;
}

interface Wrapped {
  n: string;
  c: string;
}

interface MetaBody {
  format: number;
  storeId: string;
  created: string;
  master: { version: number; check: string; provider: ProviderKind; rotated: string };
  kek: number;
  keks: Array<{ v: number; created: string }>;
  ik: Wrapped & { kek: number };
  schedule: RotationSchedule;
  rotated: { kek?: string; dek?: string };
  /** Format 3: the checks of every master this store used before the current one, oldest first. */
  retired?: string[];
}

interface DekRing {
  ns: string;
  current: number;
  deks: Array<Wrapped & { v: number; kek: number; created: string }>;
}

interface ValueVersion extends Wrapped {
  v: number;
  dek: number;
  created: string;
  expires?: string;
}

interface SecretBody {
  ns: string;
  name: string;
  current: number;
  versions: ValueVersion[];
}

interface AuditSeal {
  seq: number;
  mac: string;
}

interface HeadBody {
  /** Format 3 on: how `digest` is made (storeDigest). A head without it is format 1 or 2 (XOR). */
  format?: number;
  generation: number;
  count: number;
  digest: string;
  /** Format 2: the MAC of the head of generation − 1; null at `since`, where the chain starts. */
  prev?: string | null;
  /** Format 2: the first chained generation (1, or the commit that upgraded a format 1 store). */
  since?: number;
  /** Format 2: each host's last audit record sealed at a commit of its own, by host id. */
  seals?: Record<string, AuditSeal>;
  /** Format 1: the last writer's audit seal, whichever host that was. */
  audit?: AuditSeal | null;
  updated: string;
}

/** What `list` shows: names and metadata, never a value. */
export interface SecretInfo {
  ns: string;
  name: string;
  version: number;
  versions: number;
  created: string;
  updated: string;
  expires?: string;
}

export interface VersionInfo {
  version: number;
  current: boolean;
  created: string;
  dekVersion: number;
  expires?: string;
}

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

export interface AuditVerifyReport {
  ok: boolean;
  /** The store's problems (its full check, as `verify`), then the audit log's. */
  problems: string[];
  /** The store's full check, which this ran first. */
  store: VerifyReport;
}

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

export interface InitVaultOptions extends VaultOptions {
  schedule?: RotationSchedule;
}

export interface PutOptions {
  expires?: Date;
}

/** Proof for sensitive operations: the passphrase again (passphrase provider) or nothing (root). */
export interface Reauth {
  passphrase?: Secret;
}

export type RotateLevel = "master" | "kek" | "dek";

export interface RotationResult {
  level: RotateLevel;
  /** New version number (master version, KEK version, or DEK versions per namespace). */
  version: number;
  namespaces?: number;
}

type Body = object;

/** A record value as stored: `b` the body text, `mac` its MAC. */
interface Envelope {
  b: string;
  mac: Buffer;
}

/** The keys a meta record names: its master (one of the provider's) and the integrity key it wraps. */
interface Keys {
  master: KeyBytes;
  ik: KeyBytes;
  meta: MetaBody;
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
  keys: Keys;
}

function vaultTampered(message: string): SecretError {
  return new SecretError("VAULT_TAMPERED", message, {
    hint: "the store was changed outside keyhold; restore it from a backup (docs/vault.md)",
  });
}

function nowIso(now: () => Date): string {
  return now().toISOString();
}

const DURATION = /^([1-9][0-9]{0,5})([dh])$/;

export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (m === null)
    throw new SecretError(
      "INVALID_FORMAT",
      `invalid rotation interval: ${JSON.stringify(text.slice(0, 20))}`,
      { hint: "use e.g. 90d or 12h" },
    );
  return Number(m[1]) * (m[2] === "d" ? 86_400_000 : 3_600_000);
}

function checkValue(value: Uint8Array): void {
  if (value.length === 0) throw new SecretError("EMPTY_VALUE", "refusing to store an empty value");
  if (value.length > VALUE_MAX_BYTES)
    throw new SecretError(
      "TOO_LARGE",
      `value is ${value.length} bytes; the vault holds at most 1 MiB per value`,
    );
}

/**
 * The vault: a key hierarchy over an untrusted backend (docs/vault-format.md). Every operation
 * is audited; every write is one atomic compare-and-swap commit that also moves the integrity
 * root (`head`), so concurrent writers retry instead of losing updates and a crash leaves the
 * store as it was before or after the commit.
 */
export class Vault {
  readonly #backend: VaultBackend;
  readonly #provider: MasterKeyProvider;
  readonly #stateDir: string;
  readonly #audit: VaultAuditLog | undefined;
  readonly #onValueStored: VaultOptions["onValueStored"];
  readonly #now: () => Date;
  readonly #limiter: AccessLimiter;
  #storeId: Buffer;
  #master: KeyBytes;
  #ik: KeyBytes;
  #meta: MetaBody;
  #keks = new Map<number, KeyBytes>();
  #deks = new Map<string, KeyBytes>();
  #lastAudit: AuditSeal | null = null;
  #firstSight = false;
  #closed = false;
  /** Set while `init` writes the first commit: the only one made without a head to build on. */
  #creating = false;
  #parsed: EnvelopeCache = new Map();

  private constructor(
    options: VaultOptions,
    storeId: Buffer,
    master: KeyBytes,
    ik: KeyBytes,
    meta: MetaBody,
  ) {
    this.#backend = options.backend;
    this.#provider = options.provider;
    this.#stateDir = options.stateDir;
    this.#audit = options.audit;
    this.#onValueStored = options.onValueStored;
    this.#now = options.now ?? (() => new Date());
    this.#limiter = new AccessLimiter(
      join(options.stateDir, lockoutFileName(storeId.toString("hex"))),
      options.limits,
      () => this.#now().getTime(),
    );
    this.#storeId = storeId;
    this.#master = master;
    this.#ik = ik;
    this.#meta = meta;
  }

  // ---------------------------------------------------------------- creation and opening

  /** Creates a new store: master (kept by the provider), KEK 1, integrity key, empty policy, head. */
  static async init(options: InitVaultOptions): Promise<Vault> {
    if ((await options.backend.read("meta")) !== undefined) {
      throw new SecretError("VAULT_EXISTS", `a vault already exists at ${options.backend.location}`);
    }
    const schedule = options.schedule ?? {};
    for (const interval of Object.values(schedule)) if (interval !== undefined) parseDuration(interval);
    const now = options.now ?? (() => new Date());
    const storeId = randomBytesSodium(STORE_ID_BYTES);
    const master = randomKey();
    const ctx: ProviderContext = { storeId, readBody: async () => undefined };
    const providerRecords = await options.provider.create(ctx, master, 1);
    const kek = deriveKek(master, storeId, 1);
    const ik = randomKey();
    const wrappedIk = seal(kek, ik, integrityKeyAd(storeId, 1));
    const created = nowIso(now);
    const meta: MetaBody = {
      format: VAULT_FORMAT,
      storeId: storeId.toString("base64"),
      created,
      master: {
        version: 1,
        check: masterCheck(master, storeId).toString("base64"),
        provider: options.provider.kind,
        rotated: created,
      },
      kek: 1,
      keks: [{ v: 1, created }],
      ik: { kek: 1, n: wrappedIk.nonce.toString("base64"), c: wrappedIk.ciphertext.toString("base64") },
      schedule,
      rotated: { kek: created, dek: created },
    };
    const vault = new Vault(options, storeId, master, ik, meta);
    vault.#keks.set(1, kek);
    vault.#creating = true;
    try {
      await vault.#transact("vault.init", undefined, async (tx) => {
        tx.put("meta", meta);
        tx.put("policy", emptyPolicy());
        for (const [key, body] of Object.entries(providerRecords)) tx.put(key, body as Body);
      });
    } finally {
      vault.#creating = false;
    }
    return vault;
  }

  /** Opens an existing store and checks all of it (docs/vault-format.md section 4). */
  static async open(options: VaultOptions): Promise<Vault> {
    const metaRecord = await options.backend.read("meta");
    if (metaRecord === undefined) {
      throw new SecretError("VAULT_NOT_FOUND", `no vault at ${options.backend.location}`, {
        hint: "create one with: keyhold vault init",
      });
    }
    const envelope = parseEnvelope("meta", metaRecord.value);
    const meta = parseJson(envelope.b, "meta") as MetaBody;
    checkFormat(meta);
    const storeId = Buffer.from(String(meta.storeId), "base64");
    if (storeId.length !== STORE_ID_BYTES) throw vaultTampered("vault meta record is malformed");
    // A copy from before a master rotation this host knows of: refused before any master is looked for.
    const seenPath = hostStatePath(options.stateDir, storeId);
    const retired = retiredMaster(readHostState(seenPath), String(meta.master?.check));
    if (retired !== undefined) throw historyError(retired, seenPath);
    const ctx = Vault.#context(options.backend, storeId);
    const candidates = await options.provider.candidates(ctx);
    const expected = Buffer.from(String(meta.master?.check), "base64");
    let master: KeyBytes | undefined;
    let usedIndex = -1;
    for (const [i, key] of candidates.entries()) {
      if (master === undefined && sameBytes(masterCheck(key, storeId), expected)) {
        master = key;
        usedIndex = i;
      } else wipe(key);
    }
    if (master === undefined) {
      throw new SecretError(
        "MASTER_KEY_MISSING",
        `no master key of this host opens the vault at ${options.backend.location}`,
        {
          hint: "import this vault's master key on this host (keyhold vault init --join) or use the provider it was created with",
        },
      );
    }
    // A master rotation interrupted before its commit leaves a staged master nobody uses (discard);
    // one interrupted after the commit leaves the store on the staged master (promote).
    if (candidates.length > 1) {
      if (usedIndex === candidates.length - 1) await options.provider.promote(ctx);
      else await options.provider.discard(ctx);
    }
    const ik = unwrapIk(master, storeId, meta);
    if (!sameBytes(recordMac(ik, "meta", envelope.b), envelope.mac))
      throw vaultTampered("vault record meta failed its integrity check");
    const vault = new Vault(options, storeId, master, ik, meta);
    const { report, verdict } = await vault.#verify();
    if (!report.ok) {
      vault.close();
      throw (
        (verdict && historyError(verdict, vault.#seenPath())) ??
        vaultTampered(`vault failed its integrity check: ${report.problems[0]}`)
      );
    }
    return vault;
  }

  /**
   * Gives this host its own copy of an existing store's master (a PostgreSQL store shared by
   * several hosts): the master, exported on a host that has it, is checked against the store and
   * handed to this host's provider (its own systemd credential or keyring item).
   */
  static async join(options: VaultOptions & { master: Secret }): Promise<Vault> {
    const metaRecord = await options.backend.read("meta");
    if (metaRecord === undefined) {
      throw new SecretError("VAULT_NOT_FOUND", `no vault at ${options.backend.location}`);
    }
    const meta = parseJson(parseEnvelope("meta", metaRecord.value).b, "meta") as MetaBody;
    const storeId = Buffer.from(String(meta.storeId), "base64");
    if (options.provider.kind === "passphrase") {
      throw new SecretError("USAGE", "a passphrase vault needs no joining: open it with its passphrase");
    }
    const bytes = options.master.exposeBytes();
    if (bytes.length !== KEY_BYTES) throw new SecretError("INVALID_FORMAT", "a vault master key is 32 bytes");
    const master = toSecureKey(Buffer.from(bytes));
    try {
      if (!sameBytes(masterCheck(master, storeId), b64(meta.master.check))) {
        throw new SecretError("MASTER_KEY_MISSING", "this master key does not belong to the vault", {
          hint: "export it again from a host that opens the vault (keyhold vault export-master)",
        });
      }
      await options.provider.create(Vault.#context(options.backend, storeId), master, meta.master.version);
    } finally {
      wipe(master);
    }
    return Vault.open(options);
  }

  /** The master key, for giving another host its own copy (sensitive: re-authentication, audited). */
  async exportMaster(auth: Reauth = {}): Promise<Secret> {
    this.#live();
    await this.#reauth("vault.export", auth);
    await this.#record({ op: "vault.export", result: "ok", detail: { master: this.#meta.master.version } });
    return Secret.fromBytes(this.#master);
  }

  static #context(backend: VaultBackend, storeId: Buffer): ProviderContext {
    return {
      storeId,
      async readBody(key) {
        const rec = await backend.read(key);
        if (rec === undefined) return undefined;
        return parseJson(parseEnvelope(key, rec.value).b, key);
      },
    };
  }

  get storeId(): string {
    return this.#storeId.toString("hex");
  }

  get providerKind(): ProviderKind {
    return this.#meta.master.provider;
  }

  // ---------------------------------------------------------------- secrets

  /** Stores a new version of `ref` and makes it current. */
  async put(
    ref: string | SecretRef,
    value: Secret | string | Uint8Array,
    options: PutOptions = {},
  ): Promise<{ version: number }> {
    return this.#put(parseRef(ref), value, options, undefined);
  }

  /** The current value of `ref`, or the given version. */
  async get(ref: string | SecretRef, options: { version?: number } = {}): Promise<Secret> {
    return this.#get(parseRef(ref), options.version, undefined);
  }

  /** Names and metadata of every secret (in `ns` when given), never values. */
  async list(ns?: string): Promise<SecretInfo[]> {
    return this.#list(ns === undefined ? undefined : checkPart(ns, "namespace"), undefined);
  }

  async versions(ref: string | SecretRef): Promise<VersionInfo[]> {
    const r = parseRef(ref);
    this.#live();
    return this.#audited("vault.versions", r, undefined, async () => {
      const body = await this.#readSecret(r);
      return body.versions
        .map((v) => ({
          version: v.v,
          current: v.v === body.current,
          created: v.created,
          dekVersion: v.dek,
          ...(v.expires === undefined ? {} : { expires: v.expires }),
        }))
        .sort((a, b) => a.version - b.version);
    });
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
    this.#live();
    const parsed = entries.map((e) => ({ ref: parseRef(e.ref), value: e.value }));
    for (const e of parsed) checkValue(e.value.exposeBytes());
    const seen = new Set<string>();
    for (const e of parsed) {
      if (seen.has(refText(e.ref)))
        throw new SecretError("INVALID_FORMAT", `${refText(e.ref)} appears twice in the import`);
      seen.add(refText(e.ref));
    }
    const detail = (res: { count: number; unchanged: string[] }) => ({
      count: res.count,
      unchanged: res.unchanged.length,
      source: source.slice(0, 200),
    });
    // Everything already stored as imported: nothing to commit, not even a new head.
    const before = await this.#compareImport(parsed, (r) =>
      this.#readSecret(r).catch((err) => {
        if (isSecretError(err, "SECRET_NOT_FOUND")) return undefined;
        throw err;
      }),
    );
    if (before.unchanged.size === parsed.length) {
      const unchanged = [...before.unchanged];
      return this.#audited(
        "vault.import",
        undefined,
        undefined,
        async () => ({ count: 0, unchanged }),
        detail,
      );
    }
    const written: typeof parsed = [];
    const result = await this.#transact(
      "vault.import",
      undefined,
      async (tx) => {
        written.length = 0;
        const { unchanged, taken } = await this.#compareImport(parsed, (r) =>
          tx.get<SecretBody>(secretKey(r)),
        );
        if (taken.length > 0 && !options.overwrite) {
          throw new SecretError(
            "CREDENTIAL_EXISTS",
            `already in the vault with other values: ${taken.join(", ")}; nothing was imported`,
            {
              hint: "pass --overwrite to store the imported values as new versions (the current ones are kept as earlier versions)",
            },
          );
        }
        for (const { ref, value } of parsed) {
          if (unchanged.has(refText(ref))) continue;
          const existing = await tx.get<SecretBody>(secretKey(ref));
          const ring = await this.#ensureRing(tx, ref.ns);
          const dek = this.#dekFromRing(ring, ring.current);
          const v = existing === undefined ? 1 : Math.max(...existing.versions.map((x) => x.v)) + 1;
          const sealed = seal(
            dek,
            value.exposeBytes(),
            valueAd(this.#storeId, ref.ns, ref.name, v, ring.current),
          );
          const version: ValueVersion = {
            v,
            dek: ring.current,
            n: sealed.nonce.toString("base64"),
            c: sealed.ciphertext.toString("base64"),
            created: nowIso(this.#now),
          };
          const versions = [...(existing?.versions ?? []), version]
            .sort((a, b) => b.v - a.v)
            .slice(0, KEPT_VERSIONS);
          tx.put(secretKey(ref), { ns: ref.ns, name: ref.name, current: v, versions } satisfies SecretBody);
          written.push({ ref, value });
        }
        return { count: written.length, unchanged: [...unchanged] };
      },
      detail,
    );
    if (this.#onValueStored !== undefined)
      for (const e of written) await this.#onValueStored(refText(e.ref), e.value);
    return result;
  }

  /** Which imported secrets already hold their value (`unchanged`) and which hold another (`taken`). */
  async #compareImport(
    parsed: ReadonlyArray<{ ref: SecretRef; value: Secret }>,
    read: (r: SecretRef) => Promise<SecretBody | undefined>,
  ): Promise<{ unchanged: Set<string>; taken: string[] }> {
    const unchanged = new Set<string>();
    const taken: string[] = [];
    for (const { ref, value } of parsed) {
      const body = await read(ref);
      const entry = body?.versions.find((v) => v.v === body.current);
      if (entry === undefined) continue;
      const plain = await this.#openValue(ref, entry);
      try {
        if (value.verify(plain)) unchanged.add(refText(ref));
        else taken.push(refText(ref));
      } finally {
        wipe(plain);
      }
    }
    return { unchanged, taken };
  }

  /** Makes an older kept version current again (`to`, default the one before the current). */
  async rollback(ref: string | SecretRef, options: { to?: number } = {}): Promise<{ version: number }> {
    const r = parseRef(ref);
    this.#live();
    return this.#transact(
      "vault.rollback",
      r,
      async (tx) => {
        const body = await tx.require<SecretBody>(secretKey(r), () => notFound(r));
        const older = body.versions.filter((v) => v.v < body.current).sort((a, b) => b.v - a.v);
        const target = options.to ?? older[0]?.v;
        if (target === undefined || !body.versions.some((v) => v.v === target)) {
          throw new SecretError(
            "VERSION_NOT_FOUND",
            `no version ${target ?? "before the current one"} of ${refText(r)}`,
            {
              hint: `list them with: keyhold vault versions ${refText(r)}`,
            },
          );
        }
        tx.put(secretKey(r), { ...body, current: target });
        return { version: target };
      },
      (res) => ({ version: res.version }),
    );
  }

  /** Deletes a secret and every version of it (the file backend shreds the replaced file). */
  async delete(ref: string | SecretRef): Promise<void> {
    const r = parseRef(ref);
    this.#live();
    await this.#delete(r, undefined);
  }

  // ---------------------------------------------------------------- rotation

  /** A new DEK for `ns` (or every namespace); with `rewrite`, values are re-sealed and old DEKs dropped. */
  async rotateDek(
    ns?: string,
    options: { rewrite?: boolean; reason?: string } = {},
  ): Promise<RotationResult> {
    if (ns !== undefined) checkPart(ns, "namespace");
    this.#live();
    const detail: Record<string, string | number | boolean> = { rewrite: options.rewrite === true };
    if (options.reason !== undefined) detail.reason = options.reason.slice(0, 200);
    return this.#transact(
      "vault.rotate.dek",
      undefined,
      async (tx) => {
        const namespaces = ns === undefined ? tx.list("dek/").map((k) => k.slice(4)) : [ns];
        let last = 0;
        for (const space of namespaces) {
          const ring = await tx.get<DekRing>(dekKey(space));
          if (ring === undefined) {
            if (ns !== undefined)
              throw new SecretError("SECRET_NOT_FOUND", `no namespace ${space} in the vault`);
            continue;
          }
          const v = Math.max(...ring.deks.map((d) => d.v)) + 1;
          const dek = randomKey();
          const w = seal(this.#kek(this.#meta.kek), dek, dekAd(this.#storeId, space, v, this.#meta.kek));
          tx.onCommit(() => this.#deks.set(`${space}#${v}`, dek));
          ring.deks.push({
            v,
            kek: this.#meta.kek,
            n: w.nonce.toString("base64"),
            c: w.ciphertext.toString("base64"),
            created: nowIso(this.#now),
          });
          ring.current = v;
          last = v;
          if (options.rewrite) {
            for (const key of tx.list(`secret/${space}/`)) {
              const body = await tx.get<SecretBody>(key);
              if (body === undefined) continue;
              const ref = { ns: body.ns, name: body.name };
              for (const version of body.versions) {
                if (version.dek === v) continue;
                const plain = await this.#openValue(ref, version);
                const sealed = seal(dek, plain, valueAd(this.#storeId, ref.ns, ref.name, version.v, v));
                wipe(plain);
                version.dek = v;
                version.n = sealed.nonce.toString("base64");
                version.c = sealed.ciphertext.toString("base64");
              }
              tx.put(key, body);
            }
            ring.deks = ring.deks.filter((d) => d.v === v);
          }
          tx.put(dekKey(space), ring);
        }
        const meta = await tx.require<MetaBody>("meta", () => vaultTampered("vault meta record missing"));
        tx.put("meta", { ...meta, rotated: { ...meta.rotated, dek: nowIso(this.#now) } });
        return { level: "dek" as const, version: last, namespaces: namespaces.length };
      },
      (res) => ({ ...detail, namespaces: res.namespaces ?? 0 }),
    );
  }

  /** A new KEK version; every DEK and the integrity key are rewrapped, values are not touched. */
  async rotateKek(options: { reason?: string } = {}): Promise<RotationResult> {
    this.#live();
    return this.#transact(
      "vault.rotate.kek",
      undefined,
      async (tx) => {
        const meta = await tx.require<MetaBody>("meta", () => vaultTampered("vault meta record missing"));
        const next = Math.max(...meta.keks.map((k) => k.v)) + 1;
        const namespaces = await this.#rewrapAll(tx, meta, this.#master, next);
        return { level: "kek" as const, version: next, namespaces };
      },
      (res) => ({
        kek: res.version,
        ...(options.reason === undefined ? {} : { reason: options.reason.slice(0, 200) }),
      }),
    );
  }

  /**
   * A new master key: staged with the provider, the store rewrapped under a KEK derived from it in
   * one commit, then promoted. A crash anywhere leaves a store that opens with the old or the new
   * master, and the next open finishes or discards the staged one.
   *
   * The same commit makes a new integrity key and MACs every record, the digest and the head with
   * it: whoever held the old master (a leak) could unwrap the old integrity key, and with it forge
   * records, heads and history; after this they cannot (docs/vault.md, "A leaked master key").
   * The new head still names the old one (`prev`) and the history keeps the old heads' MACs, so
   * hosts that remember a head from before the rotation find it in the history as before.
   */
  async rotateMaster(options: Reauth & { reason?: string } = {}): Promise<RotationResult> {
    this.#live();
    const ctx = Vault.#context(this.#backend, this.#storeId);
    await this.#reauth("vault.rotate.master", options);
    const newMaster = randomKey();
    const newIk = randomKey();
    const version = this.#meta.master.version + 1;
    let providerRecords: Record<string, unknown>;
    try {
      providerRecords = await this.#provider.stage(ctx, newMaster, version);
    } catch (err) {
      wipe(newMaster);
      throw err;
    }
    let result: RotationResult;
    try {
      result = await this.#transact(
        "vault.rotate.master",
        undefined,
        async (tx) => {
          const meta = await tx.require<MetaBody>("meta", () => vaultTampered("vault meta record missing"));
          if (meta.master.version !== version - 1)
            throw new SecretError("VAULT_CONFLICT", "another process rotated the master key meanwhile");
          const nextKek = Math.max(...meta.keks.map((k) => k.v)) + 1;
          for (const [key, body] of Object.entries(providerRecords)) tx.put(key, body as Body);
          tx.rekey(newIk);
          await this.#rewrapAll(
            tx,
            meta,
            newMaster,
            nextKek,
            {
              version,
              check: masterCheck(newMaster, this.#storeId).toString("base64"),
              provider: meta.master.provider,
              rotated: nowIso(this.#now),
            },
            newIk,
          );
          return { level: "master" as const, version };
        },
        (res) => ({
          master: res.version,
          ...(options.reason === undefined ? {} : { reason: options.reason.slice(0, 200) }),
        }),
      );
    } catch (err) {
      await this.#provider.discard(ctx);
      wipe(newMaster);
      if (this.#ik !== newIk) wipe(newIk);
      throw err;
    }
    await this.#provider.promote(ctx);
    wipe(this.#master);
    this.#master = newMaster;
    for (const k of this.#keks.values()) wipe(k);
    this.#keks.clear();
    return result;
  }

  /** Rotates the levels whose schedule says they are due; returns what it rotated. */
  async rotateDue(): Promise<RotationResult[]> {
    this.#live();
    const meta = this.#meta;
    const now = this.#now().getTime();
    const due = (level: RotateLevel, last: string | undefined) => {
      const interval = meta.schedule[level];
      if (interval === undefined) return false;
      return last === undefined || now - Date.parse(last) >= parseDuration(interval);
    };
    const done: RotationResult[] = [];
    if (due("master", meta.master.rotated)) done.push(await this.rotateMaster({ reason: "schedule" }));
    else if (due("kek", meta.rotated.kek)) done.push(await this.rotateKek({ reason: "schedule" }));
    if (due("dek", this.#meta.rotated.dek))
      done.push(await this.rotateDek(undefined, { reason: "schedule" }));
    return done;
  }

  /** Event-based rotation of every level (suspected compromise): master, then every DEK with values re-sealed. */
  async rotateAll(options: Reauth & { reason: string }): Promise<RotationResult[]> {
    const master = await this.rotateMaster(options);
    const dek = await this.rotateDek(undefined, { rewrite: true, reason: options.reason });
    return [master, dek];
  }

  async setSchedule(schedule: RotationSchedule): Promise<void> {
    for (const interval of Object.values(schedule)) if (interval !== undefined) parseDuration(interval);
    await this.#transact("vault.schedule", undefined, async (tx) => {
      const meta = await tx.require<MetaBody>("meta", () => vaultTampered("vault meta record missing"));
      tx.put("meta", { ...meta, schedule });
    });
  }

  schedule(): RotationSchedule & { lastMaster: string; lastKek?: string; lastDek?: string } {
    return {
      ...this.#meta.schedule,
      lastMaster: this.#meta.master.rotated,
      ...(this.#meta.rotated.kek === undefined ? {} : { lastKek: this.#meta.rotated.kek }),
      ...(this.#meta.rotated.dek === undefined ? {} : { lastDek: this.#meta.rotated.dek }),
    };
  }

  /** Key versions in use, for `keyhold vault rotate --status` and tests. */
  keyVersions(): { master: number; kek: number; keks: number[] } {
    return { master: this.#meta.master.version, kek: this.#meta.kek, keks: this.#meta.keks.map((k) => k.v) };
  }

  // ---------------------------------------------------------------- policy

  async policy(): Promise<PolicyDocument> {
    return this.#readPolicy();
  }

  /** Records a plugin's manifest: the credentials it says it needs. Grants beyond it are refused. */
  async registerManifest(manifest: PluginManifest): Promise<void> {
    await this.#transact(
      "vault.manifest",
      undefined,
      async (tx) => {
        const policy = (await tx.get<PolicyDocument>("policy")) ?? emptyPolicy();
        policy.manifests[manifest.plugin] = { needs: manifest.needs.map(checkRule) };
        tx.put("policy", policy);
      },
      () => ({ plugin: manifest.plugin }),
    );
  }

  /** Grants `rule` to `plugin` (sensitive: needs re-authentication). */
  async grant(plugin: string, rule: AccessRule, auth: Reauth = {}): Promise<void> {
    checkPlugin(plugin);
    const checked = checkRule(rule);
    await this.#reauth("vault.grant", auth);
    await this.#transact(
      "vault.grant",
      { ns: checked.ns, name: checked.name },
      async (tx) => {
        const policy = (await tx.get<PolicyDocument>("policy")) ?? emptyPolicy();
        if (!declared(policy, plugin, checked)) {
          throw new SecretError(
            "ACCESS_DENIED",
            `plugin ${plugin} does not declare ${checked.ns}/${checked.name} (${checked.ops.join(",")}) in its manifest`,
            {
              hint: "add it to the plugin's manifest and register it with: keyhold vault policy load MANIFEST",
            },
          );
        }
        const grants = (policy.grants[plugin] ?? []).filter(
          (g) => !(g.ns === checked.ns && g.name === checked.name),
        );
        grants.push(checked);
        policy.grants[plugin] = grants;
        tx.put("policy", policy);
      },
      () => ({ plugin, ops: checked.ops.join(",") }),
    );
    // The denials that locked the plugin out were for what it is now granted (a unit restarting
    // while its grant was missing, typically): a grant is the administrator's answer to them.
    const cleared = await this.#limiter.unlock(plugin).catch(() => undefined);
    if (cleared?.wasLocked || (cleared?.denials ?? 0) > 0) {
      await this.#record({
        op: "vault.unlock",
        result: "ok",
        detail: { plugin, locked: cleared?.wasLocked === true, denials: cleared?.denials ?? 0, by: "grant" },
      });
    }
  }

  /** Removes `plugin`'s grant on ns/name (`*` for the namespace grant; sensitive). */
  async revoke(plugin: string, ns: string, name: string, auth: Reauth = {}): Promise<void> {
    checkPlugin(plugin);
    checkPart(ns, "namespace");
    if (name !== "*") checkPart(name, "name");
    await this.#reauth("vault.revoke", auth);
    await this.#transact(
      "vault.revoke",
      { ns, name },
      async (tx) => {
        const policy = (await tx.get<PolicyDocument>("policy")) ?? emptyPolicy();
        policy.grants[plugin] = (policy.grants[plugin] ?? []).filter(
          (g) => !(g.ns === ns && g.name === name),
        );
        tx.put("policy", policy);
      },
      () => ({ plugin }),
    );
  }

  /**
   * Ends `plugin`'s lockout on this host before its time and forgets its recent denials
   * (sensitive: needs re-authentication). The store is not touched: lockouts are host state.
   */
  async unlock(plugin: string, auth: Reauth = {}): Promise<{ wasLocked: boolean; denials: number }> {
    checkPlugin(plugin);
    this.#live();
    await this.#reauth("vault.unlock", auth);
    return this.#audited(
      "vault.unlock",
      undefined,
      plugin,
      () => this.#limiter.unlock(plugin),
      (res) => ({ locked: res.wasLocked, denials: res.denials }),
    );
  }

  /** A handle for one plugin that reaches only what its policy grants; every attempt is rate-limited. */
  scope(plugin: string): ScopedVault {
    checkPlugin(plugin);
    return new ScopedVault(plugin, {
      get: (ref, version) => this.#get(ref, version, plugin),
      put: (ref, value, options) => this.#put(ref, value, options, plugin),
      list: (ns) => this.#list(ns, plugin),
      delete: (ref) => this.#delete(ref, plugin),
    });
  }

  // ---------------------------------------------------------------- integrity and audit

  /**
   * The full check of docs/vault-format.md section 4: every record MAC, the digest, the count, the
   * head's place in the store's history, and that this history holds the head this host saw last.
   */
  async verify(): Promise<VerifyReport> {
    return (await this.#verify()).report;
  }

  async #verify(): Promise<{
    report: VerifyReport;
    verdict: HistoryVerdict | undefined;
    head: HeadBody | undefined;
  }> {
    // This host's memory first: whatever another process of this host saw since is then in the store read next.
    const seen = readHostState(this.#seenPath());
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
      await rememberHead(this.#seenPath(), generation, seenNow, snap.keys.meta.retired);
      if (verdict?.kind === "first-sight") {
        this.#firstSight = true;
        await this.#record({ op: "vault.first-sight", result: "ok", detail: { generation } });
      }
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
   * The full check of the store (as `verify`), then the shared audit log's own chain, and that the
   * log still holds the record the store sealed for this host at its last commit (so cutting the
   * log's tail shows). The seal is read from the head that check accepted, never from a head put
   * back or forked. Each host keeps its own log, so each checks its own seal; a format 1 store has
   * one seal, the last writer's.
   */
  async verifyAudit(): Promise<AuditVerifyReport> {
    const { report: store, head } = await this.#verify();
    const problems = [...store.problems];
    if (this.#audit === undefined) {
      problems.push("no audit log is attached to this vault");
      return { ok: false, problems, store };
    }
    for (const p of (await this.#audit.verify()).problems) problems.push(p.message);
    let seal: AuditSeal | null | undefined;
    let sealer = "the vault sealed";
    if (head?.seals !== undefined) {
      const host = readHostState(this.#seenPath())?.host;
      seal = host && Object.hasOwn(head.seals, host) ? head.seals[host] : undefined;
      sealer = "the vault sealed for this host";
    } else seal = head?.audit;
    if (seal) {
      const { seq, mac } = seal;
      const sealed = (await this.#audit.read()).find((r) => r.seq === seq);
      if (sealed === undefined)
        problems.push(`the audit log ends before record ${seq}, which ${sealer}: it was truncated`);
      else if (sealed.mac !== mac) problems.push(`audit record ${seq} differs from the one ${sealer}`);
    }
    return { ok: problems.length === 0, problems, store };
  }

  /** Wipes every key this handle holds. The handle is unusable afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    wipe(this.#master);
    wipe(this.#ik);
    for (const k of this.#keks.values()) wipe(k);
    for (const k of this.#deks.values()) wipe(k);
    this.#keks.clear();
    this.#deks.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---------------------------------------------------------------- internals

  #live(): void {
    if (this.#closed) throw new SecretError("DISPOSED", "the vault was closed");
  }

  async #put(
    r: SecretRef,
    value: Secret | string | Uint8Array,
    options: PutOptions,
    plugin: string | undefined,
  ): Promise<{ version: number }> {
    this.#live();
    const secret =
      value instanceof Secret
        ? value
        : typeof value === "string"
          ? Secret.fromString(value)
          : Secret.fromBytes(value);
    const bytes = secret.exposeBytes();
    checkValue(bytes);
    if (
      options.expires !== undefined &&
      !(options.expires instanceof Date && Number.isFinite(options.expires.getTime()))
    ) {
      throw new SecretError("INVALID_FORMAT", "expiry must be a valid date");
    }
    const result = await this.#guarded(plugin, "write", r, "vault.put", () =>
      this.#transact(
        "vault.put",
        r,
        async (tx) => {
          const existing = await tx.get<SecretBody>(secretKey(r));
          const ring = await this.#ensureRing(tx, r.ns);
          const dek = this.#dekFromRing(ring, ring.current);
          const v = existing === undefined ? 1 : Math.max(...existing.versions.map((x) => x.v)) + 1;
          const sealed = seal(dek, bytes, valueAd(this.#storeId, r.ns, r.name, v, ring.current));
          const version: ValueVersion = {
            v,
            dek: ring.current,
            n: sealed.nonce.toString("base64"),
            c: sealed.ciphertext.toString("base64"),
            created: nowIso(this.#now),
            ...(options.expires === undefined ? {} : { expires: options.expires.toISOString() }),
          };
          const versions = [...(existing?.versions ?? []), version]
            .sort((a, b) => b.v - a.v)
            .slice(0, KEPT_VERSIONS);
          tx.put(secretKey(r), { ns: r.ns, name: r.name, current: v, versions } satisfies SecretBody);
          return { version: v };
        },
        (res) => ({ version: res.version, ...(plugin === undefined ? {} : { plugin }) }),
      ),
    );
    if (this.#onValueStored !== undefined) await this.#onValueStored(refText(r), secret);
    return result;
  }

  async #get(r: SecretRef, version: number | undefined, plugin: string | undefined): Promise<Secret> {
    this.#live();
    let served = 0;
    return this.#guarded(plugin, "read", r, "vault.get", () =>
      this.#audited(
        "vault.get",
        r,
        plugin,
        async () => {
          const body = await this.#readSecret(r);
          const want = version ?? body.current;
          served = want;
          const entry = body.versions.find((v) => v.v === want);
          if (entry === undefined) {
            throw new SecretError("VERSION_NOT_FOUND", `no version ${want} of ${refText(r)}`, {
              hint: `list them with: keyhold vault versions ${refText(r)}`,
            });
          }
          if (entry.expires !== undefined && Date.parse(entry.expires) <= this.#now().getTime()) {
            throw new SecretError(
              "EXPIRED",
              `secret ${refText(r)} version ${want} expired at ${entry.expires}`,
              {
                hint: `store a new value with: keyhold vault put ${refText(r)}`,
              },
            );
          }
          const plain = await this.#openValue(r, entry);
          try {
            return Secret.fromBytes(plain);
          } finally {
            wipe(plain);
          }
        },
        () => ({ version: served }),
      ),
    );
  }

  async #list(ns: string | undefined, plugin: string | undefined): Promise<SecretInfo[]> {
    this.#live();
    const policy = plugin === undefined ? undefined : await this.#readPolicy();
    const run = () =>
      this.#withCurrentKeys(async () => {
        const records = await this.#backend.readAll(ns === undefined ? "secret/" : `secret/${ns}/`);
        const out: SecretInfo[] = [];
        for (const [key, rec] of records) {
          const body = this.#openEnvelope<SecretBody>(key, rec.value);
          if (
            policy !== undefined &&
            plugin !== undefined &&
            !allows(policy, plugin, { ns: body.ns }, "list")
          )
            continue;
          const current = body.versions.find((v) => v.v === body.current);
          const oldest = body.versions.reduce((a, b) => (a.v < b.v ? a : b));
          const newest = body.versions.reduce((a, b) => (a.v > b.v ? a : b));
          out.push({
            ns: body.ns,
            name: body.name,
            version: body.current,
            versions: body.versions.length,
            created: oldest.created,
            updated: newest.created,
            ...(current?.expires === undefined ? {} : { expires: current.expires }),
          });
        }
        return out.sort((a, b) => (a.ns === b.ns ? a.name.localeCompare(b.name) : a.ns.localeCompare(b.ns)));
      });
    if (plugin === undefined || ns === undefined) {
      if (plugin !== undefined) this.#limiter.attempt(plugin);
      return this.#audited("vault.ls", undefined, plugin, run, (res) => ({
        count: res.length,
        ...(ns === undefined ? {} : { ns }),
      }));
    }
    return this.#guarded(plugin, "list", { ns, name: "*" }, "vault.ls", () =>
      this.#audited("vault.ls", undefined, plugin, run, (res) => ({ count: res.length, ns })),
    );
  }

  async #delete(r: SecretRef, plugin: string | undefined): Promise<void> {
    await this.#guarded(plugin, "delete", r, "vault.rm", () =>
      this.#transact(
        "vault.rm",
        r,
        async (tx) => {
          await tx.require<SecretBody>(secretKey(r), () => notFound(r));
          tx.delete(secretKey(r));
        },
        (): Record<string, string> => (plugin === undefined ? {} : { plugin }),
      ),
    );
  }

  /** Policy and rate limit for a scoped call; denials are audited and counted towards lockout. */
  async #guarded<T>(
    plugin: string | undefined,
    op: VaultOp,
    r: SecretRef,
    auditOp: string,
    work: () => Promise<T>,
  ): Promise<T> {
    if (plugin === undefined) return work();
    try {
      this.#limiter.attempt(plugin);
    } catch (err) {
      await this.#record({
        op: auditOp,
        name: refText(r),
        result: "denied",
        code: (err as SecretError).code,
        detail: { plugin },
      });
      throw err;
    }
    const policy = await this.#readPolicy();
    if (!allows(policy, plugin, r, op)) {
      // Audited before it is counted, so a denial is on record even if the host's lockout
      // record cannot take it (then that error is what the plugin gets: still a refusal).
      await this.#record({
        op: auditOp,
        name: refText(r),
        result: "denied",
        code: "ACCESS_DENIED",
        detail: { plugin, access: op },
      });
      await this.#limiter.denied(plugin);
      throw new SecretError("ACCESS_DENIED", `plugin ${plugin} may not ${op} ${refText(r)}`, {
        hint: `grant it with: keyhold vault grant ${plugin} ${refText(r)} --ops ${op}`,
      });
    }
    return work();
  }

  async #reauth(op: string, auth: Reauth): Promise<void> {
    try {
      await this.#provider.reauthenticate(Vault.#context(this.#backend, this.#storeId), auth.passphrase);
    } catch (err) {
      await this.#record({ op, result: "denied", code: isSecretError(err) ? err.code : "REAUTH_REQUIRED" });
      throw err;
    }
  }

  async #readPolicy(): Promise<PolicyDocument> {
    return this.#withCurrentKeys(async () => {
      const rec = await this.#backend.read("policy");
      if (rec === undefined) return emptyPolicy();
      return this.#openEnvelope<PolicyDocument>("policy", rec.value);
    });
  }

  async #readSecret(r: SecretRef): Promise<SecretBody> {
    const key = secretKey(r);
    const body = await this.#withCurrentKeys(async () => {
      const rec = await this.#backend.read(key);
      if (rec === undefined) throw notFound(r);
      return this.#openEnvelope<SecretBody>(key, rec.value);
    });
    if (body.ns !== r.ns || body.name !== r.name) throw vaultTampered(`record ${key} names another secret`);
    return body;
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

  async #openValue(r: SecretRef, entry: ValueVersion): Promise<Buffer> {
    const dek = await this.#dek(r.ns, entry.dek);
    return open(
      dek,
      b64(entry.n),
      b64(entry.c),
      valueAd(this.#storeId, r.ns, r.name, entry.v, entry.dek),
      `${refText(r)} version ${entry.v}`,
    );
  }

  #kek(version: number): KeyBytes {
    let kek = this.#keks.get(version);
    if (kek === undefined) {
      kek = deriveKek(this.#master, this.#storeId, version);
      this.#keks.set(version, kek);
    }
    return kek;
  }

  #dekFromRing(ring: DekRing, version: number): KeyBytes {
    const cacheKey = `${ring.ns}#${version}`;
    const cached = this.#deks.get(cacheKey);
    if (cached !== undefined) return cached;
    const entry = ring.deks.find((d) => d.v === version);
    if (entry === undefined) throw vaultTampered(`namespace ${ring.ns} has no data key version ${version}`);
    const dek = open(
      this.#kek(entry.kek),
      b64(entry.n),
      b64(entry.c),
      dekAd(this.#storeId, ring.ns, version, entry.kek),
      `the data key of ${ring.ns}`,
    );
    this.#deks.set(cacheKey, dek);
    return dek;
  }

  /** A DEK by namespace and version; DEKs never change once made, only their wrapping, so they are cached. */
  async #dek(ns: string, version: number): Promise<KeyBytes> {
    const cached = this.#deks.get(`${ns}#${version}`);
    if (cached !== undefined) return cached;
    const ring = await this.#withCurrentKeys(async () => {
      const rec = await this.#backend.read(dekKey(ns));
      if (rec === undefined) throw vaultTampered(`namespace ${ns} has no data keys`);
      return this.#openEnvelope<DekRing>(dekKey(ns), rec.value);
    });
    try {
      return this.#dekFromRing(ring, version);
    } catch (err) {
      // Another process may have rotated the master: pick up its meta and master, then try once more.
      if (!isSecretError(err, "DECRYPT_FAILED")) throw err;
      await this.#reloadMeta();
      return this.#dekFromRing(ring, version);
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
    const keys = await this.#keysFor(rec.value);
    const env = parseEnvelope("meta", rec.value);
    if (!sameBytes(recordMac(keys.ik, "meta", env.b), env.mac)) {
      this.#discard(keys);
      throw vaultTampered("vault record meta failed its integrity check");
    }
    const changed = keys.ik !== this.#ik;
    this.#adopt(keys);
    return changed;
  }

  /**
   * The keys a meta record names: this handle's own while its master and wrapped integrity key
   * are the same, otherwise the provider's master that matches its check and the integrity key
   * unwrapped with it. Meta's own MAC is for the caller to check with the integrity key returned.
   */
  async #keysFor(metaText: string): Promise<Keys> {
    const env = parseEnvelope("meta", metaText);
    const meta = parseJson(env.b, "meta") as MetaBody;
    checkFormat(meta);
    if (meta.storeId !== this.#meta.storeId)
      throw vaultTampered("the vault's meta record names another store");
    const sameMaster = meta.master?.check === this.#meta.master.check;
    if (sameMaster && sameWrap(meta.ik, this.#meta.ik)) return { master: this.#master, ik: this.#ik, meta };
    let master = this.#master;
    if (!sameMaster) {
      // Never back to a master a rotation replaced (the passphrase provider would open it: it
      // takes the master from the store, and an old copy brings the old one along).
      const seen = readHostState(this.#seenPath());
      const known = [...(seen?.retired ?? []), ...(this.#meta.retired ?? [])];
      const retired = retiredMaster(
        { generation: seen?.generation ?? 0, head: null, host: null, retired: known },
        String(meta.master?.check),
      );
      if (retired !== undefined) throw historyError(retired, this.#seenPath());
      const candidates = await this.#provider.candidates(Vault.#context(this.#backend, this.#storeId));
      const expected = b64(String(meta.master?.check));
      const match = candidates.find((k) => sameBytes(masterCheck(k, this.#storeId), expected));
      for (const k of candidates) if (k !== match) wipe(k);
      if (match === undefined)
        throw new SecretError(
          "MASTER_KEY_MISSING",
          "the vault's master key was rotated and this host has no copy of the new one",
          {
            hint: "import it on this host: keyhold vault export-master on a host that has it, then keyhold vault init --join here",
          },
        );
      master = match;
    }
    try {
      return { master, ik: unwrapIk(master, this.#storeId, meta), meta };
    } catch (err) {
      if (master !== this.#master) wipe(master);
      throw err;
    }
  }

  /** Makes `keys` this handle's own, wiping the ones they replace. */
  #adopt(keys: Keys): void {
    if (keys.master !== this.#master) {
      wipe(this.#master);
      this.#master = keys.master;
      for (const k of this.#keks.values()) wipe(k);
      this.#keks.clear();
    }
    if (keys.ik !== this.#ik) {
      wipe(this.#ik);
      this.#ik = keys.ik;
    }
    this.#meta = keys.meta;
  }

  /** Wipes the keys of `keys` this handle does not hold (a store that failed its check named them). */
  #discard(keys: Keys): void {
    if (keys.master !== this.#master) wipe(keys.master);
    if (keys.ik !== this.#ik) wipe(keys.ik);
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
    let keys: Keys = { master: this.#master, ik: this.#ik, meta: this.#meta };
    const problems: string[] = [];
    if (metaRec !== undefined && !this.#creating) {
      try {
        keys = await this.#keysFor(metaRec.value);
      } catch (err) {
        if (!isSecretError(err, "VAULT_TAMPERED")) throw err;
        problems.push(err.message);
      }
    }
    const snap = inspect(records, keys.ik, full, this.#parsed);
    snap.problems.unshift(...problems);
    return { ...snap, keys };
  }

  async #ensureRing(tx: Transaction, ns: string): Promise<DekRing> {
    const ring = await tx.get<DekRing>(dekKey(ns));
    if (ring !== undefined) return ring;
    const meta = await tx.require<MetaBody>("meta", () => vaultTampered("vault meta record missing"));
    const dek = randomKey();
    const w = seal(this.#kek(meta.kek), dek, dekAd(this.#storeId, ns, 1, meta.kek));
    tx.onCommit(() => this.#deks.set(`${ns}#1`, dek));
    const fresh: DekRing = {
      ns,
      current: 1,
      deks: [
        {
          v: 1,
          kek: meta.kek,
          n: w.nonce.toString("base64"),
          c: w.ciphertext.toString("base64"),
          created: nowIso(this.#now),
        },
      ],
    };
    tx.put(dekKey(ns), fresh);
    return fresh;
  }

  /**
   * Rewraps every DEK and the integrity key `ik` (the current one, or the new one of a master
   * rotation) under KEK `nextKek` of `master` (KEK and master rotation).
   */
  async #rewrapAll(
    tx: Transaction,
    meta: MetaBody,
    master: KeyBytes,
    nextKek: number,
    newMaster?: MetaBody["master"],
    ik: KeyBytes = this.#ik,
  ): Promise<number> {
    const kek = deriveKek(master, this.#storeId, nextKek);
    const rings = tx.list("dek/");
    for (const key of rings) {
      const ring = await tx.get<DekRing>(key);
      if (ring === undefined) continue;
      for (const entry of ring.deks) {
        const dek = this.#dekFromRing(ring, entry.v);
        const w = seal(kek, dek, dekAd(this.#storeId, ring.ns, entry.v, nextKek));
        entry.kek = nextKek;
        entry.n = w.nonce.toString("base64");
        entry.c = w.ciphertext.toString("base64");
      }
      tx.put(key, ring);
    }
    const wIk = seal(kek, ik, integrityKeyAd(this.#storeId, nextKek));
    const created = nowIso(this.#now);
    const next: MetaBody = {
      ...meta,
      kek: nextKek,
      keks: [{ v: nextKek, created }],
      ik: { kek: nextKek, n: wIk.nonce.toString("base64"), c: wIk.ciphertext.toString("base64") },
      rotated: { ...meta.rotated, kek: created },
      // The master replaced is retired: hosts that see this meta refuse a store that names it again.
      ...(newMaster === undefined
        ? {}
        : { master: newMaster, retired: [...(meta.retired ?? []), meta.master.check] }),
    };
    tx.put("meta", next);
    tx.onCommit(() => {
      if (newMaster === undefined) this.#keks.set(nextKek, kek);
      else wipe(kek);
    });
    return rings.length;
  }

  #openEnvelope<T>(key: string, text: string, ik: KeyBytes = this.#ik): T {
    const env = parseEnvelope(key, text);
    if (!sameBytes(recordMac(ik, key, env.b), env.mac))
      throw vaultTampered(`vault record ${keyText(key)} failed its integrity check`);
    return parseJson(env.b, key) as T;
  }

  /**
   * Runs `work` against a fresh transaction and commits its writes together with the new head,
   * retrying from scratch when another writer committed first (optimistic concurrency).
   *
   * Each attempt starts from one read of the whole store, checked against its head (#snapshot:
   * the digest over every record's MAC, the count, the head's MAC) and against this host's
   * memory of the store's history; everything the work reads comes from that read, and the new
   * head's digest is made from it. So a record swapped in after the check (a history record from
   * another branch, say) is not built on: the commit either names exactly what was checked or
   * fails its compare-and-swap.
   */
  async #transact<T>(
    op: string,
    ref: SecretRef | { ns: string; name: string } | undefined,
    work: (tx: Transaction) => Promise<T>,
    detail?: (result: T) => Record<string, string | number | boolean>,
  ): Promise<T> {
    this.#live();
    return this.#audited(
      op,
      ref,
      undefined,
      async () => {
        // The head seals this handle's last audit record; a handle that has written none yet
        // (a fresh process) records its arrival first, so its first commit already seals the log's tip.
        if (this.#audit !== undefined && this.#lastAudit === null)
          await this.#record({ op: "vault.open", result: "ok" });
        for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
          // This host's memory before the store: whatever another process of this host saw since
          // is then in the store read next. Never write on top of a store that does not extend it.
          const seen = readHostState(this.#seenPath());
          const snap = await this.#snapshot(false);
          const head = snap.head;
          if (this.#creating) {
            if (snap.records.size > 0)
              throw new SecretError("VAULT_EXISTS", `a vault already exists at ${this.#backend.location}`);
          } else if (snap.problems.length > 0) {
            this.#discard(snap.keys);
            throw vaultTampered(`vault failed its integrity check: ${snap.problems[0]}`);
          }
          const tx = new Transaction(snap.records, (key, text) =>
            this.#openEnvelope(key, text, snap.keys.ik),
          );
          if (head !== undefined) {
            const verdict = await judgeHistory(seen, {
              generation: head.generation,
              head: snap.headMac,
              since: snap.format >= 2 ? (head.since as number) : null,
              master: snap.keys.meta.master.check,
              linkAt: async (g) => linkIn(await tx.get<ChainSegment>(chainKey(g)), g),
            });
            const refused = historyError(verdict, this.#seenPath());
            if (refused !== undefined) {
              this.#discard(snap.keys);
              throw refused;
            }
          }
          // The store checked out: the keys it names (another process may have rotated them) are this handle's now.
          this.#adopt(snap.keys);
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
          // An older store is upgraded by this commit: format 3 in meta and head; a format 1
          // store's history starts here, a format 2 store's goes on.
          const meta = await tx.get<MetaBody>("meta");
          if (meta !== undefined && meta.format < VAULT_FORMAT)
            tx.put("meta", { ...meta, format: VAULT_FORMAT });
          const chained = head !== undefined && snap.format >= 2;
          if (chained && !(await this.#appendToChain(tx, head, snap.headMac)))
            throw vaultTampered(
              `the vault's head history (${chainKey(head.generation)}) is out of step with its head`,
            );
          const { ops, macs, ik } = this.#commitOps(tx, snap);
          // Each host seals its own audit position: the hosts sharing a store keep separate logs.
          // A long-lived handle's last record may be older than what another process of this
          // host sealed since: a seal never moves back, or cutting the log there would not show.
          const seals = { ...(chained ? head.seals : {}) };
          if (this.#lastAudit !== null) {
            const host = seen?.host ?? (await hostId(this.#seenPath()));
            const sealed = Object.hasOwn(seals, host) ? seals[host] : undefined;
            if (sealed === undefined || sealed.seq < this.#lastAudit.seq) seals[host] = this.#lastAudit;
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
          if ((await this.#backend.commit(ops)) === "ok") {
            const written = tx.written<MetaBody>("meta");
            if (written !== undefined) this.#meta = written;
            if (ik !== this.#ik) {
              wipe(this.#ik);
              this.#ik = ik;
            }
            for (const hook of tx.hooks) hook();
            await rememberHead(
              this.#seenPath(),
              nextHead.generation,
              sealedHead.mac.toString("base64"),
              this.#meta.retired,
            );
            return result;
          }
          await sleep(Math.floor(Math.random() * Math.min(50, 2 ** attempt)));
        }
        throw new SecretError("VAULT_CONFLICT", "too many concurrent writers; the change was not made", {
          hint: "try again",
        });
      },
      detail,
    );
  }

  /**
   * The record writes of a commit and the MAC of every record after it (for the digest). With a
   * new integrity key (master rotation) every record is MACed again, its body unchanged: each is
   * checked under the old key first, so nothing altered behind the vault's back is sealed anew.
   */
  #commitOps(tx: Transaction, snap: Snapshot): { ops: CommitOp[]; macs: Map<string, Buffer>; ik: KeyBytes } {
    const ik = tx.integrityKey ?? this.#ik;
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
    if (ik !== this.#ik) {
      for (const [key, env] of snap.envelopes) {
        if (tx.writes.has(key)) continue;
        if (!sameBytes(recordMac(this.#ik, key, env.b), env.mac))
          throw vaultTampered(`vault record ${keyText(key)} failed its integrity check`);
        const sealed = sealEnvelope(ik, key, env.b);
        macs.set(key, sealed.mac);
        ops.push({ key, expect: rev(key), value: sealed.text });
      }
    }
    return { ops, macs, ik };
  }

  /** Runs `work` and appends one audit event with its outcome (never a value). */
  async #audited<T>(
    op: string,
    ref: SecretRef | { ns: string; name: string } | undefined,
    plugin: string | undefined,
    work: () => Promise<T>,
    detail?: (result: T) => Record<string, string | number | boolean>,
  ): Promise<T> {
    const name = ref === undefined ? undefined : `${ref.ns}/${ref.name}`;
    const base: Record<string, string> = plugin === undefined ? {} : { plugin };
    let result: T;
    try {
      result = await work();
    } catch (err) {
      await this.#record({
        op,
        ...(name === undefined ? {} : { name }),
        result: isSecretError(err, "ACCESS_DENIED") ? "denied" : "error",
        code: isSecretError(err) ? err.code : "INTERNAL",
        detail: base,
      });
      throw err;
    }
    await this.#record({
      op,
      ...(name === undefined ? {} : { name }),
      result: "ok",
      detail: { ...base, ...(detail?.(result) ?? {}) },
    });
    return result;
  }

  async #record(event: Parameters<VaultAuditLog["append"]>[0]): Promise<void> {
    if (this.#audit === undefined) return;
    const detail =
      event.detail !== undefined && Object.keys(event.detail).length > 0 ? { detail: event.detail } : {};
    const { detail: _, ...rest } = event;
    const rec = await this.#audit.append({ ...rest, ...detail });
    this.#lastAudit = { seq: rec.seq, mac: rec.mac };
  }

  #seenPath(): string {
    return hostStatePath(this.#stateDir, this.#storeId);
  }

  /**
   * Appends the head being replaced to the store's history (`chain/<n>`) in the commit replacing
   * it; false when the history is not where that head says it should be.
   */
  async #appendToChain(tx: Transaction, head: HeadBody, headMac: string): Promise<boolean> {
    const key = chainKey(head.generation);
    const segment = (await tx.get<ChainSegment>(key)) ?? { first: head.generation, links: [] };
    const starts = head.generation % CHAIN_SEGMENT === 0 || head.generation === head.since;
    if (segment.first + segment.links.length !== head.generation || (segment.links.length === 0 && !starts))
      return false;
    segment.links.push(headMac);
    tx.put(key, segment);
    return true;
  }
}

/** Reads made and writes staged by one attempt of a commit, over one checked read of the store. */
class Transaction {
  readonly #records: ReadonlyMap<string, StoredRecord>;
  readonly #open: (key: string, text: string) => unknown;
  readonly #bodies = new Map<string, Body>();
  readonly writes = new Map<string, Body | null>();
  readonly hooks: Array<() => void> = [];
  /** A new integrity key every record of this commit is MACed with (master rotation). */
  integrityKey: KeyBytes | undefined;

  constructor(
    records: ReadonlyMap<string, StoredRecord>,
    openEnvelope: (key: string, text: string) => unknown,
  ) {
    this.#records = records;
    this.#open = openEnvelope;
  }

  /** The record as this transaction sees it (its own writes first), as a private copy; its MAC is checked. */
  async get<T extends Body>(key: string): Promise<T | undefined> {
    if (this.writes.has(key)) {
      const w = this.writes.get(key);
      return w === null || w === undefined ? undefined : (structuredClone(w) as T);
    }
    let body = this.#bodies.get(key);
    if (body === undefined) {
      const rec = this.#records.get(key);
      if (rec === undefined) return undefined;
      body = this.#open(key, rec.value) as Body;
      this.#bodies.set(key, body);
    }
    return structuredClone(body) as T;
  }

  async require<T extends Body>(key: string, missing: () => SecretError): Promise<T> {
    const body = await this.get<T>(key);
    if (body === undefined) throw missing();
    return body;
  }

  /** The keys under `prefix` as this transaction sees them, sorted. */
  list(prefix: string): string[] {
    const keys = new Set([...this.#records.keys()].filter((k) => k.startsWith(prefix)));
    for (const [key, write] of this.writes)
      if (key.startsWith(prefix)) {
        if (write === null) keys.delete(key);
        else keys.add(key);
      }
    return [...keys].sort();
  }

  put(key: string, body: Body): void {
    this.writes.set(key, body);
  }

  delete(key: string): void {
    this.writes.set(key, null);
  }

  /** MACs every record of this commit, its head and digest with `ik` instead of the current key. */
  rekey(ik: KeyBytes): void {
    this.integrityKey = ik;
  }

  written<T>(key: string): T | undefined {
    const w = this.writes.get(key);
    return w === null || w === undefined ? undefined : (w as T);
  }

  onCommit(hook: () => void): void {
    this.hooks.push(hook);
  }
}

/** What a plugin's handle can do, each call checked against its policy. */
interface ScopedOps {
  get(ref: SecretRef, version: number | undefined): Promise<Secret>;
  put(ref: SecretRef, value: Secret | string | Uint8Array, options: PutOptions): Promise<{ version: number }>;
  list(ns: string | undefined): Promise<SecretInfo[]>;
  delete(ref: SecretRef): Promise<void>;
}

/** A vault handle limited to what one plugin's policy grants. Holds no key of its own. */
export class ScopedVault {
  readonly plugin: string;
  readonly #ops: ScopedOps;

  constructor(plugin: string, ops: ScopedOps) {
    this.plugin = plugin;
    this.#ops = ops;
  }

  get(ref: string | SecretRef, options: { version?: number } = {}): Promise<Secret> {
    return this.#ops.get(parseRef(ref), options.version);
  }

  put(
    ref: string | SecretRef,
    value: Secret | string | Uint8Array,
    options: PutOptions = {},
  ): Promise<{ version: number }> {
    return this.#ops.put(parseRef(ref), value, options);
  }

  list(ns?: string): Promise<SecretInfo[]> {
    return this.#ops.list(ns === undefined ? undefined : checkPart(ns, "namespace"));
  }

  delete(ref: string | SecretRef): Promise<void> {
    return this.#ops.delete(parseRef(ref));
  }
}

function notFound(r: SecretRef): SecretError {
  return new SecretError("SECRET_NOT_FOUND", `no secret ${refText(r)} in the vault`, {
    hint: "list secrets with: keyhold vault ls",
  });
}

/** This host's memory of the store (docs/vault-format.md section 7). */
function hostStatePath(stateDir: string, storeId: Buffer): string {
  return join(stateDir, `vault-${storeId.toString("hex")}.seen`);
}

function b64(text: string): Buffer {
  return Buffer.from(String(text), "base64");
}

function parseJson(text: string, key: string): unknown {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null) throw new Error("not an object");
    return v;
  } catch {
    throw vaultTampered(`vault record ${keyText(key)} is malformed`);
  }
}

/** Half of a UTF-16 pair alone: UTF-8 has no bytes for it, so two keys would encode alike. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function parseEnvelope(key: string, text: string): Envelope {
  if (Buffer.byteLength(key, "utf8") > RECORD_KEY_MAX_BYTES || LONE_SURROGATE.test(key))
    throw vaultTampered(`vault record ${keyText(key)} has a key that cannot be MACed`);
  const env = parseJson(text, key) as { k?: unknown; b?: unknown; m?: unknown };
  if (typeof env.k !== "string" || typeof env.b !== "string" || typeof env.m !== "string")
    throw vaultTampered(`vault record ${keyText(key)} is malformed`);
  if (env.k !== key)
    throw vaultTampered(`vault record ${keyText(key)} holds the record of ${keyText(env.k)}`);
  const mac = b64(env.m);
  if (mac.length !== 32) throw vaultTampered(`vault record ${keyText(key)} is malformed`);
  return { b: env.b, mac };
}

/** An envelope (section 3) for `body` (an object, or body text kept as it is) under `ik`. */
function sealEnvelope(ik: KeyBytes, key: string, body: Body | string): { text: string; mac: Buffer } {
  const b = typeof body === "string" ? body : JSON.stringify(body);
  const mac = recordMac(ik, key, b);
  return { text: JSON.stringify({ k: key, b, m: mac.toString("base64") }), mac };
}

function checkFormat(meta: MetaBody): void {
  const { format } = meta;
  if (typeof format !== "number" || !Number.isInteger(format) || format > VAULT_FORMAT || format < 1) {
    const shown = typeof format === "number" ? String(format) : quoted(String(format), 20);
    throw new SecretError("FORMAT_UNSUPPORTED", `vault format ${shown} is not supported by this keyhold`, {
      hint: "upgrade keyhold",
    });
  }
}

/** The integrity key `meta` wraps, under the KEK of `master` it names (a VAULT_TAMPERED error if it does not open). */
function unwrapIk(master: KeyBytes, storeId: Buffer, meta: MetaBody): KeyBytes {
  let kek: KeyBytes | undefined;
  try {
    const { ik } = meta;
    if (!Number.isSafeInteger(ik?.kek) || ik.kek < 1) throw new Error("no KEK version");
    kek = deriveKek(master, storeId, ik.kek);
    return open(kek, b64(ik.n), b64(ik.c), integrityKeyAd(storeId, ik.kek), "the integrity key");
  } catch {
    throw vaultTampered("the vault's integrity key does not open with its master key");
  } finally {
    wipe(kek);
  }
}

function sameWrap(a: MetaBody["ik"] | undefined, b: MetaBody["ik"]): boolean {
  return a?.kek === b.kek && a.n === b.n && a.c === b.c;
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
  ik: KeyBytes,
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

/**
 * Envelopes parsed from earlier reads of the store, by record key with the text they came from:
 * a commit reads every record, and most are the same text as last time (parsing is a pure
 * function of the text, so reusing it changes nothing the checks see).
 */
type EnvelopeCache = Map<string, { text: string; env: Envelope }>;

/** The digest of format 1 and 2 stores: the XOR of every record's MAC (section 8). */
function xorDigest(macs: Iterable<Buffer>): Buffer {
  const digest = Buffer.alloc(32);
  for (const mac of macs) xorInto(digest, mac);
  return digest;
}

export { KEY_BYTES };

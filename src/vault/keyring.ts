import { SecretError } from "../secret/index.js";
import {
  dekAd,
  deriveKek,
  integrityKeyAd,
  type GuardedKey,
  masterCheck,
  open,
  randomKey,
  sameBytes,
  seal,
  wipeKey,
} from "./crypto.js";
import {
  b64,
  checkFormat,
  type DekRing,
  type MetaBody,
  parseEnvelope,
  parseJson,
  vaultTampered,
  wrapped,
} from "./records.js";

/*
 * The vault's keys (docs/vault-format.md section 1) as one immutable value: the master, the
 * integrity key and the meta record that names them, with the KEKs derived from that master and
 * the DEKs unwrapped under them. A keyring never changes which keys it stands for. A commit that
 * makes keys (a new DEK, a KEK or master rotation) builds the next keyring in its transaction and
 * the barrier swaps it in when the commit lands, so an attempt that fails leaves the handle's keys
 * as they were.
 *
 * Keys live in sodium's guarded memory and are wiped with crypto.ts's wipe: by the barrier when a
 * keyring is replaced (what the new one does not hold), and all of them when the handle closes.
 */

/** The DEK cache key: a DEK is named by its namespace and version, and never changes once made. */
const dekId = (ns: string, version: number) => `${ns}#${version}`;

interface Parts {
  storeId: Buffer;
  master: GuardedKey;
  ik: GuardedKey;
  meta: MetaBody;
  /** KEKs of `master` by version: derived on first use, shared by every keyring with this master. */
  keks: Map<number, GuardedKey>;
  /** DEKs unwrapped from committed rings: shared by every keyring of the handle (a DEK never changes). */
  deks: Map<string, GuardedKey>;
  /** DEKs this handle made in its own commits; each keyring that adds one has its own copy. */
  made: ReadonlyMap<string, GuardedKey>;
}

export class Keyring {
  readonly storeId: Buffer;
  readonly master: GuardedKey;
  readonly ik: GuardedKey;
  readonly meta: MetaBody;
  readonly #keks: Map<number, GuardedKey>;
  readonly #deks: Map<string, GuardedKey>;
  readonly #made: ReadonlyMap<string, GuardedKey>;

  private constructor(parts: Parts) {
    this.storeId = parts.storeId;
    this.master = parts.master;
    this.ik = parts.ik;
    this.meta = parts.meta;
    this.#keks = parts.keks;
    this.#deks = parts.deks;
    this.#made = parts.made;
  }

  /** The keyring of a store opened or created with `master`; `keks` those already derived. */
  static of(
    storeId: Buffer,
    master: GuardedKey,
    ik: GuardedKey,
    meta: MetaBody,
    keks: Map<number, GuardedKey> = new Map(),
  ): Keyring {
    return new Keyring({ storeId, master, ik, meta, keks, deks: new Map(), made: new Map() });
  }

  #with(parts: Partial<Parts>): Keyring {
    const sameMaster = parts.master === undefined || parts.master === this.master;
    return new Keyring({
      storeId: this.storeId,
      master: this.master,
      ik: this.ik,
      meta: this.meta,
      keks: sameMaster ? this.#keks : new Map(),
      deks: this.#deks,
      made: this.#made,
      ...parts,
    });
  }

  /** The same keys, named by the meta record `meta` (a commit wrote it). */
  withMeta(meta: MetaBody): Keyring {
    return this.#with({ meta });
  }

  /** These keys plus DEK `version` of `ns`, which this commit made. */
  withDek(ns: string, version: number, dek: GuardedKey): Keyring {
    return this.#with({ made: new Map([...this.#made, [dekId(ns, version), dek]]) });
  }

  /** Another master and integrity key (a master rotation, or another process's one), named by `meta`. */
  rekeyed(master: GuardedKey, ik: GuardedKey, meta: MetaBody): Keyring {
    return this.#with({ master, ik, meta });
  }

  /** KEK `version` of this master. */
  kek(version: number): GuardedKey {
    let kek = this.#keks.get(version);
    if (kek === undefined) {
      kek = deriveKek(this.master, this.storeId, version);
      this.#keks.set(version, kek);
    }
    return kek;
  }

  /** DEK `version` of `ns` if this keyring already holds it. */
  cachedDek(ns: string, version: number): GuardedKey | undefined {
    const id = dekId(ns, version);
    return this.#made.get(id) ?? this.#deks.get(id);
  }

  /** DEK `version` of `ring`, unwrapped under its KEK the first time (DECRYPT_FAILED if it does not open). */
  dek(ring: DekRing, version: number): GuardedKey {
    const cached = this.cachedDek(ring.ns, version);
    if (cached !== undefined) return cached;
    const entry = ring.deks.find((d) => d.v === version);
    if (entry === undefined) throw vaultTampered(`namespace ${ring.ns} has no data key version ${version}`);
    const dek = open(
      this.kek(entry.kek),
      b64(entry.n),
      b64(entry.c),
      dekAd(this.storeId, ring.ns, version, entry.kek),
      `the data key of ${ring.ns}`,
    );
    this.#deks.set(dekId(ring.ns, version), dek);
    return dek;
  }

  /** A fresh DEK `version` for `ns` and its ring entry, wrapped under KEK `kekVersion`. */
  newDek(
    ns: string,
    version: number,
    kekVersion: number,
    created: string,
  ): { dek: GuardedKey; entry: DekRing["deks"][number] } {
    const dek = randomKey();
    const w = seal(this.kek(kekVersion), dek, dekAd(this.storeId, ns, version, kekVersion));
    return { dek, entry: { v: version, kek: kekVersion, ...wrapped(w), created } };
  }

  /** Rewraps every DEK of `ring` (a private copy) under `kek`, KEK version `kekVersion`. */
  rewrapRing(ring: DekRing, kek: GuardedKey, kekVersion: number): void {
    for (const entry of ring.deks) {
      const dek = this.dek(ring, entry.v);
      const w = seal(kek, dek, dekAd(this.storeId, ring.ns, entry.v, kekVersion));
      entry.kek = kekVersion;
      Object.assign(entry, wrapped(w));
    }
  }

  /** The integrity key `ik` wrapped under `kek`, KEK version `kekVersion`, as meta holds it. */
  wrapIk(ik: GuardedKey, kek: GuardedKey, kekVersion: number): MetaBody["ik"] {
    return { kek: kekVersion, ...wrapped(seal(kek, ik, integrityKeyAd(this.storeId, kekVersion))) };
  }

  /**
   * Wipes the keys this keyring holds that `kept` does not: the keyring it is replaced by, or
   * the one kept instead of it (a store that failed its check named these keys).
   */
  wipeUnshared(kept: Keyring): void {
    if (this.master !== kept.master) wipeKey(this.master);
    if (this.ik !== kept.ik) wipeKey(this.ik);
    if (this.#keks !== kept.#keks) {
      for (const k of this.#keks.values()) wipeKey(k);
      // A handle still holding this keyring derives them again rather than use wiped bytes.
      this.#keks.clear();
    }
    this.wipeMadeUnshared(kept);
  }

  /** Wipes the DEKs a commit made that `kept` does not hold (the commit did not land). */
  wipeMadeUnshared(kept: Keyring): void {
    for (const [id, k] of this.#made) if (kept.#made.get(id) !== k) wipeKey(k);
  }

  /** Wipes every key (the handle is closing). */
  wipeAll(): void {
    wipeKey(this.master);
    wipeKey(this.ik);
    for (const k of this.#keks.values()) wipeKey(k);
    for (const k of this.#deks.values()) wipeKey(k);
    for (const k of this.#made.values()) wipeKey(k);
    this.#keks.clear();
    this.#deks.clear();
  }
}

/**
 * The first of `candidates` (a provider's masters) whose check is `expected`, and its index;
 * every other candidate is wiped.
 */
export function pickMaster(
  candidates: GuardedKey[],
  storeId: Buffer,
  expected: Buffer,
): { master: GuardedKey; index: number } | undefined {
  let found: { master: GuardedKey; index: number } | undefined;
  for (const [index, key] of candidates.entries()) {
    if (found === undefined && sameBytes(masterCheck(key, storeId), expected)) found = { master: key, index };
    else wipeKey(key);
  }
  return found;
}

/** The integrity key `meta` wraps, under the KEK of `master` it names (a VAULT_TAMPERED error if it does not open). */
export function unwrapIk(master: GuardedKey, storeId: Buffer, meta: MetaBody): GuardedKey {
  let kek: GuardedKey | undefined;
  try {
    const { ik } = meta;
    if (!Number.isSafeInteger(ik?.kek) || ik.kek < 1) throw new Error("no KEK version");
    kek = deriveKek(master, storeId, ik.kek);
    return open(kek, b64(ik.n), b64(ik.c), integrityKeyAd(storeId, ik.kek), "the integrity key");
  } catch {
    throw vaultTampered("the vault's integrity key does not open with its master key");
  } finally {
    wipeKey(kek);
  }
}

function sameWrap(a: MetaBody["ik"] | undefined, b: MetaBody["ik"]): boolean {
  return a?.kek === b.kek && a.n === b.n && a.c === b.c;
}

/** Where a keyring finds a master it does not hold. */
export interface MasterSource {
  /** Throws when `check` names a master this host or `retired` knows was replaced by a rotation. */
  refuseRetired(check: string, retired: readonly string[]): void;
  /** The provider's masters (a current and a staged one during a rotation). */
  candidates(): Promise<GuardedKey[]>;
}

/**
 * The keyring the meta record `metaText` names: `current` while its master and wrapped integrity
 * key are the same, otherwise the provider's master that matches its check and the integrity key
 * unwrapped with it. Meta's own MAC is for the caller to check with the integrity key returned.
 */
export async function keyringFor(metaText: string, current: Keyring, source: MasterSource): Promise<Keyring> {
  const env = parseEnvelope("meta", metaText);
  const meta = parseJson(env.b, "meta") as MetaBody;
  checkFormat(meta);
  if (meta.storeId !== current.meta.storeId)
    throw vaultTampered("the vault's meta record names another store");
  const sameMaster = meta.master?.check === current.meta.master.check;
  if (sameMaster && sameWrap(meta.ik, current.meta.ik)) return current.withMeta(meta);
  let master = current.master;
  if (!sameMaster) {
    // Never back to a master a rotation replaced (the passphrase provider would open it: it
    // takes the master from the store, and an old copy brings the old one along).
    source.refuseRetired(String(meta.master?.check), current.meta.retired ?? []);
    const match = pickMaster(await source.candidates(), current.storeId, b64(String(meta.master?.check)));
    if (match === undefined)
      throw new SecretError(
        "MASTER_KEY_MISSING",
        "the vault's master key was rotated and this host has no copy of the new one",
        {
          hint: "import it on this host: keyhold vault export-master on a host that has it, then keyhold vault init --join here",
        },
      );
    master = match.master;
  }
  try {
    return current.rekeyed(master, unwrapIk(master, current.storeId, meta), meta);
  } catch (err) {
    if (master !== current.master) wipeKey(master);
    throw err;
  }
}

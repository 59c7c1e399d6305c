import { isSecretError, Secret, SecretError } from "../secret/index.js";
import { wipe } from "../secret/wipe.js";
import { open, seal, VALUE_MAX_BYTES, valueAd } from "./crypto.js";
import { guarded, readPolicy } from "./access.js";
import type { VaultCore } from "./core.js";
import { allows } from "./policy.js";
import {
  b64,
  type DekRing,
  KEPT_VERSIONS,
  type MetaBody,
  notFound,
  nowIso,
  type SecretBody,
  type ValueVersion,
  vaultTampered,
  wrapped,
} from "./records.js";
import { dekKey, refText, type SecretRef, secretKey } from "./refs.js";
import type { Transaction } from "./transaction.js";

/*
 * The secrets themselves: storing a value as a new version (put, import), reading one (get),
 * listing them, their versions, rolling back and deleting. Every write is one audited commit;
 * a plugin's call goes through access.ts's guard first.
 */

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

export interface PutOptions {
  expires?: Date;
}

function checkValue(value: Uint8Array): void {
  if (value.length === 0) throw new SecretError("EMPTY_VALUE", "refusing to store an empty value");
  if (value.length > VALUE_MAX_BYTES)
    throw new SecretError(
      "TOO_LARGE",
      `value is ${value.length} bytes; the vault holds at most 1 MiB per value`,
    );
}

/** Stores a new version of `r` and makes it current. */
export async function put(
  core: VaultCore,
  r: SecretRef,
  value: Secret | string | Uint8Array,
  options: PutOptions,
  plugin: string | undefined,
): Promise<{ version: number }> {
  core.live();
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
  const result = await guarded(core, plugin, "write", r, "vault.put", () =>
    core.transact(
      "vault.put",
      r,
      async (tx) => ({ version: await sealNewVersion(core, tx, r, bytes, options.expires) }),
      (res) => ({ version: res.version, ...(plugin === undefined ? {} : { plugin }) }),
    ),
  );
  if (core.onValueStored !== undefined) await core.onValueStored(refText(r), secret);
  return result;
}

/**
 * Stores many values in one commit (imports): all of them or none. A secret that already holds
 * the same value is left as it is; one that holds another value refuses the whole import
 * (CREDENTIAL_EXISTS, naming them) unless `overwrite`. See Vault.importValues.
 */
export async function importValues(
  core: VaultCore,
  entries: Array<{ ref: SecretRef; value: Secret }>,
  source: string,
  options: { overwrite?: boolean },
): Promise<{ count: number; unchanged: string[] }> {
  core.live();
  for (const e of entries) checkValue(e.value.exposeBytes());
  const seen = new Set<string>();
  for (const e of entries) {
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
  const before = await compareImport(core, entries, (r) =>
    readSecret(core, r).catch((err) => {
      if (isSecretError(err, "SECRET_NOT_FOUND")) return undefined;
      throw err;
    }),
  );
  if (before.unchanged.size === entries.length) {
    const unchanged = [...before.unchanged];
    return core.trail.audited(
      "vault.import",
      undefined,
      undefined,
      async () => ({ count: 0, unchanged }),
      detail,
    );
  }
  const written: typeof entries = [];
  const result = await core.transact(
    "vault.import",
    undefined,
    async (tx) => {
      written.length = 0;
      const { unchanged, taken } = await compareImport(core, entries, (r) =>
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
      for (const { ref, value } of entries) {
        if (unchanged.has(refText(ref))) continue;
        await sealNewVersion(core, tx, ref, value.exposeBytes(), undefined);
        written.push({ ref, value });
      }
      return { count: written.length, unchanged: [...unchanged] };
    },
    detail,
  );
  if (core.onValueStored !== undefined)
    for (const e of written) await core.onValueStored(refText(e.ref), e.value);
  return result;
}

/**
 * Seals `value` as the next version of `r` in `tx` under its namespace's current DEK (making the
 * namespace's ring on its first value) and makes it current; the oldest versions beyond
 * KEPT_VERSIONS go. The new version's number.
 */
async function sealNewVersion(
  core: VaultCore,
  tx: Transaction,
  r: SecretRef,
  value: Uint8Array,
  expires: Date | undefined,
): Promise<number> {
  const existing = await tx.get<SecretBody>(secretKey(r));
  const ring = await ensureRing(core, tx, r.ns);
  const dek = tx.keys.dek(ring, ring.current);
  const v = existing === undefined ? 1 : Math.max(...existing.versions.map((x) => x.v)) + 1;
  const sealed = seal(dek, value, valueAd(tx.keys.storeId, r.ns, r.name, v, ring.current));
  const version: ValueVersion = {
    v,
    dek: ring.current,
    ...wrapped(sealed),
    created: nowIso(core.now),
    ...(expires === undefined ? {} : { expires: expires.toISOString() }),
  };
  const versions = [...(existing?.versions ?? []), version].sort((a, b) => b.v - a.v).slice(0, KEPT_VERSIONS);
  tx.put(secretKey(r), { ns: r.ns, name: r.name, current: v, versions } satisfies SecretBody);
  return v;
}

/** The DEK ring of `ns`; a namespace's first value makes it, with DEK 1 under the current KEK. */
async function ensureRing(core: VaultCore, tx: Transaction, ns: string): Promise<DekRing> {
  const ring = await tx.get<DekRing>(dekKey(ns));
  if (ring !== undefined) return ring;
  const meta = await tx.require<MetaBody>("meta", () => vaultTampered("vault meta record missing"));
  const { dek, entry } = tx.keys.newDek(ns, 1, meta.kek, nowIso(core.now));
  tx.rekey(tx.keys.withDek(ns, 1, dek));
  const fresh: DekRing = { ns, current: 1, deks: [entry] };
  tx.put(dekKey(ns), fresh);
  return fresh;
}

/** Which imported secrets already hold their value (`unchanged`) and which hold another (`taken`). */
async function compareImport(
  core: VaultCore,
  entries: ReadonlyArray<{ ref: SecretRef; value: Secret }>,
  read: (r: SecretRef) => Promise<SecretBody | undefined>,
): Promise<{ unchanged: Set<string>; taken: string[] }> {
  const unchanged = new Set<string>();
  const taken: string[] = [];
  for (const { ref, value } of entries) {
    const body = await read(ref);
    const entry = body?.versions.find((v) => v.v === body.current);
    if (entry === undefined) continue;
    const plain = await openValue(core, ref, entry);
    try {
      if (value.verify(plain)) unchanged.add(refText(ref));
      else taken.push(refText(ref));
    } finally {
      wipe(plain);
    }
  }
  return { unchanged, taken };
}

/** The current value of `r`, or the given version. */
export async function get(
  core: VaultCore,
  r: SecretRef,
  version: number | undefined,
  plugin: string | undefined,
): Promise<Secret> {
  core.live();
  let served = 0;
  return guarded(core, plugin, "read", r, "vault.get", () =>
    core.trail.audited(
      "vault.get",
      r,
      plugin,
      async () => {
        const body = await readSecret(core, r);
        const want = version ?? body.current;
        served = want;
        const entry = body.versions.find((v) => v.v === want);
        if (entry === undefined) {
          throw new SecretError("VERSION_NOT_FOUND", `no version ${want} of ${refText(r)}`, {
            hint: `list them with: keyhold vault versions ${refText(r)}`,
          });
        }
        if (entry.expires !== undefined && Date.parse(entry.expires) <= core.now().getTime()) {
          throw new SecretError(
            "EXPIRED",
            `secret ${refText(r)} version ${want} expired at ${entry.expires}`,
            {
              hint: `store a new value with: keyhold vault put ${refText(r)}`,
            },
          );
        }
        const plain = await openValue(core, r, entry);
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

/** Names and metadata of every secret (in `ns` when given) that `plugin`, if any, may list. */
export async function list(
  core: VaultCore,
  ns: string | undefined,
  plugin: string | undefined,
): Promise<SecretInfo[]> {
  core.live();
  const policy = plugin === undefined ? undefined : await readPolicy(core);
  const run = async () => {
    const out: SecretInfo[] = [];
    for (const [, body] of await core.barrier.readAll<SecretBody>(
      ns === undefined ? "secret/" : `secret/${ns}/`,
    )) {
      if (policy !== undefined && plugin !== undefined && !allows(policy, plugin, { ns: body.ns }, "list"))
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
  };
  if (plugin === undefined || ns === undefined) {
    if (plugin !== undefined) core.host.lockouts.attempt(plugin);
    return core.trail.audited("vault.ls", undefined, plugin, run, (res) => ({
      count: res.length,
      ...(ns === undefined ? {} : { ns }),
    }));
  }
  return guarded(core, plugin, "list", { ns, name: "*" }, "vault.ls", () =>
    core.trail.audited("vault.ls", undefined, plugin, run, (res) => ({ count: res.length, ns })),
  );
}

export async function versions(core: VaultCore, r: SecretRef): Promise<VersionInfo[]> {
  core.live();
  return core.trail.audited("vault.versions", r, undefined, async () => {
    const body = await readSecret(core, r);
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

/** Makes an older kept version current again (`to`, default the one before the current). */
export async function rollback(
  core: VaultCore,
  r: SecretRef,
  to: number | undefined,
): Promise<{ version: number }> {
  core.live();
  return core.transact(
    "vault.rollback",
    r,
    async (tx) => {
      const body = await tx.require<SecretBody>(secretKey(r), () => notFound(r));
      const older = body.versions.filter((v) => v.v < body.current).sort((a, b) => b.v - a.v);
      const target = to ?? older[0]?.v;
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
export async function remove(core: VaultCore, r: SecretRef, plugin: string | undefined): Promise<void> {
  await guarded(core, plugin, "delete", r, "vault.rm", () =>
    core.transact(
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

async function readSecret(core: VaultCore, r: SecretRef): Promise<SecretBody> {
  const key = secretKey(r);
  const body = await core.barrier.require<SecretBody>(key, () => notFound(r));
  if (body.ns !== r.ns || body.name !== r.name) throw vaultTampered(`record ${key} names another secret`);
  return body;
}

/** The plaintext of one version of `r`, in an ordinary buffer the caller wipes. */
export async function openValue(core: VaultCore, r: SecretRef, entry: ValueVersion): Promise<Buffer> {
  const dek = await core.barrier.dek(r.ns, entry.dek);
  return open(
    dek,
    b64(entry.n),
    b64(entry.c),
    valueAd(core.storeId, r.ns, r.name, entry.v, entry.dek),
    `${refText(r)} version ${entry.v}`,
  );
}

import { SecretError } from "../secret/index.js";
import { wipe } from "../secret/wipe.js";
import { deriveKek, type GuardedKey, masterCheck, randomKey, seal, valueAd, wipeKey } from "./crypto.js";
import type { Reauth, VaultCore } from "./core.js";
import {
  type Body,
  type DekRing,
  type MetaBody,
  nowIso,
  type RotationSchedule,
  type SecretBody,
  vaultTampered,
  wrapped,
} from "./records.js";
import { checkPart, dekKey } from "./refs.js";
import { openValue } from "./secrets.js";
import type { Transaction } from "./transaction.js";

/*
 * Key rotation (docs/vault-format.md section 1, docs/vault.md "Rotation"): a new DEK per
 * namespace, a new KEK version, a new master (and with it a new integrity key), each one audited
 * commit; and the schedule that says when each level is due. The keys a rotation makes reach the
 * handle through the commit's keyring (keyring.ts), never before the commit lands.
 */

export type RotateLevel = "master" | "kek" | "dek";

export interface RotationResult {
  level: RotateLevel;
  /** New version number (master version, KEK version, or DEK versions per namespace). */
  version: number;
  namespaces?: number;
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

export function checkSchedule(schedule: RotationSchedule): void {
  for (const interval of Object.values(schedule)) if (interval !== undefined) parseDuration(interval);
}

const missingMeta = () => vaultTampered("vault meta record missing");

/** A new DEK for `ns` (or every namespace); with `rewrite`, values are re-sealed and old DEKs dropped. */
export async function rotateDek(
  core: VaultCore,
  ns: string | undefined,
  options: { rewrite?: boolean; reason?: string },
): Promise<RotationResult> {
  if (ns !== undefined) checkPart(ns, "namespace");
  core.live();
  const detail: Record<string, string | number | boolean> = { rewrite: options.rewrite === true };
  if (options.reason !== undefined) detail.reason = options.reason.slice(0, 200);
  return core.transact(
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
        const { dek, entry } = tx.keys.newDek(space, v, tx.keys.meta.kek, nowIso(core.now));
        tx.rekey(tx.keys.withDek(space, v, dek));
        ring.deks.push(entry);
        ring.current = v;
        last = v;
        if (options.rewrite) {
          await resealValues(core, tx, space, dek, v);
          ring.deks = ring.deks.filter((d) => d.v === v);
        }
        tx.put(dekKey(space), ring);
      }
      const meta = await tx.require<MetaBody>("meta", missingMeta);
      tx.put("meta", { ...meta, rotated: { ...meta.rotated, dek: nowIso(core.now) } });
      return { level: "dek" as const, version: last, namespaces: namespaces.length };
    },
    (res) => ({ ...detail, namespaces: res.namespaces ?? 0 }),
  );
}

/** Re-seals every value version in `ns` under DEK `dek` (version `v`). */
async function resealValues(
  core: VaultCore,
  tx: Transaction,
  ns: string,
  dek: GuardedKey,
  v: number,
): Promise<void> {
  for (const key of tx.list(`secret/${ns}/`)) {
    const body = await tx.get<SecretBody>(key);
    if (body === undefined) continue;
    const ref = { ns: body.ns, name: body.name };
    for (const version of body.versions) {
      if (version.dek === v) continue;
      const plain = await openValue(core, ref, version);
      const sealed = seal(dek, plain, valueAd(tx.keys.storeId, ref.ns, ref.name, version.v, v));
      wipe(plain);
      version.dek = v;
      Object.assign(version, wrapped(sealed));
    }
    tx.put(key, body);
  }
}

/** A new KEK version; every DEK and the integrity key are rewrapped, values are not touched. */
export async function rotateKek(core: VaultCore, options: { reason?: string }): Promise<RotationResult> {
  core.live();
  return core.transact(
    "vault.rotate.kek",
    undefined,
    async (tx) => {
      const meta = await tx.require<MetaBody>("meta", missingMeta);
      const next = Math.max(...meta.keks.map((k) => k.v)) + 1;
      const written = await rewrapAll(core, tx, meta, tx.keys.kek(next), next, tx.keys.ik);
      return { level: "kek" as const, version: next, namespaces: written.namespaces };
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
export async function rotateMaster(
  core: VaultCore,
  options: Reauth & { reason?: string },
): Promise<RotationResult> {
  core.live();
  const ctx = core.context();
  await core.reauth("vault.rotate.master", options);
  const newMaster = randomKey();
  const newIk = randomKey();
  const version = core.barrier.keys.meta.master.version + 1;
  let providerRecords: Record<string, unknown>;
  try {
    providerRecords = await core.provider.stage(ctx, newMaster, version);
  } catch (err) {
    wipeKey(newMaster);
    throw err;
  }
  let result: RotationResult;
  try {
    result = await core.transact(
      "vault.rotate.master",
      undefined,
      async (tx) => {
        const meta = await tx.require<MetaBody>("meta", missingMeta);
        if (meta.master.version !== version - 1)
          throw new SecretError("VAULT_CONFLICT", "another process rotated the master key meanwhile");
        const nextKek = Math.max(...meta.keks.map((k) => k.v)) + 1;
        for (const [key, body] of Object.entries(providerRecords)) tx.put(key, body as Body);
        const master = {
          version,
          check: masterCheck(newMaster, tx.keys.storeId).toString("base64"),
          provider: meta.master.provider,
          rotated: nowIso(core.now),
        };
        // The DEKs are unwrapped with this commit's keys (the old master) and rewrapped under the
        // new master's KEK; only then does the commit take the new keys on.
        const kek = deriveKek(newMaster, tx.keys.storeId, nextKek);
        try {
          const written = await rewrapAll(core, tx, meta, kek, nextKek, newIk, master);
          tx.rekey(tx.keys.rekeyed(newMaster, newIk, written.meta));
        } finally {
          wipeKey(kek);
        }
        return { level: "master" as const, version };
      },
      (res) => ({
        master: res.version,
        ...(options.reason === undefined ? {} : { reason: options.reason.slice(0, 200) }),
      }),
    );
  } catch (err) {
    await core.provider.discard(ctx);
    const held = core.barrier.keys;
    if (held.master !== newMaster) wipeKey(newMaster);
    if (held.ik !== newIk) wipeKey(newIk);
    throw err;
  }
  await core.provider.promote(ctx);
  return result;
}

/**
 * Rewraps every DEK and the integrity key `ik` (the current one, or the new one of a master
 * rotation) under `kek`, KEK version `nextKek` (KEK and master rotation), and writes the meta
 * that names them; `newMaster` retires the master it replaces.
 */
async function rewrapAll(
  core: VaultCore,
  tx: Transaction,
  meta: MetaBody,
  kek: GuardedKey,
  nextKek: number,
  ik: GuardedKey,
  newMaster?: MetaBody["master"],
): Promise<{ meta: MetaBody; namespaces: number }> {
  const rings = tx.list("dek/");
  for (const key of rings) {
    const ring = await tx.get<DekRing>(key);
    if (ring === undefined) continue;
    tx.keys.rewrapRing(ring, kek, nextKek);
    tx.put(key, ring);
  }
  const wrappedIk = tx.keys.wrapIk(ik, kek, nextKek);
  const created = nowIso(core.now);
  const next: MetaBody = {
    ...meta,
    kek: nextKek,
    keks: [{ v: nextKek, created }],
    ik: wrappedIk,
    rotated: { ...meta.rotated, kek: created },
    // The master replaced is retired: hosts that see this meta refuse a store that names it again.
    ...(newMaster === undefined
      ? {}
      : { master: newMaster, retired: [...(meta.retired ?? []), meta.master.check] }),
  };
  tx.put("meta", next);
  return { meta: next, namespaces: rings.length };
}

/** Rotates the levels whose schedule says they are due; returns what it rotated. */
export async function rotateDue(core: VaultCore): Promise<RotationResult[]> {
  core.live();
  const meta = core.barrier.keys.meta;
  const now = core.now().getTime();
  const due = (level: RotateLevel, last: string | undefined) => {
    const interval = meta.schedule[level];
    if (interval === undefined) return false;
    return last === undefined || now - Date.parse(last) >= parseDuration(interval);
  };
  const done: RotationResult[] = [];
  if (due("master", meta.master.rotated)) done.push(await rotateMaster(core, { reason: "schedule" }));
  else if (due("kek", meta.rotated.kek)) done.push(await rotateKek(core, { reason: "schedule" }));
  if (due("dek", core.barrier.keys.meta.rotated.dek))
    done.push(await rotateDek(core, undefined, { reason: "schedule" }));
  return done;
}

export async function setSchedule(core: VaultCore, schedule: RotationSchedule): Promise<void> {
  checkSchedule(schedule);
  await core.transact("vault.schedule", undefined, async (tx) => {
    const meta = await tx.require<MetaBody>("meta", missingMeta);
    tx.put("meta", { ...meta, schedule });
  });
}

export function schedule(
  core: VaultCore,
): RotationSchedule & { lastMaster: string; lastKek?: string; lastDek?: string } {
  const meta = core.barrier.keys.meta;
  return {
    ...meta.schedule,
    lastMaster: meta.master.rotated,
    ...(meta.rotated.kek === undefined ? {} : { lastKek: meta.rotated.kek }),
    ...(meta.rotated.dek === undefined ? {} : { lastDek: meta.rotated.dek }),
  };
}

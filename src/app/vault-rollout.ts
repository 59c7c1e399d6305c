import type { StoreLayout } from "../credstore/index.js";
import { isKeyholdError, type Secret } from "../secret/index.js";
import { parseRef, type SecretRef } from "../vault/index.js";
import { type RolloutOptions, type RolloutResult, type RolloutSubject, rollOut } from "./rollout.js";
import { findVaultUsers, type UsageReport, type VersionTimes } from "./rollout-usage.js";
import { type HostVault, type HostVaultOptions, openHostVault, withHostVault } from "./vault-host.js";

/*
 * `vault put NS/NAME --restart` and `vault rollback NS/NAME --restart`: the rollout engine of
 * `rotate --restart` (src/app/rollout.ts) with a vault secret as its subject. A unit rendered with
 * `keyhold unit --vault` asks the vault at each start, so restarting it is what moves it; on a
 * failure the vault's rollback makes the previous version current again. The vault stays open for
 * the whole rollout (it takes no lock between transactions: the answering instances read it
 * meanwhile).
 */

const refName = (ref: SecretRef): string => `${ref.ns}/${ref.name}`;

/** The secret's version metadata as usage judging wants it; undefined when it is not in the vault. */
async function versionTimesOf(opened: HostVault, ref: SecretRef): Promise<VersionTimes | undefined> {
  try {
    const versions = await opened.vault.versions(ref);
    const current = versions.find((v) => v.current)?.version;
    if (current === undefined) return undefined;
    return { current, written: versions.map((v) => ({ version: v.version, at: Date.parse(v.created) })) };
  } catch (err) {
    if (isKeyholdError(err, "SECRET_NOT_FOUND")) return undefined;
    throw err;
  }
}

/** A vault secret as a rollout's subject, through an opened vault (closed by close()). */
export function vaultSubject(opened: HostVault, ref: SecretRef, owned = false): RolloutSubject {
  return {
    kind: "vault",
    name: refName(ref),
    current: async () => (await versionTimesOf(opened, ref))?.current ?? 0,
    makeCurrent: async (version) => {
      await opened.vault.rollback(ref, { to: version });
    },
    runningUsers: async () => {
      const { users } = await findVaultUsers(() => undefined);
      return [...new Set((users.get(refName(ref)) ?? []).filter((u) => u.running).map((u) => u.unit))];
    },
    ...(owned ? { close: () => opened.close() } : {}),
  };
}

/** doctor --fix: the subject of an interrupted vault rollout, with this host's vault opened for it. */
export async function openVaultSubject(
  l: StoreLayout,
  name: string,
  options: HostVaultOptions = {},
): Promise<RolloutSubject> {
  const ref = parseRef(name);
  return vaultSubject(await openHostVault(l, options), ref, true);
}

export type VaultWrite =
  | { put: Secret; expires?: Date }
  | {
      /** `vault rollback`: the version to make current, or the one before the current. */
      rollbackTo: number | undefined;
    };

/**
 * Writes the new version (a put, or a rollback to an earlier one) and moves every running unit
 * that receives the secret onto it, one at a time; a rollout an earlier keyhold left for the same
 * secret is finished first. The caller disposes of the value.
 */
export async function vaultWriteAndRestart(
  l: StoreLayout,
  ref: SecretRef,
  write: VaultWrite,
  options: RolloutOptions,
  host: HostVaultOptions = {},
): Promise<{ version: number; result: RolloutResult; resumed?: RolloutResult }> {
  return withHostVault(l, host, async (opened) => {
    let version = 0;
    const doWrite = async () => {
      const { vault } = opened;
      ({ version } =
        "put" in write
          ? await vault.put(ref, write.put, write.expires === undefined ? {} : { expires: write.expires })
          : await vault.rollback(ref, write.rollbackTo === undefined ? {} : { to: write.rollbackTo }));
      return version;
    };
    const { result, resumed } = await rollOut(l, vaultSubject(opened, ref), doWrite, options);
    return { version, result, ...(resumed ? { resumed } : {}) };
  });
}

/**
 * The units that receive vault secrets, each running one judged against the vault's version times
 * of what it receives (read through the opened vault, so audited as vault.versions, once a secret);
 * `known`, when given, is every NS/NAME the vault holds.
 */
export async function vaultUsage(opened: HostVault, known?: ReadonlySet<string>): Promise<UsageReport> {
  const times = new Map<string, Promise<VersionTimes | undefined>>();
  return findVaultUsers((ref) => {
    // A secret the caller knows is not in the vault is not asked for (nor audited as a miss).
    if (known !== undefined && !known.has(ref)) return undefined;
    let t = times.get(ref);
    if (t === undefined) {
      t = versionTimesOf(opened, parseRef(ref));
      times.set(ref, t);
    }
    return t;
  });
}

import type { StoreLayout } from "../credstore/index.js";
import type { UnitFile } from "../systemd/index.js";
import { renderRotationTimer } from "../units/index.js";
import type { Reauth, RotationResult, Vault } from "../vault/index.js";
import { writeUnitFiles } from "./rotation-timer.js";
import { vaultKind } from "./vault-host.js";

/*
 * Rotating the keys of this host's vault as `keyhold vault rotate` does: one level now, what the
 * schedule says is due, or every key after an incident; the key versions with the schedule; and
 * the daily timer that runs the scheduled rotation. The rotations themselves are src/vault/rotation.ts.
 */

export const KEY_LEVELS = ["master", "kek", "dek"] as const;
export type KeyLevel = (typeof KEY_LEVELS)[number];

/** One of: `due`, `all` (with a reason, which is audited), or a `level` (a namespace for dek only). */
export interface RotationRequest {
  due?: boolean;
  all?: boolean;
  level?: KeyLevel;
  /** dek: only this namespace. */
  ns?: string;
  /** dek: also re-encrypt every value under the new key. */
  rewrite?: boolean;
  /** Why, recorded in the audit log (required with `all`). */
  reason?: string;
}

/** Rotates what `request` asks for; `auth` re-authenticates where the vault asks for it (master). */
export async function rotateVaultKeys(
  vault: Vault,
  request: RotationRequest,
  auth: Reauth = {},
): Promise<RotationResult[]> {
  const reason = request.reason === undefined ? {} : { reason: request.reason };
  if (request.due) return vault.rotateDue();
  if (request.all) return vault.rotateAll({ ...auth, reason: request.reason as string });
  if (request.level === "master") return [await vault.rotateMaster({ ...auth, ...reason })];
  if (request.level === "kek") return [await vault.rotateKek(reason)];
  return [await vault.rotateDek(request.ns, { rewrite: request.rewrite ?? false, ...reason })];
}

/** The key versions and the rotation schedule, as `vault rotate --status` shows them. */
export function vaultKeyStatus(vault: Vault) {
  return { keys: vault.keyVersions(), schedule: vault.schedule() };
}

/**
 * The units that run `rotate --due` daily with the keyhold at `exec` (default
 * /usr/local/bin/keyhold). A vault not known to be on files (on PostgreSQL, or not made yet)
 * keeps the network.
 */
export function rotationTimerUnits(l: StoreLayout, exec?: string): UnitFile[] {
  return renderRotationTimer({
    exec: exec ?? "/usr/local/bin/keyhold",
    store: l.store,
    state: l.state,
    network: vaultKind(l)?.backend !== "file",
  });
}

/** Writes the rotation timer's units into `dir` (mode 0644, atomically); returns them. */
export function writeRotationTimer(l: StoreLayout, exec: string | undefined, dir: string): UnitFile[] {
  return writeUnitFiles(dir, rotationTimerUnits(l, exec));
}

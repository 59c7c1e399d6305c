import { type Secret, SecretError } from "../secret/index.js";
import type { Reauth, VaultCore } from "./core.js";
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
import { checkPart, parseRef, refText, type SecretRef } from "./refs.js";
import type { PutOptions, SecretInfo } from "./secrets.js";

/*
 * Who may reach what (docs/vault.md, "Plugins"): the policy record's manifests and grants, the
 * guard every plugin's call passes (rate limit, lockout, policy, each denial audited and counted),
 * and ScopedVault, the handle a plugin gets. Lockouts are host state (host-state.ts); the policy
 * is a record of the store, changed by audited commits.
 */

export async function readPolicy(core: VaultCore): Promise<PolicyDocument> {
  return (await core.barrier.read<PolicyDocument>("policy")) ?? emptyPolicy();
}

/** Policy and rate limit for a scoped call; denials are audited and counted towards lockout. */
export async function guarded<T>(
  core: VaultCore,
  plugin: string | undefined,
  op: VaultOp,
  r: SecretRef,
  auditOp: string,
  work: () => Promise<T>,
): Promise<T> {
  if (plugin === undefined) return work();
  try {
    core.host.lockouts.attempt(plugin);
  } catch (err) {
    await core.trail.record({
      op: auditOp,
      name: refText(r),
      result: "denied",
      code: (err as SecretError).code,
      detail: { plugin },
    });
    throw err;
  }
  const policy = await readPolicy(core);
  if (!allows(policy, plugin, r, op)) {
    // Audited before it is counted, so a denial is on record even if the host's lockout
    // record cannot take it (then that error is what the plugin gets: still a refusal).
    await core.trail.record({
      op: auditOp,
      name: refText(r),
      result: "denied",
      code: "ACCESS_DENIED",
      detail: { plugin, access: op },
    });
    await core.host.lockouts.denied(plugin);
    throw new SecretError("ACCESS_DENIED", `plugin ${plugin} may not ${op} ${refText(r)}`, {
      hint: `grant it with: keyhold vault grant ${plugin} ${refText(r)} --ops ${op}`,
    });
  }
  return work();
}

/** Records a plugin's manifest: the credentials it says it needs. Grants beyond it are refused. */
export async function registerManifest(core: VaultCore, manifest: PluginManifest): Promise<void> {
  await core.transact(
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
export async function grant(core: VaultCore, plugin: string, rule: AccessRule, auth: Reauth): Promise<void> {
  checkPlugin(plugin);
  const checked = checkRule(rule);
  await core.reauth("vault.grant", auth);
  await core.transact(
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
  const cleared = await core.host.lockouts.unlock(plugin).catch(() => undefined);
  if (cleared?.wasLocked || (cleared?.denials ?? 0) > 0) {
    await core.trail.record({
      op: "vault.unlock",
      result: "ok",
      detail: { plugin, locked: cleared?.wasLocked === true, denials: cleared?.denials ?? 0, by: "grant" },
    });
  }
}

/** Removes `plugin`'s grant on ns/name (`*` for the namespace grant; sensitive). */
export async function revoke(
  core: VaultCore,
  plugin: string,
  ns: string,
  name: string,
  auth: Reauth,
): Promise<void> {
  checkPlugin(plugin);
  checkPart(ns, "namespace");
  if (name !== "*") checkPart(name, "name");
  await core.reauth("vault.revoke", auth);
  await core.transact(
    "vault.revoke",
    { ns, name },
    async (tx) => {
      const policy = (await tx.get<PolicyDocument>("policy")) ?? emptyPolicy();
      policy.grants[plugin] = (policy.grants[plugin] ?? []).filter((g) => !(g.ns === ns && g.name === name));
      tx.put("policy", policy);
    },
    () => ({ plugin }),
  );
}

/**
 * Ends `plugin`'s lockout on this host before its time and forgets its recent denials
 * (sensitive: needs re-authentication). The store is not touched: lockouts are host state.
 */
export async function unlock(
  core: VaultCore,
  plugin: string,
  auth: Reauth,
): Promise<{ wasLocked: boolean; denials: number }> {
  checkPlugin(plugin);
  core.live();
  await core.reauth("vault.unlock", auth);
  return core.trail.audited(
    "vault.unlock",
    undefined,
    plugin,
    () => core.host.lockouts.unlock(plugin),
    (res) => ({ locked: res.wasLocked, denials: res.denials }),
  );
}

/** What a plugin's handle can do, each call checked against its policy. */
export interface ScopedOps {
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

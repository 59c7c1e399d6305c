import type { StoreLayout } from "../credstore/index.js";
import type { AccessRule, PluginManifest, PolicyDocument, SecretRef } from "../vault/index.js";
import { type HostVaultOptions, withHostVault } from "./vault-host.js";

/*
 * A unit's --vault list is what plugin SERVICE needs, so it is recorded as (merged into) that
 * plugin's manifest, read-only. Granting stays a separate decision (`keyhold vault grant`).
 */

export interface UnitNeeds {
  /** The references the manifest did not declare yet. */
  added: SecretRef[];
  /** The references no grant of the plugin covers yet. */
  ungranted: SecretRef[];
  /** The plugin's grants the unit does not use. */
  unused: AccessRule[];
}

/** Whether `rule` lets its plugin read `ref`. */
const covers = (rule: AccessRule, ref: SecretRef): boolean =>
  rule.ns === ref.ns && (rule.name === "*" || rule.name === ref.name) && rule.ops.includes("read");

/**
 * What reading `refs` means for `plugin` under `policy`: the manifest with every reference its
 * needs do not cover yet added as a read need (undefined when nothing is missing), and how the
 * references and the plugin's grants compare.
 */
export function mergeUnitNeeds(
  policy: PolicyDocument,
  plugin: string,
  refs: readonly SecretRef[],
): UnitNeeds & { manifest?: PluginManifest } {
  const needs = [...(policy.manifests[plugin]?.needs ?? [])];
  const grants = policy.grants[plugin] ?? [];
  const added = refs.filter((r) => !needs.some((n) => covers(n, r)));
  for (const r of added) needs.push({ ns: r.ns, name: r.name, ops: ["read"] });
  return {
    ...(added.length > 0 ? { manifest: { plugin, needs } } : {}),
    added,
    ungranted: refs.filter((r) => !grants.some((g) => covers(g, r))),
    unused: grants.filter((g) => !refs.some((r) => covers(g, r))),
  };
}

/**
 * `keyhold unit --vault … --install`: declares in this host's vault that plugin `plugin` reads
 * `refs`. Says what was newly declared, what is not granted yet, and which of the plugin's grants
 * the unit no longer uses.
 */
export async function declareUnitNeeds(
  l: StoreLayout,
  plugin: string,
  refs: readonly SecretRef[],
  options: HostVaultOptions = {},
): Promise<UnitNeeds> {
  return withHostVault(l, options, async ({ vault }) => {
    const { manifest, ...result } = mergeUnitNeeds(await vault.policy(), plugin, refs);
    if (manifest !== undefined) await vault.registerManifest(manifest);
    return result;
  });
}

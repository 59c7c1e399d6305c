import { SecretError } from "../secret/index.js";
import { checkPart, type SecretRef } from "./refs.js";

export type VaultOp = "read" | "write" | "list" | "delete";
export const VAULT_OPS: readonly VaultOp[] = ["read", "write", "list", "delete"];

/** One permission: a namespace, a name or `*` for the whole namespace, and operations. */
export interface AccessRule {
  ns: string;
  name: string;
  ops: VaultOp[];
}

/** What a plugin declares it needs; grants beyond it are refused. */
export interface PluginManifest {
  plugin: string;
  needs: AccessRule[];
}

export interface PolicyDocument {
  manifests: Record<string, { needs: AccessRule[] }>;
  grants: Record<string, AccessRule[]>;
}

export function emptyPolicy(): PolicyDocument {
  return { manifests: {}, grants: {} };
}

const PLUGIN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function isPluginName(text: unknown): text is string {
  return typeof text === "string" && PLUGIN.test(text);
}

export function checkPlugin(plugin: string): string {
  if (!isPluginName(plugin)) {
    throw new SecretError("INVALID_NAME", "invalid plugin name", { hint: "use 1-64 of A-Z a-z 0-9 _ . -" });
  }
  return plugin;
}

export function checkRule(rule: AccessRule): AccessRule {
  if (typeof rule !== "object" || rule === null)
    throw new SecretError("INVALID_FORMAT", "an access rule is {ns, name, ops}");
  checkPart(rule.ns, "namespace");
  if (rule.name !== "*") checkPart(rule.name, "name");
  if (!Array.isArray(rule.ops) || rule.ops.length === 0 || rule.ops.some((op) => !VAULT_OPS.includes(op))) {
    throw new SecretError(
      "INVALID_FORMAT",
      "access rule operations must be some of read, write, list, delete",
    );
  }
  return { ns: rule.ns, name: rule.name, ops: [...new Set(rule.ops)].sort() };
}

/** Parses a manifest (JSON text or object), refusing anything malformed. */
export function parseManifest(input: unknown): PluginManifest {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch {
      throw new SecretError("INVALID_FORMAT", "plugin manifest is not valid JSON");
    }
  }
  const m = value as Partial<PluginManifest> | null;
  if (typeof m !== "object" || m === null || !Array.isArray(m.needs)) {
    throw new SecretError("INVALID_FORMAT", "plugin manifest must be {plugin, needs: [{ns, name, ops}]}");
  }
  return { plugin: checkPlugin(m.plugin as string), needs: m.needs.map(checkRule) };
}

function covers(rule: AccessRule, ref: SecretRef | { ns: string; name?: undefined }, op: VaultOp): boolean {
  if (rule.ns !== ref.ns || !rule.ops.includes(op)) return false;
  return rule.name === "*" || (ref.name !== undefined && rule.name === ref.name);
}

/** Whether every operation of `rule` is within the plugin's manifest. */
export function declared(policy: PolicyDocument, plugin: string, rule: AccessRule): boolean {
  const manifest = policy.manifests[plugin];
  if (manifest === undefined) return false;
  return rule.ops.every((op) =>
    manifest.needs.some(
      (need) =>
        need.ns === rule.ns && need.ops.includes(op) && (need.name === "*" || need.name === rule.name),
    ),
  );
}

/** A plugin may do `op` on `ref` when a grant covers it and its manifest declares it. */
export function allows(
  policy: PolicyDocument,
  plugin: string,
  ref: SecretRef | { ns: string },
  op: VaultOp,
): boolean {
  const grants = policy.grants[plugin] ?? [];
  const manifest = policy.manifests[plugin];
  if (manifest === undefined) return false;
  return grants.some((g) => covers(g, ref, op)) && manifest.needs.some((n) => covers(n, ref, op));
}

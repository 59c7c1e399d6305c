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

export function checkPlugin(plugin: string): string {
  if (typeof plugin !== "string" || !PLUGIN.test(plugin)) {
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

export interface RateLimits {
  /** Sustained access attempts per second per plugin (default 50). */
  perSecond: number;
  /** Attempts allowed in a burst (default 100). */
  burst: number;
  /** Denials within `windowMs` that lock a plugin out (default 5 in 60 s). */
  maxDenials: number;
  windowMs: number;
  /** How long a lockout lasts (default 5 minutes). */
  lockoutMs: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = {
  perSecond: 50,
  burst: 100,
  maxDenials: 5,
  windowMs: 60_000,
  lockoutMs: 300_000,
};

interface PluginState {
  tokens: number;
  refilled: number;
  denials: number[];
  lockedUntil: number;
}

/**
 * Per-plugin token bucket and lockout, held by one vault handle (one process). A plugin that
 * keeps asking for what it was not granted is locked out for a while; every refusal is audited.
 */
export class AccessLimiter {
  readonly #limits: RateLimits;
  readonly #now: () => number;
  readonly #state = new Map<string, PluginState>();

  constructor(limits: Partial<RateLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_RATE_LIMITS, ...limits };
    this.#now = now;
  }

  #of(plugin: string): PluginState {
    let s = this.#state.get(plugin);
    if (s === undefined) {
      s = { tokens: this.#limits.burst, refilled: this.#now(), denials: [], lockedUntil: 0 };
      this.#state.set(plugin, s);
    }
    return s;
  }

  /** Takes one attempt; throws LOCKED_OUT or RATE_LIMITED. */
  attempt(plugin: string): void {
    const s = this.#of(plugin);
    const now = this.#now();
    if (now < s.lockedUntil) {
      throw new SecretError("LOCKED_OUT", `plugin ${plugin} is locked out after repeated denied requests`, {
        hint: `it may try again in ${Math.ceil((s.lockedUntil - now) / 1000)} s; check its policy with keyhold vault policy`,
      });
    }
    s.tokens = Math.min(this.#limits.burst, s.tokens + ((now - s.refilled) / 1000) * this.#limits.perSecond);
    s.refilled = now;
    if (s.tokens < 1)
      throw new SecretError("RATE_LIMITED", `plugin ${plugin} exceeded its vault access rate`);
    s.tokens -= 1;
  }

  /** Records a denial; enough of them lock the plugin out. */
  denied(plugin: string): void {
    const s = this.#of(plugin);
    const now = this.#now();
    s.denials = s.denials.filter((t) => now - t < this.#limits.windowMs);
    s.denials.push(now);
    if (s.denials.length >= this.#limits.maxDenials) {
      s.lockedUntil = now + this.#limits.lockoutMs;
      s.denials = [];
    }
  }
}

import { SecretError } from "../secret/index.js";

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

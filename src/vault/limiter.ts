import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { withLock, writeFileAtomic } from "../durable/index.js";
import { isSecretError, SecretError } from "../secret/index.js";
import { readHostFile } from "./host-file.js";
import { isPluginName } from "./policy.js";

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

/** The lockout record's format (docs/vault-format.md section 7). */
export const LOCKOUT_FORMAT = 1;
const LOCKOUT_RECORD_MAX_BYTES = 1024 * 1024;

/** The host's lockout record of one store, in the state directory beside the `.seen` file. */
export function lockoutFileName(storeIdHex: string): string {
  return `vault-${storeIdHex}.lockouts.json`;
}

interface LockoutEntry {
  /** Times (ms, by the vault's clock) of denials within the window. */
  denials: number[];
  /** When the lockout ends; 0 when there is none. */
  lockedUntil: number;
}

/** Plugin name → entry. A Map, so a plugin called `__proto__` is just a name. */
type Lockouts = Map<string, LockoutEntry>;

/**
 * A record that cannot be read or does not parse locks every plugin out; no code path treats it
 * as empty. The denials and lockouts it held are unknown, and "no state" would silently unlock
 * whoever was locked out, turning damage (a garbled or truncated file, a symbolic link or a
 * directory put in its place) into an unlock nobody decided on. The cost is bounded: only
 * scoped plugin calls consult the record (the application's own calls do not), keyhold only
 * ever replaces it whole, so breaking it takes an outside hand, and one `rm` by root ends it —
 * a clean slate that root then chooses knowingly, which the hint says. Whoever can write the
 * state directory could remove the file anyway; this is about damage, not about root.
 */
function lockoutRecordBroken(path: string, why: string, cause?: unknown): SecretError {
  return new SecretError("LOCKED_OUT", `every plugin is locked out: the lockout record ${path} ${why}`, {
    hint: `look at it, then remove it as root (this forgets every recorded denial and lockout): rm ${path}`,
    ...(cause === undefined ? {} : { cause }),
  });
}

function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseLockouts(text: string, path: string): Lockouts {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw lockoutRecordBroken(path, "is not valid JSON");
  }
  if (!isObject(doc) || doc.format !== LOCKOUT_FORMAT || !isObject(doc.plugins))
    throw lockoutRecordBroken(path, `is not a format ${LOCKOUT_FORMAT} lockout record`);
  const lockouts: Lockouts = new Map();
  for (const [plugin, entry] of Object.entries(doc.plugins)) {
    if (
      !isPluginName(plugin) ||
      !isObject(entry) ||
      !Array.isArray(entry.denials) ||
      !entry.denials.every(isTime) ||
      !isTime(entry.lockedUntil)
    ) {
      // No name from the file goes into the message: it is not known to be a name.
      throw lockoutRecordBroken(path, "holds a malformed entry");
    }
    lockouts.set(plugin, { denials: [...entry.denials], lockedUntil: entry.lockedUntil });
  }
  return lockouts;
}

/** One small read; a missing file is no state (host-file.ts). */
function readLockouts(path: string): Lockouts {
  const text = readHostFile(path, LOCKOUT_RECORD_MAX_BYTES, (what, cause) =>
    lockoutRecordBroken(path, what, cause),
  );
  return text === undefined ? new Map() : parseLockouts(text, path);
}

function serialiseLockouts(lockouts: Lockouts): string {
  return `${JSON.stringify({ format: LOCKOUT_FORMAT, plugins: Object.fromEntries(lockouts) })}\n`;
}

/**
 * Per-plugin token bucket and lockout. A plugin that keeps asking for what it was not granted
 * is locked out for a while; the vault audits every denial.
 *
 * Lockouts hold for every process on the host: the denials within the window and the end of a
 * lockout live in the host's lockout record (docs/vault-format.md section 7), so a new CLI or
 * per-request process does not start with a clean slate. Each attempt reads the record (one
 * small read, no lock: it is only ever replaced whole); each denial is a read-modify-write under
 * the record's lock, so denials from concurrent processes all count. The token bucket stays in
 * this process: persisting it would add a locked write to every access. It limits load, so a
 * fresh process gains one more burst, not a way around a lockout.
 */
export class AccessLimiter {
  readonly #limits: RateLimits;
  readonly #now: () => number;
  readonly #path: string;
  readonly #buckets = new Map<string, { tokens: number; refilled: number }>();

  /** `lockoutPath`: the host's lockout record of this store (see lockoutFileName). */
  constructor(lockoutPath: string, limits: Partial<RateLimits> = {}, now: () => number = Date.now) {
    this.#path = lockoutPath;
    this.#limits = { ...DEFAULT_RATE_LIMITS, ...limits };
    this.#now = now;
  }

  /** Takes one attempt; throws LOCKED_OUT or RATE_LIMITED. */
  attempt(plugin: string): void {
    const lockedUntil = readLockouts(this.#path).get(plugin)?.lockedUntil ?? 0;
    const now = this.#now();
    if (now < lockedUntil) {
      throw new SecretError("LOCKED_OUT", `plugin ${plugin} is locked out after repeated denied requests`, {
        hint: `it may try again in ${Math.ceil((lockedUntil - now) / 1000)} s; check its policy with keyhold vault policy`,
      });
    }
    let bucket = this.#buckets.get(plugin);
    if (bucket === undefined) {
      bucket = { tokens: this.#limits.burst, refilled: now };
      this.#buckets.set(plugin, bucket);
    }
    bucket.tokens = Math.min(
      this.#limits.burst,
      bucket.tokens + ((now - bucket.refilled) / 1000) * this.#limits.perSecond,
    );
    bucket.refilled = now;
    if (bucket.tokens < 1)
      throw new SecretError("RATE_LIMITED", `plugin ${plugin} exceeded its vault access rate`);
    bucket.tokens -= 1;
  }

  /** Records a denial on the host; enough of them within the window lock the plugin out. */
  async denied(plugin: string): Promise<void> {
    await this.#update((lockouts, now) => {
      const entry = lockouts.get(plugin) ?? { denials: [], lockedUntil: 0 };
      entry.denials.push(now);
      if (entry.denials.length >= this.#limits.maxDenials) {
        entry.lockedUntil = now + this.#limits.lockoutMs;
        entry.denials = [];
      }
      lockouts.set(plugin, entry);
    });
  }

  /** Ends the plugin's lockout on the host and forgets its recent denials. */
  async unlock(plugin: string): Promise<{ wasLocked: boolean; denials: number }> {
    return this.#update((lockouts, now) => {
      const entry = lockouts.get(plugin);
      lockouts.delete(plugin);
      return {
        wasLocked: entry !== undefined && now < entry.lockedUntil,
        denials: entry?.denials.length ?? 0,
      };
    });
  }

  /**
   * Read-modify-write of the record under its lock. Denials outside the window and lockouts that
   * ended are dropped first, so the file stays small and `change` sees only what is in force.
   */
  async #update<T>(change: (lockouts: Lockouts, now: number) => T): Promise<T> {
    const path = this.#path;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      return await withLock(`${path}.lock`, () => {
        const lockouts = readLockouts(path);
        const now = this.#now();
        for (const [plugin, entry] of lockouts) {
          entry.denials = entry.denials.filter((t) => now - t < this.#limits.windowMs);
          if (entry.denials.length === 0 && entry.lockedUntil <= now) lockouts.delete(plugin);
        }
        const result = change(lockouts, now);
        writeFileAtomic(path, serialiseLockouts(lockouts), { mode: 0o600 });
        return result;
      });
    } catch (err) {
      if (isSecretError(err)) throw err;
      throw new SecretError("IO_ERROR", `cannot update the lockout record ${path}`, {
        cause: err,
        hint: "check that the state directory exists, is writable and is not full",
      });
    }
  }
}

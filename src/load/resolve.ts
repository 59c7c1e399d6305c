import { join } from "node:path";
import { storeDirectory } from "../defaults.js";
import { Secret, SecretError, SecretKey, wipe } from "../secret/index.js";
import { assertCredentialName, type CredsOptions } from "../systemd/index.js";
import { applyNewlineRule, secretFromText } from "./newline.js";
import { assertCleanAbsolutePath, readProtectedFile } from "./protected-file.js";
import { type CredentialPlaces, credentialPlaces, loadCredential, loadCredentialSync } from "./sources.js";

export interface LoadOptions {
  /** Environment to resolve from (CREDENTIALS_DIRECTORY, NAME_FILE, KEYHOLD_STORE). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The encrypted credstore. Default: env KEYHOLD_STORE (an empty one is unset), else /etc/credstore.encrypted. */
  store?: string;
  /** Options for systemd-creds (binary, environment). */
  creds?: CredsOptions;
  /** Reuse a value already loaded by this process. Default true. */
  cache?: boolean;
  /**
   * Keep the value's bytes exactly, a final "\n" or "\r\n" included. Default false: one final
   * line break is dropped, as `keyhold set` and `import` drop it (src/load/newline.ts), so a file
   * written with `echo` loads as the value typed.
   */
  keepNewline?: boolean;
}

/** Where a value was found, for diagnostics (never the value). */
export type SecretSource = "credentials-directory" | "file" | "credstore";

/** The environment variable naming a file for `name`: my_api_key → MY_API_KEY_FILE. */
export function fileVariableFor(name: string): string {
  return `${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_FILE`;
}

interface Plan {
  cacheKey: string;
  places: CredentialPlaces;
}

/**
 * The one resolution order (src/load/sources.ts), decided before anything is read:
 *   1. $CREDENTIALS_DIRECTORY/NAME   (a service started by systemd, or `keyhold run`)
 *   2. the file named by NAME_FILE   (strict: owner and 0600/0400 checked)
 *   3. the encrypted credstore       (STORE/NAME through systemd-creds decrypt, root only)
 * The first source that exists wins; a source that exists but fails its checks is an error,
 * never a reason to fall through to the next one.
 */
function plan(name: string, options: LoadOptions): Plan {
  assertCredentialName(name);
  const env = options.env ?? process.env;
  const store = storeDirectory(env, options.store);
  assertCleanAbsolutePath(store, "credential store");
  const pointed = env[fileVariableFor(name)];
  const places = credentialPlaces(name, env, {
    sealed: join(store, name),
    ...(pointed ? { pointed, pointedWhat: fileVariableFor(name) } : {}),
  });
  return { cacheKey: cacheKeyOf(name, options), places };
}

function notFound(name: string, p: Plan): SecretError {
  const { handed, pointed, sealed } = p.places;
  const places = [handed, pointed, sealed].filter((x) => x !== undefined);
  return new SecretError("CREDENTIAL_NOT_FOUND", `credential not found: ${name}`, {
    hint: `looked in ${places.join(", ")}; create it with: sudo keyhold set ${name}`,
  });
}

const cache = new Map<string, Promise<Secret> | Secret>();
const fileVariables = new Map<string, string>();

/**
 * The cache key from the raw inputs, computed without validating them: only names that were
 * validated on a miss ever get an entry, so a hit needs no validation and costs a few lookups.
 */
function cacheKeyOf(name: string, options: LoadOptions): string {
  const env = options.env ?? process.env;
  let variable = fileVariables.get(name);
  if (variable === undefined) {
    variable = fileVariableFor(name);
    if (fileVariables.size < 1024) fileVariables.set(name, variable);
  }
  return `${name}\0${env.CREDENTIALS_DIRECTORY ?? ""}\0${env[variable] ?? ""}\0${options.store ?? env.KEYHOLD_STORE ?? ""}\0${options.keepNewline === true}`;
}

function cachedSecret(key: string): Secret | Promise<Secret> | undefined {
  const hit = cache.get(key);
  return hit instanceof Secret && hit.disposed ? undefined : hit;
}

/** Forgets every cached value (and wipes those already loaded). */
export function clearSecretCache(): void {
  for (const entry of cache.values()) if (entry instanceof Secret) entry.dispose();
  cache.clear();
}

async function loadUncached(name: string, p: Plan, options: LoadOptions): Promise<Secret> {
  const secret = await loadCredential(p.places, options.creds ?? { env: options.env });
  if (secret === undefined) throw notFound(name, p);
  return applyNewlineRule(secret, options.keepNewline);
}

/**
 * Loads credential `name` (see the resolution order above), decrypting at most once per process:
 * later calls return the same Secret until it is disposed or the cache is cleared.
 */
export function loadSecret(name: string, options: LoadOptions = {}): Promise<Secret> {
  const useCache = options.cache ?? true;
  if (useCache) {
    const hit = cachedSecret(cacheKeyOf(name, options));
    if (hit !== undefined) return Promise.resolve(hit);
  }
  return loadAndCache(name, options, useCache);
}

async function loadAndCache(name: string, options: LoadOptions, useCache: boolean): Promise<Secret> {
  const p = plan(name, options);
  const pending = loadUncached(name, p, options);
  if (!useCache) return pending;
  cache.set(p.cacheKey, pending);
  try {
    const secret = await pending;
    cache.set(p.cacheKey, secret);
    return secret;
  } catch (err) {
    cache.delete(p.cacheKey);
    throw err;
  }
}

/** The synchronous twin of loadSecret, for start-up code that cannot await. */
export function loadSecretSync(name: string, options: LoadOptions = {}): Secret {
  const useCache = options.cache ?? true;
  const hit = useCache ? cachedSecret(cacheKeyOf(name, options)) : undefined;
  if (hit instanceof Secret) return hit;
  const p = plan(name, options);
  let secret = loadCredentialSync(p.places, options.creds ?? { env: options.env });
  if (secret === undefined) throw notFound(name, p);
  secret = applyNewlineRule(secret, options.keepNewline);
  if (useCache) cache.set(p.cacheKey, secret);
  return secret;
}

/**
 * Loads a secret from a file named directly (a token file an application was given), with the
 * checks a NAME_FILE gets: an absolute path, O_NOFOLLOW, a regular file, owned by the caller or
 * root, mode 0600 or 0400, at most 1 MiB. One final line break is dropped unless `keepNewline`.
 * Never cached: each call reads the file again.
 */
export async function loadSecretFile(
  path: string,
  options: Pick<LoadOptions, "keepNewline"> = {},
): Promise<Secret> {
  assertCleanAbsolutePath(path, "secret file");
  return secretFromText(readProtectedFile(path, { permissions: "owner-only" }), options.keepNewline);
}

/** Loads a 32-byte key stored as 64 hex characters in a strictly protected file. */
export function loadSecretKeyFile(path: string): SecretKey {
  assertCleanAbsolutePath(path, "key file");
  const bytes = readProtectedFile(path, { permissions: "owner-only", maxBytes: 4096 });
  try {
    return SecretKey.fromHex(bytes.toString("latin1"));
  } finally {
    wipe(bytes);
  }
}

import { join } from "node:path";
import { isKeyholdError, Secret } from "../secret/index.js";
import { type CredsOptions, decryptCredential, decryptCredentialSync } from "../systemd/index.js";
import { assertCleanAbsolutePath, type ProtectedFileRules, readProtectedFile } from "./protected-file.js";

/**
 * The one place that decides "a credential handed in by systemd, else the sealed copy decrypted
 * here". loadSecret (with a NAME_FILE between the two), the audit key and the vault's master key
 * all go through it, so they agree on which variable counts, which checks each file gets and which
 * errors fall through.
 *
 *   1. $CREDENTIALS_DIRECTORY/NAME   (a service given NAME with LoadCredentialEncrypted=, or
 *                                     `keyhold run`): systemd's layout, so no access for others
 *                                     and any owner
 *   2. a file the user pointed at    (optional; NAME_FILE): owner-only, the caller's or root's
 *   3. the sealed file               (ciphertext, decrypted with systemd-creds under NAME)
 *
 * An unset or empty $CREDENTIALS_DIRECTORY means "not under systemd". A place that is missing is
 * skipped; a place that exists but fails its checks is an error, never a reason to try the next.
 */
export interface CredentialPlaces {
  /** The credential name: the file name in $CREDENTIALS_DIRECTORY and the name the ciphertext is sealed under. */
  name: string;
  /** $CREDENTIALS_DIRECTORY/NAME, when that variable is set (credentialPlaces fills it in). */
  handed?: string;
  /** A file holding the plaintext that the user named. */
  pointed?: string;
  /** The sealed file, or undefined when only a handed-in copy can serve. */
  sealed?: string;
}

export interface PlaceRules {
  /** Checks for the sealed file. Default: no access for others, any owner (its mode is doctor's business). */
  sealed?: ProtectedFileRules;
  /** Largest plaintext accepted from $CREDENTIALS_DIRECTORY or the pointed file. Default 1 MiB. */
  maxBytes?: number;
}

/** What was found first: a plaintext (handed or pointed) or a ciphertext still to decrypt. */
export type FoundCredential =
  | { source: "credentials-directory" | "file"; plaintext: Buffer }
  | { source: "credstore"; ciphertext: Buffer };

/**
 * The places for credential `name`, validated before anything is read: `$CREDENTIALS_DIRECTORY`
 * from `env` (unless `handed` is false: a caller that names its own sealed file), the pointed
 * file and the sealed file as given. Every path must be absolute and normalised.
 */
export function credentialPlaces(
  name: string,
  env: NodeJS.ProcessEnv,
  places: { sealed?: string; pointed?: string; pointedWhat?: string; handed?: boolean },
): CredentialPlaces {
  const result: CredentialPlaces = { name };
  const directory = env.CREDENTIALS_DIRECTORY;
  if (directory && places.handed !== false) {
    assertCleanAbsolutePath(directory, "CREDENTIALS_DIRECTORY");
    result.handed = join(directory, name);
  }
  if (places.pointed) {
    assertCleanAbsolutePath(places.pointed, places.pointedWhat ?? "credential file");
    result.pointed = places.pointed;
  }
  if (places.sealed !== undefined) {
    assertCleanAbsolutePath(places.sealed, "sealed credential file");
    result.sealed = places.sealed;
  }
  return result;
}

/** Reads `path` with `rules`; undefined when it does not exist. */
export function readIfPresent(path: string | undefined, rules: ProtectedFileRules): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readProtectedFile(path, rules);
  } catch (err) {
    if (isKeyholdError(err) && err.code === "FILE_NOT_FOUND") return undefined;
    throw err;
  }
}

/** The first place of `p` that exists, read with its checks; undefined when none does. */
export function findCredential(p: CredentialPlaces, rules: PlaceRules = {}): FoundCredential | undefined {
  const limit = rules.maxBytes === undefined ? {} : { maxBytes: rules.maxBytes };
  // Inside $CREDENTIALS_DIRECTORY systemd owns the files and, on 254+ with ACLs, group bits can
  // show; only access for others is refused there. Files a user points at get the strict check.
  const handed = readIfPresent(p.handed, { permissions: "no-others", owners: "any", ...limit });
  if (handed !== undefined) return { source: "credentials-directory", plaintext: handed };
  const pointed = readIfPresent(p.pointed, { permissions: "owner-only", ...limit });
  if (pointed !== undefined) return { source: "file", plaintext: pointed };
  const sealed = readIfPresent(p.sealed, rules.sealed ?? { permissions: "no-others", owners: "any" });
  if (sealed !== undefined) return { source: "credstore", ciphertext: sealed };
  return undefined;
}

/**
 * findCredential, decrypting a sealed file with systemd-creds (or with `decrypt`: keyhold's own
 * keys go through the key cache); the plaintext's buffer is the Secret's.
 */
export async function loadCredential(
  p: CredentialPlaces,
  creds: CredsOptions,
  rules: PlaceRules = {},
  decrypt: (ciphertext: Buffer) => Promise<Secret> = (c) => decryptCredential(p.name, c, creds),
): Promise<Secret | undefined> {
  const found = findCredential(p, rules);
  if (found === undefined) return undefined;
  if (found.source !== "credstore") return Secret.fromBytes(found.plaintext, { wipeSource: true });
  return decrypt(found.ciphertext);
}

/** The synchronous twin of loadCredential, for start-up code that cannot await. */
export function loadCredentialSync(
  p: CredentialPlaces,
  creds: CredsOptions,
  rules: PlaceRules = {},
): Secret | undefined {
  const found = findCredential(p, rules);
  if (found === undefined) return undefined;
  if (found.source !== "credstore") return Secret.fromBytes(found.plaintext, { wipeSource: true });
  return decryptCredentialSync(p.name, found.ciphertext, creds);
}

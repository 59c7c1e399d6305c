import { type Secret, SecretError, SecretKey } from "../secret/index.js";
import {
  type FingerprintEntry,
  type KnownValueSet,
  knownValueSet,
  MIN_KNOWN_LENGTH,
} from "./fingerprint-index.js";
import type { GitOptions } from "./git.js";
import { refsContaining } from "./git-history.js";
import type { Leak } from "./history-groups.js";
import { pathText } from "./path.js";

/*
 * The incident view (`keyhold scan --history --value-of NAME`): where one stored credential's
 * exact value is in a repository's history. The value is looked for the way stored values always
 * are (known-values.ts: raw, base64, hex, URL-encoded), through a fingerprint set made for this
 * scan alone under a fresh random key: the scan key and the index are not needed, and nothing
 * derived from the value outlives the scan.
 */

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * A known-value set holding one credential's value (as stored, and trimmed of white space, as the
 * fingerprint index records it). The caller disposes it; `value` stays the caller's.
 */
export function knownValueOf(name: string, value: Secret): KnownValueSet {
  const bytes = value.exposeBytes();
  let start = 0;
  let end = bytes.length;
  while (start < end && SPACE.has(bytes[start]!)) start++;
  while (end > start && SPACE.has(bytes[end - 1]!)) end--;
  if (end - start < MIN_KNOWN_LENGTH) {
    throw new SecretError(
      "USAGE",
      `${name} is shorter than ${MIN_KNOWN_LENGTH} characters: it would match ordinary text`,
      {
        hint: "--value-of looks for values of 8 characters or more",
      },
    );
  }
  const key = SecretKey.random();
  const recorded = new Date().toISOString();
  const forms = start > 0 || end < bytes.length ? [bytes, bytes.subarray(start, end)] : [bytes];
  const entries: FingerprintEntry[] = forms.map((form) => ({
    name,
    source: "credstore",
    length: form.length,
    mac: key.hmac(form).toString("hex"),
    recorded,
  }));
  return knownValueSet(key, entries);
}

/** The refs whose history holds each place's introducing commit, added to the places (`refs`). */
export async function addRefs(leaks: readonly Leak[], git: GitOptions): Promise<void> {
  const cache = new Map<string, string[]>();
  for (const leak of leaks) {
    for (const place of leak.places) {
      const commit = place.introduced?.commit;
      if (commit === undefined) continue;
      let refs = cache.get(commit);
      if (refs === undefined) {
        refs = (await refsContaining(commit, git)).map((r) => pathText(r));
        cache.set(commit, refs);
      }
      place.refs = refs;
    }
  }
}

import { defineRule, entropyOf, looksLikePlaceholder } from "../rule.js";

// A value that names what it is (`AuthenticationMD5Password`, `test-secret`) is an identifier.
const NAMES_ITSELF = /passw|secret|token|api_?key/i;

/** Words and numbers joined by separators (`X-Hub-Signature-256`, `projects/1/secrets/db`): names, not keys. */
function identifierLike(value: string): boolean {
  const parts = value.split(/[-_./:]+/).filter((p) => p.length > 0);
  return parts.length > 1 && parts.every((p) => /^[0-9]+$/.test(p) || /^[A-Za-z]+$/.test(p));
}

// Names of values that look random but are public: hashes, checksums, ids, versions.
const NOT_SECRET_NAME =
  /[Hh]ash|HASH|(?<![A-Za-z])(?:sha|SHA)(?:1|256|384|512)?(?![A-Za-z])|[Dd]igest|DIGEST|[Cc]hecksum|CHECKSUM|[Cc]ommit|COMMIT|[Ee]tag|ETAG|[Ff]ingerprint|FINGERPRINT|[Vv]ersion|VERSION|(?:^|[_.-])(?:id|ID)$|[a-z]Id$|[Pp]ublic|PUBLIC/;

/**
 * A high-entropy value assigned to a key-like name (`api_key = "…"`, `"clientSecret": "…"`,
 * `TOKEN: …`). Needs a letter and a digit and at least 3.3 bits of entropy per character, so
 * identifiers, words and references do not count.
 */
export default defineRule({
  id: "generic-secret-assignment",
  title: "high-entropy value assigned to a key-like name",
  provider: "the service the value belongs to",
  keywords: /key|secret|token|passw|pwd|credential|auth/i,
  // Starts at the key word, so the engine rejects most positions on their first character; the
  // rest of the name (before the key word) is checked in confirm().
  pattern:
    /(?<name>(?:api[_.-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|credentials?|auth[_.-]?key|private[_.-]?key|access[_.-]?key)[A-Za-z0-9_.-]{0,40})["'`]?\s*(?::=|=>|=|:)\s*(?<quote>["'`]?)(?<secret>[A-Za-z0-9+/=_.~!@#$%^&*-]{16,128})\k<quote>(?![A-Za-z0-9+/=_.~!@#$%^&*(-])/gi,
  confirm: (secret, groups, before) =>
    !NOT_SECRET_NAME.test(`${/[A-Za-z0-9_.-]*$/.exec(before)?.[0] ?? ""}${groups.name ?? ""}`) &&
    /[A-Za-z]/.test(secret) &&
    /[0-9]/.test(secret) &&
    entropyOf(secret) >= 3.3 &&
    !looksLikePlaceholder(secret) &&
    !/^[./~]/.test(secret) &&
    !identifierLike(secret) &&
    !NAMES_ITSELF.test(secret),
  revoke: "revoke the value at the service that issued it and issue a new one",
});

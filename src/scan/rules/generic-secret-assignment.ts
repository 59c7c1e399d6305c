import { defineRule, entropyOf, looksLikePlaceholder } from "../rule.js";

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
  pattern:
    /(?<name>[A-Za-z0-9_.-]{0,40}(?:api[_.-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|credentials?|auth[_.-]?key|private[_.-]?key|access[_.-]?key)[A-Za-z0-9_.-]{0,40})["'`]?\s*(?::=|=>|=|:)\s*(?<quote>["'`]?)(?<secret>[A-Za-z0-9+/=_.~!@#$%^&*-]{16,128})\k<quote>(?![A-Za-z0-9+/=_.~!@#$%^&*-])/gi,
  confirm: (secret) =>
    /[A-Za-z]/.test(secret) &&
    /[0-9]/.test(secret) &&
    entropyOf(secret) >= 3.3 &&
    !looksLikePlaceholder(secret) &&
    !/^[./~]/.test(secret),
  revoke: "revoke the value at the service that issued it and issue a new one",
});

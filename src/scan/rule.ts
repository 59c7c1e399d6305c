import { entropyOf } from "../secret/index.js";

// The one measure of randomness, shared with the unit renderer's SECRET_IN_COMMAND check.
export { entropyOf };

/**
 * A pattern rule: one well-known key format. Each lives in its own small file under rules/,
 * with ok/ng snapshot folders under test/scan/rules/<id>/.
 */
export interface Rule {
  /** Stable id, used in reports, SARIF, the baseline and allowlists. */
  id: string;
  /** What was found, e.g. "GitHub personal access token". */
  title: string;
  /** Whose key it is; remediation names it. */
  provider: string;
  /**
   * Literal strings one of which must occur in the text before the pattern runs (cheap
   * prefilter; most files contain none). A RegExp is tested instead when case does not matter.
   */
  keywords: readonly string[] | RegExp;
  /** Global regex. The secret is the named group `secret` when present, else the whole match. */
  pattern: RegExp;
  /**
   * Extra check on the secret (placeholders, entropy, a checksum); false drops the match.
   * `before` is up to 64 characters of the line before the match.
   */
  confirm?: (secret: string, groups: Readonly<Record<string, string | undefined>>, before: string) => boolean;
  /** Only files whose path matches (e.g. `.env` files); every file when absent. */
  paths?: RegExp;
  /** Where and how to revoke the key, in a few words. */
  revoke: string;
  /**
   * A Python-compatible regex for `git filter-repo --replace-text` (`regex:` lines); defaults
   * to the pattern's source.
   */
  rewrite?: string;
}

export function defineRule(rule: Rule): Rule {
  if (!rule.pattern.global) throw new Error(`rule ${rule.id}: pattern must be global`);
  return rule;
}

const PLACEHOLDER =
  /(?:^|[^a-z])(?:x{4,}|(?:your|my)[_-]?|example|sample|dummy|placeholder|changeme|change[_-]me|redacted|fake|test[_-]?key|insert|replace|todo|secret[_-]?here|\*{3,}|\.{3,}|<[^>]*>|\$\{|\{\{|%\()/i;

/**
 * Whether a value holds a run of 8 or more consecutive characters (`01234567`, `abcdefgh`):
 * hand-typed fake keys in tests and docs do, random keys practically never (about 1 in 10^11
 * for a 40-character key).
 */
export function hasSequentialRun(value: string): boolean {
  let run = 1;
  for (let i = 1; i < value.length; i++) {
    run = value.charCodeAt(i) === value.charCodeAt(i - 1) + 1 ? run + 1 : 1;
    if (run >= 8) return true;
  }
  return false;
}

/** Whether a value reads like a stand-in rather than a real credential. */
export function looksLikePlaceholder(value: string): boolean {
  return PLACEHOLDER.test(value) || /EXAMPLE/.test(value) || /^(.)\1+$/.test(value);
}

/**
 * Whether the random part of a key (what follows its fixed prefix) is too poor to be random: one
 * character repeated (`xxxx…`, `XXXX…`, `0000…`) has 0 bits, and a random body of 12 or more
 * characters falls under 2 bits per character about once in 10^4 draws at worst (16 decimal
 * digits); hand-typed fillers sit near 0.
 */
export function lowEntropy(body: string, minBits = 2): boolean {
  return entropyOf(body) < minBits;
}

// Stand-ins inside a key's random part: only whole words and marks count, since two-letter words
// such as "my" turn up by chance in about one random key in a hundred.
const STAND_IN =
  /x{4,}|example|sample|dummy|placeholder|changeme|change[_-]me|redacted|your[_-]|insert|replace|secret[_-]?here|\*{3,}|\.{3,}|<[^>]*>|\$\{|\{\{|%\(/i;

/**
 * Whether the random part of a key can be a real key: no stand-in word or mark in it, and not
 * `lowEntropy` at `minBits` per character (3 by default: two alternating characters fail too).
 */
export function plausibleKeyBody(body: string, minBits = 3): boolean {
  return !STAND_IN.test(body) && !lowEntropy(body, minBits);
}

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

/** Shannon entropy in bits per character. */
export function entropyOf(text: string): number {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
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
 * Whether the random part of a key (what follows its fixed prefix) is a stand-in: one character
 * repeated (`xxxx…`, `XXXX…`, `0000…`) or too few distinct characters to be random. A random
 * body of 12 or more characters falls under 2 bits per character about once in 10^4 draws at
 * worst (16 decimal digits); hand-typed fillers sit near 0.
 */
export function lowEntropy(body: string, minBits = 2): boolean {
  return /^(.)\1*$/s.test(body) || entropyOf(body) < minBits;
}

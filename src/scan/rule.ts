import { entropyOf } from "../secret/index.js";
import { documentedExample } from "./documented-examples.js";

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
   * More ways the same secret is written (a value on the line after its name, a name in one XML
   * attribute and the value in the next, …): each runs like `pattern`, and its matches go
   * through the same `confirm`, which is told the form's `context`.
   */
  forms?: readonly RuleForm[];
  /**
   * Extra check on the secret (placeholders, entropy, a checksum); false drops the match.
   * `before` is up to 64 characters of the line before the match; `context` names the form
   * that matched (undefined for `pattern`).
   */
  confirm?: (
    secret: string,
    groups: Readonly<Record<string, string | undefined>>,
    before: string,
    context: string | undefined,
  ) => boolean;
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

/** One more pattern of a rule (see `Rule.forms`). */
export interface RuleForm {
  /** Passed to the rule's `confirm`, and named in tests. */
  context: string;
  /** Global regex, as `Rule.pattern`. */
  pattern: RegExp;
  /** Only files whose path matches. */
  paths?: RegExp;
  /** Only texts this matches (tested once per file, e.g. `kind: Secret` for a Kubernetes manifest). */
  when?: RegExp;
  /**
   * A text this form runs on is read by its `alone` forms only: the rule's pattern and other
   * forms would judge the same values without what the form knows (a Kubernetes Secret's
   * base64, a .git-credentials file's percent-encoding).
   */
  alone?: boolean;
}

export function defineRule(rule: Rule): Rule {
  for (const p of [rule.pattern, ...(rule.forms ?? []).map((f) => f.pattern)]) {
    if (!p.global) throw new Error(`rule ${rule.id}: pattern must be global`);
  }
  return rule;
}

// Words of stand-ins. `your`/`my` only at the start or after a separator, and before another
// separator or a key word (`your-api-key`, `MY_TOKEN`, `yourapikey`, `key-for-my-app`):
// elsewhere, as in `…0MY-…` or `Mypf…`, they are random letters (a looser check took about one
// random 32-character key in 150).
const PLACEHOLDER =
  /(?:^|[_-])(?:your|my)(?:[_-]|(?:api|key|secret|token|pass|app|access|auth|own))|(?:^|[^a-z])(?:example|sample|dummy|placeholder|changeme|change[_-]me|redacted|fake|test[_-]?key|insert|replace|todo|secret[_-]?here)|\*{3,}|\.{3,}|<[^>]*>|\$\{|\{\{|%\(/i;
// A run of x in one case (`xxxx`, `XXXX`): the stand-in of a key's random part.
const XS = /x{4,}|X{4,}/;

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

// Where a key's parts meet: a filler is judged on its longest part (`ghp_` and `xxxx…` apart).
const PART_SEPARATORS = /[-_.:/+=~@;,?&#\s]+/;

/**
 * Whether a value is a filler written in place of a key: all one character (`aaaa`, `0000`,
 * `****`), or a longest part (between separators) of 12 or more characters at least three
 * quarters of which are one character, case ignored (`ghp_xxxx…`, `glpat-XXXX…`,
 * `AKIA` and sixteen `X`, `hvs.xxxx…`, `sk-…****…abcd`). A random part of 12 characters from
 * 16 digits (hex, the smallest alphabet keys use for long parts) holds 9 equal ones with a
 * probability under 10^-7, and a 40-character part 30 equal ones under 10^-25.
 */
export function isFiller(value: string): boolean {
  if (/^(.)\1{3,}$/s.test(value)) return true;
  let longest = "";
  for (const part of value.split(PART_SEPARATORS)) if (part.length > longest.length) longest = part;
  if (longest.length < 12) return false;
  const counts = new Map<string, number>();
  let top = 0;
  for (const ch of longest.toLowerCase()) {
    const n = (counts.get(ch) ?? 0) + 1;
    counts.set(ch, n);
    if (n > top) top = n;
  }
  return top * 4 >= longest.length * 3;
}

/** Whether a value reads like a stand-in rather than a real credential. */
export function looksLikePlaceholder(value: string): boolean {
  return PLACEHOLDER.test(value) || XS.test(value) || /EXAMPLE/.test(value) || /^(.)\1+$/.test(value);
}

/**
 * The check every rule's matches go through after the rule's own `confirm`: hand-typed
 * sequences (a `ghp_` prefix followed by `0123456789abcdef…`), fillers (`ghp_xxxx…`, `AKIA` and sixteen `X`) and the
 * example keys providers print in their documentation are stand-ins, not leaks. None of the
 * three can drop a random key (see `hasSequentialRun` and `isFiller` for the odds).
 */
export function isStandIn(value: string): boolean {
  return hasSequentialRun(value) || isFiller(value) || documentedExample(value) !== undefined;
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

/**
 * Whether the random part of a key can be a real key: not a stand-in (`looksLikePlaceholder`: the
 * one list of stand-in words and marks), and not `lowEntropy` at `minBits` per character (3 by
 * default: two alternating characters fail too).
 */
export function plausibleKeyBody(body: string, minBits = 3): boolean {
  return !looksLikePlaceholder(body) && !lowEntropy(body, minBits);
}

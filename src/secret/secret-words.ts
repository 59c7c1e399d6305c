/*
 * What makes a word look like a key, for the two places that judge one: the leak scanner's rules
 * (src/scan/rules/) and the unit renderer, which refuses a key in an --exec line
 * (SECRET_IN_COMMAND). A leaf: it imports nothing, so the systemd side takes these words and
 * measures without loading the scanner.
 */

/** Shannon entropy in bits per character: random keys score high, words and identifiers low. */
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

export interface KeyPrefix {
  /** The literal starts of the format's keys (the scanner's rules use them as their keywords). */
  prefixes: readonly string[];
  /**
   * What follows a prefix in a whole command word for the unit renderer to refuse it: a regex
   * source, looser than the scanner's exact pattern, since a key in a unit file is exposed even
   * when it is cut short or padded.
   */
  body: string;
}

/**
 * Well-known key formats by the prefix that announces them. The scanner's rule for each format
 * (stripe-secret-key, github-token, …) finds the exact format in text; `sk-` and `xox?-` stand
 * here for the unit renderer alone (the scanner's OpenAI and Slack rules match on other words).
 */
export const KEY_PREFIXES = {
  openai: { prefixes: ["sk-"], body: "[A-Za-z0-9_-]{16,}" },
  stripe: { prefixes: ["sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"], body: "[A-Za-z0-9]{16,}" },
  github: { prefixes: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], body: "[A-Za-z0-9]{30,}" },
  githubFineGrained: { prefixes: ["github_pat_"], body: "[A-Za-z0-9_]{30,}" },
  slack: { prefixes: ["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxr-", "xoxs-"], body: "[A-Za-z0-9-]{10,}" },
  aws: { prefixes: ["AKIA", "ASIA", "ABIA", "ACCA", "A3T"], body: "[0-9A-Z]{16}" },
  google: { prefixes: ["AIza"], body: "[0-9A-Za-z_-]{30,}" },
  gitlab: {
    prefixes: [
      "glpat-",
      "gldt-",
      "glptt-",
      "glrt-",
      "glrtr-",
      "glsoat-",
      "glcbt-",
      "glimt-",
      "glagent-",
      "glffct-",
      "glft-",
      "gloas-",
      "glwt-",
      "GR1348941",
    ],
    body: "[A-Za-z0-9_-]{20,}",
  },
} as const satisfies Record<string, KeyPrefix>;

const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whether the whole of `word` is a prefix of KEY_PREFIXES followed by its body. */
export const KEY_PREFIXED_WORD = new RegExp(
  `^(?:${Object.values(KEY_PREFIXES as Record<string, KeyPrefix>)
    .map((k) => `(?:${k.prefixes.map(literal).join("|")})${k.body}`)
    .join("|")})$`,
);

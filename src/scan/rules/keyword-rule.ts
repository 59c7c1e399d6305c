import { defineRule, plausibleKeyBody, type Rule } from "../rule.js";

/*
 * Rules for keys with no prefix of their own (a bare 32-character hex string, a UUID): such a
 * value counts only where a name that carries the provider's word is assigned it, as in
 * `TWITTER_API_SECRET = "…"`, `"zendeskToken": "…"`, `twitch.key: …`, `<lobKey>…</lobKey>` or
 * `setenv("OKTA_TOKEN", "…")`.
 */

export interface KeywordRuleSpec {
  id: string;
  title: string;
  provider: string;
  revoke: string;
  /** The provider's words as written in names, lowercase; matched in any case (`Twitter`, `TWITTER`). */
  words: readonly string[];
  /** Regex source of the value itself, case-sensitive, without capturing groups. */
  value: string;
  /** A character class of what would continue the value: the value must end before one. */
  continues?: string;
  /** The word must start a word of the name (`lob` in `LOB_KEY`, `lobKey`, not in `global`). */
  wordStart?: boolean;
  /** The rest of the name after the word must match (e.g. /key|token/i for an account with public ids). */
  nameHas?: RegExp;
  /** Least entropy of the value in bits per character (default 3). */
  minBits?: number;
  /** Extra check on the value. */
  confirm?: (secret: string) => boolean;
}

/** `twitter` → `[Tt][Ww][Ii][Tt][Tt][Ee][Rr]`: any case without the `i` flag, so the value keeps its own. */
function anyCase(word: string): string {
  return [...word]
    .map((c) => {
      if (/[a-z]/.test(c)) return `[${c}${c.toUpperCase()}]`;
      return c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    })
    .join("");
}

// The last word of a name that holds an identifier, an address or a public value, not a secret:
// `SNYK_ORG_ID`, `twitterUserName`, `zendesk_url`.
const NOT_SECRET_WORD =
  /^(?:id|ids|uid|uuid|url|uri|host|hostname|domain|endpoint|user|username|email|name|org|organization|project|region|version|release|revision|commit|sha|digest|checksum|hash|public|pub|path|file|dir)$/;

/** The words of an identifier, lowercase: `twitterUserId` and `TWITTER_USER_ID` both give twitter, user, id. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

/**
 * A rule for a value assigned to a name that carries one of the provider's words. Linear: the
 * pattern can start only at one of the words, and everything after it is bounded.
 */
export function keywordRule(spec: KeywordRuleSpec): Rule {
  const words = spec.words.map(anyCase).join("|");
  const continues = spec.continues ?? "[A-Za-z0-9_+/=-]";
  const pattern = new RegExp(
    `${spec.wordStart ? "(?<![A-Za-z])" : ""}(?<name>${words})(?<tail>[\\w.-]{0,24})["'\`]?[ \\t]{0,4}` +
      `(?::{0,3}=|\\?=|=>|\\|\\||[:,>])[ \\t]{0,4}["'\`]?(?<secret>${spec.value})(?!${continues})`,
    "g",
  );
  return defineRule({
    id: spec.id,
    title: spec.title,
    provider: spec.provider,
    keywords: new RegExp(spec.words.map((w) => w.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")).join("|"), "i"),
    pattern,
    confirm: (secret, groups, before) => {
      const name = `${/[\w.-]*$/.exec(before)?.[0] ?? ""}${groups.name ?? ""}${groups.tail ?? ""}`;
      const last = nameWords(name).at(-1) ?? "";
      return (
        !NOT_SECRET_WORD.test(last) &&
        (spec.nameHas === undefined || spec.nameHas.test(groups.tail ?? "")) &&
        plausibleKeyBody(secret, spec.minBits ?? 3) &&
        (spec.confirm === undefined || spec.confirm(secret))
      );
    },
    revoke: spec.revoke,
  });
}

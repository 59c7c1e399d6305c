import { defineRule, entropyOf, plausibleKeyBody, type Rule } from "./rule.js";

/**
 * Rules for keys whose format is too plain to stand alone (32 hex digits, a UUID, 40 letters and
 * digits): such a value counts only where it is assigned to a name that carries its provider's
 * word, the shape of gitleaks' "semi-generic" rules:
 *
 *   DATADOG_API_KEY=…   "zendeskToken": "…"   datadog.api-key: '…'   <lobKey>…</lobKey>
 *   setenv("OKTA_TOKEN", "…")   dd_api_key := "…"   curl -H "DD-API-KEY: …"
 *
 * The match starts at the provider's word (matched in any case), so the engine rejects almost
 * every position on its first character, and every part after it is bounded: each start reads at
 * most about 40 characters plus the value, which keeps the pattern linear on hostile input.
 */
export interface KeywordRuleSpec {
  id: string;
  title: string;
  provider: string;
  /**
   * Words one of which the name holds (`datadog`, `dd_api_key`, `launch-darkly`): lower case
   * letters, digits, `_` and `-`, matched in any case (`Datadog`, `DATADOG`).
   */
  words: readonly string[];
  /** The value's own format, without anchors, flags or named groups (`[a-f0-9]{32}`). */
  value: RegExp;
  /** The word must start a word of the name (`lob` in `LOB_KEY`, `lobKey`, not in `global`). */
  wordStart?: boolean;
  /** The rest of the name after the word must match (e.g. /key|token/i for an account with public ids). */
  nameHas?: RegExp;
  /** Least entropy of the value in bits per character (default 3). */
  minBits?: number;
  /**
   * Entropy a value with no digit needs, in bits per character (default 4.1). A random mix of
   * 30 or more letters and digits holds a digit or reaches 4.1 bits all but about once in 10^5;
   * names and words of that length (`MyDroneServerProductionInstance`) stay near 3.9. Shorter
   * formats set it lower.
   */
  wordBits?: number;
  /** Values of this shape belong to another rule (a prefixed format of the same provider). */
  except?: RegExp;
  /** Extra check on the value. */
  confirm?: (secret: string) => boolean;
  revoke: string;
}

/** `datadog` → `[Dd][Aa][Tt][Aa][Dd][Oo][Gg]` (no `i` flag, so the value keeps its own case). */
function anyCase(word: string): string {
  return [...word]
    .map((ch) => {
      const lower = ch.toLowerCase();
      const upper = ch.toUpperCase();
      return lower === upper ? ch : `[${upper}${lower}]`;
    })
    .join("");
}

// After the word: the rest of the name (`_API_KEY`, ` api key`), a closing quote, the operator
// (= : := ::= => ?= , > ||), then opening quotes or blanks, a line break included (YAML's value
// on the next line). The value must end where a value ends in code, configuration and prose: a
// quote, a blank, ; , ) ] } < & \, a full stop that ends a sentence, or the end of the text; a
// value that runs on into `.`, `:`, `@` or `/` is part of a host name, path or longer token.
const NAME_TAIL = String.raw`(?<tail>[ \t\w.-]{0,24})[\s'"\x60]{0,5}`;
const OPERATOR = String.raw`(?:=>|:{1,3}=|\?=|\|\||[=:,>])`;
const BEFORE_VALUE = String.raw`[\s'"\x60=]{0,5}`;
const VALUE_END = String.raw`(?=[\s'"\x60;,)\]}<&\\]|\.(?:\s|$)|$)`;

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

/** A rule for a value assigned to a name that carries one of the provider's words. */
export function keywordRule(spec: KeywordRuleSpec): Rule {
  if (spec.value.flags !== "") throw new Error(`rule ${spec.id}: the value pattern takes no flags`);
  if (spec.value.source.includes("(?<"))
    throw new Error(`rule ${spec.id}: the value pattern takes no named groups`);
  for (const word of spec.words) {
    if (!/^[a-z0-9_-]+$/.test(word)) throw new Error(`rule ${spec.id}: word ${word} is not [a-z0-9_-]`);
  }
  const words = spec.words.map(anyCase).join("|");
  const minBits = spec.minBits ?? 3;
  const wordBits = spec.wordBits ?? 4.1;
  return defineRule({
    id: spec.id,
    title: spec.title,
    provider: spec.provider,
    // A plain alternation of the words: the prefilter (prefilter.ts) finds them with every other
    // rule's in one pass, and test/scan/support/hostile-input.ts builds its inputs from them.
    keywords: new RegExp(spec.words.join("|"), "i"),
    pattern: new RegExp(
      `${spec.wordStart ? "(?<![A-Za-z])" : ""}(?<name>${words})${NAME_TAIL}${OPERATOR}${BEFORE_VALUE}` +
        `(?<secret>${spec.value.source})${VALUE_END}`,
      "g",
    ),
    confirm: (secret, groups, before) => {
      const name = `${/[\w.-]*$/.exec(before)?.[0] ?? ""}${groups.name ?? ""}${groups.tail ?? ""}`;
      return (
        !NOT_SECRET_WORD.test(nameWords(name).at(-1) ?? "") &&
        (spec.nameHas === undefined || spec.nameHas.test(groups.tail ?? "")) &&
        plausibleKeyBody(secret, minBits) &&
        !spec.except?.test(secret) &&
        /[A-Za-z]/.test(secret) &&
        (/[0-9]/.test(secret) || entropyOf(secret) >= wordBits) &&
        (spec.confirm === undefined || spec.confirm(secret))
      );
    },
    revoke: spec.revoke,
  });
}

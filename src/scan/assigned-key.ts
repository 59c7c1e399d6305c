import { defineRule, entropyOf, lowEntropy, type Rule } from "./rule.js";

/**
 * Rules for keys whose format is too plain to stand alone (32 hex digits, a UUID, 40 letters and
 * digits): such a value counts only where it is assigned to a name that mentions its provider,
 * the shape of gitleaks' "semi-generic" rules:
 *
 *   DATADOG_API_KEY=…   "algoliaAdminKey": "…"   datadog.api-key: '…'   <DatadogKey>…
 *   getenv("DATADOG_API_KEY", "…")   dd_api_key := "…"
 *
 * The match starts at the provider's word (matched in any case), so the engine rejects almost
 * every position on its first character, and every part after it is bounded: each start reads at
 * most about 40 characters plus the value, which keeps the pattern linear on hostile input.
 */
export interface AssignedKeySpec {
  id: string;
  title: string;
  provider: string;
  /** Words one of which the name holds (`datadog`, `dd_api_key`): lower case, matched in any case. */
  names: readonly string[];
  /** The value's own format, without anchors or flags (`[a-f0-9]{32}`). */
  value: RegExp;
  /**
   * Entropy a value with no digit needs, in bits per character (default 4.1). A random mix of
   * 30 or more letters and digits holds a digit or reaches 4.1 bits all but about once in 10^5;
   * names and words of that length (`MyDroneServerProductionInstance`) stay near 3.9. Shorter
   * formats set it lower.
   */
  wordBits?: number;
  /** Least entropy of the value in bits per character (default 3). */
  minBits?: number;
  /** Values of this shape belong to another rule (a prefixed format of the same provider). */
  except?: RegExp;
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
// (= : := ::= => ?= , > ||), then opening quotes or blanks. The value must end where a value
// ends in code and configuration: a quote, a blank, ; , ) ] } < & \ or the end of the text.
const NAME_TAIL = String.raw`[ \t\w.-]{0,20}[\s'"\x60]{0,3}`;
const OPERATOR = String.raw`(?:=>|:{1,3}=|\?=|\|\||[=:,>])`;
const BEFORE_VALUE = String.raw`[\s'"\x60=]{0,5}`;
const VALUE_END = String.raw`(?=[\s'"\x60;,)\]}<&\\]|$)`;

export function assignedKeyRule(spec: AssignedKeySpec): Rule {
  if (spec.value.flags !== "") throw new Error(`rule ${spec.id}: the value pattern takes no flags`);
  for (const name of spec.names) {
    if (!/^[a-z0-9_-]+$/.test(name)) throw new Error(`rule ${spec.id}: name ${name} is not [a-z0-9_-]`);
  }
  const names = spec.names.map(anyCase).join("|");
  const wordBits = spec.wordBits ?? 4.1;
  const minBits = spec.minBits ?? 3;
  return defineRule({
    id: spec.id,
    title: spec.title,
    provider: spec.provider,
    // A plain alternation of the words: test/scan/support/hostile-input.ts builds its inputs
    // from them.
    keywords: new RegExp(spec.names.join("|"), "i"),
    pattern: new RegExp(
      `(?:${names})${NAME_TAIL}${OPERATOR}${BEFORE_VALUE}(?<secret>${spec.value.source})${VALUE_END}`,
      "g",
    ),
    confirm: (secret) =>
      !lowEntropy(secret, minBits) &&
      !/example/i.test(secret) &&
      !spec.except?.test(secret) &&
      /[A-Za-z]/.test(secret) &&
      (/[0-9]/.test(secret) || entropyOf(secret) >= wordBits),
    revoke: spec.revoke,
  });
}

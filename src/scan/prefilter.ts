import { type MatchOutput, PatternAutomaton } from "../secret/index.js";
import type { Rule } from "./rule.js";

/*
 * The rules' keyword check, done once per file for all of them: one Aho–Corasick pass over the
 * bytes finds every rule's literal keywords at once, where each rule used to search the whole
 * file for its own (167 searches of every file). The automaton holds the keywords folded to
 * lower case; a case-sensitive keyword is confirmed at the place it was found. A rule whose
 * keywords are not literal (a RegExp with more than an alternation of words) keeps its own test.
 */

/** A rule's keywords as literal words, and whether they match in any case; none if not literal. */
export function literalKeywords(rule: Rule): { words: readonly string[]; anyCase: boolean } | undefined {
  const keywords = rule.keywords;
  if (!(keywords instanceof RegExp)) return { words: keywords, anyCase: false };
  const flags = keywords.flags.replace(/[gy]/g, "");
  if (flags !== "i" && flags !== "") return undefined;
  // `datadog|dd_api_key|dd-api-key` (keywordRule's): words of letters, digits, `_`, `-` and `\.`.
  const words = keywords.source.split("|");
  if (!words.every((w) => /^(?:[\w-]|\\[.-])+$/.test(w))) return undefined;
  return { words: words.map((w) => w.replace(/\\(.)/g, "$1")), anyCase: flags === "i" };
}

// ASCII letters folded to lower case, every other byte as it is: what the `i` flag does to a
// latin1 text when the words are ASCII (no byte of 128 or more folds to ASCII without `u`).
const FOLD = Uint8Array.from({ length: 256 }, (_, b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b));

interface Entry {
  rule: number;
  /** The keyword as written, to confirm at the place found; undefined when any case counts. */
  exact: string | undefined;
}

export class RulePrefilter {
  readonly #automaton: PatternAutomaton;
  /** Folded keyword → the rules it belongs to. */
  readonly #entries = new Map<string, Entry[]>();
  /** Rules tested on their own (keywords not literal), and rules that always run (an empty keyword). */
  readonly #own: number[] = [];
  readonly #always: number[] = [];
  readonly #rules: readonly Rule[];

  constructor(rules: readonly Rule[]) {
    this.#rules = rules;
    const patterns: { name: string; bytes: Uint8Array }[] = [];
    rules.forEach((rule, index) => {
      const literal = literalKeywords(rule);
      if (literal === undefined || literal.words.some((w) => /[^\x20-\x7e]/.test(w))) {
        this.#own.push(index);
        return;
      }
      if (literal.words.includes("")) {
        this.#always.push(index);
        return;
      }
      for (const word of literal.words) {
        const folded = word.toLowerCase();
        let list = this.#entries.get(folded);
        if (list === undefined) {
          list = [];
          this.#entries.set(folded, list);
          patterns.push({ name: folded, bytes: Buffer.from(folded, "latin1") });
        }
        list.push({ rule: index, exact: literal.anyCase ? undefined : word });
      }
    });
    this.#automaton = new PatternAutomaton(patterns);
  }

  /** The rules whose keywords occur in the text (`text` is `bytes` as latin1). */
  hits(bytes: Uint8Array, text: string): ReadonlySet<Rule> {
    const hit = new Array<boolean>(this.#rules.length).fill(false);
    for (const i of this.#always) hit[i] = true;
    for (const i of this.#own) hit[i] = ownKeywordHit(this.#rules[i]!, text);
    const automaton = this.#automaton;
    // Outputs whose rules are all hit: common words (`key`, `=`) end at many places of a file.
    const settled = new Set<MatchOutput>();
    let state = 0;
    for (let at = 0; at < bytes.length; at++) {
      state = automaton.step(state, FOLD[bytes[at]!]!);
      const out = automaton.output(state);
      if (out === undefined || settled.has(out)) continue;
      let open = false;
      for (const name of out.names) {
        for (const e of this.#entries.get(name)!) {
          if (hit[e.rule]) continue;
          if (e.exact === undefined || text.startsWith(e.exact, at + 1 - e.exact.length)) hit[e.rule] = true;
          else open = true;
        }
      }
      if (!open) settled.add(out);
    }
    const found = new Set<Rule>();
    hit.forEach((h, i) => {
      if (h) found.add(this.#rules[i]!);
    });
    return found;
  }
}

function ownKeywordHit(rule: Rule, text: string): boolean {
  if (rule.keywords instanceof RegExp) return rule.keywords.test(text);
  for (const k of rule.keywords) if (text.includes(k)) return true;
  return false;
}

const built = new WeakMap<readonly Rule[], RulePrefilter>();

/** The prefilter of a list of rules, built once per list. */
export function prefilterFor(rules: readonly Rule[]): RulePrefilter {
  let prefilter = built.get(rules);
  if (prefilter === undefined) {
    prefilter = new RulePrefilter(rules);
    built.set(rules, prefilter);
  }
  return prefilter;
}

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PATTERN_RULES, type Rule } from "../../src/scan/index.js";
import { literalKeywords, RulePrefilter } from "../../src/scan/prefilter.js";
import { decoyText } from "./support/corpus.js";
import { SeededRandom } from "./support/synthetic.js";

/*
 * The shared prefilter (one automaton pass for every rule's keywords) must pick exactly the
 * rules each rule's own keyword check picks: a case-sensitive keyword in the wrong case does
 * not count, a case-blind one in any case does, and a keyword split by the edge of the text is
 * not there.
 */

function ownCheck(rule: Rule, text: string): boolean {
  if (rule.keywords instanceof RegExp)
    return new RegExp(rule.keywords.source, rule.keywords.flags).test(text);
  return rule.keywords.some((k) => text.includes(k));
}

function compare(prefilter: RulePrefilter, text: string): void {
  const bytes = Buffer.from(text, "latin1");
  const hits = prefilter.hits(bytes, bytes.toString("latin1"));
  const want = PATTERN_RULES.filter((r) => ownCheck(r, text)).map((r) => r.id);
  assert.deepEqual(
    PATTERN_RULES.filter((r) => hits.has(r)).map((r) => r.id),
    want,
    JSON.stringify(text.slice(0, 80)),
  );
}

describe("rule prefilter: one pass, the same rules as each rule's own keyword check", () => {
  const prefilter = new RulePrefilter(PATTERN_RULES);
  const random = new SeededRandom("keyhold-prefilter");

  it("reads nearly every rule's keywords as literal words", () => {
    const own = PATTERN_RULES.filter((r) => literalKeywords(r) === undefined).map((r) => r.id);
    assert.ok(own.length <= 3, `rules on their own check: ${own.join(", ")}`);
  });

  it("each keyword as written, in upper and lower case, cut short, and inside other text", () => {
    for (const rule of PATTERN_RULES) {
      const words = literalKeywords(rule)?.words ?? [];
      for (const w of words) {
        for (const form of [w, w.toUpperCase(), w.toLowerCase(), w.slice(0, -1), w.slice(1)]) {
          compare(prefilter, form);
          compare(prefilter, `x${form}\u00e9${form.toUpperCase()}`);
        }
      }
    }
  });

  it("generated text with latin1 bytes", () => {
    for (let i = 0; i < 50; i++) {
      compare(prefilter, `${decoyText(random, 20)}\u00c0\u00ff${random.chars("b64", 40)}`);
    }
  });
});

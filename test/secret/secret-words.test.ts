import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { PATTERN_RULES } from "../../src/scan/index.js";
import { KEY_PREFIXES, type KeyPrefix } from "../../src/secret/index.js";
import { looksLikeSecret } from "../../src/units/index.js";

/** `length` characters of the body's first character class, drawn at random (no run of 8 in a row). */
function bodyLike(body: string, length: number): string {
  const alphabet = /^\[([^\]]+)\]/.exec(body)?.[1] ?? "A-Za-z0-9";
  const chars: string[] = [];
  for (const part of alphabet.matchAll(/(.)-(.)|(.)/g)) {
    if (part[3] !== undefined) chars.push(part[3]);
    else
      for (let c = part[1]!.charCodeAt(0); c <= part[2]!.charCodeAt(0); c++)
        chars.push(String.fromCharCode(c));
  }
  return [...randomBytes(length)].map((b) => chars[b % chars.length]).join("");
}

describe("secret-looking words: one list for the scanner and the unit renderer", () => {
  it("the scanner's rules take their keywords from the shared prefixes", () => {
    const keywords = new Set(PATTERN_RULES.flatMap((r) => (Array.isArray(r.keywords) ? r.keywords : [])));
    const shared = ["stripe", "github", "githubFineGrained", "aws", "google", "gitlab"] as const;
    for (const k of shared) for (const p of KEY_PREFIXES[k].prefixes) assert.ok(keywords.has(p), p);
  });

  it("the unit renderer refuses a whole word of every prefix with a key's body", () => {
    for (const [format, k] of Object.entries(KEY_PREFIXES as Record<string, KeyPrefix>)) {
      for (const prefix of k.prefixes) {
        const word = `${prefix}${bodyLike(k.body, format === "aws" ? 16 : 40)}`;
        assert.ok(looksLikeSecret(word), `${format}: ${prefix}…`);
        assert.ok(looksLikeSecret(`--key=${word}`), `${format}: --key=${prefix}…`);
      }
    }
    // A prefix alone, or with a short tail, is an ordinary word.
    for (const word of ["sk-learn", "AKIA", "ghp_x", "glpat-", "xoxb-1"])
      assert.ok(!looksLikeSecret(word), word);
  });
});

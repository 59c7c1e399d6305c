// git's credential store as the url-credentials rule reads it (src/scan/rules/url-credentials.ts).
// Mode 0 (first byte even): the bytes as a .git-credentials file. Invariants: nothing is thrown;
// each match lies inside the text and is a run without blanks or '@'.
// Mode 1 (odd): the bytes (latin1) as a password, percent-encoded as git writes it. Invariant: the
// password is found, at exactly its encoded run, unless it is a stand-in every rule drops
// (isStandIn), GitHub's fixed x-oauth-basic, or reads as a template's stand-in as encoded
// (looksLikePlaceholder: `your-token`, `example`; git encodes `$`, `{` and `<`).
import { detect, PATTERN_RULES } from "../../dist/src/scan/index.js";
import { isStandIn, looksLikePlaceholder } from "../../dist/src/scan/rule.js";
import { check } from "../support.mjs";

const rule = PATTERN_RULES.find((r) => r.id === "url-credentials");

export function fuzz(data) {
  if (data.length === 0) return;
  const body = Buffer.from(data.subarray(1));
  if ((data[0] & 1) === 0) {
    const text = body.toString("latin1");
    for (const d of detect(body, ".git-credentials", [rule], undefined, { budgetMs: 2000 })) {
      if (d.rule !== rule.id) continue;
      check(d.start >= 0 && d.end <= text.length && d.start < d.end, "placed inside the text");
      check(!/[\s@]/.test(d.secret), "a password holds no blank or '@'");
      check(text.slice(d.start, d.end) === d.secret, "the match is the text at its place");
    }
    return;
  }
  const password = body.toString("latin1");
  const encoded = encodeURIComponent(password);
  const line = `https://deploy:${encoded}@git.example.com\n`;
  const found = detect(Buffer.from(line, "latin1"), ".git-credentials", [rule], undefined, {
    budgetMs: 2000,
  });
  const dropped =
    password.length === 0 ||
    encoded.length > 4096 ||
    isStandIn(encoded) ||
    password === "x-oauth-basic" ||
    looksLikePlaceholder(encoded);
  if (dropped) return;
  check(found.length === 1, `the password is found (${found.length} matches)`);
  check(found[0].secret === encoded && found[0].start === "https://deploy:".length, "at its encoded run");
}

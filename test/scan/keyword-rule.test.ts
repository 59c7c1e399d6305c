import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detect } from "../../src/scan/index.js";
import { type KeywordRuleSpec, keywordRule } from "../../src/scan/keyword-rule.js";
import { SeededRandom } from "./support/synthetic.js";

/*
 * The one helper for keys with no prefix of their own: a value counts only where it is assigned
 * to a name carrying the provider's word. A made-up provider ("acme") keeps every value here
 * out of the real rules' reach; the values are generated, never committed.
 */

const random = new SeededRandom("keyhold-keyword-rule");
/** 32 letters and digits with a digit in it (the generator may draw none). */
function value(): string {
  for (;;) {
    const v = random.chars("alnum", 32);
    if (/[0-9]/.test(v) && /[A-Za-z]/.test(v)) return v;
  }
}

const BASE: KeywordRuleSpec = {
  id: "acme-api-key",
  title: "Acme API key",
  provider: "Acme",
  words: ["acme", "acme_key"],
  value: /[A-Za-z0-9]{32}/,
  revoke: "revoke it",
};

function found(spec: Partial<KeywordRuleSpec>, text: string): string[] {
  const rule = keywordRule({ ...BASE, ...spec });
  return detect(Buffer.from(text, "latin1"), "conf.txt", [rule], undefined).map((d) => d.secret);
}

describe("keywordRule: a value assigned to a name carrying the provider's word", () => {
  it("finds the value in assignments of code, configuration, headers and prose", () => {
    for (const form of [
      "ACME_API_KEY=%",
      'export ACME_API_KEY="%"',
      '"acmeToken": "%",',
      "acme.api-key: '%'",
      "<AcmeKey>%</AcmeKey>",
      'setenv("ACME_TOKEN", "%");',
      'curl -H "ACME-API-KEY: %" https://acme.invalid/',
      "acme_secret := `%`",
      "'acme_key' => '%',",
      "Acme API token: %",
      "acme_token:\n  %\n",
      "Set ACME_KEY=%. Then restart.",
      "ACME_KEY = %",
    ]) {
      const v = value();
      assert.deepEqual(found({}, form.replace("%", v)), [v], form);
    }
  });

  it("leaves names of identifiers and addresses, values that run on, and stand-ins", () => {
    for (const form of [
      "ACME_ORG_ID=%",
      "acmeUrl: %",
      "ACME_USER = '%'",
      "acme_project_name: %",
      "acme_key=%.acme.invalid",
      "acme_key=%@acme.invalid",
      "acme_key=%:8443",
      "acme_key=%x",
      "acme:\n  api_key: %",
    ]) {
      assert.deepEqual(found({}, form.replace("%", value())), [], form);
    }
    assert.deepEqual(found({}, `ACME_KEY=${value().slice(0, 24)}xxxxxxxx`), [], "a stand-in");
    assert.deepEqual(found({}, "ACME_KEY=a1b1a1b1a1b1a1b1a1b1a1b1a1b1a1b1"), [], "under 3 bits a character");
  });

  it("asks a value with no digit for wordBits of entropy", () => {
    const word = "AcmeProductionServerInstanceName";
    assert.deepEqual(found({}, `ACME_KEY=${word}`), [], "a name stays under 4.1 bits");
    assert.deepEqual(found({ wordBits: 3.5 }, `ACME_KEY=${word}`), [word]);
  });

  it("holds the word to the start of a name with wordStart", () => {
    const v = value();
    assert.deepEqual(found({}, `XACME_KEY=${v}`), [v]);
    assert.deepEqual(found({ wordStart: true }, `XACME_KEY=${v}`), []);
    assert.deepEqual(found({ wordStart: true }, `x.acmeKey=${v}`), [v]);
  });

  it("asks the rest of the name for nameHas, and drops values of another rule's shape", () => {
    const v = value();
    assert.deepEqual(found({ nameHas: /secret/i }, `ACME_TOKEN=${v}`), []);
    assert.deepEqual(found({ nameHas: /secret/i }, `ACME_CLIENT_SECRET=${v}`), [v]);
    const prefixed = `acm_${v.slice(4)}`;
    assert.deepEqual(found({ value: /[A-Za-z0-9_]{32}/ }, `ACME_KEY=${prefixed}`), [prefixed]);
    assert.deepEqual(found({ except: /^acm_/, value: /[A-Za-z0-9_]{32}/ }, `ACME_KEY=${prefixed}`), []);
    assert.deepEqual(found({ confirm: (s) => s !== v }, `ACME_KEY=${v}`), []);
    assert.deepEqual(found({ minBits: 4.9 }, `ACME_KEY=${v}`), [], "under minBits");
  });

  it("refuses a spec it cannot make linear or case-blind", () => {
    assert.throws(() => keywordRule({ ...BASE, value: /[a-f0-9]{32}/i }), /takes no flags/);
    assert.throws(() => keywordRule({ ...BASE, value: /(?<secret>[a-f0-9]{32})/ }), /no named groups/);
    assert.throws(() => keywordRule({ ...BASE, words: ["Acme"] }), /not \[a-z0-9_-\]/);
  });
});

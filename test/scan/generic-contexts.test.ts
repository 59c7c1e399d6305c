import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PATTERN_RULES, Scanner } from "../../src/scan/index.js";
import { isFiller } from "../../src/scan/rule.js";
import { LANGUAGE_CONTEXTS, REFERENCES } from "./support/contexts.js";
import { DOCUMENTED_EXAMPLES } from "./support/documented-examples.js";
import { expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/*
 * The generic rule in the syntax of each language and format (support/contexts.ts), and the
 * stand-ins no rule reports: references to a secret kept elsewhere, fillers, documented example
 * keys, and names of things about a secret. Values are generated here, never committed.
 */

function scan(path: string, text: string) {
  const scanner = new Scanner();
  scanner.scan(path, Buffer.from(text, "utf8"));
  return scanner.findings;
}

const random = new SeededRandom("keyhold-generic-contexts");
const value = () => `${random.chars("alnum", 12)}${random.chars("digit", 4)}${random.chars("alnum", 16)}`;

describe("generic-secret-assignment in each language and format", () => {
  for (const context of LANGUAGE_CONTEXTS) {
    it(`${context.id}: finds a generated value, at the value`, () => {
      const v = value();
      const text = context.render(v);
      const findings = scan(context.path, text);
      assert.equal(findings.length, 1, `${context.id}: ${JSON.stringify(text)} gave ${findings.length}`);
      const f = findings[0]!;
      const expected = context.id === "git-credentials" ? "url-credentials" : "generic-secret-assignment";
      assert.equal(f.rule, expected);
      const line = text.split("\n")[f.line - 1]!;
      const at = line.slice(f.column - 1, f.column - 1 + f.length);
      const written = context.id === "kubernetes-secret-data" ? Buffer.from(v).toString("base64") : v;
      assert.equal(at, written, `${context.id}: the finding is placed on the value`);
    });

    it(`${context.id}: a reference to a secret kept elsewhere is not a finding`, {
      skip:
        context.references === false
          ? `${context.id} has no syntax for a reference (a URL's password is literal)`
          : false,
    }, () => {
      for (const ref of REFERENCES) {
        const text = context.render(ref);
        assert.deepEqual(
          scan(context.path, text).map((f) => f.rule),
          [],
          `${context.id}: ${JSON.stringify(text)}`,
        );
      }
    });
  }

  it("a Kubernetes Secret's data is decoded and judged: stand-ins are not findings, a private key is (by its own rule)", () => {
    const manifest = (entries: Record<string, string>) =>
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  labels:\n    app: frontend2\ndata:\n${Object.entries(
        entries,
      )
        .map(([k, v]) => `  ${k}: ${Buffer.from(v).toString("base64")}`)
        .join("\n")}\n`;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell reference, not a template
    const standIns = { password: "changeme", username: "admin", "db-pass": "password", token: "${TOKEN_V2}" };
    assert.deepEqual(scan("secret.yaml", manifest(standIns)), []);
    const pem = `-----BEGIN EC PRIVATE ${""}KEY-----\n${random.chars("b64", 64)}\n-----END EC PRIVATE ${""}KEY-----\n`;
    const found = scan("secret.yaml", manifest({ "tls.key": pem, "db-pass": random.chars("alnum", 14) }));
    assert.deepEqual(
      found.map((f) => `${f.rule} ${f.line}`),
      ["private-key 8", "generic-secret-assignment 9"],
    );
  });

  it("names of things about a secret are not findings, whatever the value", () => {
    for (const line of [
      `LLM_SECRET_NAME = "NEXUS-GPT4-API-KEY"`,
      `SECRET_KEY_FILE = "${value()}"`,
      `tokenPath: "${value()}"`,
      `API_KEY_URL = "${value()}"`,
      `csrf_token = "${random.chars("hex", 32)}"`,
      `csrfToken: "${value()}"`,
      `secret_name: ${value()}`,
      `apiKeyHeader = "${value()}"`,
      `TOKEN_ENV = "${value()}"`,
    ]) {
      assert.deepEqual(scan("config.py", line), [], line);
    }
  });
});

describe("stand-ins every rule drops", () => {
  const fillers = ["x", "X", "0", "*"];

  it("a provider key whose random parts are one repeated character is no finding of any rule", () => {
    let matchedByPattern = 0;
    for (const [id, template] of Object.entries(KEY_TEMPLATES)) {
      const rule = PATTERN_RULES.find((r) => r.id === id);
      for (const ch of fillers) {
        const text = template.replace(/\{\{([A-Za-z0-9]+):(\d+)\}\}/g, (_m, _k, n: string) =>
          ch.repeat(Number(n)),
        );
        const key = expandTemplate(text, random);
        if (rule && new RegExp(rule.pattern.source, rule.pattern.flags).test(key)) matchedByPattern++;
        for (const line of [key, `api_key = "${key}"`, `export SERVICE_TOKEN=${key}`]) {
          assert.deepEqual(
            scan("config.txt", line).map((f) => f.rule),
            [],
            line,
          );
        }
      }
    }
    // The rules' own patterns take most of these: the shared check is what drops them.
    assert.ok(
      matchedByPattern > Object.keys(KEY_TEMPLATES).length,
      `only ${matchedByPattern} matched a pattern`,
    );
  });

  it("the filler check never takes a random key: 20,000 keys of 40 characters per alphabet, and 500 of each provider template", () => {
    for (const kind of [
      "alnum",
      "alpha",
      "upper",
      "lower",
      "UA",
      "digit",
      "hex",
      "HEX",
      "b64",
      "b64u",
      "b32",
      "bech",
    ]) {
      for (let i = 0; i < 20_000; i++) {
        const key = random.chars(kind, 40);
        assert.ok(!isFiller(key), `${kind}: ${key.slice(0, 4)}… taken for a filler`);
      }
    }
    for (const template of Object.values(KEY_TEMPLATES)) {
      for (let i = 0; i < 500; i++) assert.ok(!isFiller(expandTemplate(template, random)), template);
    }
  });

  it("fillers of every shape are caught", () => {
    for (const v of [
      "aaaa",
      "0000",
      "****",
      `gh${""}p_${"x".repeat(36)}`,
      `glpat-${"X".repeat(20)}`,
      `AK${""}IA${"X".repeat(16)}`,
      `hv${""}s.${"x".repeat(90)}`,
      `sk-${"*".repeat(28)}abcd`,
      `xoxb-123456789012-1234567890123-${"x".repeat(24)}`,
    ]) {
      assert.ok(isFiller(v), v);
    }
  });

  it("providers' documented example keys are no finding, alone or assigned; a key one character off is", () => {
    for (const example of DOCUMENTED_EXAMPLES) {
      for (const line of [example, `apiKey: "${example}"`, `GITHUB_TOKEN=${example}`]) {
        assert.deepEqual(scan("README.md", line), [], line);
      }
    }
    // The GitHub example with its last character changed is a key like any other.
    const github = DOCUMENTED_EXAMPLES[2]!;
    const changed = `${github.slice(0, -1)}${github.endsWith("a") ? "b" : "a"}`;
    assert.deepEqual(
      scan("app.js", `token: "${changed}"`).map((f) => f.rule),
      ["github-token"],
    );
  });
});

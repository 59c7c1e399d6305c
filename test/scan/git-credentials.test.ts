import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Scanner } from "../../src/scan/index.js";
import { CONTEXT_TEMPLATES, expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/*
 * git's credential store holds one `scheme://user:password@host` a line, the password
 * percent-encoded: each password is read whatever its shape. Keys are generated here.
 */

const random = new SeededRandom("keyhold-git-credentials");

function scan(path: string, text: string) {
  const scanner = new Scanner();
  scanner.scan(path, Buffer.from(text, "utf8"));
  return scanner.findings;
}

describe(".git-credentials: every password, whatever its shape", () => {
  it("each provider key, a NAME=value, a connection string and a 600-character token, percent-encoded", () => {
    const values = [
      ...Object.values(KEY_TEMPLATES).map((t) => expandTemplate(t, random)),
      ...Object.values(CONTEXT_TEMPLATES)
        .map((t) => expandTemplate(t, random))
        .filter((v) => !v.includes("\n")),
      `ALIBABA_CLOUD_ACCESS_KEY_SECRET=${random.chars("alnum", 30)}`,
      `ops_eyJ${random.chars("b64", 600)}==`,
      `${random.chars("b64", 40)}+/${random.chars("b64", 40)}=`,
    ];
    for (const path of [".git-credentials", "home/dev/.git-credentials", ".config/git/credentials"]) {
      for (const value of values) {
        const line = `https://deploy:${encodeURIComponent(value)}@git.example.com`;
        const found = scan(path, `${line}\n`);
        assert.equal(found.length, 1, `${path}: ${JSON.stringify(line.slice(0, 60))}`);
        assert.equal(found[0]!.line, 1);
        // Placed on the password (a provider rule may name a part of it).
        assert.ok(found[0]!.column >= "https://deploy:".length + 1, JSON.stringify(line.slice(0, 60)));
      }
    }
  });

  it("a token in the user with GitHub's x-oauth-basic password", () => {
    const token = `${random.chars("alnum", 12)}${random.chars("digit", 4)}${random.chars("alnum", 24)}`;
    const found = scan(".git-credentials", `https://${token}:x-oauth-basic@github.com\n`);
    assert.deepEqual(
      found.map((f) => `${f.rule} ${f.column} ${f.length}`),
      [`url-credentials 9 ${token.length}`],
    );
  });

  it("lines without a password, references and fillers are not findings", () => {
    const text = [
      "https://git.example.com",
      "https://deploy@git.example.com",
      "https://deploy:@git.example.com",
      "https://deploy:x-oauth-basic@github.com",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell reference, not a template
      "https://deploy:${GIT_TOKEN}@git.example.com",
      `https://deploy:${"x".repeat(40)}@git.example.com`,
    ].join("\n");
    assert.deepEqual(scan(".git-credentials", text), []);
  });
});

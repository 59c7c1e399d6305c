import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Scanner } from "../../src/scan/index.js";
import { secretDataValues } from "../../src/scan/kubernetes-secret.js";
import { CONTEXT_TEMPLATES, expandTemplate, KEY_TEMPLATES, SeededRandom } from "./support/synthetic.js";

/*
 * A Kubernetes Secret's `data:` values are base64: each is decoded and scanned with every rule,
 * and a match is reported at the base64 value on the manifest's line. Keys are generated here.
 */

const random = new SeededRandom("keyhold-kubernetes-secret");
const b64 = (v: string) => Buffer.from(v).toString("base64");

function manifest(entries: Record<string, string>, kind = "Secret"): string {
  const data = Object.entries(entries)
    .map(([k, v]) => `  ${k}: ${b64(v)}`)
    .join("\n");
  return `apiVersion: v1\nkind: ${kind}\nmetadata:\n  name: app\ntype: Opaque\ndata:\n${data}\n`;
}

function scan(path: string, text: string) {
  const scanner = new Scanner();
  scanner.scan(path, Buffer.from(text, "utf8"));
  return scanner.findings;
}

/** The text a finding points at, on its line. */
function at(text: string, f: { line: number; column: number; length: number }): string {
  return text.split("\n")[f.line - 1]!.slice(f.column - 1, f.column - 1 + f.length);
}

describe("Kubernetes Secret data: decoded and scanned with every rule", () => {
  it("each provider's key, alone or as NAME=value, is found by its own rule at the base64 value", () => {
    for (const [rule, template] of Object.entries(KEY_TEMPLATES)) {
      const key = expandTemplate(template, random);
      const name = `${rule.toUpperCase().replace(/-/g, "_")}=`;
      for (const value of [key, `${name}${key}`, `# deploy\n${name}${key}\n`]) {
        const text = manifest({ "api-token": value });
        const found = scan("secret.yaml", text);
        assert.deepEqual(
          found.map((f) => `${f.rule} ${f.line}`),
          [`${rule} 7`],
          `${rule}: ${JSON.stringify(value.slice(0, 40))}`,
        );
        assert.equal(at(text, found[0]!), b64(value), `${rule}: placed on the base64 value`);
      }
    }
  });

  it("keys that need their context are found in decoded files (.env, config lines, PEM)", () => {
    for (const [rule, template] of Object.entries(CONTEXT_TEMPLATES)) {
      const value = `${expandTemplate(template, random)}\n`;
      const found = scan("secret.yaml", manifest({ "app.conf": value }));
      assert.deepEqual(
        found.map((f) => f.rule),
        [rule],
        `${rule}: ${JSON.stringify(value.slice(0, 40))}`,
      );
    }
    // A whole .env under the key it is mounted as: the .env rule reads it.
    const env = `# generated\nDB_PASSWORD=${random.chars("alnum", 20)}\nLOG_LEVEL=debug\n`;
    assert.deepEqual(
      scan("secret.yaml", manifest({ ".env": env })).map((f) => `${f.rule} ${f.line}`),
      ["dotenv-tracked 7"],
    );
  });

  it("stand-ins, values of other kinds and stringData are not decoded into findings", () => {
    const key = expandTemplate(KEY_TEMPLATES["github-token"]!, random);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell reference, not a template
    const standIns = { password: "changeme", token: "${GITHUB_TOKEN}", filler: `ghp_${"x".repeat(36)}` };
    assert.deepEqual(scan("secret.yaml", manifest(standIns)), []);
    // A ConfigMap's data is not base64: nothing is decoded from it.
    assert.deepEqual(scan("cm.yaml", manifest({ blob: `GITHUB=${key}` }, "ConfigMap")), []);
    // Another document of the same file is a Secret: only its own data is decoded (the generic
    // rule's reading of every value of such a file may still judge the ConfigMap's value).
    const two = `${manifest({ blob: `GITHUB=${key}` }, "ConfigMap")}---\n${manifest({ db: "changeme" })}`;
    assert.deepEqual(
      scan("all.yaml", two).filter((f) => f.rule === "github-token"),
      [],
    );
  });
});

describe("secretDataValues: the data: block of each Secret document", () => {
  it("reads quoted keys and values, CRLF lines, comments, list items; stops at the block's end", () => {
    const text = [
      "apiVersion: v1",
      "kind: List",
      "items:",
      "- apiVersion: v1",
      "  kind: Secret",
      "  data:",
      `    "a.key": "${b64("first value")}"   # a comment`,
      "    # a comment line",
      "",
      `    b: ${b64("second value")}`,
      `  stringData:`,
      `    c: ${b64("not data")}`,
      "- kind: ConfigMap",
      "  data:",
      `    d: ${b64("also a Secret's document, so read")}`,
    ].join("\r\n");
    const values = secretDataValues(Buffer.from(text).toString("latin1"));
    assert.deepEqual(
      values.map((v) => [v.name, v.decoded.toString(), text.slice(v.start, v.end)]),
      [
        ["a.key", "first value", b64("first value")],
        ["b", "second value", b64("second value")],
        ["d", "also a Secret's document, so read", b64("also a Secret's document, so read")],
      ],
    );
  });

  it("skips what is not base64 or decodes to binary, and documents that are not Secrets", () => {
    const binary = Buffer.from([1, 0, 2, 0, 3, 0, 4, 0, 5]).toString("base64");
    // `f`: 8 characters with their padding (5 bytes) is long enough (a fuzzing finding).
    const text = `kind: Secret\ndata:\n  a: not-base64!\n  b: ${binary}\n  c: QUJD\n  d: ${b64("abcdefgh")}\n  f: ${b64("abcde")}\n---\nkind: ConfigMap\ndata:\n  e: ${b64("abcdefgh")}\n`;
    assert.deepEqual(
      secretDataValues(text).map((v) => v.name),
      ["d", "f"],
    );
    assert.deepEqual(secretDataValues(`kind: Secretive\ndata:\n  a: ${b64("abcdefgh")}\n`), []);
  });
});

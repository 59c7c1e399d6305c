import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { type FingerprintEntry, knownValueSet } from "../../src/scan/fingerprint-index.js";
import { findKnownValues, scanTree, terminalProgress } from "../../src/scan/index.js";
import { SecretKey } from "../../src/secret/index.js";
import { makeScratch } from "../support/scratch.js";

const key = SecretKey.random();
const value = "Qm9vdHN0cmFw/k3y+Va1ue=="; // contains / + = like a base64 key
const other = "s3cr3t-T0ken.with.dots_and-dashes";

function entry(name: string, v: string): FingerprintEntry {
  const bytes = Buffer.from(v);
  return {
    name,
    source: "credstore",
    length: bytes.length,
    mac: key.hmac(bytes).toString("hex"),
    recorded: "",
  };
}

const known = knownValueSet(key, [entry("deploy_key", value), entry("dotted", other)]);

function found(text: string): string[] {
  return findKnownValues(Buffer.from(text), known).map(
    (h) => `${h.owners.map((o) => o.name).join(",")} ${h.form} ${text.slice(h.start, h.end)}`,
  );
}

describe("stored-value search", () => {
  const cases: [string, string, string][] = [
    ["alone", value, "raw"],
    ["KEY=value", `DEPLOY_KEY=${value}`, "raw"],
    ["JSON string", `{"key":"${value}","n":1}`, "raw"],
    ["YAML", `  key: ${value}`, "raw"],
    ["URL query", `https://api.example.invalid/x?key=${value}&page=2`, "raw"],
    ["URL-encoded query", `https://api.example.invalid/x?key=${encodeURIComponent(value)}&page=2`, "url"],
    ["base64", Buffer.from(value).toString("base64"), "base64"],
    ["base64url", Buffer.from(value).toString("base64url"), "base64"],
    ["basic auth", `Authorization: Basic ${Buffer.from(`ci:${value}`).toString("base64")}`, "base64"],
    ["hex", Buffer.from(value).toString("hex"), "hex"],
    ["upper-case hex", Buffer.from(value).toString("hex").toUpperCase(), "hex"],
    ["base64 of JSON", Buffer.from(JSON.stringify({ token: value })).toString("base64"), "base64"],
  ];
  for (const [what, text, form] of cases) {
    it(`finds it: ${what}`, () => {
      const hits = findKnownValues(Buffer.from(text), known);
      assert.equal(hits.length, 1, found(text).join(" | "));
      assert.equal(hits[0]?.form, form);
      assert.deepEqual(hits[0]?.owners, [{ name: "deploy_key", source: "credstore" }]);
    });
  }

  it("finds a value with dots at the end of a sentence and in userinfo", () => {
    assert.deepEqual(found(`the token is ${other}.`), [`dotted raw ${other}`]);
    assert.deepEqual(found(`https://ci:${other}@git.example.invalid/r.git`), [`dotted raw ${other}`]);
  });

  it("does not find a prefix, a longer value, or the value glued inside a word", () => {
    assert.deepEqual(found(value.slice(0, -1)), []);
    assert.deepEqual(found(`${value}x`), []);
    assert.deepEqual(found(`abc${value}`), []);
  });

  it("finds nothing with an empty set, and nothing of another key's fingerprints", () => {
    assert.deepEqual(findKnownValues(Buffer.from(value), knownValueSet(key, [])), []);
    const otherKey = knownValueSet(SecretKey.random(), [entry("deploy_key", value)]);
    assert.deepEqual(findKnownValues(Buffer.from(value), otherKey), []);
  });
});

describe("tree scan outside git and progress display", () => {
  const scratch = makeScratch("keyhold-scan-plain-");
  after(() => scratch.cleanup());

  it("walks a plain directory (no .gitignore without git), skipping .git, lock and binary files", async () => {
    const dir = join(scratch.root, "plain");
    mkdirSync(join(dir, ".git"), { recursive: true });
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "a.conf"), `KEY=${value}\n`);
    writeFileSync(join(dir, ".git", "config"), `KEY=${value}\n`);
    writeFileSync(join(dir, "package-lock.json"), `{"k":"${value}"}\n`);
    writeFileSync(join(dir, "blob.bin"), Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from(value)]));
    const result = await scanTree(dir, {}, { known });
    assert.deepEqual(
      result.findings.map((f) => `${f.path}:${f.line}:${f.column}`),
      ["sub/a.conf:1:5"],
    );
    assert.deepEqual(result.stats.skipped, { lockfile: 1, binary: 1 });
  });

  it("scans a single file on its own", async () => {
    const file = join(scratch.root, "plain", "sub", "a.conf");
    const result = await scanTree(file, {}, { known });
    assert.deepEqual(
      result.findings.map((f) => `${f.path}:${f.line}`),
      ["a.conf:1"],
    );
    assert.equal(result.stats.scanned, 1);
  });

  it("draws progress only on a terminal outside CI, and clears it at the end", () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    let now = 0;
    const shown = terminalProgress(tty, {}, "blobs", () => now);
    now = 1000;
    shown.update(10, 2 * 1048576);
    shown.done();
    const text = tty.read()?.toString() ?? "";
    assert.match(text, /keyhold scan: 10 blobs, 2\.0 MiB, 2\.0 MiB\/s/);
    assert.ok(text.endsWith("\r\x1b[K"));
    for (const [stream, env] of [
      [Object.assign(new PassThrough(), { isTTY: false }), {}],
      [Object.assign(new PassThrough(), { isTTY: true }), { CI: "true" }],
    ] as const) {
      const p = terminalProgress(stream, env, "files", () => (now += 1000));
      p.update(1, 1);
      p.done();
      assert.equal(stream.read(), null);
    }
  });
});

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { patternsFor, patternsForSecrets, scrubBuffer, StreamScrubber } from "../../src/jobs/index.js";
import { Secret } from "../../src/secret/index.js";
import { makeCanary } from "../support/scratch.js";

function encodings(value: string): Record<string, string> {
  const b = Buffer.from(value, "utf8");
  return {
    raw: value,
    base64: b.toString("base64"),
    base64NoPad: b.toString("base64").replace(/=+$/, ""),
    base64url: b.toString("base64url"),
    hex: b.toString("hex"),
    HEX: b.toString("hex").toUpperCase(),
    uri: encodeURIComponent(value),
    percentAll: [...b].map((x) => `%${x.toString(16).padStart(2, "0").toUpperCase()}`).join(""),
    json: JSON.stringify(value).slice(1, -1),
    jsonAscii: JSON.stringify(value)
      .slice(1, -1)
      .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
  };
}

function scrubInPieces(input: Buffer, patterns: ReturnType<typeof patternsFor>, cuts: number[]): string {
  const s = new StreamScrubber(patterns);
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    out.push(s.push(input.subarray(at, cut)));
    at = cut;
  }
  out.push(s.end());
  return Buffer.concat(out).toString("utf8");
}

test("every encoded form of a value is replaced by [REDACTED:name]", () => {
  const canary = `${makeCanary("scrub")}/+?= &é"\\😀`;
  const patterns = patternsFor("api_key", Buffer.from(canary, "utf8"));
  for (const [form, text] of Object.entries(encodings(canary))) {
    const out = scrubBuffer(Buffer.from(`before ${text} after\n`), patterns).toString("utf8");
    assert.equal(out, "before [REDACTED:api_key] after\n", `form ${form}`);
  }
});

test("a value inside a larger base64 blob is removed at every offset (HTTP Basic auth)", () => {
  const canary = makeCanary("basic");
  const patterns = patternsFor("api_key", Buffer.from(canary));
  for (const prefix of ["", "u", "us", "user:", "ab:", "abcd:"]) {
    for (const suffix of ["", "x", "xy", "@host"]) {
      const blob = Buffer.from(`${prefix}${canary}${suffix}`).toString("base64");
      const out = scrubBuffer(Buffer.from(`Authorization: Basic ${blob}`), patterns).toString("utf8");
      assert.match(
        out,
        /\[REDACTED:api_key\]/,
        `prefix ${JSON.stringify(prefix)} suffix ${JSON.stringify(suffix)}`,
      );
      // What is left around the marker is at most the characters mixing prefix/suffix bits.
      const leftover = out.replace("Authorization: Basic ", "").replace("[REDACTED:api_key]", "");
      assert.ok(
        leftover.length <= Math.ceil(((prefix.length + suffix.length) * 4) / 3) + 4,
        `leftover ${leftover}`,
      );
    }
  }
});

test("a value split across writes at every possible point is still removed, in every form", () => {
  const canary = makeCanary("split");
  const patterns = patternsFor("api_key", Buffer.from(canary));
  for (const [form, text] of Object.entries(encodings(canary))) {
    const input = Buffer.from(`line one\n${text}\nline three ${text}`);
    for (let cut = 0; cut <= input.length; cut++) {
      const out = scrubInPieces(input, patterns, [cut]);
      assert.equal(
        out,
        "line one\n[REDACTED:api_key]\nline three [REDACTED:api_key]",
        `form ${form} cut ${cut}`,
      );
    }
  }
});

test("one byte at a time", () => {
  const canary = makeCanary("bytes");
  const patterns = patternsFor("k", Buffer.from(canary));
  const input = Buffer.from(`a${canary}b${Buffer.from(canary).toString("hex")}c`);
  const cuts = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
  assert.equal(scrubInPieces(input, patterns, cuts), "a[REDACTED:k]b[REDACTED:k]c");
});

test("overlapping values are removed together, no fragment of either survives", () => {
  const a = "abcdefgh-SECRET-ONE";
  const b = "SECRET-ONE-tail-TWO";
  const secrets = new Map([
    ["one", Secret.fromString(a)],
    ["two", Secret.fromString(b)],
  ]);
  const patterns = patternsForSecrets(secrets);
  const text = "x abcdefgh-SECRET-ONE-tail-TWO y";
  for (let cut = 0; cut <= text.length; cut++) {
    const out = scrubInPieces(Buffer.from(text), patterns, [cut]);
    assert.equal(out, "x [REDACTED:one,two] y", `cut ${cut}`);
  }
  // One value contained in the other.
  const inner = patternsForSecrets(
    new Map([
      ["outer", Secret.fromString("xxSECRETINNERxx")],
      ["inner", Secret.fromString("SECRETINNER")],
    ]),
  );
  assert.equal(
    scrubBuffer(Buffer.from("[xxSECRETINNERxx] [SECRETINNER]"), inner).toString(),
    "[[REDACTED:inner,outer]] [[REDACTED:inner]]",
  );
});

test("text without values passes unchanged, in any chunking", () => {
  const patterns = patternsFor("k", Buffer.from(makeCanary("none")));
  const input = randomBytes(5000);
  const cuts = [1, 7, 100, 101, 2048, 4999];
  const s = new StreamScrubber(patterns);
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    out.push(s.push(input.subarray(at, cut)));
    at = cut;
  }
  out.push(s.end());
  assert.deepEqual(Buffer.concat(out), input);
});

test("the scrubber holds back at most the longest pattern minus one byte", () => {
  const canary = makeCanary("hold");
  const patterns = patternsFor("k", Buffer.from(canary));
  const longest = Math.max(...patterns.map((p) => p.bytes.length));
  const s = new StreamScrubber(patterns);
  const emitted = s.push(Buffer.alloc(10_000, "z"));
  assert.equal(emitted.length, 10_000 - (longest - 1));
  assert.equal(s.end().length, longest - 1);
});

test("short encoded fragments are not used as patterns (they would redact ordinary text)", () => {
  const patterns = patternsFor("pin", Buffer.from("1234"));
  for (const p of patterns) assert.ok(p.bytes.length >= 4, p.bytes.toString());
  assert.equal(
    scrubBuffer(Buffer.from("pin 1234 and MTIzNA== and 31323334"), patterns).toString(),
    "pin [REDACTED:pin] and [REDACTED:pin] and [REDACTED:pin]",
  );
});

test("a value printed by Python's json.dumps (ASCII escapes) is removed", async () => {
  const { execFileSync } = await import("node:child_process");
  const canary = `${makeCanary("py")}"é\\😀`;
  const printed = execFileSync(
    "python3",
    ["-c", "import json,sys; print(json.dumps({'key': sys.stdin.read()}))"],
    {
      input: canary,
    },
  );
  const out = scrubBuffer(printed, patternsFor("api_key", Buffer.from(canary))).toString();
  assert.equal(out, '{"key": "[REDACTED:api_key]"}\n');
});

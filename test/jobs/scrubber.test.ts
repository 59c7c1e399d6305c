import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
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

/** What a scrubber emits for `input` written in pieces cut at `cuts`. */
function scrubPieces(input: Buffer, patterns: ReturnType<typeof patternsFor>, cuts: number[]): Buffer {
  const s = new StreamScrubber(patterns);
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    out.push(s.push(input.subarray(at, cut)));
    at = cut;
  }
  out.push(s.end());
  return Buffer.concat(out);
}

function scrubInPieces(input: Buffer, patterns: ReturnType<typeof patternsFor>, cuts: number[]): string {
  return scrubPieces(input, patterns, cuts).toString("utf8");
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

test("the scrubber holds back only what could still start a match", () => {
  const canary = makeCanary("hold");
  const patterns = patternsFor("k", Buffer.from(canary));
  const s = new StreamScrubber(patterns);
  // BEL is in no pattern, is not white space and starts no dump line: nothing is held.
  assert.equal(s.push(Buffer.alloc(10_000, 7)).length, 10_000);
  // The value but its last byte could still become a match: held from its first byte.
  const partial = Buffer.from(`x ${canary.slice(0, -1)}`);
  assert.equal(s.push(partial).toString(), "x ");
  assert.equal(s.end().toString(), canary.slice(0, -1));
  // A line that may be a hex dump is held until its newline, and at most 4096 bytes of it.
  const dumpish = new StreamScrubber(patterns);
  assert.equal(dumpish.push(Buffer.from("0123 4567")).length, 0);
  assert.equal(dumpish.push(Buffer.from(" 89ab\n")).toString(), "0123 4567 89ab\n");
  assert.ok(dumpish.push(Buffer.from("0123 ".repeat(1000))).length >= 5000 - 4096);
});

test("white space inside an encoded form is passed over up to 64 bytes in a row", () => {
  const value = makeCanary("gap");
  const patterns = patternsFor("k", Buffer.from(value));
  const spread = (n: number) => Buffer.from([...value].join(" ".repeat(n)));
  assert.equal(scrubBuffer(spread(64), patterns).toString(), "[REDACTED:k]");
  assert.ok(scrubBuffer(spread(65), patterns).equals(spread(65)));
});

test("a span of overlapping matches is held at most 1 MiB, then emitted redacted", () => {
  const patterns = patternsFor("k", Buffer.from("aaaaaaaaaaaa"));
  const s = new StreamScrubber(patterns);
  const parts: Buffer[] = [];
  for (let i = 0; i < 48; i++) parts.push(s.push(Buffer.alloc(64 * 1024, "a")));
  assert.ok(
    parts.some((p) => p.length > 0),
    "something was emitted before the end",
  );
  parts.push(s.end());
  assert.match(Buffer.concat(parts).toString(), /^(\[REDACTED:k\])+$/);
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

// ---------------------------------------------------------------------------------------------
// Forms a job prints by accident, produced by the real tools.

const PYTHON = "/usr/bin/python3";

function run(command: string, args: string[], input: Buffer): Buffer {
  return execFileSync(command, args, { input, maxBuffer: 64 * 1024 * 1024 });
}

const python = (code: string) => (input: Buffer) => run(PYTHON, ["-c", code], input);

/** Each tool's rendering of the bytes it is given. `dump` marks hex dumps (offset, data, text). */
const TOOL_FORMS: Record<string, { make: (input: Buffer) => Buffer; dump?: true }> = {
  "base64 (76 columns)": { make: (v) => run("base64", [], v) },
  "openssl-style base64 (64 columns)": { make: (v) => run("base64", ["-w", "64"], v) },
  "python base64.encodebytes": {
    make: python("import base64,sys; sys.stdout.buffer.write(base64.encodebytes(sys.stdin.buffer.read()))"),
  },
  "MIME base64 (CRLF)": {
    make: python(
      "import email.base64mime,sys; sys.stdout.write(email.base64mime.body_encode(sys.stdin.buffer.read(), eol='\\r\\n'))",
    ),
  },
  "indented base64": {
    make: python(
      "import base64,sys,textwrap; sys.stdout.write(textwrap.indent(base64.encodebytes(sys.stdin.buffer.read()).decode(), '    '))",
    ),
  },
  "basenc --base32": { make: (v) => run("basenc", ["--base32"], v) },
  base32: { make: (v) => run("base32", [], v) },
  "python base64.b32encode": {
    make: python("import base64,sys; sys.stdout.buffer.write(base64.b32encode(sys.stdin.buffer.read()))"),
  },
  "xxd -p": { make: (v) => run("xxd", ["-p"], v) },
  "od -An -tx1": { make: (v) => run("od", ["-An", "-tx1"], v) },
  "python bytes.hex(' ')": { make: python("import sys; print(sys.stdin.buffer.read().hex(' '))") },
  xxd: { make: (v) => run("xxd", [], v), dump: true },
  "xxd -g1": { make: (v) => run("xxd", ["-g1"], v), dump: true },
  "xxd -g4 -u": { make: (v) => run("xxd", ["-g4", "-u"], v), dump: true },
  "hexdump -C": { make: (v) => run("hexdump", ["-C"], v), dump: true },
  hexdump: { make: (v) => run("hexdump", [], v), dump: true },
  od: { make: (v) => run("od", [], v), dump: true },
  "od -x": { make: (v) => run("od", ["-x"], v), dump: true },
  "od -t x1": { make: (v) => run("od", ["-t", "x1"], v), dump: true },
  "od -A x -t x1z": { make: (v) => run("od", ["-A", "x", "-t", "x1z"], v), dump: true },
  "python utf-16 (BOM, LE)": {
    make: python("import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().decode().encode('utf-16'))"),
  },
  "python utf-16-le": {
    make: python("import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().decode().encode('utf-16-le'))"),
  },
  "python utf-16-be": {
    make: python("import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().decode().encode('utf-16-be'))"),
  },
  "python json.dumps (ensure_ascii)": {
    make: python("import json,sys; print(json.dumps(sys.stdin.buffer.read().decode()))"),
  },
  "JSON with every character \\u-escaped": {
    make: python(
      "import sys; u=sys.stdin.buffer.read().decode().encode('utf-16-be'); print(''.join('\\\\u%02x%02x' % (u[i], u[i+1]) for i in range(0, len(u), 2)))",
    ),
  },
  "JSON with every character \\u-escaped, upper case": {
    make: python(
      "import sys; u=sys.stdin.buffer.read().decode().encode('utf-16-be'); print(''.join('\\\\u%02X%02X' % (u[i], u[i+1]) for i in range(0, len(u), 2)))",
    ),
  },
  "JSON with escaped slashes (PHP's json_encode)": {
    make: python(
      "import json,sys; print(json.dumps(sys.stdin.buffer.read().decode()).replace('/', '\\\\/'))",
    ),
  },
  "python json.dumps of base64.encodebytes": {
    make: python(
      "import base64,json,sys; print(json.dumps({'b': base64.encodebytes(sys.stdin.buffer.read()).decode()}))",
    ),
  },
};

/** A value long enough that base64 and base32 wrap it over two lines and a dump over several. */
function longValue(label: string): string {
  return `${makeCanary(label)}${randomBytes(45).toString("base64url")}é😀/"`;
}

/** No 8 bytes of any form of the value (white space left out) survive in the output. */
function assertNoFragment(out: Buffer, value: Buffer, label: string): void {
  const squeezed = Buffer.from(out.filter((b) => ![0x20, 0x09, 0x0a, 0x0d].includes(b))).toString("latin1");
  for (const p of patternsFor("x", value)) {
    const form = Buffer.from(p.bytes.filter((b) => ![0x20, 0x09, 0x0a, 0x0d].includes(b))).toString("latin1");
    for (let i = 0; i + 8 <= form.length; i++) {
      assert.ok(
        !squeezed.includes(form.slice(i, i + 8)),
        `${label}: ${JSON.stringify(form.slice(i, i + 8))} survived`,
      );
    }
  }
}

/** A dump keeps its offsets and at most the prefix's own groups; no data after the value starts. */
function assertDumpRedacted(out: string, label: string): void {
  const lines = out.split("\n");
  assert.equal(lines[0], "before", label);
  assert.deepEqual(lines.slice(-2), ["after", ""], label);
  const body = lines.slice(1, -2);
  const at = body.findIndex((l) => l.includes("[REDACTED:api_key]"));
  assert.equal(at, 0, `${label}: the value starts on the first dump line\n${out}`);
  const [head, tail] = body[0]!.split("[REDACTED:api_key]");
  assert.equal(tail, "", `${label}: the line is redacted to its end`);
  const data = head!.replace(/^ *[0-9a-fA-F]+:? /, "").replace(/\s/g, "");
  assert.ok(data.length <= 12, `${label}: only the prefix's groups are left: ${head}`);
  for (const l of body.slice(1))
    assert.match(l, /^[0-9a-fA-F]*$/, `${label}: only an offset after the match`);
}

test("each form the real tools print is removed, the value alone or after a prefix", () => {
  const value = Buffer.from(longValue("tools"), "utf8");
  const patterns = patternsFor("api_key", value);
  for (const [form, { make, dump }] of Object.entries(TOOL_FORMS)) {
    for (const prefix of ["", "xyz"]) {
      const label = `${form}${prefix ? ` after ${prefix}` : ""}`;
      const printed = make(Buffer.concat([Buffer.from(prefix), value]));
      const input = Buffer.concat([
        Buffer.from("before\n"),
        printed,
        Buffer.from(printed.at(-1) === 0x0a ? "" : "\n"),
        Buffer.from("after\n"),
      ]);
      const out = scrubBuffer(input, patterns);
      assert.ok(out.includes("[REDACTED:api_key]"), `${label}:\n${out}`);
      assertNoFragment(out, value, label);
      if (dump) assertDumpRedacted(out.toString("latin1"), label);
    }
  }
});

test("a tool's form split across writes at every offset is removed the same as whole", () => {
  const value = Buffer.from(longValue("split-tools"), "utf8");
  const patterns = patternsFor("api_key", value);
  const forms = [
    "xxd",
    "od",
    "base64 (76 columns)",
    "JSON with every character \\u-escaped",
    "python utf-16-le",
  ];
  for (const form of forms) {
    const printed = TOOL_FORMS[form]!.make(Buffer.concat([Buffer.from("xyz"), value]));
    const input = Buffer.concat([Buffer.from("line one\n"), printed, Buffer.from("\nline three\n")]);
    const whole = scrubBuffer(input, patterns);
    assert.ok(whole.includes("[REDACTED:api_key]"), form);
    for (let cut = 0; cut <= input.length; cut++) {
      assert.deepEqual(scrubPieces(input, patterns, [cut]), whole, `${form} cut ${cut}`);
    }
  }
  const dump = TOOL_FORMS["hexdump -C"]!.make(value);
  const everyByte = Array.from({ length: dump.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(
    scrubPieces(dump, patterns, everyByte),
    scrubBuffer(dump, patterns),
    "hexdump -C, one byte a write",
  );
});

/** Writes `input` in 4 KiB pieces; returns the output and how much came out before end(). */
function stream(scrubber: StreamScrubber, input: Buffer): { out: Buffer; beforeEnd: number } {
  const parts: Buffer[] = [];
  for (let at = 0; at < input.length; at += 4096) parts.push(scrubber.push(input.subarray(at, at + 4096)));
  const beforeEnd = parts.reduce((n, p) => n + p.length, 0);
  parts.push(scrubber.end());
  return { out: Buffer.concat(parts), beforeEnd };
}

function repeatTo(unit: Buffer, bytes: number): Buffer {
  return Buffer.concat(Array.from({ length: Math.ceil(bytes / unit.length) }, () => unit));
}

test("about 1 MiB of near misses passes unchanged, with linear work and little held back", () => {
  const value = Buffer.from(longValue("near"), "utf8");
  const short = value.subarray(0, -1); // every form of the value but its last byte
  const escaped = python(
    "import sys; u=sys.stdin.buffer.read().decode().encode('utf-16-be'); print(''.join('\\\\u%02x%02x' % (u[i], u[i+1]) for i in range(0, len(u), 2)))",
  );
  const text = short.toString("utf8").replace(/\uFFFD$/, "");
  const spaced = [...value.toString("latin1")].join(" ".repeat(65)); // gaps longer than a match spans
  const units: Record<string, Buffer> = {
    raw: Buffer.from(`${text}\n`),
    "wrapped base64": run("base64", [], short),
    base32: run("basenc", ["--base32"], short),
    xxd: run("xxd", [], short),
    "hexdump -C": run("hexdump", ["-C"], short),
    od: run("od", [], short),
    "\\u-escaped": escaped(Buffer.from(text)),
    "UTF-16": Buffer.from(text, "utf16le"),
    "lone surrogates and broken escapes": Buffer.from("\\ud83d\\u00\\x\\ude00\\".repeat(8)),
    "white space wider than a gap": Buffer.from(spaced, "latin1"),
    "dump-like lines without a newline": Buffer.from("0123 4567 89ab cdef ".repeat(300)),
  };
  for (const [label, unit] of Object.entries(units)) {
    const input = repeatTo(unit, 1 << 20);
    const patterns = patternsFor("api_key", value); // a new array: automata of their own, work from 0
    const scrubber = new StreamScrubber(patterns);
    const { out, beforeEnd } = stream(scrubber, input);
    assert.ok(out.equals(input), `${label}: near misses pass unchanged`);
    // The bound, by algorithm: at most 2 transitions per byte a view reads, 3 views.
    assert.ok(
      scrubber.work <= 6 * input.length,
      `${label}: ${scrubber.work} transitions for ${input.length} bytes`,
    );
    assert.ok(
      input.length - beforeEnd <= 64 * 1024,
      `${label}: ${input.length - beforeEnd} bytes held to the end`,
    );
  }
  // A periodic value in periodic output: every position is a partial match.
  const periodic = Buffer.from(`${"ab".repeat(40)}Z`);
  const scrubber = new StreamScrubber(patternsFor("k", periodic));
  const input = Buffer.alloc(1 << 20, "ab");
  assert.ok(stream(scrubber, input).out.equals(input));
  assert.ok(scrubber.work <= 6 * input.length, `periodic: ${scrubber.work}`);
});

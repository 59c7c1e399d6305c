/**
 * Makes the audit log vectors of docs/audit-format.md in test/vectors/audit/, one failure each.
 *
 *   node dist/test/vectors/gen-audit-vectors.js --write   writes them
 *   node dist/test/vectors/gen-audit-vectors.js           (as the test runner does) checks that
 *                                                          the committed files match
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { type AuditRecord, GENESIS, sealHead, sealRecord, sha256Hex } from "../../src/audit/format.js";
import { SecretKey } from "../../src/secret/index.js";

const OUT = fileURLToPath(new URL("../../../test/vectors/audit/", import.meta.url));
const KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY_HEX = "f0e0d0c0b0a090807060504030201000f1e1d1c1b1a191817161514131211101";

type Fields = Omit<AuditRecord, "v" | "seq" | "prev" | "mac">;
const EVENTS: Fields[] = [
  {
    time: "2025-01-02T03:04:05.000Z",
    uid: 0,
    sudoUser: "alice",
    pid: 4242,
    op: "set",
    name: "my_api_key",
    result: "ok",
    detail: { version: 1 },
  },
  {
    time: "2025-01-02T03:05:00.000Z",
    uid: 0,
    sudoUser: "alice",
    pid: 4243,
    op: "rotate",
    name: "my_api_key",
    result: "ok",
    detail: { version: 2 },
  },
  {
    time: "2025-01-02T03:06:00.000Z",
    uid: 1000,
    pid: 4300,
    op: "get",
    name: "my_api_key",
    result: "denied",
    code: "NOT_ROOT",
  },
  {
    time: "2025-01-02T03:07:00.000Z",
    uid: 0,
    sudoUser: "bob",
    pid: 4301,
    op: "run",
    name: "my_api_key",
    result: "ok",
    detail: { exitCode: 0, argv0: "python3" },
  },
];

/**
 * A log made with `keyHex`: its lines (without "\n"), and heads[i] and anchors[i], the head and
 * anchor file lines sealing the first i records (heads[0] is the head a new log is created with).
 */
function makeLog(keyHex: string): { lines: string[]; heads: string[]; anchors: string[] } {
  const key = SecretKey.fromHex(keyHex);
  const lines: string[] = [];
  const zero = { seq: 0, size: 0, hash: GENESIS };
  const heads: string[] = [sealHead(zero, key).trimEnd()];
  const anchors: string[] = [sealHead(zero, key, "anchor").trimEnd()];
  let prev = GENESIS;
  let size = 0;
  for (const [i, fields] of EVENTS.entries()) {
    const { line } = sealRecord({ v: 1, seq: i + 1, ...fields, prev }, key);
    lines.push(line);
    prev = sha256Hex(line);
    size += Buffer.byteLength(line) + 1;
    heads.push(sealHead({ seq: i + 1, size, hash: prev }, key).trimEnd());
    anchors.push(sealHead({ seq: i + 1, size, hash: prev }, key, "anchor").trimEnd());
  }
  return { lines, heads, anchors };
}

interface Vector {
  file: string;
  description: string;
  key: string;
  expect: "ok" | "edited" | "deleted" | "reordered" | "truncated" | "malformed" | "bad-head" | "bad-anchor";
  head: string | null;
  /** The anchor file's line, for a log that has one (docs/audit-format.md, "The anchor"); "none" for one that lost it. */
  anchor?: string;
  log: string;
}

export function makeVectors(): Vector[] {
  const { lines: l, heads: h, anchors: a } = makeLog(KEY_HEX);
  const wrong = makeLog(OTHER_KEY_HEX);
  const join = (lines: string[]) => lines.map((x) => `${x}\n`).join("");
  const v = (
    file: string,
    expect: Vector["expect"],
    description: string,
    head: string | null,
    log: string,
  ): Vector => ({
    file,
    description,
    key: KEY_HEX,
    expect,
    head,
    log,
  });
  const [r1, r2, r3, r4] = l as [string, string, string, string];
  const [h0, , h2, h3, h4] = h as [string, string, string, string, string];
  const [, , , a3, a4] = a as [string, string, string, string, string];
  const anchored = (vector: Vector, anchor: string): Vector => ({ ...vector, anchor });
  const flipLastHex = (s: string, at: number) =>
    s.slice(0, at) + (s[at] === "0" ? "1" : "0") + s.slice(at + 1);
  return [
    v("ok.vector", "ok", "four records and the head sealing the last", h4, join(l)),
    v("ok-empty.vector", "ok", "a new log: no records, the head sealing seq 0", h0, ""),
    v("ok-nothing.vector", "ok", "no log and no head at all (nothing to verify)", null, ""),
    v(
      "ok-unsealed-last.vector",
      "ok",
      "the last append died before sealing the head: the head seals the record before the last",
      h3,
      join(l),
    ),
    v(
      "ok-first-unsealed.vector",
      "ok",
      "the first append died before sealing it: the head still seals seq 0",
      h0,
      join([r1]),
    ),
    v(
      "edited-field.vector",
      "edited",
      "record 2's name changed from my_api_key to my_app_key",
      h4,
      join([r1, r2.replace('"name":"my_api_key"', '"name":"my_app_key"'), r3, r4]),
    ),
    v(
      "edited-mac.vector",
      "edited",
      "one hex digit of record 3's mac changed",
      h4,
      join([r1, r2, flipLastHex(r3, r3.length - 3), r4]),
    ),
    v(
      "edited-result.vector",
      "edited",
      "record 3's result changed from denied to ok and its code removed",
      h4,
      join([r1, r2, r3.replace('"result":"denied","code":"NOT_ROOT"', '"result":"ok"'), r4]),
    ),
    v("deleted-middle.vector", "deleted", "record 2 removed", h4, join([r1, r3, r4])),
    v("deleted-first.vector", "deleted", "record 1 removed", h4, join([r2, r3, r4])),
    v("reordered-pair.vector", "reordered", "records 2 and 3 swapped", h4, join([r1, r3, r2, r4])),
    v(
      "truncated-tail.vector",
      "truncated",
      "record 4 cut off the end; the head still seals it",
      h4,
      join([r1, r2, r3]),
    ),
    v("truncated-all.vector", "truncated", "every record cut off; the head still seals record 4", h4, ""),
    v(
      "malformed-torn-tail.vector",
      "malformed",
      "an append killed while writing its line: half a line without a newline after the sealed head",
      h4,
      join(l) + r1.slice(0, 40),
    ),
    v(
      "malformed-json.vector",
      "malformed",
      "record 2 replaced by text that is not JSON",
      h4,
      join([r1, r2.slice(0, 60), r3, r4]),
    ),
    v(
      "malformed-extra-field.vector",
      "malformed",
      'record 2 with an extra "value" field: records have no field for a value',
      h4,
      join([r1, r2.replace('"result":"ok"', '"result":"ok","value":"hunter2"'), r3, r4]),
    ),
    v(
      "wrong-key.vector",
      "edited",
      "a valid log and head made with another key than the one given",
      wrong.heads[4]!,
      join(wrong.lines),
    ),
    v(
      "bad-head-mac.vector",
      "bad-head",
      "one hex digit of the head's mac changed",
      flipLastHex(h4, h4.length - 3),
      join(l),
    ),
    v("bad-head-missing.vector", "bad-head", "four records and no head file", null, join(l)),
    v(
      "bad-head-missing-one.vector",
      "bad-head",
      "the head deleted and the log cut back to its first record",
      null,
      join([r1]),
    ),
    v("bad-head-stale.vector", "bad-head", "the head seals record 2 of 4: an old head put back", h2, join(l)),
    anchored(
      v("ok-anchored.vector", "ok", "four records, the head and the anchor sealing the last", h4, join(l)),
      a4,
    ),
    anchored(
      v(
        "ok-anchor-behind.vector",
        "ok",
        "an append died between sealing the head and the anchor: the anchor seals the record before the last",
        h4,
        join(l),
      ),
      a3,
    ),
    anchored(
      v(
        "deleted-log.vector",
        "deleted",
        "the log and its head removed; the anchor still seals record 4",
        null,
        "",
      ),
      a4,
    ),
    anchored(
      v(
        "deleted-log-and-anchor.vector",
        "deleted",
        "the log, its head and its anchor removed while the key file is there (the anchor is expected)",
        null,
        "",
      ),
      "none",
    ),
    anchored(
      v(
        "truncated-anchor.vector",
        "truncated",
        "records 3 and 4 cut off and the head of record 2 put back; the anchor still seals record 4",
        h2,
        join([r1, r2]),
      ),
      a4,
    ),
    anchored(
      v("bad-anchor-mac.vector", "bad-anchor", "one hex digit of the anchor's mac changed", h4, join(l)),
      flipLastHex(a4, a4.length - 3),
    ),
    anchored(
      v(
        "bad-anchor-head-copied.vector",
        "bad-anchor",
        "the head copied over the anchor: its MAC is under the head's label",
        h4,
        join(l),
      ),
      h4,
    ),
    anchored(
      v(
        "bad-anchor-replaced.vector",
        "bad-anchor",
        "another chain in place of the log: the anchor's record 4 is not the log's record 4",
        h4,
        join(l),
      ),
      sealHead(
        { seq: 4, size: Buffer.byteLength(join(l)), hash: sha256Hex("a line of another chain") },
        SecretKey.fromHex(KEY_HEX),
        "anchor",
      ).trimEnd(),
    ),
  ];
}

export function renderVector(vector: Vector): string {
  return [
    "# keyhold audit log test vector: docs/audit-format.md; made by test/vectors/gen-audit-vectors.ts",
    `description: ${vector.description}`,
    `key: ${vector.key}`,
    `expect: ${vector.expect}`,
    `head: ${vector.head ?? "none"}`,
    ...(vector.anchor === undefined ? [] : [`anchor: ${vector.anchor}`]),
    "",
    vector.log,
  ].join("\n");
}

if (process.argv.includes("--write")) {
  for (const old of readdirSync(OUT)) if (old.endsWith(".vector")) rmSync(OUT + old);
  for (const vector of makeVectors()) writeFileSync(OUT + vector.file, renderVector(vector));
  console.log(`wrote ${makeVectors().length} vectors to ${OUT}`);
} else {
  test("the committed audit vectors are what the generator makes", () => {
    const made = makeVectors();
    assert.deepEqual(
      readdirSync(OUT)
        .filter((f) => f.endsWith(".vector"))
        .sort(),
      made.map((v) => v.file).sort(),
    );
    for (const vector of made)
      assert.equal(readFileSync(OUT + vector.file, "utf8"), renderVector(vector), vector.file);
  });
}

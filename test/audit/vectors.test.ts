import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { AuditLog } from "../../src/audit/index.js";
import { SecretKey } from "../../src/secret/index.js";

const DIR = fileURLToPath(new URL("../../../test/vectors/audit/", import.meta.url));

interface Vector {
  header: Record<string, string>;
  log: Buffer;
}

/** A vector file: `key: value` header lines, an empty line, then the log's bytes exactly. */
function readVector(file: string): Vector {
  const bytes = readFileSync(join(DIR, file));
  const split = bytes.indexOf("\n\n");
  assert.ok(split > 0, `${file}: no empty line after the header`);
  const header: Record<string, string> = {};
  for (const line of bytes.subarray(0, split).toString("utf8").split("\n")) {
    if (line.startsWith("#")) continue;
    const colon = line.indexOf(": ");
    header[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return { header, log: bytes.subarray(split + 2) };
}

/**
 * Lays a vector out as a real log, head and (for a vector with an `anchor:` line) anchor in a
 * scratch directory; such a log's anchor is expected, as beside a key made by keyhold init.
 */
async function openVector(vector: Vector, dir: string): Promise<AuditLog> {
  const path = join(dir, "audit.log");
  writeFileSync(path, vector.log, { mode: 0o600 });
  if (vector.header.head !== "none")
    writeFileSync(`${path}.head`, `${vector.header.head}\n`, { mode: 0o600 });
  const anchor = vector.header.anchor;
  if (anchor === undefined) return AuditLog.open({ path, key: SecretKey.fromHex(vector.header.key!) });
  const anchorPath = join(dir, "keyhold.audit-anchor");
  if (anchor !== "none") writeFileSync(anchorPath, `${anchor}\n`, { mode: 0o600 });
  return AuditLog.open({
    path,
    key: SecretKey.fromHex(vector.header.key!),
    anchor: { path: anchorPath, expected: true },
  });
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith(".vector"))
  .sort();

describe("audit vectors (test/vectors/audit)", () => {
  it("covers every problem kind and the clean cases", () => {
    const expects = new Set(files.map((f) => readVector(f).header.expect));
    const kinds = [
      "ok",
      "edited",
      "deleted",
      "reordered",
      "truncated",
      "malformed",
      "bad-head",
      "bad-anchor",
    ];
    for (const kind of kinds) {
      assert.ok(expects.has(kind), `no vector expects ${kind}`);
    }
  });

  for (const file of files) {
    it(file, async () => {
      const vector = readVector(file);
      const dir = mkdtempSync(join(tmpdir(), "keyhold-audit-vector-"));
      try {
        const report = await (await openVector(vector, dir)).verify();
        const kinds = [...new Set(report.problems.map((p) => p.kind))];
        if (vector.header.expect === "ok") {
          assert.deepEqual(report.problems, [], file);
          assert.equal(report.ok, true);
        } else {
          assert.deepEqual(kinds, [vector.header.expect], `${file}: ${JSON.stringify(report.problems)}`);
          assert.equal(report.ok, false);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("appending to a vector's log", () => {
  // Append checks the head and what follows it (O(1)); verify checks everything.
  const appendable = [
    "ok.vector",
    "ok-empty.vector",
    "ok-nothing.vector",
    "ok-unsealed-last.vector",
    "ok-first-unsealed.vector",
    "malformed-torn-tail.vector",
    "ok-anchored.vector",
    "ok-anchor-behind.vector",
  ];
  const refused = [
    "truncated-tail.vector",
    "truncated-all.vector",
    "bad-head-mac.vector",
    "bad-head-missing.vector",
    "bad-head-missing-one.vector",
    "bad-head-stale.vector",
    "wrong-key.vector",
    "deleted-log.vector",
    "deleted-log-and-anchor.vector",
    "truncated-anchor.vector",
    "bad-anchor-mac.vector",
    "bad-anchor-head-copied.vector",
    "bad-anchor-replaced.vector",
  ];

  for (const file of appendable) {
    it(`${file}: append succeeds and the log then verifies`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "keyhold-audit-vector-"));
      try {
        const log = await openVector(readVector(file), dir);
        const record = await log.append({ op: "set", name: "next", result: "ok" });
        const report = await log.verify();
        assert.deepEqual(report.problems, []);
        assert.equal(report.head?.seq, record.seq);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const file of refused) {
    it(`${file}: append refuses with AUDIT_TAMPERED and changes nothing`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "keyhold-audit-vector-"));
      try {
        const vector = readVector(file);
        const log = await openVector(vector, dir);
        await assert.rejects(log.append({ op: "set", name: "next", result: "ok" }), {
          code: "AUDIT_TAMPERED",
        });
        assert.deepEqual(existsSync(log.path) ? readFileSync(log.path) : Buffer.alloc(0), vector.log);
        assert.equal(existsSync(log.headPath), vector.header.head !== "none", "no head is created");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createAuditKey, openStateAuditLog } from "../../src/audit/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";

const BIN = fileURLToPath(new URL("../../../bin/keyhold.js", import.meta.url));

function keyhold(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("keyhold audit (transcripts)", () => {
  let scratch: Scratch;
  let logPath: string;
  before(async () => {
    scratch = makeScratch("keyhold-audit-cli-");
    mkdirSync(scratch.state, { mode: 0o700 });
    await createAuditKey(scratch.state, { env: scratch.env });
    const log = await openStateAuditLog(scratch.state, { env: { ...scratch.env, SUDO_USER: "alice" } });
    await log.append({ op: "set", name: "my_api_key", result: "ok", detail: { version: 1 } });
    await log.append({ op: "get", name: "my_api_key", result: "denied", code: "NOT_ROOT" });
    await log.append({ op: "doctor.fix", result: "ok" });
    logPath = log.path;
  });
  after(() => scratch.cleanup());

  it("$ keyhold audit  → the records as a table, exit 0", () => {
    const r = keyhold(["audit"], scratch.env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^SEQ +TIME +OP +NAME +RESULT +UID +SUDO_USER$/);
    assert.match(lines[1]!, /^1 +\d{4}-\d\d-\d\dT[\d:.]+Z +set +my_api_key +ok +0 +alice$/);
    assert.match(lines[2]!, /^2 .* get +my_api_key +denied:NOT_ROOT +0 +alice$/);
    assert.match(lines[3]!, /^3 .* doctor\.fix +- +ok /);
    assert.equal(r.stderr, "");
  });

  it("$ keyhold audit --json  → the records as JSON", () => {
    const r = keyhold(["audit", "--json"], scratch.env);
    assert.equal(r.code, 0);
    const records = JSON.parse(r.stdout);
    assert.deepEqual(
      records.map((x: { seq: number; op: string }) => [x.seq, x.op]),
      [
        [1, "set"],
        [2, "get"],
        [3, "doctor.fix"],
      ],
    );
  });

  it("$ keyhold audit --verify  → a one-line summary with the head to anchor, exit 0", () => {
    const r = keyhold(["audit", "--verify"], scratch.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^\S+\/audit\.log: 3 records, chain and head verify; head seq 3 sha256 [0-9a-f]{64}\n$/,
    );
    assert.equal(r.stderr, "");
  });

  it("$ keyhold audit --verify --json --state DIR  → the report, exit 0", () => {
    const r = keyhold(["audit", "--verify", "--json", "--state", scratch.state], {
      ...scratch.env,
      KEYHOLD_STATE: "/nowhere",
    });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.records, 3);
    assert.equal(report.head.seq, 3);
    assert.match(report.head.hash, /^[0-9a-f]{64}$/);
  });

  it("$ keyhold audit --verify  on an edited log → one line per problem on stderr, exit 3", () => {
    const original = readFileSync(logPath, "utf8");
    try {
      writeFileSync(
        logPath,
        original.replace('"name":"my_api_key","result":"denied"', '"name":"other_key","result":"denied"'),
      );
      const r = keyhold(["audit", "--verify"], scratch.env);
      assert.equal(r.code, 3);
      assert.equal(r.stdout, "");
      assert.deepEqual(r.stderr.split("\n"), [
        "keyhold: audit: edited (seq 2): line 2 (seq 2) fails its MAC: it was changed after it was written",
        `keyhold: ${logPath} failed verification: 1 problem in 3 records [AUDIT_TAMPERED]`,
        "",
      ]);
      const json = keyhold(["audit", "--verify", "--json"], scratch.env);
      assert.equal(json.code, 3);
      assert.deepEqual(
        JSON.parse(json.stdout).problems.map((p: { kind: string }) => p.kind),
        ["edited"],
      );
    } finally {
      writeFileSync(logPath, original);
    }
  });

  it("$ keyhold audit --verify  on a truncated log → exit 3", () => {
    const original = readFileSync(logPath, "utf8");
    try {
      writeFileSync(logPath, `${original.split("\n").slice(0, 2).join("\n")}\n`);
      const r = keyhold(["audit", "--verify"], scratch.env);
      assert.equal(r.code, 3);
      assert.match(
        r.stderr,
        /^keyhold: audit: truncated \(seq 3\): the head seals seq 3 but the log ends at seq 2/,
      );
    } finally {
      writeFileSync(logPath, original);
    }
  });

  it("$ keyhold audit --verify  without a key → AUDIT_KEY_MISSING, exit 1", () => {
    const empty = join(scratch.root, "empty-state");
    mkdirSync(empty);
    const r = keyhold(["audit", "--verify", "--state", empty], scratch.env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.deepEqual(r.stderr.split("\n"), [
      `keyhold: audit key not found: ${empty}/keyhold.audit-key [AUDIT_KEY_MISSING]`,
      "keyhold: hint: create it with: keyhold init",
      "",
    ]);
  });

  it("$ keyhold audit --bogus  → USAGE, exit 2", () => {
    const r = keyhold(["audit", "--bogus"], scratch.env);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^keyhold: unknown option --bogus \[USAGE\]\nkeyhold: hint: usage: keyhold audit \[--verify\] \[--json\] \[--state DIR\] \[--key FILE\] \| audit --restart \[--state DIR\]\n$/,
    );
  });
});

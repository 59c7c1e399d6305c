/**
 * Deleting the audit log: what an attacker who can remove files in the state directory (but
 * cannot read the audit key) achieves, run through the real CLI on a scratch state directory.
 * docs/audit-format.md, "The anchor" and "What this does not catch", states the same cases.
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  AUDIT_ANCHOR_FILE,
  AUDIT_KEY_NAME,
  AUDIT_LOG_FILE,
  createAuditKey,
  loadAuditKey,
  openStateAuditLog,
} from "../../src/audit/index.js";
import { firstErrorLine, initWorld, runCli, runCliOk } from "../support/cli.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

const files = (s: Scratch) => ({
  log: join(s.state, AUDIT_LOG_FILE),
  head: join(s.state, `${AUDIT_LOG_FILE}.head`),
  anchor: join(s.state, AUDIT_ANCHOR_FILE),
  key: join(s.state, AUDIT_KEY_NAME),
});

/** A world after `keyhold init` and two `keyhold set`: a log of three records. */
async function worldWithHistory(): Promise<Scratch> {
  const s = await initWorld("keyhold-audit-del-");
  await runCliOk(["set", "first_key"], { env: s.env, input: makeCanary() });
  await runCliOk(["set", "second_key"], { env: s.env, input: makeCanary() });
  return s;
}

async function verifyJson(s: Scratch) {
  const r = await runCli(["audit", "--verify", "--json"], { env: s.env });
  return {
    code: r.code,
    report: JSON.parse(r.stdout) as {
      ok: boolean;
      records: number;
      problems: { kind: string; seq: number | null; message: string }[];
    },
  };
}

describe("deleting the audit log (keyhold init, set, then rm)", () => {
  const worlds: Scratch[] = [];
  after(() => {
    for (const w of worlds) w.cleanup();
  });
  const world = async () => {
    const s = await worldWithHistory();
    worlds.push(s);
    return s;
  };

  it("rm audit.log audit.log.head: verify reports the deleted log (exit 3), set refuses and changes nothing", async () => {
    const s = await world();
    const f = files(s);
    rmSync(f.log);
    rmSync(f.head);

    const verify = await runCli(["audit", "--verify"], { env: s.env });
    assert.equal(verify.code, 3, verify.stderr);
    assert.equal(verify.stdout, "");
    assert.match(
      verify.stderr,
      /^keyhold: audit: deleted \(seq 3\): the log and its head are gone, but the anchor seals seq 3: the log was deleted\n/,
    );
    assert.match(verify.stderr, /failed verification: 1 problem in 0 records \[AUDIT_TAMPERED\]\n$/);
    const json = await verifyJson(s);
    assert.equal(json.code, 3);
    assert.deepEqual(
      json.report.problems.map((p) => [p.kind, p.seq]),
      [["deleted", 3]],
    );

    const set = await runCli(["set", "third_key"], { env: s.env, input: makeCanary() });
    assert.equal(set.code, 1, set.stderr);
    const err = firstErrorLine(set.stderr);
    assert.equal(err.code, "AUDIT_TAMPERED");
    assert.match(
      err.message,
      /refusing to start a new audit log .*: the log and its head are gone, but its anchor seals seq 3: the log was deleted$/,
    );
    assert.match(set.stderr, /keyhold audit --restart/, "the hint names the deliberate way to start over");
    assert.equal(existsSync(f.log), false, "a refused operation creates no new log");
    assert.equal(existsSync(f.head), false);
    assert.equal(existsSync(join(s.store, "third_key")), false, "the unrecordable operation did not happen");
    assert.equal((await verifyJson(s)).code, 3, "still reported after the refused set");
  });

  it("rm audit.log audit.log.head and the anchor too: the remaining key gives it away", async () => {
    const s = await world();
    const f = files(s);
    for (const p of [f.log, f.head, f.anchor]) rmSync(p);

    const json = await verifyJson(s);
    assert.equal(json.code, 3);
    assert.deepEqual(
      json.report.problems.map((p) => p.kind),
      ["deleted"],
    );
    assert.match(
      json.report.problems[0]!.message,
      /log, its head and its anchor are gone while the audit key is there/,
    );
    const set = await runCli(["set", "third_key"], { env: s.env, input: makeCanary() });
    assert.equal(set.code, 1);
    assert.equal(firstErrorLine(set.stderr).code, "AUDIT_TAMPERED");
    assert.equal(existsSync(f.log), false);
  });

  it("keyhold audit --restart starts a new log deliberately, keeps what was there, and records it", async () => {
    const s = await world();
    const f = files(s);
    // The last record cut off: a finding, and appends refuse.
    const oldLog = `${readFileSync(f.log, "utf8").split("\n").slice(0, 2).join("\n")}\n`;
    writeFileSync(f.log, oldLog);
    const oldHead = readFileSync(f.head, "utf8");
    assert.equal((await runCli(["set", "third_key"], { env: s.env, input: makeCanary() })).code, 1);

    const restart = await runCli(["audit", "--restart"], { env: s.env });
    assert.equal(restart.code, 0, restart.stderr);
    const moved = /^kept \S+\/audit\.log as (\S+)$/m.exec(restart.stdout)?.[1];
    assert.ok(moved, restart.stdout);
    assert.equal(readFileSync(moved, "utf8"), oldLog, "the old log is kept, byte for byte");
    assert.match(
      restart.stdout,
      /^started a new audit log at \S+\/audit\.log \(the old one was sealed at seq 3\); its first record is audit\.restart\n/,
    );
    const movedHead = /^kept \S+\/audit\.log\.head as (\S+\/audit\.log\.head\.restarted-\d{8}T\d{9}Z)$/m.exec(
      restart.stdout,
    )?.[1];
    assert.ok(movedHead, restart.stdout);
    assert.equal(readFileSync(movedHead, "utf8"), oldHead);

    const records = JSON.parse((await runCliOk(["audit", "--json"], { env: s.env })).stdout);
    assert.deepEqual(
      records.map((r: { seq: number; op: string }) => [r.seq, r.op]),
      [[1, "audit.restart"]],
    );
    assert.equal(records[0].detail.previousSeq, 3);
    assert.match(records[0].detail.previousHash, /^[0-9a-f]{64}$/);
    await runCliOk(["set", "third_key"], { env: s.env, input: makeCanary() });
    const after = await verifyJson(s);
    assert.equal(after.code, 0, JSON.stringify(after.report.problems));
    assert.equal(after.report.records, 2);
  });

  it("after a restart, deleting the new log is caught again", async () => {
    const s = await world();
    const f = files(s);
    rmSync(f.log);
    rmSync(f.head);
    await runCliOk(["audit", "--restart"], { env: s.env });
    await runCliOk(["set", "third_key"], { env: s.env, input: makeCanary() });
    rmSync(f.log);
    rmSync(f.head);
    const json = await verifyJson(s);
    assert.deepEqual(
      json.report.problems.map((p) => [p.kind, p.seq]),
      [["deleted", 2]],
    );
  });

  it("a log cut back and an older head put back is caught by the anchor", async () => {
    const s = await world();
    const f = files(s);
    const log1 = readFileSync(f.log);
    const head1 = readFileSync(f.head);
    await runCliOk(["set", "third_key"], { env: s.env, input: makeCanary() });
    writeFileSync(f.log, log1);
    writeFileSync(f.head, head1);
    const json = await verifyJson(s);
    assert.equal(json.code, 3);
    assert.deepEqual(
      json.report.problems.map((p) => [p.kind, p.seq]),
      [["truncated", 4]],
    );
    assert.equal((await runCli(["set", "fourth_key"], { env: s.env, input: makeCanary() })).code, 1);
  });

  it("what it does not catch: all three files put back from an earlier copy", async () => {
    const s = await world();
    const f = files(s);
    const saved = join(s.root, "saved");
    mkdirSync(saved);
    for (const p of [f.log, f.head, f.anchor]) cpSync(p, join(saved, p.split("/").at(-1)!));
    await runCliOk(["set", "third_key"], { env: s.env, input: makeCanary() });
    for (const p of [f.log, f.head, f.anchor]) cpSync(join(saved, p.split("/").at(-1)!), p);
    const json = await verifyJson(s);
    assert.equal(json.code, 0, "a consistent older copy of all three verifies: anchor the head off the host");
    assert.equal(json.report.records, 3);
  });

  it("what it does not catch: the key deleted with the log, head and anchor (keyhold init starts over)", async () => {
    const s = await world();
    const f = files(s);
    for (const p of [f.log, f.head, f.anchor, f.key]) rmSync(p);
    const verify = await runCli(["audit", "--verify"], { env: s.env });
    assert.equal(verify.code, 1);
    assert.equal(firstErrorLine(verify.stderr).code, "AUDIT_KEY_MISSING");
    await runCliOk(["init"], { env: s.env });
    const json = await verifyJson(s);
    assert.equal(json.code, 0);
    assert.equal(json.report.records, 1, "indistinguishable from a new installation");
  });
});

describe("the anchor in any state directory", () => {
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-audit-anchor-");
  });
  after(() => scratch.cleanup());

  it("each state directory has its own anchor under its own key (a job server's state directory, say)", async () => {
    const a = join(scratch.root, "a");
    const b = join(scratch.root, "jobs");
    for (const dir of [a, b]) {
      mkdirSync(dir, { mode: 0o700 });
      assert.equal(await createAuditKey(dir, { env: scratch.env }), true);
      assert.ok(existsSync(join(dir, AUDIT_ANCHOR_FILE)), "the key is made together with its anchor");
    }
    const logA = await openStateAuditLog(a, { env: scratch.env });
    const logB = await openStateAuditLog(b, { env: scratch.env });
    await logA.append({ op: "set", name: "x", result: "ok" });
    for (let i = 0; i < 3; i++) await logB.append({ op: "job.run", name: "j", result: "ok" });
    rmSync(join(b, AUDIT_LOG_FILE));
    rmSync(join(b, `${AUDIT_LOG_FILE}.head`));
    const reportB = await (await openStateAuditLog(b, { env: scratch.env })).verify();
    assert.deepEqual(
      reportB.problems.map((p) => [p.kind, p.seq]),
      [["deleted", 3]],
    );
    assert.deepEqual((await logA.verify()).problems, [], "the other directory is not affected");
    // B's anchor is sealed with B's key: copied into A it does not verify.
    cpSync(join(b, AUDIT_ANCHOR_FILE), join(a, AUDIT_ANCHOR_FILE));
    assert.deepEqual(
      (await logA.verify()).problems.map((p) => p.kind),
      ["bad-anchor"],
    );
    await assert.rejects(logA.append({ op: "set", name: "y", result: "ok" }), { code: "AUDIT_TAMPERED" });
  });

  it("a key given through $CREDENTIALS_DIRECTORY: the state directory's log starts only with a restart, anchored", async () => {
    const made = join(scratch.root, "made");
    mkdirSync(made, { mode: 0o700 });
    await createAuditKey(made, { env: scratch.env });
    const key = await loadAuditKey(made, { env: scratch.env });
    const creds = join(scratch.root, "creds");
    mkdirSync(creds, { mode: 0o700 });
    writeFileSync(join(creds, AUDIT_KEY_NAME), key.exposeBytes().toString("hex"), { mode: 0o400 });
    const state = join(scratch.root, "service-state");
    mkdirSync(state, { mode: 0o700 });
    const env = { ...scratch.env, CREDENTIALS_DIRECTORY: creds };
    const log = await openStateAuditLog(state, { env });
    // The key says a log may have been here: an empty directory is not taken for a new one.
    await assert.rejects(log.append({ op: "job.run", name: "j", result: "ok" }), { code: "AUDIT_TAMPERED" });
    assert.deepEqual(readdirSync(state), [], "the refused append created nothing");
    await log.restart();
    await log.append({ op: "job.run", name: "j", result: "ok" });
    rmSync(join(state, AUDIT_LOG_FILE));
    rmSync(join(state, `${AUDIT_LOG_FILE}.head`));
    const report = await (await openStateAuditLog(state, { env })).verify();
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.seq]),
      [["deleted", 2]],
    );
  });

  it("a state directory from before anchors: clean as it is, anchored by its next append", async () => {
    const state = join(scratch.root, "old");
    mkdirSync(state, { mode: 0o700 });
    await createAuditKey(state, { env: scratch.env });
    const log = await openStateAuditLog(state, { env: scratch.env });
    await log.append({ op: "set", name: "x", result: "ok" });
    await log.append({ op: "set", name: "y", result: "ok" });
    rmSync(join(state, AUDIT_ANCHOR_FILE)); // as keyhold before anchors left it
    const reopened = await openStateAuditLog(state, { env: scratch.env });
    assert.deepEqual((await reopened.verify()).problems, []);
    assert.equal(existsSync(join(state, AUDIT_ANCHOR_FILE)), false, "opening and verifying write nothing");
    await reopened.append({ op: "set", name: "z", result: "ok" });
    assert.ok(existsSync(join(state, AUDIT_ANCHOR_FILE)));
    rmSync(join(state, AUDIT_LOG_FILE));
    rmSync(join(state, `${AUDIT_LOG_FILE}.head`));
    const report = await (await openStateAuditLog(state, { env: scratch.env })).verify();
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.seq]),
      [["deleted", 3]],
    );
  });

  it("a state directory from before anchors whose log and head are deleted: the key gives it away", async () => {
    const state = join(scratch.root, "old2");
    mkdirSync(state, { mode: 0o700 });
    await createAuditKey(state, { env: scratch.env });
    const log = await openStateAuditLog(state, { env: scratch.env });
    await log.append({ op: "set", name: "x", result: "ok" });
    for (const f of [AUDIT_ANCHOR_FILE, AUDIT_LOG_FILE, `${AUDIT_LOG_FILE}.head`]) rmSync(join(state, f));
    const reopened = await openStateAuditLog(state, { env: scratch.env });
    assert.deepEqual(
      (await reopened.verify()).problems.map((p) => p.kind),
      ["deleted"],
    );
    await assert.rejects(reopened.append({ op: "set", name: "y", result: "ok" }), { code: "AUDIT_TAMPERED" });
    assert.equal(existsSync(join(state, AUDIT_LOG_FILE)), false);
  });
});

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import {
  AUDIT_KEY_NAME,
  AuditLog,
  type AuditReport,
  createAuditKey,
  loadAuditKey,
  openStateAuditLog,
} from "../../src/audit/index.js";
import { Secret, SecretKey } from "../../src/secret/index.js";
import { encryptCredential } from "../../src/systemd/index.js";
import { makeCanary, makeScratch, type Scratch } from "../support/scratch.js";

const APPENDER = fileURLToPath(new URL("./appender.js", import.meta.url));

function kinds(report: AuditReport): string[] {
  return [...new Set(report.problems.map((p) => p.kind))];
}

/** A scratch state directory with a real audit key made by systemd-creds. */
async function scratchWithKey(): Promise<Scratch> {
  const scratch = makeScratch("keyhold-audit-");
  mkdirSync(scratch.state, { mode: 0o700 });
  assert.equal(await createAuditKey(scratch.state, { env: scratch.env }), true);
  return scratch;
}

function runAppender(scratch: Scratch, count: number, label: string): ChildProcess {
  return spawn(process.execPath, [APPENDER, scratch.state, String(count), label], {
    env: scratch.env,
    stdio: ["ignore", "pipe", "inherit"],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

describe("audit key", () => {
  let scratch: Scratch;
  before(async () => {
    scratch = await scratchWithKey();
  });
  after(() => scratch.cleanup());

  it("is a systemd credential, 0600, created once and never replaced", async () => {
    const path = join(scratch.state, AUDIT_KEY_NAME);
    const sealed = readFileSync(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.doesNotMatch(
      sealed.toString(),
      /^[0-9a-f]{64}\s*$/,
      "the key file must not hold the key in plain text",
    );
    assert.equal(await createAuditKey(scratch.state, { env: scratch.env }), false);
    assert.deepEqual(readFileSync(path), sealed);
  });

  it("loads the same key every time", async () => {
    const a = await loadAuditKey(scratch.state, { env: scratch.env });
    const b = await loadAuditKey(scratch.state, { env: scratch.env });
    assert.ok(a.equals(b));
    assert.equal(String(a), "[REDACTED]");
  });

  it("prefers $CREDENTIALS_DIRECTORY/keyhold.audit-key (a service's LoadCredentialEncrypted=)", async () => {
    const fromState = await loadAuditKey(scratch.state, { env: scratch.env });
    const credentials = join(scratch.root, "credentials");
    mkdirSync(credentials, { mode: 0o700 });
    writeFileSync(join(credentials, AUDIT_KEY_NAME), fromState.exposeBytes().toString("hex"), {
      mode: 0o400,
    });
    const env = { ...scratch.env, CREDENTIALS_DIRECTORY: credentials };
    // No state directory at all: the key must come from the credentials directory alone.
    const fromService = await loadAuditKey(join(scratch.root, "nowhere"), { env });
    assert.ok(fromService.equals(fromState));
  });

  it("is AUDIT_KEY_MISSING when absent", async () => {
    await assert.rejects(loadAuditKey(join(scratch.root, "empty"), { env: scratch.env }), {
      code: "AUDIT_KEY_MISSING",
    });
    await assert.rejects(openStateAuditLog(join(scratch.root, "empty"), { env: scratch.env }), {
      code: "AUDIT_KEY_MISSING",
    });
  });

  it("two concurrent creators agree on one key", async () => {
    const state = join(scratch.root, "race");
    mkdirSync(state, { mode: 0o700 });
    const created = await Promise.all([1, 2, 3].map(() => createAuditKey(state, { env: scratch.env })));
    assert.deepEqual(created.sort(), [false, false, true]);
  });
});

describe("AuditLog", () => {
  let scratch: Scratch;
  before(async () => {
    scratch = await scratchWithKey();
  });
  after(() => scratch.cleanup());

  it("round-trips records through the state directory's log, filling in who, when and the chain", async () => {
    const env = { ...scratch.env, SUDO_USER: "alice" };
    const log = await openStateAuditLog(scratch.state, { env });
    assert.equal(statSync(log.path).mode & 0o777, 0o600);
    const first = await log.append({ op: "set", name: "my_api_key", result: "ok", detail: { version: 1 } });
    const second = await log.append({ op: "get", name: "my_api_key", result: "denied", code: "NOT_ROOT" });
    assert.equal(first.seq, 1);
    assert.equal(first.prev, "0".repeat(64));
    assert.equal(first.uid, process.getuid?.());
    assert.equal(first.pid, process.pid);
    assert.equal(first.sudoUser, "alice");
    assert.ok(Date.now() - Date.parse(first.time) < 60_000);
    assert.equal(second.seq, 2);
    assert.notEqual(second.prev, first.prev);
    assert.deepEqual(await log.read(), [first, second]);
    const report = await log.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(report.records, 2);
    assert.equal(report.head?.seq, 2);
    assert.equal(statSync(`${log.path}.head`).mode & 0o777, 0o600);
    const reopened = await openStateAuditLog(scratch.state, { env: scratch.env });
    assert.equal((await reopened.append({ op: "rm", name: "my_api_key", result: "ok" })).seq, 3);
    assert.equal((await reopened.append({ op: "rm", name: "x", result: "ok" })).sudoUser, undefined);
  });

  it("refuses to append to a log it cannot trust, and starts afresh once both files are moved aside", async () => {
    const log = await AuditLog.open({ path: join(scratch.root, "recover.log"), key: SecretKey.random() });
    assert.ok(statSync(`${log.path}.head`).isFile(), "a new log is created with its head (seq 0)");
    await log.append({ op: "set", name: "a", result: "ok" });
    await log.append({ op: "set", name: "b", result: "ok" });
    const cut = readFileSync(log.path, "utf8").split("\n")[0];
    writeFileSync(log.path, `${cut}\n`);
    await assert.rejects(log.append({ op: "set", name: "c", result: "ok" }), { code: "AUDIT_TAMPERED" });
    rmSync(`${log.path}.head`);
    await assert.rejects(log.append({ op: "set", name: "c", result: "ok" }), { code: "AUDIT_TAMPERED" });
    assert.equal(readFileSync(log.path, "utf8"), `${cut}\n`, "a refused append changes nothing");
    // docs/audit-format.md, "Recovering": keep the evidence, move both files aside.
    renameSync(log.path, `${log.path}.broken`);
    const restarted = await log.append({ op: "set", name: "c", result: "ok" });
    assert.equal(restarted.seq, 1);
    assert.equal(restarted.prev, "0".repeat(64));
    assert.deepEqual((await log.verify()).problems, []);
  });

  it("keeps every record on one line whatever a name holds", async () => {
    const log = await AuditLog.open({ path: join(scratch.root, "lines.log"), key: SecretKey.random() });
    await log.append({ op: "vault.put", name: 'a\nb"\u2028\u0000c', result: "ok", detail: { note: "x\ny" } });
    assert.equal(readFileSync(log.path, "utf8").split("\n").length, 2);
    assert.equal((await log.read())[0]?.name, 'a\nb"\u2028\u0000c');
    assert.deepEqual((await log.verify()).problems, []);
  });

  it("refuses events that are not plain, non-secret facts", async () => {
    const log = await AuditLog.open({ path: join(scratch.root, "refuse.log"), key: SecretKey.random() });
    const bad: unknown[] = [
      { op: "", result: "ok" },
      { op: "set", result: "maybe" },
      { op: "set", result: "ok", name: 42 },
      { op: "set", result: "ok", detail: { nested: { a: 1 } } },
      { op: "set", result: "ok", detail: { n: Number.NaN } },
      { op: "set", result: "ok", detail: "version 1" },
      { op: "set", result: "ok", detail: ["a"] },
      null,
      { op: "set", result: "ok", detail: { secret: Secret.fromString("x") } },
    ];
    for (const event of bad) {
      await assert.rejects(log.append(event as never), { code: "INVALID_FORMAT" }, JSON.stringify(event));
    }
    assert.equal(readFileSync(log.path, "utf8"), "");
  });

  it("never holds a value: the canary of the surrounding operation never lands", async () => {
    const canary = makeCanary("audit");
    const log = await openStateAuditLog(scratch.state, { env: scratch.env });
    // The operation being audited: a real encryption of the canary value.
    const sealed = await encryptCredential("canary_key", Buffer.from(canary), { env: scratch.env });
    assert.ok(sealed.length > 0);
    await log.append({
      op: "set",
      name: "canary_key",
      result: "ok",
      detail: { version: 1, bytes: canary.length },
    });
    // A caller slipping a value past the types: unknown fields are dropped, a Secret is refused.
    await log.append({ op: "rotate", name: "canary_key", result: "ok", value: canary } as never);
    await assert.rejects(
      log.append({
        op: "rotate",
        name: "canary_key",
        result: "ok",
        detail: { v: Secret.fromString(canary) },
      } as never),
      (err: Error) => !err.message.includes(canary),
    );
    for (const file of [log.path, `${log.path}.head`])
      assert.ok(!readFileSync(file, "utf8").includes(canary), file);
    assert.ok(!JSON.stringify(await log.read()).includes(canary));
    assert.ok(!JSON.stringify(await log.verify()).includes(canary));
  });

  it("repairs a torn last line on the next append, and records that it did", async () => {
    const log = await AuditLog.open({ path: join(scratch.root, "torn.log"), key: SecretKey.random() });
    await log.append({ op: "set", name: "a", result: "ok" });
    const fragment = '{"v":1,"seq":2,"time":"2025';
    appendFileSync(log.path, fragment);
    const before = await log.verify();
    assert.deepEqual(kinds(before), ["malformed"]);
    assert.equal(before.problems[0]?.seq, null);
    assert.match(before.problems[0]?.message ?? "", /interrupted/);
    assert.equal((await log.read()).length, 1, "read skips the torn line");
    const next = await log.append({ op: "set", name: "b", result: "ok" });
    const records = await log.read();
    assert.deepEqual(
      records.map((r) => [r.seq, r.op, r.detail]),
      [
        [1, "set", undefined],
        [2, "audit.repair", { discardedBytes: fragment.length }],
        [3, "set", undefined],
      ],
    );
    assert.equal(next.seq, 3);
    assert.deepEqual((await log.verify()).problems, []);
  });
});

describe("tampering with a log written by the API", () => {
  const key = SecretKey.random();
  let scratch: Scratch;
  before(() => {
    scratch = makeScratch("keyhold-audit-tamper-");
  });
  after(() => scratch.cleanup());

  /** A fresh log of five records; returns its path and its lines. */
  async function fiveRecords(name: string): Promise<{ log: AuditLog; lines: string[]; head: string }> {
    const log = await AuditLog.open({ path: join(scratch.root, `${name}.log`), key });
    for (let i = 1; i <= 5; i++)
      await log.append({ op: "set", name: `k${i}`, result: "ok", detail: { version: i } });
    const lines = readFileSync(log.path, "utf8").split("\n").slice(0, -1);
    return { log, lines, head: readFileSync(`${log.path}.head`, "utf8") };
  }
  const write = (log: AuditLog, lines: string[]) =>
    writeFileSync(log.path, lines.map((l) => `${l}\n`).join(""));

  const cases: {
    kind: string;
    does: string;
    tamper: (log: AuditLog, lines: string[], head: string) => void;
  }[] = [
    {
      kind: "edited",
      does: "changes a name",
      tamper: (log, l) =>
        write(
          log,
          l.map((x, i) => (i === 2 ? x.replace('"k3"', '"k9"') : x)),
        ),
    },
    {
      kind: "edited",
      does: "changes a detail",
      tamper: (log, l) =>
        write(
          log,
          l.map((x, i) => (i === 1 ? x.replace('"version":2', '"version":7') : x)),
        ),
    },
    {
      kind: "deleted",
      does: "removes a middle record",
      tamper: (log, l) =>
        write(
          log,
          l.filter((_, i) => i !== 2),
        ),
    },
    { kind: "deleted", does: "removes the first record", tamper: (log, l) => write(log, l.slice(1)) },
    {
      kind: "reordered",
      does: "swaps two records",
      tamper: (log, l) => write(log, [l[0]!, l[2]!, l[1]!, l[3]!, l[4]!]),
    },
    {
      kind: "reordered",
      does: "duplicates a record",
      tamper: (log, l) => write(log, [l[0]!, l[1]!, l[2]!, l[1]!, l[3]!, l[4]!]),
    },
    { kind: "truncated", does: "cuts the last two records", tamper: (log, l) => write(log, l.slice(0, 3)) },
    { kind: "truncated", does: "empties the log", tamper: (log) => writeFileSync(log.path, "") },
    {
      kind: "malformed",
      does: "replaces a record by garbage",
      tamper: (log, l) =>
        write(
          log,
          l.map((x, i) => (i === 3 ? "garbage" : x)),
        ),
    },
    { kind: "bad-head", does: "empties the head", tamper: (log) => writeFileSync(`${log.path}.head`, "") },
    { kind: "bad-head", does: "deletes the head", tamper: (log) => rmSync(`${log.path}.head`) },
    {
      kind: "bad-head",
      does: "deletes the head and cuts the log to its first record",
      tamper: (log, l) => {
        rmSync(`${log.path}.head`);
        write(log, l.slice(0, 1));
      },
    },
    {
      kind: "bad-head",
      does: "edits the head's seq",
      tamper: (log, _l, h) => writeFileSync(`${log.path}.head`, h.replace('"seq":5', '"seq":4')),
    },
  ];
  for (const c of cases) {
    it(`${c.kind}: verify catches a log whose attacker ${c.does}`, async () => {
      const { log, lines, head } = await fiveRecords(`${c.kind}-${c.does.replaceAll(" ", "-")}`);
      c.tamper(log, lines, head);
      const report = await log.verify();
      assert.equal(report.ok, false);
      assert.deepEqual(kinds(report), [c.kind], JSON.stringify(report.problems));
    });
  }

  it("truncated: cutting the log inside a line is caught too, and append refuses", async () => {
    const { log } = await fiveRecords("cut-mid-line");
    const bytes = readFileSync(log.path);
    writeFileSync(log.path, bytes.subarray(0, bytes.length - 100));
    const report = await log.verify();
    assert.deepEqual(kinds(report).sort(), ["malformed", "truncated"]);
    await assert.rejects(log.append({ op: "set", name: "x", result: "ok" }), { code: "AUDIT_TAMPERED" });
  });

  it("edited: the wrong key is one clear finding, not one per record", async () => {
    const { log } = await fiveRecords("wrong-key");
    const other = await AuditLog.open({ path: log.path, key: SecretKey.random() });
    const report = await other.verify();
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0]!.message, /wrong audit key/);
  });
});

describe("audit log under concurrency and kill -9", () => {
  let scratch: Scratch;
  before(async () => {
    scratch = await scratchWithKey();
  });
  after(() => scratch.cleanup());

  it("4 processes × 50 appends give 200 records in one unbroken chain", async () => {
    const children = [1, 2, 3, 4].map((n) => runAppender(scratch, 50, `p${n}`));
    assert.deepEqual(await Promise.all(children.map(exited)), [0, 0, 0, 0]);
    const log = await openStateAuditLog(scratch.state, { env: scratch.env });
    const report = await log.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(report.records, 200);
    const records = await log.read();
    assert.deepEqual(
      records.map((r) => r.seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    for (const n of [1, 2, 3, 4])
      assert.equal(records.filter((r) => r.name?.startsWith(`p${n}-`)).length, 50);
  });

  it("a kill -9 at a random moment never invalidates an earlier record (20 trials)", async () => {
    const log = await openStateAuditLog(scratch.state, { env: scratch.env });
    for (let trial = 1; trial <= 20; trial++) {
      const before = readFileSync(log.path);
      const child = runAppender(scratch, 0, `kill${trial}`);
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once("data", () => resolve());
        child.once("exit", (code) =>
          reject(new Error(`the appender exited (${code}) before its first record`)),
        );
      });
      await sleep(Math.floor(Math.random() * 30));
      child.kill("SIGKILL");
      await exited(child);
      // Everything written before the child started is still there, byte for byte.
      assert.deepEqual(readFileSync(log.path).subarray(0, before.length), before, `trial ${trial}`);
      // At most a torn last line is reported; every complete record verifies.
      const report = await log.verify();
      for (const p of report.problems) assert.ok(p.kind === "malformed" && p.seq === null, JSON.stringify(p));
      // The next append (which also breaks the dead child's lock) leaves a clean log.
      await log.append({ op: "test.after-kill", result: "ok", detail: { trial } });
      assert.deepEqual((await log.verify()).problems, [], `trial ${trial}`);
      const debris = readdirSync(scratch.state).filter((f) => f.includes(".tmp-"));
      assert.deepEqual(debris, [], "an interrupted head replacement leaves no temporary file behind");
    }
  });
});

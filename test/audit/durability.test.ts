/**
 * What an append promises about crashes (docs/audit-format.md, "Appending"), step by step:
 * a kill -9 at each step of an append loses no earlier record and leaves what the next append
 * completes; the order of writes, fsyncs and renames is the one a power loss cannot undo (a
 * record is durable before a head seals it, a head before the anchor follows it); the check
 * every audited operation makes before it acts (ensureWritable) refuses what append refuses and
 * completes what append completes; and checked appenders running at once never interleave.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import {
  AUDIT_ANCHOR_FILE,
  AuditLog,
  createAuditKey,
  loadAuditKey,
  openStateAuditLog,
} from "../../src/audit/index.js";
import { acquireLock } from "../../src/durable/index.js";
import { makeScratch, type Scratch } from "../support/scratch.js";
import { fdPath, haveStrace, isSync, parseTrace, type TracedCall } from "../support/strace.js";

const APPENDER = fileURLToPath(new URL("./appender.js", import.meta.url));

/** A scratch state directory with a real audit key made by systemd-creds, and a log with one record. */
async function scratchWithLog(): Promise<{ scratch: Scratch; log: AuditLog }> {
  const scratch = makeScratch("keyhold-audit-durable-");
  mkdirSync(scratch.state, { mode: 0o700 });
  assert.equal(await createAuditKey(scratch.state, { env: scratch.env }), true);
  const log = await openStateAuditLog(scratch.state, { env: scratch.env });
  await log.append({ op: "test.first", result: "ok" });
  return { scratch, log };
}

function runAppender(
  scratch: Scratch,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  prefix: string[] = [],
): ChildProcess {
  const argv = [...prefix, process.execPath, APPENDER, scratch.state, ...args];
  return spawn(argv[0] as string, argv.slice(1), {
    env: { ...scratch.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
}

async function ended(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, stderr })));
}

function debris(state: string): string[] {
  return readdirSync(state).filter((f) => f.includes(".tmp-") || f.startsWith("audit.log.lock"));
}

describe("an append killed at each of its steps", () => {
  let scratch: Scratch;
  let log: AuditLog;
  before(async () => {
    ({ scratch, log } = await scratchWithLog());
  });
  after(() => scratch.cleanup());

  // Every step of an append that changes the disk, in order (src/audit/log.ts, crashPoint).
  const steps = ["audit:record-written", "audit:record-synced", "audit:head-sealed", "audit:anchor-sealed"];
  for (const step of steps) {
    it(`${step}: no earlier record is lost, the killed one is kept, the next append completes cleanly`, async () => {
      const earlier = readFileSync(log.path);
      const name = `killed-at-${step}`;
      const r = await ended(runAppender(scratch, ["1", name], { KEYHOLD_TEST_CRASH_AT: step }));
      assert.equal(r.signal, "SIGKILL", `the appender died at ${step} (exit ${r.code}: ${r.stderr})`);
      assert.deepEqual(readFileSync(log.path).subarray(0, earlier.length), earlier, "earlier records intact");
      // What the kill left verifies as it is: at most one unsealed record, an anchor one behind.
      assert.deepEqual((await log.verify()).problems, []);
      // The next append breaks the dead lock, seals the killed record and goes on after it.
      const next = await log.append({ op: "test.after", name: step, result: "ok" });
      const records = await log.read();
      assert.deepEqual(
        records.map((rec) => rec.seq),
        records.map((_, i) => i + 1),
      );
      assert.equal(records.at(-2)?.name, `${name}-1`, "the record written before the kill is kept");
      assert.equal(records.at(-1)?.seq, next.seq);
      const report = await log.verify();
      assert.deepEqual(report.problems, []);
      assert.equal(report.head?.seq, next.seq);
      assert.deepEqual(debris(scratch.state), [], "no temporary head, anchor or lock is left behind");
    });
  }
});

function renameOnto(calls: TracedCall[], target: string): TracedCall & { from: string } {
  const found = calls.filter((c) => c.name.startsWith("rename") && c.args.includes(`"${target}"`));
  assert.equal(found.length, 1, `one rename onto ${target}`);
  const call = found[0] as TracedCall;
  return { ...call, from: /"([^"]+)"/.exec(call.args)?.[1] as string };
}

describe("the order of an append's writes, fsyncs and renames", {
  skip: !haveStrace && "strace is not installed",
}, () => {
  let scratch: Scratch;
  before(async () => {
    ({ scratch } = await scratchWithLog());
  });
  after(() => scratch.cleanup());

  it("the record is durable before the head seals it, the head before the anchor follows it", async () => {
    const trace = join(scratch.root, "append.trace");
    const traced = ["openat", "close", "write", "fsync", "fdatasync", "rename", "renameat", "renameat2"];
    const strace = ["strace", "-f", "-qq", "-y", "-o", trace, "-e", `trace=${traced.join(",")}`];
    const r = await ended(runAppender(scratch, ["1", "traced", "checked"], {}, strace));
    assert.equal(r.code, 0, r.stderr);
    const calls = parseTrace(readFileSync(trace, "utf8"));
    rmSync(trace);
    const logPath = join(scratch.state, "audit.log");
    const writes = calls.filter((c) => c.name === "write" && fdPath(c) === logPath);
    assert.equal(writes.length, 1, "the record goes to the log in one write");
    const record = writes[0] as TracedCall;
    const head = renameOnto(calls, join(scratch.state, "audit.log.head"));
    const anchor = renameOnto(calls, join(scratch.state, "keyhold.audit-anchor"));
    // A power loss keeps what was fsynced, and the renames a directory fsync made durable.
    assert.ok(
      calls.some((c) => isSync(c, logPath) && c.entry > record.exit && c.exit < head.entry),
      "the log is fsynced after the record is written and before the head is replaced",
    );
    assert.ok(
      calls.some((c) => isSync(c, head.from) && c.exit < head.entry),
      "the new head is durable before it is renamed into place",
    );
    assert.ok(
      calls.some((c) => isSync(c, scratch.state) && c.entry > head.exit && c.exit < anchor.entry),
      "the head's rename is durable (its directory fsynced) before the anchor is replaced",
    );
    assert.ok(
      calls.some((c) => isSync(c, anchor.from) && c.exit < anchor.entry),
      "the new anchor is durable before it is renamed into place",
    );
    assert.ok(head.entry < anchor.entry, "the head is replaced before the anchor");
  });
});

describe("ensureWritable, the check before an audited operation acts", () => {
  let scratch: Scratch;
  let log: AuditLog;
  before(async () => {
    ({ scratch, log } = await scratchWithLog());
  });
  after(() => scratch.cleanup());

  const files = () => ({
    log: readFileSync(log.path),
    head: readFileSync(log.headPath),
    anchor: readFileSync(join(scratch.state, "keyhold.audit-anchor")),
  });

  it("refuses, changing nothing, a head that does not verify, a cut log, an anchor ahead of its head", async () => {
    const earlier = files();
    await log.append({ op: "test.second", result: "ok" });
    const good = files();
    const anchorPath = join(scratch.state, "keyhold.audit-anchor");
    const damages: [string, () => void][] = [
      [
        "a forged head",
        () => writeFileSync(log.headPath, good.head.toString("utf8").replace(/"seq":2/, '"seq":1')),
      ],
      ["a log cut back", () => writeFileSync(log.path, good.log.subarray(0, good.log.length - 10))],
      [
        "the log cut back and its earlier head put back",
        () => {
          writeFileSync(log.path, earlier.log);
          writeFileSync(log.headPath, earlier.head);
        },
      ],
      ["the anchor of another position", () => writeFileSync(anchorPath, "{}\n")],
    ];
    for (const [what, damage] of damages) {
      damage();
      const now = files();
      await assert.rejects(log.ensureWritable(), { code: "AUDIT_TAMPERED" }, what);
      assert.deepEqual(files(), now, `${what}: nothing changed`);
      writeFileSync(log.path, good.log);
      writeFileSync(log.headPath, good.head);
      writeFileSync(anchorPath, good.anchor);
      await log.ensureWritable();
    }
  });

  it("takes no lock when the log, its head and its anchor agree: only the append waits for another's lock", async () => {
    const options = {
      path: log.path,
      key: await loadAuditKey(scratch.state, { env: scratch.env }),
      anchor: { path: join(scratch.state, AUDIT_ANCHOR_FILE), expected: true },
      lockTimeoutMs: 300,
    };
    const held = await acquireLock(log.lockPath); // another keyhold process, busy with its append
    let opened: AuditLog;
    try {
      opened = await AuditLog.open(options);
      await opened.ensureWritable();
      await assert.rejects(opened.append({ op: "test.waits", result: "ok" }), { code: "LOCK_TIMEOUT" });
    } finally {
      held.release();
    }
    await opened.append({ op: "test.after-wait", result: "ok" });
  });

  it("seals a record an interrupted append left, and cuts off (and records) a torn line", async () => {
    const r = await ended(
      runAppender(scratch, ["1", "unsealed"], { KEYHOLD_TEST_CRASH_AT: "audit:record-synced" }),
    );
    assert.equal(r.signal, "SIGKILL");
    const unsealed = readFileSync(log.path).length;
    await log.ensureWritable();
    assert.match(readFileSync(log.headPath, "utf8"), new RegExp(`"size":${unsealed},`), "the head seals it");
    appendFileSync(log.path, '{"v":1,"seq":');
    await log.ensureWritable();
    const records = await log.read();
    assert.equal(records.at(-1)?.op, "audit.repair");
    assert.deepEqual((await log.verify()).problems, []);
    assert.deepEqual(debris(scratch.state), []);
  });
});

describe("checked appenders running at once", () => {
  let scratch: Scratch;
  let log: AuditLog;
  before(async () => {
    ({ scratch, log } = await scratchWithLog());
  });
  after(() => scratch.cleanup());

  it("4 processes × 25 (ensureWritable, append): none refused, 100 records in one chain", async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) => ended(runAppender(scratch, ["25", `c${n}`, "checked"]))),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const report = await log.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(report.records, 101);
    const records = await log.read();
    for (const n of [1, 2, 3, 4])
      assert.equal(records.filter((rec) => rec.name?.startsWith(`c${n}-`)).length, 25);
  });
});

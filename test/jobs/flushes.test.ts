import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AUDIT_ANCHOR_FILE } from "../../src/audit/index.js";
import { HEAD_ZERO, sealHead } from "../../src/audit/format.js";
import { SecretKey } from "../../src/secret/index.js";
import { fdPath, haveStrace, isSync, parseTrace, type TracedCall } from "../support/strace.js";
import { call, finalRun, follow, startServer, type TestServer, waitFor } from "./support.js";

/**
 * The job server's event loop never waits for a flush: the fsyncs of its run records and the
 * fsyncs and fdatasyncs of its audit log run on the thread pool, so a slow disk holds up the run
 * being recorded, never the health check, other triggers or follow streams. Shown with a real
 * `keyhold serve` under `strace -f`, which names the thread of every call: the main thread's id is
 * the process id, so a flush made by any other id was made off the event loop. The same trace
 * shows that what the protocol promises still holds (docs/jobserver-protocol.md, "The run
 * record"): a run's record is on disk before its client hears it accepted, and its final record
 * before its client hears it finished.
 */

const TRACED = ["fsync", "fdatasync", "rename", "renameat", "renameat2", "write", "writev"];

describe("the job server's flushes", { skip: !haveStrace && "strace is not installed" }, () => {
  const auditKey = randomBytes(32).toString("hex");
  let s: TestServer;
  let calls: TracedCall[];
  let mainThread: number;
  let run: Record<string, unknown>;

  before(async () => {
    s = await startServer({
      credentials: { "keyhold.audit-key": auditKey },
      // Its own audit key and the anchor `keyhold unit --install` writes, as under its unit.
      prepare: async ({ state }) => {
        mkdirSync(state, { recursive: true });
        const key = SecretKey.fromHex(auditKey);
        writeFileSync(join(state, AUDIT_ANCHOR_FILE), sealHead(HEAD_ZERO, key, "anchor"), { mode: 0o600 });
        key.dispose();
      },
      under: ({ root }) => [
        "strace",
        ...["-f", "-qq", "-y", "-s", "65536", "-o", join(root, "serve.trace")],
        ...["-e", `trace=${TRACED.join(",")}`],
      ],
      config: ({ root, outputs }) => ({
        jobs: { hello: { argv: ["/bin/echo", "hello"], cwd: root, outputDir: outputs } },
      }),
    });
    mainThread = s.pid();
    const followed = await follow(s.socket, "hello");
    run = finalRun(followed.events);
    await waitFor("the run's audit record", () =>
      readFileSync(join(s.state, "audit.log"), "utf8").includes(`"run":"${run.id}"`) ? true : undefined,
    );
    // A request that changes a finished record: the record is written again.
    assert.equal((await call(s.socket, "DELETE", `/v1/runs/${run.id}/log`)).status, 200);
    assert.equal(await s.stop(), 0, s.stderr());
    calls = parseTrace(readFileSync(join(s.root, "serve.trace"), "utf8"));
  });

  after(async () => {
    await s?.cleanup();
  });

  test("every fsync and fdatasync of a run record or the audit log is made off the event loop", () => {
    assert.equal(run.state, "succeeded");
    const inState = (path: string | undefined) => path === s.state || path?.startsWith(`${s.state}/`);
    const flushes = calls.filter((c) => (c.name === "fsync" || c.name === "fdatasync") && inState(fdPath(c)));
    const runs = join(s.state, "runs");
    const made = (what: string, path: (p: string) => boolean) =>
      assert.ok(
        flushes.some((c) => path(fdPath(c) as string)),
        `${what} is flushed: ${flushes.map(fdPath).join(", ")}`,
      );
    made("a run record's new file", (p) => p.startsWith(`${runs}/.${run.id}.json.tmp-`));
    made("the directory of the run records", (p) => p === runs);
    made("the audit log", (p) => p === join(s.state, "audit.log"));
    made("the audit log's new head", (p) => p.startsWith(join(s.state, ".audit.log.head.tmp-")));
    made("the audit log's directory", (p) => p === s.state);
    const onLoop = flushes.filter((c) => c.tid === mainThread);
    assert.deepEqual(
      onLoop.map((c) => `${c.name} ${fdPath(c)}`),
      [],
      "flushed on the event loop (the main thread)",
    );
  });

  test("a record is on disk before its client hears the run accepted, and again before it hears it finished", () => {
    const record = join(s.state, "runs", `${run.id}.json`);
    const renames = calls.filter((c) => c.name.startsWith("rename") && c.args.includes(`"${record}"`));
    assert.equal(renames.length, 3, "the record is written queued, finished, and without its log");
    const told = (event: string) => {
      const found = calls.find(
        (c) => c.name.startsWith("write") && c.args.includes(`\\"event\\":\\"${event}\\"`),
      );
      assert.ok(found, `the ${event} event is written to the client`);
      return found;
    };
    for (const [rename, event] of [
      [renames[0], told("accepted")],
      [renames[1], told("finished")],
    ] as const) {
      assert.ok(rename, "renamed");
      const from = /"([^"]+)"/.exec(rename.args)?.[1];
      assert.ok(
        calls.some((c) => isSync(c, from) && c.exit < rename.entry),
        `the record's new file is fsynced before it is renamed into place (${event.name})`,
      );
      assert.ok(
        calls.some((c) => isSync(c, join(s.state, "runs")) && c.entry > rename.exit && c.exit < event.entry),
        "the rename is durable (the directory fsynced) before the client is told",
      );
    }
  });
});

describe("a run record that cannot be written", () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({
      config: ({ root, outputs }) => ({
        jobs: {
          // Runs until the test lets it end, so that the records can be broken meanwhile.
          gate: {
            argv: ["/bin/sh", "-c", 'while [ ! -e "$OUT/go" ]; do sleep 0.05; done; echo through'],
            cwd: root,
            outputDir: outputs,
            params: { out: { pattern: "/.*", env: "OUT" } },
          },
          hello: { argv: ["/bin/echo", "hello"], cwd: root, outputDir: outputs },
        },
      }),
    });
  });
  after(async () => {
    await s?.cleanup();
  });

  /** Puts a file where the records' directory is, so every record write fails; undone by the returned function. */
  function breakRecords(): () => void {
    const runs = join(s.state, "runs");
    renameSync(runs, `${runs}.aside`);
    writeFileSync(runs, "not a directory\n");
    return () => {
      rmSync(runs);
      renameSync(`${runs}.aside`, runs);
    };
  }

  test("at a run's end: its follower is cut, not told it finished; the server carries on", async () => {
    const followed = follow(s.socket, "gate", { out: s.outputs });
    const running = await waitFor("the run to start", async () => {
      const r = (await call(s.socket, "GET", "/v1/runs?job=gate")).json as {
        runs: { id: string; state: string }[];
      };
      return r.runs[0]?.state === "running" ? r.runs[0] : undefined;
    });
    const restore = breakRecords();
    try {
      writeFileSync(join(s.outputs, "go"), "");
      const { events } = await followed;
      const last = events[events.length - 1] as { event: string; reason: string; run: { state: string } };
      assert.equal(last.event, "cut", "the end the client would be told is not on disk");
      assert.equal(last.reason, "the server could not record how the run ended");
      assert.equal(last.run.state, "succeeded", "what the server knows, it still says");
      assert.match(s.stderr(), new RegExp(`run ${running.id}: its record could not be saved`));
      assert.equal((await call(s.socket, "GET", "/v1/health")).status, 200);
    } finally {
      restore();
    }
    assert.equal(finalRun((await follow(s.socket, "hello")).events).state, "succeeded");
  });

  test("at a trigger: 500 INTERNAL, and the run neither starts nor is shown", async () => {
    const restore = breakRecords();
    let reply: Awaited<ReturnType<typeof call>>;
    try {
      reply = await call(s.socket, "POST", "/v1/jobs/hello/runs", "");
    } finally {
      restore();
    }
    assert.equal(reply.status, 500);
    assert.equal((reply.json as { error: { code: string } }).error.code, "INTERNAL");
    const listed = (await call(s.socket, "GET", "/v1/runs?job=hello")).json as { runs: { state: string }[] };
    assert.deepEqual(
      listed.runs.filter((r) => r.state === "queued"),
      [],
      "no run is left queued that will never run",
    );
    const health = (await call(s.socket, "GET", "/v1/health")).json as { running: number; queued: number };
    assert.deepEqual([health.running, health.queued], [0, 0]);
  });
});

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createAuditKey } from "../../src/audit/index.js";
import { makeCanary, makeScratch } from "../support/scratch.js";
import {
  call,
  curl,
  everythingUnder,
  finalRun,
  processesWithArgument,
  follow,
  outputOf,
  runCli,
  startServer,
  type TestServer,
  waitFor,
} from "./support.js";

const LEAK_SCRIPT = `#!/bin/sh
v=$(cat "$CREDENTIALS_DIRECTORY/api_key")
echo "raw $v"
printf %s "$v" | base64 -w0; echo
printf %s "$v" | basenc --base64url -w0; echo
printf %s "$v" | od -An -tx1 | tr -d ' \\n'; echo
printf %s "$v" | od -An -tx1 | tr -d ' \\n' | tr a-f A-F; echo
printf 'user:%s' "$v" | base64 -w0; echo
printf %s "$v" | od -An -tx1 | tr -d '\\n' | sed 's/ /%/g'; echo
node -e 'process.stdout.write(encodeURIComponent(require("fs").readFileSync(process.env.CREDENTIALS_DIRECTORY + "/api_key", "utf8")) + "\\n")'
printf %s "$v" | cut -c1-9 | tr -d '\\n'; sleep 0.2; printf '%s\\n' "$v" | cut -c10-
echo "stderr $v" >&2
printf %s "$v" | sha256sum
echo "files: $(ls "$CREDENTIALS_DIRECTORY")"
echo "dir: $CREDENTIALS_DIRECTORY"
echo "fs: $(stat -f -c %T "$CREDENTIALS_DIRECTORY")"
`;

function forms(value: string): string[] {
  const b = Buffer.from(value);
  return [
    value,
    b.toString("base64"),
    b.toString("base64url"),
    b.toString("hex"),
    b.toString("hex").toUpperCase(),
    encodeURIComponent(value),
  ];
}

function assertNoLeak(haystack: string, value: string, where: string): void {
  for (const form of forms(value))
    assert.ok(!haystack.includes(form), `${where} holds the value (form ${form.slice(0, 6)}…)`);
}

describe("job server end to end (real server process, real jobs)", () => {
  const canary = `${makeCanary("jobs")}/+= ?&`;
  const other = makeCanary("other");
  let s: TestServer;
  let repo: string;

  before(async () => {
    s = await startServer({
      credentials: { api_key: canary, other_key: other },
      config: ({ root, outputs }) => {
        writeFileSync(join(root, "leak.sh"), LEAK_SCRIPT);
        chmodSync(join(root, "leak.sh"), 0o755);
        return {
          concurrency: 1,
          killGraceSeconds: 1,
          jobs: {
            leak: { argv: [join(root, "leak.sh")], cwd: root, credentials: ["api_key"], outputDir: outputs },
            env: {
              argv: ["/usr/bin/env"],
              cwd: root,
              outputDir: outputs,
              params: { day: { pattern: "[0-9]{4}-[0-9]{2}-[0-9]{2}", env: "DAY" } },
            },
            args: {
              argv: ["/bin/echo", "day={day}", "{mode}"],
              cwd: root,
              outputDir: outputs,
              params: {
                day: { pattern: "[0-9]{4}-[0-9]{2}-[0-9]{2}" },
                mode: { pattern: "fast|slow", default: "fast" },
              },
            },
            other: {
              argv: ["/bin/sh", "-c", 'ls "$CREDENTIALS_DIRECTORY"; echo "dir=$CREDENTIALS_DIRECTORY"'],
              cwd: root,
              credentials: ["other_key"],
              outputDir: outputs,
            },
            noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
            exit7: { argv: ["/bin/sh", "-c", "echo bye; exit 7"], cwd: root, outputDir: outputs },
            hang: {
              argv: ["/bin/sh", "-c", "sleep 300.25 & echo started; sleep 300"],
              cwd: root,
              outputDir: outputs,
              timeoutSeconds: 1,
            },
            stubborn: {
              argv: ["/bin/sh", "-c", "trap '' TERM; echo ignoring; while :; do sleep 0.1; done"],
              cwd: root,
              outputDir: outputs,
              timeoutSeconds: 0.5,
            },
            wait: {
              argv: ["/bin/sh", "-c", "echo started; sleep {secs}"],
              cwd: root,
              outputDir: outputs,
              params: { secs: { pattern: "[0-9]{1,2}(\\.[0-9])?" } },
            },
            committed: {
              argv: ["/bin/sh", "-c", "cat tracked.txt"],
              cwd: join(root, "repo"),
              outputDir: outputs,
              codePolicy: "committed",
            },
            "committed-ls": {
              argv: ["/bin/sh", "-c", "ls; cat tracked.txt"],
              cwd: join(root, "repo"),
              outputDir: outputs,
              codePolicy: "committed",
            },
          },
        };
      },
    });
    repo = join(s.root, "repo");
    execFileSync("mkdir", ["-p", repo]);
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args], {
        stdio: "pipe",
      });
    git("init", "-q");
    writeFileSync(join(repo, "tracked.txt"), "committed content\n");
    git("add", "tracked.txt");
    git("commit", "-qm", "first");
  });

  after(async () => {
    await s.cleanup();
  });

  test("canary: the job receives the key, and no form of it reaches the stream, log, records or server stderr", async () => {
    const { events, raw } = await follow(s.socket, "leak");
    const run = finalRun(events);
    assert.equal(run.state, "succeeded");
    const out = outputOf(events);
    // stdout alone: the scrubber holds back a few bytes per stream, so streams interleave freely.
    assert.ok(
      outputOf(events, "stdout").includes(createHash("sha256").update(canary).digest("hex")),
      "the job read the right value",
    );
    assert.ok((out.match(/\[REDACTED:api_key\]/g) ?? []).length >= 9, out);
    assert.match(outputOf(events, "stderr"), /stderr \[REDACTED:api_key\]/);
    assert.match(out, /files: api_key\n/, "only the job's own credential is in its directory");
    assert.match(out, /^fs: (ramfs|tmpfs)$/m, "the run's credentials live in memory, never on a disk");
    assertNoLeak(raw, canary, "the follow stream");
    const logPath = run.log as string;
    assert.equal(statSync(logPath).mode & 0o777, 0o644);
    const log = readFileSync(logPath, "utf8");
    assert.match(log, /raw \[REDACTED:api_key\]/);
    assertNoLeak(log, canary, "the log file");
    assertNoLeak(everythingUnder(s.outputs), canary, "the outputs");
    assertNoLeak(everythingUnder(s.state), canary, "the records");
    assertNoLeak(s.stderr(), canary, "the server's stderr");
    // The same run through curl and through GET /v1/runs/{id}/log.
    const viaCurl = await curl([
      "--unix-socket",
      s.socket,
      "-X",
      "POST",
      "http://localhost/v1/jobs/leak/runs?follow=1",
    ]);
    assert.equal(viaCurl.code, 0);
    assert.match(viaCurl.stdout, /"event":"finished"/);
    assertNoLeak(viaCurl.stdout, canary, "the curl stream");
    const logReply = await call(s.socket, "GET", `/v1/runs/${run.id}/log`);
    assert.equal(logReply.status, 200);
    assertNoLeak(logReply.text, canary, "GET log");
    // The run's private credential directory is gone.
    const dir = /dir: (\S+)/.exec(out)?.[1];
    assert.ok(dir);
    assert.equal(existsSync(dir), false);
  });

  test("each run sees only its own credentials", async () => {
    const { events } = await follow(s.socket, "other");
    const out = outputOf(events);
    assert.match(out, /^other_key\n/);
    assert.doesNotMatch(out, /api_key/);
    assertNoLeak(out, other, "other's output");
  });

  test("a job starts with a clean environment: nothing of the server's, no credential directory when it has none", async () => {
    const { events } = await follow(s.socket, "env", { day: "2026-11-23" });
    const names = outputOf(events)
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => l.slice(0, l.indexOf("=")))
      .sort();
    assert.deepEqual(names, ["DAY", "HOME", "KEYHOLD_JOB", "KEYHOLD_RUN_ID", "LANG", "PATH"]);
    assert.match(outputOf(events), /^DAY=2026-11-23$/m);
  });

  test("parameters reach argv as whole words, never through a shell", async () => {
    const { events } = await follow(s.socket, "args", { day: "2026-01-02" });
    assert.equal(outputOf(events), "day=2026-01-02 fast\n");
    const refused = await follow(s.socket, "args", { day: "2026-01-02; touch /tmp/x" });
    assert.equal(refused.status, 400);
    assert.match(refused.raw, /PARAM_INVALID/);
  });

  test("keyhold trigger --follow streams and exits with the job's code; keyhold runs lists it", async () => {
    const env = { PATH: process.env.PATH, KEYHOLD_JOBS_SOCKET: s.socket };
    const r = await runCli(["trigger", "exit7", "--follow"], env);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, "bye\n");
    assert.match(r.stderr, /run \S+ failed/);
    const ok = await runCli(
      ["trigger", "args", "--param", "day=2026-03-04", "--param", "mode=slow", "--follow"],
      env,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "day=2026-03-04 slow\n");
    const queued = await runCli(["trigger", "noop", "--json"], env);
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal((JSON.parse(queued.stdout) as { job: string }).job, "noop");
    const bad = await runCli(["trigger", "nosuchjob", "--follow"], env);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^keyhold: job server: no job named "nosuchjob" \(JOB_NOT_FOUND\) \[SERVER_ERROR\]$/m,
    );
    const list = await runCli(["runs", "--json", "--limit", "5"], env);
    assert.equal(list.code, 0, list.stderr);
    const runs = JSON.parse(list.stdout) as { job: string; requester: { verified: boolean; user: string } }[];
    assert.ok(runs.some((x) => x.job === "exit7"));
    assert.ok(runs.every((x) => x.requester.verified === false));
    const table = await runCli(["runs"], env);
    assert.match(table.stdout, /^ID\s+JOB\s+STATE/);
    const unreachable = await runCli(["runs", "--socket", join(s.root, "none.sock")], env);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /\[SERVER_UNREACHABLE\]/);
  });

  test("a timeout kills the job's whole process group", async () => {
    const { events } = await follow(s.socket, "hang");
    const run = finalRun(events);
    assert.equal(run.state, "timed_out");
    assert.deepEqual(run.error, { code: "TIMEOUT", message: "ran longer than 1s" });
    assert.equal(outputOf(events), "started\n");
    // The child's PID is one of the run's own namespace: look for its command line instead.
    await waitFor("the background child to be gone", () =>
      processesWithArgument("300.25").length === 0 ? true : undefined,
    );
  });

  test("a job that ignores SIGTERM gets SIGKILL after the grace period", async () => {
    const { events } = await follow(s.socket, "stubborn");
    const run = finalRun(events);
    assert.equal(run.state, "timed_out");
    assert.equal(run.signal, "SIGKILL");
    assert.equal(outputOf(events), "ignoring\n");
  });

  test("queueing is FIFO under the concurrency limit, and queued or running runs can be cancelled", async () => {
    const post = async (secs: string) => {
      const r = await call(s.socket, "POST", "/v1/jobs/wait/runs", JSON.stringify({ params: { secs } }));
      assert.equal(r.status, 202);
      assert.match(String(r.headers.location), /^\/v1\/runs\//);
      return (r.json as { run: { id: string } }).run.id;
    };
    const first = await post("30");
    const second = await post("0.1");
    const third = await post("0.1");
    const health = (await call(s.socket, "GET", "/v1/health")).json as { running: number; queued: number };
    assert.equal(health.running, 1);
    assert.equal(health.queued, 2);
    // Cancel the queued third, then the running first; the second runs next.
    const c3 = await call(s.socket, "DELETE", `/v1/runs/${third}`);
    assert.equal(c3.status, 202);
    assert.equal((c3.json as { run: { state: string } }).run.state, "cancelled");
    const c1 = await curl(["--unix-socket", s.socket, "-X", "DELETE", `http://localhost/v1/runs/${first}`]);
    assert.equal(c1.code, 0);
    const get = async (id: string) =>
      ((await call(s.socket, "GET", `/v1/runs/${id}`)).json as { run: Record<string, unknown> }).run;
    const r1 = await waitFor("the first run to end", async () =>
      (await get(first)).state === "running" ? undefined : get(first),
    );
    assert.equal(r1.state, "cancelled");
    const r2 = await waitFor("the second run to end", async () => {
      const r = await get(second);
      return r.state === "succeeded" ? r : undefined;
    });
    assert.ok(String(r2.startedAt) >= String(r1.startedAt));
    const r3 = await get(third);
    assert.equal(r3.startedAt, null, "a cancelled queued run never starts");
    const again = await call(s.socket, "DELETE", `/v1/runs/${first}`);
    assert.equal(again.status, 409);
    assert.equal((again.json as { error: { code: string } }).error.code, "RUN_FINISHED");
  });

  test("code policy committed: the job runs from a copy of HEAD and records it; edits and untracked files are not in it", async () => {
    const head = execFileSync("git", ["-C", repo, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    const clean = await follow(s.socket, "committed");
    const run = finalRun(clean.events);
    assert.equal(run.state, "succeeded");
    assert.equal(run.revision, head);
    assert.equal(outputOf(clean.events), "committed content\n");
    writeFileSync(join(repo, "tracked.txt"), "edited, not committed\n");
    writeFileSync(join(repo, "untracked.txt"), "untracked\n");
    const dirty = await follow(s.socket, "committed-ls");
    const dirtyRun = finalRun(dirty.events);
    assert.equal(dirtyRun.state, "succeeded");
    assert.equal(dirtyRun.revision, head);
    assert.equal(outputOf(dirty.events), "tracked.txt\ncommitted content\n");
    execFileSync("git", ["-C", repo, "checkout", "-q", "tracked.txt"]);
    execFileSync("rm", [join(repo, "untracked.txt")]);
  });

  test("curl works for every endpoint", async () => {
    const base = "http://localhost/v1";
    const health = await curl(["--unix-socket", s.socket, `${base}/health`]);
    assert.equal((JSON.parse(health.stdout) as { status: string }).status, "ok");
    const jobs = JSON.parse((await curl(["--unix-socket", s.socket, `${base}/jobs`])).stdout) as {
      jobs: { name: string; argv?: unknown }[];
    };
    assert.ok(jobs.jobs.some((j) => j.name === "leak"));
    assert.ok(
      jobs.jobs.every((j) => j.argv === undefined),
      "argv is not listed",
    );
    const posted = JSON.parse(
      (
        await curl([
          "--unix-socket",
          s.socket,
          "-X",
          "POST",
          "-H",
          "Content-Type: application/json",
          "-d",
          '{"params":{"day":"2026-11-23"}}',
          `${base}/jobs/env/runs`,
        ])
      ).stdout,
    ) as { run: { id: string; state: string } };
    assert.ok(["queued", "running"].includes(posted.run.state));
    const one = JSON.parse(
      (await curl(["--unix-socket", s.socket, `${base}/runs/${posted.run.id}`])).stdout,
    ) as { run: { id: string } };
    assert.equal(one.run.id, posted.run.id);
    const list = JSON.parse((await curl(["--unix-socket", s.socket, `${base}/runs?limit=3`])).stdout) as {
      runs: unknown[];
    };
    assert.equal(list.runs.length, 3);
    await waitFor("the run to end", async () => {
      const r = (await call(s.socket, "GET", `/v1/runs/${posted.run.id}`)).json as { run: { state: string } };
      return r.run.state === "succeeded" ? true : undefined;
    });
    const log = await curl(["--unix-socket", s.socket, `${base}/runs/${posted.run.id}/log`]);
    assert.match(log.stdout, /^DAY=2026-11-23$/m);
    const del = await curl([
      "--unix-socket",
      s.socket,
      "-X",
      "DELETE",
      "-w",
      "%{http_code}",
      "-o",
      "/dev/null",
      `${base}/runs/${posted.run.id}`,
    ]);
    assert.equal(del.stdout, "409");
  });

  test("the closed list of API errors, each with its status", async () => {
    const cases: [string, string, string | undefined, number, string][] = [
      ["GET", "/v1/runs?limit=0", undefined, 400, "BAD_REQUEST"],
      ["GET", "/v1/runs/%E0%A4%A", undefined, 400, "BAD_REQUEST"],
      ["POST", "/v1/jobs/noop/runs", "{not json", 400, "BAD_JSON"],
      ["POST", "/v1/jobs/noop/runs", "[1]", 400, "BAD_JSON"],
      ["POST", "/v1/jobs/noop/runs", '{"params":{},"argv":["/bin/sh"]}', 400, "BAD_JSON"],
      ["POST", "/v1/jobs/noop/runs", '{"params":{"x":"1"}}', 400, "PARAM_UNKNOWN"],
      ["POST", "/v1/jobs/env/runs", '{"params":{"day":"yesterday"}}', 400, "PARAM_INVALID"],
      ["POST", "/v1/jobs/env/runs", '{"params":{"day":5}}', 400, "PARAM_INVALID"],
      ["POST", "/v1/jobs/env/runs", "{}", 400, "PARAM_MISSING"],
      ["GET", "/v2/health", undefined, 404, "NOT_FOUND"],
      ["GET", "/v1/nothing", undefined, 404, "NOT_FOUND"],
      ["POST", "/v1/jobs/nosuch/runs", "", 404, "JOB_NOT_FOUND"],
      ["GET", "/v1/runs/0000000000-00000000", undefined, 404, "RUN_NOT_FOUND"],
      ["GET", "/v1/runs/../../etc/passwd", undefined, 404, "NOT_FOUND"],
      ["DELETE", "/v1/runs/not-an-id", undefined, 404, "RUN_NOT_FOUND"],
      ["POST", "/v1/health", "", 405, "METHOD_NOT_ALLOWED"],
      ["GET", "/v1/jobs/noop/runs", undefined, 405, "METHOD_NOT_ALLOWED"],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await call(s.socket, method, path, body);
      assert.equal(r.status, status, `${method} ${path}`);
      assert.equal((r.json as { error: { code: string } }).error.code, code, `${method} ${path}`);
    }
    const cancelled = finalRun((await follow(s.socket, "noop")).events);
    const log = await call(s.socket, "GET", `/v1/runs/${cancelled.id}/log`);
    assert.equal(log.status, 200, "a run without output still has an (empty) log");
    const q = (await call(s.socket, "POST", "/v1/jobs/noop/runs", "")).json as { run: { id: string } };
    // Runs cancelled while queued have no log.
    const health = (await call(s.socket, "GET", "/v1/health")).json as { status: string };
    assert.equal(health.status, "ok");
    assert.ok(q.run.id);
  });
});

describe("job server restarts, graceful stop and reload", () => {
  test("records survive a restart and a kill -9; a run cut by the kill is marked interrupted", async () => {
    const s = await startServer({
      config: ({ root, outputs }) => ({
        jobs: {
          noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
          long: { argv: ["/bin/sleep", "30"], cwd: root, outputDir: outputs },
        },
      }),
    });
    try {
      const done = finalRun((await follow(s.socket, "noop")).events);
      assert.equal(await s.stop(), 0, "SIGTERM stops the server cleanly");
      await s.restart();
      const again = (await call(s.socket, "GET", `/v1/runs/${done.id}`)).json as { run: { state: string } };
      assert.equal(again.run.state, "succeeded");
      const long = ((await call(s.socket, "POST", "/v1/jobs/long/runs", "")).json as { run: { id: string } })
        .run.id;
      await waitFor("the long run to start", async () => {
        const r = (await call(s.socket, "GET", `/v1/runs/${long}`)).json as { run: { state: string } };
        return r.run.state === "running" ? true : undefined;
      });
      await s.kill9();
      await s.restart();
      const cut = (await call(s.socket, "GET", `/v1/runs/${long}`)).json as {
        run: { state: string; error: { code: string } };
      };
      assert.equal(cut.run.state, "interrupted");
      assert.equal(cut.run.error.code, "INTERRUPTED");
      assert.equal(readdirSync(join(s.state, "runs")).filter((f) => f.endsWith(".json")).length, 2);
    } finally {
      await s.cleanup();
    }
  });

  test("SIGTERM lets a running job finish, refuses new runs, and kills what outlives the grace period", async () => {
    const s = await startServer({
      config: ({ root, outputs }) => ({
        stopGraceSeconds: 1.5,
        killGraceSeconds: 0.5,
        concurrency: 2,
        jobs: {
          short: { argv: ["/bin/sh", "-c", "sleep 0.5; echo finished"], cwd: root, outputDir: outputs },
          long: { argv: ["/bin/sleep", "60"], cwd: root, outputDir: outputs },
        },
      }),
    });
    try {
      const shortRun = follow(s.socket, "short");
      const longRun = follow(s.socket, "long");
      await waitFor("both to run", async () =>
        ((await call(s.socket, "GET", "/v1/health")).json as { running: number }).running === 2
          ? true
          : undefined,
      );
      const stopped = s.stop();
      const [shortEvents, longEvents] = await Promise.all([shortRun, longRun]);
      assert.equal(await stopped, 0);
      const short = finalRun(shortEvents.events);
      assert.equal(short.state, "succeeded");
      assert.equal(outputOf(shortEvents.events), "finished\n");
      const long = finalRun(longEvents.events);
      assert.equal(long.state, "cancelled");
      assert.equal((long.error as { code: string }).code, "SHUTTING_DOWN");
      assert.match(s.stderr(), /stopping: waiting up to 1.5s/);
    } finally {
      await s.cleanup();
    }
  });

  test("SIGHUP re-reads the credentials: a rotated value is delivered and scrubbed", async () => {
    const first = makeCanary("before");
    const second = makeCanary("after");
    const s = await startServer({
      credentials: { api_key: first },
      config: ({ root, outputs }) => ({
        jobs: {
          show: {
            argv: ["/bin/sh", "-c", 'cat "$CREDENTIALS_DIRECTORY/api_key"; cat cache.txt 2>/dev/null; true'],
            cwd: root,
            credentials: ["api_key"],
            outputDir: outputs,
          },
        },
      }),
    });
    try {
      assert.equal(outputOf((await follow(s.socket, "show")).events), "[REDACTED:api_key]");
      const file = join(s.credentials, "api_key");
      chmodSync(file, 0o600);
      writeFileSync(file, second);
      chmodSync(file, 0o400);
      s.proc.kill("SIGHUP");
      await waitFor("the reload", () => (/reloaded/.test(s.stderr()) ? true : undefined));
      const { raw, events } = await follow(s.socket, "show");
      assert.equal(outputOf(events), "[REDACTED:api_key]");
      // The retired value is still scrubbed: a job may print it from somewhere else.
      writeFileSync(join(s.root, "cache.txt"), ` old=${first}`);
      assert.equal(
        outputOf((await follow(s.socket, "show")).events),
        "[REDACTED:api_key] old=[REDACTED:api_key]",
      );
      assertNoLeak(raw, second, "the stream after rotation");
      assertNoLeak(everythingUnder(s.outputs), second, "logs");
      assertNoLeak(everythingUnder(s.outputs), first, "logs");
      await sleep(10);
    } finally {
      await s.cleanup();
    }
  });

  test("a missing credential or program fails only the runs that need it, with a code", async () => {
    const s = await startServer({
      config: ({ root, outputs }) => ({
        jobs: {
          needs: { argv: ["/bin/true"], cwd: root, credentials: ["absent_key"], outputDir: outputs },
          noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
          missing: { argv: ["/nonexistent/program"], cwd: root, outputDir: outputs },
          badcwd: { argv: ["/bin/true"], cwd: "/nonexistent/dir", outputDir: outputs },
        },
      }),
    });
    try {
      for (const job of ["missing", "badcwd"]) {
        const failed = finalRun((await follow(s.socket, job)).events);
        assert.equal(failed.state, "error", job);
        assert.equal((failed.error as { code: string }).code, "SPAWN_FAILED", job);
        assert.match((failed.error as { message: string }).message, /ENOENT/);
      }
      const run = finalRun((await follow(s.socket, "needs")).events);
      assert.equal(run.state, "error");
      assert.equal((run.error as { code: string }).code, "CREDENTIAL_UNAVAILABLE");
      assert.equal(finalRun((await follow(s.socket, "noop")).events).state, "succeeded");
      assert.match(s.stderr(), /credential absent_key unavailable \[CREDENTIAL_NOT_FOUND\]/);
    } finally {
      await s.cleanup();
    }
  });
});

describe("audit", () => {
  test("each finished run appends job.run to the job server's audit log, which verifies and holds no value", async () => {
    const canary = makeCanary("audit");
    const scratch = makeScratch("keyhold-jobs-audit-");
    const s = await startServer({
      credentials: { api_key: canary },
      env: { SYSTEMD_CREDENTIAL_SECRET: scratch.env.SYSTEMD_CREDENTIAL_SECRET as string },
      prepare: async ({ state }) => {
        mkdirSync(state, { recursive: true });
        await createAuditKey(state, { env: scratch.env });
      },
      config: ({ root, outputs }) => ({
        jobs: {
          show: {
            argv: ["/bin/sh", "-c", 'cat "$CREDENTIALS_DIRECTORY/api_key"; exit 3'],
            cwd: root,
            credentials: ["api_key"],
            outputDir: outputs,
          },
          sig: { argv: ["/bin/sh", "-c", "kill -TERM $$"], cwd: root, outputDir: outputs },
        },
      }),
    });
    try {
      assert.doesNotMatch(s.stderr(), /not audited/);
      const env = { ...scratch.env, KEYHOLD_JOBS_SOCKET: s.socket };
      const shown = await runCli(["trigger", "show", "--follow"], env);
      assert.equal(shown.code, 3, shown.stderr);
      assert.equal(shown.stdout, "[REDACTED:api_key]");
      const killed = await runCli(["trigger", "sig", "--follow"], env);
      assert.equal(killed.code, 128 + 15, `a job killed by SIGTERM makes trigger exit 143: ${killed.stderr}`);
      assert.match(killed.stderr, /failed \(SIGTERM\)/);
      await waitFor("two audit records", async () => {
        const r = await runCli(["audit", "--json", "--state", s.state], env);
        return (r.stdout.match(/"job\.run"/g) ?? []).length >= 2 ? r : undefined;
      });
      const verify = await runCli(["audit", "--verify", "--state", s.state], env);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      const log = readFileSync(join(s.state, "audit.log"), "utf8");
      assert.match(log, /"name":"show"/);
      assert.match(log, /"code":"SIGTERM"|"signal":"SIGTERM"/);
      assertNoLeak(log, canary, "the audit log");
    } finally {
      await s.cleanup();
      scratch.cleanup();
    }
  });
});

describe("retention", () => {
  test("only the newest keepRuns finished records are kept, on disk and in the API, and their logs with them", async () => {
    const s = await startServer({
      config: ({ root, outputs }) => ({
        keepRuns: 3,
        jobs: { noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs } },
      }),
    });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(finalRun((await follow(s.socket, "noop")).events).id as string);
      const listed = (await call(s.socket, "GET", "/v1/runs")).json as { runs: { id: string }[] };
      assert.deepEqual(
        listed.runs.map((r) => r.id),
        ids.slice(3).reverse(),
      );
      assert.deepEqual(
        readdirSync(join(s.state, "runs")).sort(),
        ids.slice(3).map((id) => `${id}.json`),
      );
      assert.equal((await call(s.socket, "GET", `/v1/runs/${ids[0]}`)).status, 404);
      // The pruned runs' logs go with their records (removed off the server's event loop).
      const kept = ids.slice(3).map((id) => `${id}.log`);
      const deadline = Date.now() + 10_000;
      while (readdirSync(join(s.outputs, "logs")).length > 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(readdirSync(join(s.outputs, "logs")).sort(), kept);
    } finally {
      await s.cleanup();
    }
  });
});

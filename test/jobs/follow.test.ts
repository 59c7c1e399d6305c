import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeCanary } from "../support/scratch.js";
import { call, follow, runCli, startCli, startServer, type TestServer, waitFor } from "./support.js";

/**
 * Follow streams of a job that writes fast: about 20 MB on one line, in which the key appears
 * every kilobyte. A client that reads gets all of it, scrubbed; one that stops reading is cut
 * with a last event, and neither the run nor the server notices.
 */

const REPEAT = 20_000;
const FILLER = "x".repeat(1000);
// Waits for its argument (a file) to exist when given one, then writes everything at once.
const BIG_JOB = `const fs = require("node:fs");
const key = fs.readFileSync(process.env.CREDENTIALS_DIRECTORY + "/api_key", "utf8");
const go = process.argv[2];
const nap = new Int32Array(new SharedArrayBuffer(4));
if (go) while (!fs.existsSync(go)) Atomics.wait(nap, 0, 0, 20);
process.stdout.write((${JSON.stringify(FILLER)} + key).repeat(${REPEAT}) + "\\n");
`;
const EXPECTED = `${`${FILLER}[REDACTED:api_key]`.repeat(REPEAT)}\n`;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function forms(value: string): string[] {
  const b = Buffer.from(value);
  return [value, b.toString("base64"), b.toString("base64url"), b.toString("hex")];
}

function assertNoLeak(text: string, value: string, where: string): void {
  for (const f of forms(value)) assert.ok(!text.includes(f), `${where} holds the key`);
}

/** Asserts `actual` is exactly `expected` without printing 20 MB when it is not. */
function assertSameText(actual: string, expected: string, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  assert.equal(sha256(actual), sha256(expected), `${what}: content`);
}

function jobs(root: string, outputs: string) {
  writeFileSync(join(root, "big.js"), BIG_JOB);
  const big = (extra: string[]) => ({
    argv: [process.execPath, join(root, "big.js"), ...extra],
    cwd: root,
    credentials: ["api_key"],
    outputDir: outputs,
  });
  return {
    big: big([]),
    gated: big([join(root, "go")]),
    noop: { argv: ["/bin/true"], cwd: root, outputDir: outputs },
  };
}

async function latestRun(
  s: TestServer,
  job: string,
): Promise<{ id: string; state: string; log: string | null }> {
  const runs = (await call(s.socket, "GET", `/v1/runs?job=${job}&limit=1`)).json as {
    runs: { id: string; state: string; log: string | null }[];
  };
  return runs.runs[0] as { id: string; state: string; log: string | null };
}

describe("a follower that reads", () => {
  const canary = makeCanary("follow");
  let s: TestServer;
  before(async () => {
    s = await startServer({
      credentials: { api_key: canary },
      config: ({ root, outputs }) => ({ jobs: jobs(root, outputs) }),
    });
  });
  after(async () => {
    await s.cleanup();
  });

  test("keyhold trigger --follow gets all of 20 MB on one line, scrubbed, and exits with the job's code", async () => {
    const r = await runCli(["trigger", "big", "--follow", "--socket", s.socket], {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
    });
    assert.equal(r.code, 0, r.stderr.slice(0, 2000));
    assert.equal(r.stderr, "");
    assertSameText(r.stdout, EXPECTED, "the followed output");
    assertNoLeak(r.stdout + r.stderr, canary, "the trigger's output");
    const run = await latestRun(s, "big");
    assert.equal(run.state, "succeeded");
    const log = await call(s.socket, "GET", `/v1/runs/${run.id}/log`);
    assertSameText(log.text, EXPECTED, "the log");
    assertNoLeak(s.stderr(), canary, "the server's stderr");
  });
});

describe("a follower that stops reading", () => {
  const canary = makeCanary("stall");
  let s: TestServer;
  let go: string;
  before(async () => {
    s = await startServer({
      credentials: { api_key: canary },
      config: ({ root, outputs }) => {
        go = join(root, "go");
        return { http: { headersTimeoutMs: 1000, requestTimeoutMs: 3000 }, jobs: jobs(root, outputs) };
      },
    });
  });
  after(async () => {
    await s.cleanup();
  });

  test("is cut with a last event naming the run's log; the run, the server and other followers carry on", async (t) => {
    const socket = connect(s.socket);
    const parts: Buffer[] = [];
    socket.on("data", (c: Buffer) => parts.push(c));
    socket.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("POST /v1/jobs/gated/runs?follow=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    const running = await waitFor("the run to start", async () => {
      const run = await latestRun(s, "gated").catch(() => undefined);
      return run?.state === "running" ? run : undefined;
    });
    socket.pause(); // from here on the client reads nothing
    writeFileSync(go, "");
    try {
      // Meanwhile the server answers, a follower that reads is served in full, the run ends.
      assert.equal((await call(s.socket, "GET", "/v1/health")).status, 200);
      const other = await follow(s.socket, "noop");
      assert.equal(other.events.at(-1)?.event, "finished");
      const done = await waitFor(
        "the run to end",
        async () => {
          const run = await latestRun(s, "gated");
          return run.state === "running" ? undefined : run;
        },
        60_000,
      );
      assert.equal(done.id, running.id);
      assert.equal(done.state, "succeeded", "the run went on");
      await waitFor("the cut", () => (/follow stream cut/.test(s.stderr()) ? true : undefined), 60_000);
    } finally {
      socket.resume();
    }
    // The response ends with the cut event (then the client hangs up; the server would too).
    await waitFor("the end of the response", () =>
      Buffer.concat(parts).includes("\r\n0\r\n\r\n") ? true : undefined,
    );
    socket.destroy();
    await closed;
    const text = Buffer.concat(parts).toString("utf8");
    const lines = text
      .slice(text.indexOf("\r\n\r\n") + 4)
      .split("\n")
      .filter((l) => l.startsWith("{"));
    const last = JSON.parse(lines.at(-1) as string) as {
      event: string;
      reason: string;
      run: { id: string; log: string };
    };
    assert.equal(last.event, "cut");
    assert.match(last.reason, /^the client read nothing for 3000 ms$/);
    assert.equal(last.run.id, running.id);
    assert.equal(last.run.log, join(s.outputs, "logs", `${running.id}.log`));
    const received = lines
      .slice(0, -1)
      .map((l) => JSON.parse(l) as { event: string; data?: string })
      .filter((e) => e.event === "output")
      .map((e) => e.data)
      .join("");
    assert.ok(EXPECTED.startsWith(received), "what arrived before the cut is the output's beginning");
    assert.ok(received.length < EXPECTED.length, "the stream was cut before the end");
    assertSameText(readFileSync(last.run.log, "utf8"), EXPECTED, "the log of the cut run");
    assert.deepEqual(readdirSync(join(s.state, "spool")), [], "no spool file is left");
    assertNoLeak(text + s.stderr(), canary, "the cut stream and the server's stderr");
    const status = readFileSync(`/proc/${s.proc.pid}/status`, "utf8");
    t.diagnostic(`server peak RSS: ${/VmHWM:\s*(\d+ kB)/.exec(status)?.[1]}`);
  });

  test("keyhold trigger --follow says the stream was cut, names the run and its log, and exits 4", async () => {
    rmSync(go, { force: true });
    const cli = startCli(["trigger", "gated", "--follow", "--socket", s.socket], {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
    });
    const cutsBefore = s.stderr().split("follow stream cut").length;
    let id: string;
    try {
      id = (
        await waitFor("the run to start", async () => {
          const run = await latestRun(s, "gated").catch(() => undefined);
          return run?.state === "running" ? run : undefined;
        })
      ).id;
    } catch (err) {
      cli.child.kill("SIGKILL");
      throw err;
    }
    cli.child.kill("SIGSTOP");
    writeFileSync(go, "");
    try {
      await waitFor(
        "the cut",
        () => (s.stderr().split("follow stream cut").length > cutsBefore ? true : undefined),
        60_000,
      );
    } finally {
      cli.child.kill("SIGCONT");
    }
    const r = await cli.done;
    assert.equal(r.code, 4, r.stderr);
    const log = join(s.outputs, "logs", `${id}.log`);
    assert.equal(
      r.stderr.split("\n")[0],
      `keyhold: the stream of run ${id} was cut before the run ended: the client read nothing for 3000 ms; its log: ${log} [STREAM_CUT]`,
    );
    assert.match(r.stderr, new RegExp(`hint: the run goes on without this client: .*/v1/runs/${id}/log`));
    assert.ok(EXPECTED.startsWith(r.stdout), "what was printed is the output's beginning");
    assertNoLeak(r.stdout + r.stderr, canary, "the trigger's output");
  });
});
